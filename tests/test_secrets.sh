#!/usr/bin/env bash
# tests/test_secrets.sh -- no secret of any stack of the run in any log of the
# run.
#
# Registered after everything else (tests/CMakeLists.txt), so that under
# `compose/dev test` it reads the logs of the whole suite:
#   - each test stack's own (.dev-test, .dev-test-b): STATE/logs (every
#     worker, the simulator, the broker, Redis, PostgreSQL, Prometheus, the
#     migrations; they accumulate across restarts);
#   - the sanitizers' reports ($DEV_SANITIZER_DIR);
#   - what the tests kept in $DEV_KEPT_DIR before deleting their scratch
#     folders: the output of the workers and tools they ran themselves
#     (tests/keep_logs.sh: NAME/logs/...), and the logs of the other stacks
#     they started and purged (the benchmark's, compose/dev down --purge
#     --keep: NAME/stack-N/logs/...), with those stacks' secrets
#     (.../secrets/FILE).
# The secrets are the ones each stack generated: every test stack's state
# folder (the passwords of PostgreSQL's three roles and of Redis, the
# simulator's keys), and every kept secrets/ folder.  Every secret is
# searched for in every log.  (The walk-through, tests/compose_walkthrough.py,
# also searches its own stack's secrets in its own logs before it deletes its
# stack.)  Final line "N passed, M failed".
set -euo pipefail

ROOT=${ORDER_WORKER_ROOT:?ORDER_WORKER_ROOT is not set (run via ctest or compose/dev test)}
KEPT=${DEV_KEPT_DIR:-}
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
bad() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }

# ---- the logs
# Every test stack of the run (tests/stack.sh).
mapfile -t states < <(find "$ROOT" -maxdepth 1 -name '.dev-test*' -type d \
    -exec test -e '{}/.order-worker-dev' ';' -print | sort)
if ((${#states[@]} >= 1)); then ok "${#states[@]} test stacks: ${states[*]##*/}"; else
    bad "at least one test stack's state folder in $ROOT"
fi
own=()
for STATE in "${states[@]}"; do
    mapfile -t -O "${#own[@]}" own < <(find "$STATE/logs" -type f -size +0c 2>/dev/null | sort)
done
if ((${#own[@]} >= 3)); then ok "${#own[@]} non-empty log files of the test stacks to read"; else
    bad "at least 3 non-empty log files in the test stacks' logs (found ${#own[@]})"
fi
kept=()
if [[ -n $KEPT && -d $KEPT ]]; then
    # Everything kept, but the kept secrets themselves.
    mapfile -t kept < <(find "$KEPT" -type f -size +0c -not -path '*/secrets/*' 2>/dev/null | sort)
    printf '        kept by the tests: %d files in %s:%s\n' "${#kept[@]}" "$KEPT" \
        "$(find "$KEPT" -mindepth 1 -maxdepth 1 -printf ' %f')"
fi
san=()
if [[ -n ${DEV_SANITIZER_DIR:-} ]]; then
    mapfile -t san < <(find "$DEV_SANITIZER_DIR" -type f -size +0c 2>/dev/null | sort)
fi
logs=("${own[@]}" "${kept[@]}" "${san[@]}")

# ---- the secrets
declare -A secret=()
for STATE in "${states[@]}"; do
    n=0
    for f in redis.password pg.password pg-admin.password pg-super.password alpaca.key alpaca.secret; do
        if [[ -s $STATE/$f ]]; then
            secret["${STATE##*/}/$f"]=$(head -n1 "$STATE/$f")
            n=$((n + 1))
        fi
    done
    if ((n >= 5)); then ok "$n secrets of test stack ${STATE##*/} to look for"; else
        bad "at least 5 secrets in $STATE (found $n: is this a stack's state folder?)"
    fi
done
# The other stacks' (KEPT/NAME/.../secrets/FILE), named by where they were kept.
if [[ -n $KEPT && -d $KEPT ]]; then
    while IFS= read -r d; do
        n=0
        for f in "$d"/*; do
            [[ -f $f && -s $f ]] || continue
            secret["${f#"$KEPT"/}"]=$(head -n1 "$f")
            n=$((n + 1))
        done
        if ((n >= 5)); then ok "$n secrets of the stack kept in ${d#"$KEPT"/} to look for"; else
            bad "at least 5 secrets in $d (found $n)"
        fi
    done < <(find "$KEPT" -type d -name secrets 2>/dev/null | sort)
fi

# ---- the search
printf '        %d secrets searched for in %d log files\n' "${#secret[@]}" "${#logs[@]}"
mapfile -t names < <(printf '%s\n' "${!secret[@]}" | sort)
for name in "${names[@]}"; do
    v=${secret[$name]}
    if ((${#v} < 8)); then
        bad "$name is too short to search for safely (${#v} characters)"
        continue
    fi
    if hits=$(grep -lF -- "$v" "${logs[@]}" 2>/dev/null); then
        bad "$name appears in: $(tr '\n' ' ' <<<"$hits")"
    else
        ok "$name appears in no log"
    fi
done
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
((FAILED == 0))

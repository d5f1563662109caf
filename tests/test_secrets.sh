#!/usr/bin/env bash
# tests/test_secrets.sh -- no secret of any stack of the run in any log of the
# run.
#
# Registered last, so that under `compose/dev test` it reads the logs of the
# whole suite:
#   - the test stack's own: $DEV_STATE_DIR/logs (every worker, the simulator,
#     the broker, Redis, PostgreSQL, Prometheus, the migrations; they
#     accumulate across restarts) and $DEV_STATE_DIR/sanitizers;
#   - what the tests kept in $DEV_STATE_DIR/kept/ before deleting their
#     scratch folders: the output of the workers and tools they ran
#     themselves (tests/keep_logs.sh: NAME/logs/...), and the logs of the
#     other stacks they started and purged (the benchmark's, compose/dev down
#     --purge --keep: NAME/stack-N/logs/...), with those stacks' secrets
#     (.../secrets/FILE).
# The secrets are the ones each stack generated (the test stack's state
# folder, and every kept secrets/ folder) and the ones in the environment: the
# Alpaca keys and the passwords in REDIS_URL, DATABASE_URL and
# ADMIN_DATABASE_URL.  Every secret is searched for in every log.  (The
# walk-through, tests/compose_walkthrough.py, also searches its own stack's
# secrets in its own logs before it deletes its stack.)  Final line
# "N passed, M failed".
set -euo pipefail

STATE=${DEV_STATE_DIR:?DEV_STATE_DIR is not set (run via compose/dev test)}
KEPT="$STATE/kept"
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
bad() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }

# ---- the logs
mapfile -t own < <(find "$STATE/logs" "$STATE/sanitizers" -type f -size +0c 2>/dev/null | sort)
if ((${#own[@]} >= 3)); then ok "${#own[@]} non-empty log files of the test stack to read"; else
    bad "at least 3 non-empty log files in $STATE/logs (found ${#own[@]})"
fi
# Everything kept, but the kept secrets themselves.
mapfile -t kept < <(find "$KEPT" -type f -size +0c -not -path '*/secrets/*' 2>/dev/null | sort)
logs=("${own[@]}" "${kept[@]}")
if [[ -d $KEPT ]]; then
    printf '        kept by the tests: %d files in %s:%s\n' "${#kept[@]}" "$KEPT" \
        "$(find "$KEPT" -mindepth 1 -maxdepth 1 -printf ' %f')"
fi

# ---- the secrets
# The password of a URL (scheme://[user]:password@host...), if any.
url_password() { sed -n 's|^[a-z]*://[^:/@]*:\([^@]*\)@.*|\1|p' <<<"$1"; }

declare -A secret=()
for f in redis.password pg.password pg-admin.password pg-super.password alpaca.key alpaca.secret; do
    if [[ -s $STATE/$f ]]; then secret[$f]=$(head -n1 "$STATE/$f"); fi
done
n_test=${#secret[@]}
[[ -n ${ALPACA_API_KEY_ID:-} ]] && secret[ALPACA_API_KEY_ID]=$ALPACA_API_KEY_ID
[[ -n ${ALPACA_API_SECRET_KEY:-} ]] && secret[ALPACA_API_SECRET_KEY]=$ALPACA_API_SECRET_KEY
p=$(url_password "${REDIS_URL:-}") && [[ -n $p ]] && secret["password of REDIS_URL"]=$p
p=$(url_password "${DATABASE_URL:-}") && [[ -n $p ]] && secret["password of DATABASE_URL"]=$p
p=$(url_password "${ADMIN_DATABASE_URL:-}") && [[ -n $p ]] && secret["password of ADMIN_DATABASE_URL"]=$p
if ((n_test >= 5)); then ok "$n_test secrets of the test stack to look for"; else
    bad "at least 5 secrets in $STATE (found $n_test: is this the stack's state folder?)"
fi
# The other stacks' (kept/NAME/.../secrets/FILE), named by where they were kept.
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

#!/usr/bin/env bash
# tests/test_secrets.sh -- no secret in any log of the run.
#
# Registered after everything else, so that it reads the logs of the whole
# suite on every test stack (every worker, the simulator, the broker, Redis,
# PostgreSQL, the migrations; they accumulate in STATE/logs across
# restarts).  The secrets are the ones each stack generated (its state
# folder: the passwords and the Alpaca keys).  Final line "N passed, M failed".
set -euo pipefail

ROOT=${ORDER_WORKER_ROOT:?ORDER_WORKER_ROOT is not set (run via ctest or compose/dev test)}
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
bad() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }

# Every test stack of the run (tests/stack.sh): .dev-test, .dev-test-b.
mapfile -t states < <(find "$ROOT" -maxdepth 1 -name '.dev-test*' -type d \
    -exec test -e '{}/.order-worker-dev' ';' -print | sort)
if ((${#states[@]} >= 1)); then ok "${#states[@]} test stacks: ${states[*]##*/}"; else
    bad "at least one test stack's state folder in $ROOT"
fi
logs=()
for STATE in "${states[@]}"; do
    mapfile -t -O "${#logs[@]}" logs < <(find "$STATE/logs" -type f -name '*.log' -size +0c 2>/dev/null | sort)
done
if ((${#logs[@]} >= 3)); then ok "${#logs[@]} non-empty log files to read"; else
    bad "at least 3 non-empty log files in the stacks' logs (found ${#logs[@]})"
fi

declare -A secret=()
for STATE in "${states[@]}"; do
    for f in redis.password pg.password pg-admin.password pg-super.password alpaca.key alpaca.secret; do
        if [[ -s $STATE/$f ]]; then secret["${STATE##*/}/$f"]=$(head -n1 "$STATE/$f"); fi
    done
done
if ((${#secret[@]} >= 5)); then ok "${#secret[@]} secrets to look for"; else
    bad "at least 5 secrets to look for (found ${#secret[@]}: is this the stack's state folder?)"
fi
for name in "${!secret[@]}"; do
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

#!/usr/bin/env bash
# tests/test_secrets.sh -- no secret in any log of the run.
#
# Registered last, so that under `compose/dev test` it reads the logs of the
# whole suite (every worker, the simulator, the broker, Redis, PostgreSQL,
# the migrations; they accumulate in $DEV_STATE_DIR/logs across restarts).
# The secrets are the ones the stack generated (its state folder) and the
# ones in the environment: the Alpaca keys and the passwords in REDIS_URL and
# DATABASE_URL.  Final line "N passed, M failed".
set -euo pipefail

STATE=${DEV_STATE_DIR:?DEV_STATE_DIR is not set (run via compose/dev test)}
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
bad() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }

mapfile -t logs < <(find "$STATE/logs" -type f -name '*.log' -size +0c 2>/dev/null | sort)
if ((${#logs[@]} >= 3)); then ok "${#logs[@]} non-empty log files to read"; else
    bad "at least 3 non-empty log files in $STATE/logs (found ${#logs[@]})"
fi

# The password of a URL (scheme://[user]:password@host...), if any.
url_password() { sed -n 's|^[a-z]*://[^:/@]*:\([^@]*\)@.*|\1|p' <<<"$1"; }

declare -A secret=()
for f in redis.password pg.password pg-admin.password pg-super.password alpaca.key alpaca.secret; do
    if [[ -s $STATE/$f ]]; then secret[$f]=$(head -n1 "$STATE/$f"); fi
done
[[ -n ${ALPACA_API_KEY_ID:-} ]] && secret[ALPACA_API_KEY_ID]=$ALPACA_API_KEY_ID
[[ -n ${ALPACA_API_SECRET_KEY:-} ]] && secret[ALPACA_API_SECRET_KEY]=$ALPACA_API_SECRET_KEY
p=$(url_password "${REDIS_URL:-}") && [[ -n $p ]] && secret["password of REDIS_URL"]=$p
p=$(url_password "${DATABASE_URL:-}") && [[ -n $p ]] && secret["password of DATABASE_URL"]=$p
p=$(url_password "${ADMIN_DATABASE_URL:-}") && [[ -n $p ]] && secret["password of ADMIN_DATABASE_URL"]=$p

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

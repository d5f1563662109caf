#!/usr/bin/env bash
# tests/test_sanitizers.sh -- no AddressSanitizer, LeakSanitizer or UBSan
# report from any process of the run, and no failed assertion (ours, libc's
# assert() or librdkafka's rd_assert) in any log of the stack: an abort is a
# crash even when the test that caused it passed (a worker SIGTERMed by the
# chaos test, say, that aborts in librdkafka on its way out).
#
# Registered after every other test but secrets_in_logs.  Under `compose/dev
# test` (a sanitized build) every process the suite started writes its
# reports to $DEV_SANITIZER_DIR (report.<exe>.<pid>).  LeakSanitizer checks a
# process only when it exits normally, so the stack's long-running sanitized
# processes (the workers, the simulator, the broker) are stopped first with
# SIGTERM, and each must exit by itself: a SIGKILL would skip its leak check.
# Final line "N passed, M failed".
set -euo pipefail

STATE=${DEV_STATE_DIR:?DEV_STATE_DIR is not set (run via compose/dev test)}
DEV=${DEV_SCRIPT:?DEV_SCRIPT is not set (run via compose/dev test)}
PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-san.XXXXXX")
SHOWN=10 # reports printed in full; of the rest, their SUMMARY line

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap finish EXIT

mapfile -t workers < <(find "$STATE/pids" -name 'worker-*.pid' -printf '%f\n' | sed 's/\.pid$//' | sort)
for name in "${workers[@]}" alpaca-sim kafka; do
    if "$DEV" --state "$STATE" stop "$name" >"$WORK/stop.log" 2>&1 && ! grep -q SIGKILL "$WORK/stop.log"; then
        ok "$name exits by itself on SIGTERM (so its leaks are checked)"
    else
        bad "$name exits by itself on SIGTERM" "$WORK/stop.log"
    fi
done

# After the stops, so that the last shutdown of each process is in its log.
grep -HnE 'Assertion .* failed|: assert: ' "$STATE"/logs/*.log >"$WORK/asserts" 2>/dev/null || true
expect_empty "no failed assertion in the logs of the stack ($STATE/logs)" "$WORK/asserts"

if [[ -z ${DEV_SANITIZER_DIR:-} ]]; then
    ok "not a sanitized run (DEV_SANITIZE=0): no sanitizer reports to check"
    exit 0
fi

mapfile -t reports < <(find "$DEV_SANITIZER_DIR" -type f | sort)
if ((${#reports[@]} == 0)); then
    ok "no sanitizer report in $DEV_SANITIZER_DIR"
else
    bad "${#reports[@]} sanitizer reports in $DEV_SANITIZER_DIR"
    for ((i = 0; i < ${#reports[@]}; i++)); do
        if ((i < SHOWN)); then
            say "        --- ${reports[i]##*/}"
            head -n 120 "${reports[i]}" | sed 's/^/        | /'
        else
            say "        --- ${reports[i]##*/}: $(grep -m1 '^SUMMARY' "${reports[i]}" || echo '(no SUMMARY line)')"
        fi
    done
fi

#!/usr/bin/env bash
# tests/test_sanitizers.sh -- no AddressSanitizer, LeakSanitizer or UBSan
# report from any process of the run.
#
# Registered after every other test (tests/CMakeLists.txt).  Under
# `compose/dev test` (a sanitized build) every process the suite started
# writes its reports to $DEV_SANITIZER_DIR (report.<exe>.<pid>).
# LeakSanitizer checks a process only when it exits normally: the stacks'
# long-running processes (the workers, the simulator, the broker) were
# stopped with SIGTERM by their fixtures' cleanup (tests/stack.sh down, which
# also checks that each exited by itself and that no assertion failed in the
# stack's logs), before this runs.  Final line "N passed, M failed".
set -euo pipefail

PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-san.XXXXXX")
SHOWN=10 # reports printed in full; of the rest, their SUMMARY line

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap finish EXIT

if [[ -z ${DEV_SANITIZER_DIR:-} ]]; then
    ok "not a sanitized run (DEV_SANITIZE=0, or ctest without compose/dev test): no reports to check"
    exit 0
fi

mapfile -t reports < <(find "$DEV_SANITIZER_DIR" -type f 2>/dev/null | sort)
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

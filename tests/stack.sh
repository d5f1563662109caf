#!/usr/bin/env bash
# tests/stack.sh up|down NAME -- a test stack as a CTest fixture.
#
# tests/CMakeLists.txt registers, for each stack NAME (a, b), the test
# stack_NAME_up (FIXTURES_SETUP) and stack_NAME_down (FIXTURES_CLEANUP):
# CTest runs `up` before the first test that needs the stack and `down` after
# the last, so `ctest -R end_to_end` alone brings up what that test needs.
# The stack is compose/dev's, in its test state dir (a: .dev-test, b:
# .dev-test-b, on ports of their own), from the build that runs the test
# (DEV_BUILD_DIR); the test scripts read its settings through `stack_test`
# (tests/lib.sh).
#
#   up    a fresh stack: PostgreSQL, Redis, the Kafka development broker, the
#         simulator and 2 workers, returning once they consume.
#   down  stops the workers, the simulator and the broker with SIGTERM, each of
#         which must exit by itself (so that LeakSanitizer checks it: a
#         SIGKILL would skip that), checks the stack's logs for a failed
#         assertion (a crash on the way out is a crash even when the test that
#         caused it passed), then stops the rest.  The logs stay, for
#         secrets_in_logs.  Final line "N passed, M failed".
set -euo pipefail
ROOT=${ORDER_WORKER_ROOT:?ORDER_WORKER_ROOT is not set (tests/CMakeLists.txt sets it)}
what=${1:?usage: tests/stack.sh up|down NAME}
name=${2:?usage: tests/stack.sh up|down NAME}
DEV=$ROOT/compose/dev
if [[ $name == a ]]; then STATE=$ROOT/.dev-test; else STATE=$ROOT/.dev-test-$name; fi
export DEV_NO_BUILD=1
PASSED=0 FAILED=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-stack.XXXXXX")
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap finish EXIT

case $what in
    up)
        "$DEV" --state "$STATE" down --purge >"$WORK/up.log" 2>&1 || true
        if "$DEV" --state "$STATE" --workers 2 up >>"$WORK/up.log" 2>&1; then
            ok "stack $name up in $STATE: $(grep -m1 '^workers:' "$WORK/up.log")"
        else
            bad "stack $name up in $STATE" "$WORK/up.log"
            tail -n 30 "$WORK/up.log" | sed 's/^/        | /'
        fi
        ;;
    down)
        [[ -e $STATE/.order-worker-dev ]] || die "no stack $name in $STATE"
        mapfile -t workers < <(find "$STATE/pids" -name 'worker-*.pid' -printf '%f\n' |
            sed 's/\.pid$//' | sort)
        for c in "${workers[@]}" alpaca-sim kafka; do
            if "$DEV" --state "$STATE" stop "$c" >"$WORK/stop.log" 2>&1 &&
                ! grep -q SIGKILL "$WORK/stop.log"; then
                ok "stack $name: $c exits by itself on SIGTERM (so its leaks are checked)"
            else
                bad "stack $name: $c exits by itself on SIGTERM" "$WORK/stop.log"
            fi
        done
        grep -HnE 'Assertion .* failed|: assert: ' "$STATE"/logs/*.log >"$WORK/asserts" 2>/dev/null || true
        expect_empty "stack $name: no failed assertion in its logs ($STATE/logs)" "$WORK/asserts"
        if "$DEV" --state "$STATE" down >"$WORK/down.log" 2>&1; then
            ok "stack $name: down"
        else
            bad "stack $name: down" "$WORK/down.log"
        fi
        ;;
    *) die "usage: tests/stack.sh up|down NAME" ;;
esac

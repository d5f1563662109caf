#!/usr/bin/env bash
# test_alpaca.sh -- runs tests/test_alpaca.c (the Alpaca client) against its
# own simulators.
#
# usage: tests/test_alpaca.sh path/to/alpaca-sim path/to/test_alpaca
#
# Starts two simulators on random free loopback ports (20000-29999): the
# main one with a high rate limit, and one allowing 3 trading calls a minute
# for the 429 checks.  Runs the test binary with ALPACA_BASE_URL,
# ALPACA_DATA_URL, ALPACA_RL_URL and the keys in its environment (with
# VALGRIND=1, under valgrind --leak-check=full --error-exitcode=99), and
# stops the simulators it started on exit.  Needs curl.
set -euo pipefail

SIM=${1:?usage: $0 path/to/alpaca-sim path/to/test_alpaca}
TEST=${2:?usage: $0 path/to/alpaca-sim path/to/test_alpaca}
for f in "$SIM" "$TEST"; do
    [ -x "$f" ] || { echo "not executable: $f" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "curl is required" >&2; exit 2; }

export ALPACA_API_KEY_ID=test-alpaca-key
export ALPACA_API_SECRET_KEY=test-alpaca-secret-$$
WORK=$(mktemp -d)
SIM_BIN=$SIM
SIM_ARGS=()
KEEP_AS=alpaca_client
# shellcheck source=tests/simlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/simlib.sh"
sims_failed() {
    echo "could not start the $1 simulator" >&2
    exit 1
}
trap sims_exit EXIT

# Quotes stay where the test puts them and fills are whole, so that prices
# and quantities can be checked exactly; fills still come from the engine's
# ticks, after the POST has answered.
SIMENV=(SIM_QUOTE_WALK=0 SIM_PARTIAL_FILL_RATE=0 SIM_TICK_MS=100)
start_sim main "${SIMENV[@]}" ALPACA_CALLS_PER_MIN=100000 RATE_PERIOD_MS=60000
MAIN_PORT=$PORT
start_sim ratelimited "${SIMENV[@]}" ALPACA_CALLS_PER_MIN=3 RATE_PERIOD_MS=60000
RL_PORT=$PORT

RUN=()
if [ "${VALGRIND:-0}" = 1 ]; then
    RUN=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect
         --errors-for-leak-kinds=definite,indirect --error-exitcode=99)
fi

rc=0
ALPACA_BASE_URL="http://127.0.0.1:$MAIN_PORT" \
ALPACA_DATA_URL="http://127.0.0.1:$MAIN_PORT" \
ALPACA_RL_URL="http://127.0.0.1:$RL_PORT" \
    "${RUN[@]}" "$TEST" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "--- simulator log (main, last 20 lines)" >&2
    tail -n 20 "$WORK/main.log" >&2 || true
fi
exit "$rc"

#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_rolling.sh -- a rolling restart under a steady load, the way a
# deploy does it, through the stack of `compose/dev test`.
#
# Three replicas; ow-loadgen offers ROLLING_RATE intents/s (default 20,
# market buys of 1 share for 40 bots) for ROLLING_SECONDS (default 60); a few
# seconds in, `compose/dev rolling-restart` restarts every replica in turn
# (SIGTERM: it drains and leaves the group; start; wait until the group
# consumes every partition again).  Then:
#   - every replica was restarted (a new pid each), and all of it happened
#     while the load ran;
#   - every intent has its terminal outcome and every one is a fill: none
#     expired, none rejected;
#   - the simulator created exactly one order per intent and saw no
#     client_order_id twice (nothing was placed twice);
#   - the longest wait any intent saw (created_at -> its accepted event read
#     back) is printed with the median and the 99th percentile, and each
#     restart's duration; none is asserted (speed is the benchmark's).
# On exit the usual settings and two workers come back.  Every wait is
# bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test rolling
RATE=${ROLLING_RATE:-20}
SECONDS_=${ROLLING_SECONDS:-60}
LG_PID=""

# The workers' and the simulator's settings for this run (the simulator
# reads its rate limit at start); the previous values come back on exit.
# The limits' period is a second, so that the shared Alpaca budget holds
# no more than a second's calls when the usual limit (200 a minute) is back
# and the next test starts.
save_settings BOT_TRADES_PER_MIN ALPACA_CALLS_PER_MIN RATE_PERIOD_MS

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if [[ -n $LG_PID ]] && kill -0 "$LG_PID" 2>/dev/null; then kill -TERM "$LG_PID"; wait "$LG_PID"; fi
    restore_settings
    say "-- restoring the simulator and two workers with their usual settings"
    { dev stop alpaca-sim && dev start alpaca-sim && dev workers-restart 2; } || FAILED=$((FAILED + 1))
}
trap test_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pids() { cat "$STATE"/pids/worker-*.pid 2>/dev/null | sort | tr '\n' ' '; }

# ---------------------------------------------------------------- the fleet
# Quotas and the Alpaca budget out of the way: this run is about restarts.
export BOT_TRADES_PER_MIN=100000 ALPACA_CALLS_PER_MIN=100000 RATE_PERIOD_MS=1000
if ! { dev stop alpaca-sim && dev start alpaca-sim && dev workers-restart 3; }; then
    die "starting 3 workers failed"
fi
# ... and the account's buying power (1,200 buys of up to ~$900 each).
sim POST /_sim/account '{"cash": "100000000"}' >/dev/null || die "cannot set the simulator's cash"
before=$(pids)
orders0=$(sim_stat orders_created)
dups0=$(sim_stat duplicate_client_order_ids)

# ---------------------------------------------------------------- load + rolling restart
"$BIN/ow-loadgen" --rate "$RATE" --duration "$SECONDS_" --warmup 0 --bots 40 \
    --drain-timeout 120 --json "$WORK/load.json" --ready-file "$WORK/ready" \
    2>"$WORK/loadgen.log" &
LG_PID=$!
for _ in $(seq 1 150); do [[ -e $WORK/ready ]] && break; sleep 0.2; done
[[ -e $WORK/ready ]] || die "ow-loadgen did not become ready: $(tail -n 5 "$WORK/loadgen.log")"
load_start=$(date +%s)
sleep 5
say "-- rolling restart of 3 replicas under $RATE intents/s"
rr_start=$(date +%s)
dev rolling-restart || die "compose/dev rolling-restart failed"
rr_end=$(date +%s)
grep 'restarted, the group consuming again' "$WORK/dev.log" | sed 's/^/     /'
load_running=0
kill -0 "$LG_PID" 2>/dev/null && load_running=1
lg_rc=0
wait "$LG_PID" || lg_rc=$?
LG_PID=""
after=$(pids)

# ---------------------------------------------------------------- checks
n_restarted=$(grep -c 'restarted, the group consuming again' "$WORK/dev.log" || true)
expect_eq "rolling-restart restarted the 3 replicas one after the other" 3 "$n_restarted"
common=$(comm -12 <(tr ' ' '\n' <<<"$before" | sed '/^$/d' | sort) \
    <(tr ' ' '\n' <<<"$after" | sed '/^$/d' | sort) | wc -l)
expect_eq "every replica runs as a new process (no pid before and after)" 0 "$common"
if ((load_running == 1 && rr_start - load_start >= 4)); then
    ok "the restarts ran while the load ran ($((rr_start - load_start)) s in, for $((rr_end - rr_start)) s)"
else
    bad "the restarts ran while the load ran (load started at $load_start, restarts $rr_start..$rr_end, load still running: $load_running)"
fi
[[ -s $WORK/load.json ]] || die "ow-loadgen wrote no result (exit $lg_rc): $(tail -n 5 "$WORK/loadgen.log")"
sent=$(jq '.producer.delivered' "$WORK/load.json")
terminal=$(jq '.consumer.terminal' "$WORK/load.json")
if ((sent >= RATE * SECONDS_ * 9 / 10)); then ok "$sent intents sent over ${SECONDS_} s"; else
    bad "only $sent intents sent over ${SECONDS_} s"; fi
expect_eq "every intent has its terminal outcome" "$sent" "$terminal"
jq -r '.consumer.non_fill_outcomes | to_entries[] | "\(.key) \(.value)"' "$WORK/load.json" \
    >"$WORK/nonfill"
expect_empty "every outcome is a fill: none expired, none rejected" "$WORK/nonfill"
expect_eq "the simulator created one order per intent" "$sent" "$(($(sim_stat orders_created) - orders0))"
expect_eq "no client_order_id was sent twice" 0 "$(($(sim_stat duplicate_client_order_ids) - dups0))"

# ---------------------------------------------------------------- the report
jq -r --arg rate "$RATE" '.latency_created_to_accepted as $l
    | "  rolling restart at \($rate)/s: created_at -> accepted read back p50 \($l.p50_ms) ms,"
    + " p99 \($l.p99_ms) ms, longest \($l.max_ms_all_intents) ms (\(.consumer.duplicate_events)"
    + " duplicate events dropped)"' "$WORK/load.json"

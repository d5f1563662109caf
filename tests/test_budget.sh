#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_budget.sh -- the shared Alpaca budget and fairness, through the
# stack of `compose/dev test`.
#   [1] 3 replicas, the simulator limited to 200 calls per RATE_PERIOD_MS
#       (6 s here: a minute, scaled), fed far more intents than the budget
#       allows: no 429 ever, and the busiest window of the simulator holds
#       at most 200 calls and at least 175 (the bots' share, 180, is used,
#       not wasted; 20 are kept for users and cancels).
#   [2] a tight budget: one bot floods, nine bots send one trade each, then
#       users send two: all 41 fill, every one accepted; the nine are
#       placed before the flood is through, and the users' intents overtake
#       the flood's queued ones (an intent never accepted fails these).
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test budget
CHANGED=0

# restack WORKERS: the simulator and the workers again, with the settings
# exported now (the simulator reads its rate limit at start).
restack() {
    {
        "$DEV" --state "$STATE" stop alpaca-sim &&
            "$DEV" --state "$STATE" start alpaca-sim &&
            "$DEV" --state "$STATE" workers-restart "$1"
    } >"$WORK/restack.log" 2>&1 || {
        sed 's/^/        | /' "$WORK/restack.log"
        return 1
    }
}

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if ((CHANGED)); then
        say "-- restoring the simulator and two workers with their usual settings"
        unset ALPACA_CALLS_PER_MIN RATE_PERIOD_MS BOT_TRADES_PER_MIN USER_TRADES_PER_MIN \
            INTENT_MAX_AGE_MS ACCOUNT_REFRESH_MS
        restack 2 || { printf '  FAIL  restoring the stack\n'; FAILED=$((FAILED + 1)); }
    fi
}
trap test_exit EXIT

stats() { curl -fsS --max-time 10 "$ALPACA_SIM_URL/_sim/stats"; }

say "== order-worker: the shared Alpaca budget (run $RUN) =="

say ""
say "[1] 3 replicas, 200 calls per 6 s, far more intents than that"
export ALPACA_CALLS_PER_MIN=200 RATE_PERIOD_MS=6000 BOT_TRADES_PER_MIN=100000 \
    USER_TRADES_PER_MIN=100000 INTENT_MAX_AGE_MS=120000
CHANGED=1
restack 3 || die "could not restart the simulator and 3 workers"
warm_up() {  # one intent through, so the group has settled before measuring
    : >"$WORK/warm.jsonl"
    gen_intents "$WORK/warm.jsonl" 1 --bot "warm-$RUN-$1" --user "u-$RUN" --symbol AAPL \
        --side buy --qty 0.1
    send_lines "$WORK/warm.jsonl"
    jq -r '.intent_id' "$WORK/warm.jsonl" >"$WORK/warm.ids"
    wait_terminal "$WORK/warm.ids" 90000 || die "the restarted workers took no intent in 90 s"
}
warm_up 1
curl -fsS --max-time 10 -X POST "$ALPACA_SIM_URL/_sim/reset" >/dev/null || die "/_sim/reset failed"
: >"$WORK/flood.jsonl"
for b in $(seq 1 60); do
    # 0.1 share each: 600 of them stay within the account's $100k.
    gen_intents "$WORK/flood.jsonl" 10 --bot "bud-$RUN-$b" --user "u-$RUN-$((b % 7))" \
        --symbol AAPL --side buy --qty 0.1
done
n=$(wc -l <"$WORK/flood.jsonl")
start=$SECONDS
send_lines "$WORK/flood.jsonl"
jq -r '.intent_id' "$WORK/flood.jsonl" >"$WORK/flood.ids"
say "        sent $n intents; each needs at least one call, the budget gives 200 per 6 s"
# Let it run for three periods (half a minute of "minutes"), sampling.
worst=0
while ((SECONDS - start < 20)); do
    sleep 2
    stats >"$WORK/stats.json" || continue
    m=$(jq -r '.max_requests_in_any_period' "$WORK/stats.json")
    ((m > worst)) && worst=$m
done
stats >"$WORK/stats.json" || die "cannot read /_sim/stats"
expect_eq "no answer 429 from the simulator" 0 "$(jq -r '.responses_429' "$WORK/stats.json")"
max=$(jq -r '.max_requests_in_any_period' "$WORK/stats.json")
if ((max <= 200)); then ok "at most 200 calls in any 6 s window (busiest: $max)"; else
    bad "at most 200 calls in any 6 s window (busiest: $max)" "$WORK/stats.json"
fi
# Bots may use all but the reserve kept for users and cancels
# (ALPACA_BUDGET_RESERVE_PCT, 10%: 20 calls): 180 of 200.
if ((max >= 175)); then ok "the bots' share was used: at least 175 of its 180 in the busiest window ($max)"; else
    bad "the bots' share was used: at least 175 of its 180 in the busiest window ($max)" "$WORK/stats.json"
fi
say "        waiting for the rest to finish"
wait_terminal "$WORK/flood.ids" 120000 || bad "every flood intent finished within 120 s"
snapshot "$WORK/flood.events" "$WORK/flood.ids"
expect_eq "every intent filled" "$n" \
    "$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/flood.events")"
stats >"$WORK/stats.json"
expect_eq "still no 429 after the backlog drained" 0 "$(jq -r '.responses_429' "$WORK/stats.json")"

say ""
say "[2] fairness under a tight budget (10 calls per 2 s)"
export ALPACA_CALLS_PER_MIN=10 RATE_PERIOD_MS=2000 ACCOUNT_REFRESH_MS=600000
restack 2 || die "could not restart with a tight budget"
warm_up 2
: >"$WORK/fl.jsonl" "$WORK/nine.jsonl" "$WORK/users.jsonl"
gen_intents "$WORK/fl.jsonl" 30 --bot "flood-$RUN" --user "u-$RUN" --symbol AAPL --side buy --qty 1
for b in $(seq 1 9); do
    gen_intents "$WORK/nine.jsonl" 1 --bot "nine-$RUN-$b" --user "u-$RUN" --symbol AAPL --side buy --qty 1
done
gen_intents "$WORK/users.jsonl" 1 --user "ua-$RUN" --symbol AAPL --side buy --qty 1
gen_intents "$WORK/users.jsonl" 1 --user "ub-$RUN" --symbol AAPL --side buy --qty 1
send_lines "$WORK/fl.jsonl"
sleep 1
send_lines "$WORK/nine.jsonl"
send_lines "$WORK/users.jsonl"
cat "$WORK/fl.jsonl" "$WORK/nine.jsonl" "$WORK/users.jsonl" | jq -r '.intent_id' >"$WORK/all.ids"
wait_terminal "$WORK/all.ids" 120000 || bad "all 41 intents finished within 120 s"
snapshot "$WORK/fair.events" "$WORK/all.ids"
expect_eq "all 41 intents filled" 41 \
    "$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/fair.events")"
# When each intent was accepted (the broker took the order), by intent id.
jq -rs '[.[] | select(.type == "accepted") | {(.intent_id): .occurred_at}] | add // {}' \
    "$WORK/fair.events" >"$WORK/accepted.json"
# last_of NAME FILE: LAST becomes the latest acceptance time of FILE's
# intents; an intent never accepted is a failure (when it would have been
# placed is unknown), listed, and LAST is empty.
last_of() {
    LAST=""
    jq -r --slurpfile a "$WORK/accepted.json" '.intent_id | select($a[0][.] == null)' "$2" \
        >"$WORK/$1.unaccepted"
    if [[ -s $WORK/$1.unaccepted ]]; then
        bad "every intent of the $1 was accepted ($(wc -l <"$WORK/$1.unaccepted") never were)" \
            "$WORK/$1.unaccepted"
        return
    fi
    LAST=$(jq -r --slurpfile a "$WORK/accepted.json" '$a[0][.intent_id]' "$2" | sort | tail -n1)
}
last_of flood "$WORK/fl.jsonl"
flood_last=$LAST
last_of nine "$WORK/nine.jsonl"
nine_last=$LAST
last_of users "$WORK/users.jsonl"
users_last=$LAST
say "        flood's last accepted ${flood_last:-(not all)}; the nine's last ${nine_last:-(not all)}; users' last ${users_last:-(not all)}"
# first_before WHAT A B: A (a time) is before B; either missing is a failure.
first_before() {
    if [[ -z $2 || -z $3 ]]; then
        bad "$1 (not every intent compared was accepted: see above)"
    elif [[ $2 < $3 ]]; then ok "$1"; else
        bad "$1 ($2 is not before $3)"
    fi
}
first_before "the nine bots were placed before the flood was through" "$nine_last" "$flood_last"
first_before "the users' intents overtook the flood's queued intents" "$users_last" "$flood_last"
stats >"$WORK/stats.json"
expect_eq "no 429 under the tight budget" 0 "$(jq -r '.responses_429' "$WORK/stats.json")"

#!/usr/bin/env bash
# tests/test_e2e.sh -- end-to-end checks of order-worker on the running stack.
#
# Owns: the contract's guarantees seen from outside, through Kafka and the
# Alpaca simulator only: (1) N valid intents give exactly N terminal outcomes,
# N `accepted` events and N new broker orders; (2) redelivered intents and a
# replay through a fresh consumer group create no order and no new event_id;
# (3) per-key order of `accepted` events; (4) validation_failed, DLQ and expired
# each give exactly one outcome of their kind, and the workers keep going.
#
# Runs inside `compose/dev test` (ctest): needs the stack's environment
# (KAFKA_BROKERS, ALPACA_SIM_URL, ...), ORDER_WORKER_ROOT, DEV_SCRIPT and
# DEV_STATE_DIR.  It restarts the simulator and the workers with high limits for its run
# and restarts them with the previous settings at the end.  Every wait is
# bounded.  Prints each assertion; the last line is "N passed, M failed".
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
set -euo pipefail
export LC_ALL=C # sort and join must agree

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test e2e
WORKER="$BIN/order-worker"

# N intents from 20 bots and 5 users, N/25 each (150 by default).  The
# test's own limits are out of the way: the trade quotas and the Alpaca budget
# (workers and simulator) high, over a period of a second, so that neither
# what this test sends nor what earlier tests on the stack sent in the last
# minute makes an intent wait for the broker's rate limit long enough to
# expire.
N=${E2E_N:-150}
BOTS=20 USERS=5
SYMBOLS=(AAPL NVDA AMD IBM)

REPLAY_PID=""
RESTARTED=0
save_settings BOT_TRADES_PER_MIN USER_TRADES_PER_MIN ALPACA_CALLS_PER_MIN RATE_PERIOD_MS

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if [[ -n $REPLAY_PID ]] && kill -0 "$REPLAY_PID" 2>/dev/null; then
        kill -KILL "$REPLAY_PID" 2>/dev/null
        wait "$REPLAY_PID" 2>/dev/null
    fi
    if ((RESTARTED)); then
        say "-- restoring the workers' and the simulator's limits"
        restore_settings
        if ! { "$DEV" --state "$STATE" stop alpaca-sim && "$DEV" --state "$STATE" start alpaca-sim &&
            timeout 120 "$DEV" --state "$STATE" workers-restart; } >"$WORK/restore.log" 2>&1; then
            sed 's/^/        | /' "$WORK/restore.log"
            printf '  FAIL  restarting the simulator and the workers with their previous limits\n'
            FAILED=$((FAILED + 1))
        fi
    fi
}
trap test_exit EXIT

[[ -x $IC ]] || die "$IC is missing (build first)"
[[ -x $WORKER ]] || die "$WORKER is missing (build first)"
command -v jq >/dev/null || die "jq is missing"
((N > 0 && N % (BOTS + USERS) == 0)) || die "E2E_N=$N must be a positive multiple of $((BOTS + USERS))"

# ------------------------------------------------------------------ set-up

say "== order-worker end-to-end test (run $RUN, N=$N) =="
say "-- restarting the simulator and the workers with high limits (the test sends many intents per bot)"
export BOT_TRADES_PER_MIN=100000 USER_TRADES_PER_MIN=100000 ALPACA_CALLS_PER_MIN=100000 RATE_PERIOD_MS=1000
RESTARTED=1
{ "$DEV" --state "$STATE" stop alpaca-sim && "$DEV" --state "$STATE" start alpaca-sim &&
    timeout 180 "$DEV" --state "$STATE" workers-restart; } >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}

say "-- warm-up: one intent must come through before the checks start"
gen_intents "$WORK/warm.jsonl" 1 --bot "e2e-$RUN-warm" --user "e2e-$RUN-owner" --symbol AAPL --side buy --qty 1
send_lines "$WORK/warm.jsonl"
jq -r .intent_id "$WORK/warm.jsonl" >"$WORK/warm.ids"
wait_terminal "$WORK/warm.ids" 90000 || die "the warm-up intent got no outcome within 90 s: are the workers consuming?"

# ------------------------------------------------------ 1. N intents, N outcomes

say ""
say "[1] $N valid intents from $BOTS bots and $USERS users"
per=$((N / (BOTS + USERS)))
: >"$WORK/c1.gen"
for ((b = 0; b < BOTS; b++)); do
    gen_intents "$WORK/c1.gen" "$per" --bot "e2e-$RUN-bot$b" --user "e2e-$RUN-owner$((b % USERS))" \
        --symbol "${SYMBOLS[b % ${#SYMBOLS[@]}]}" --side buy --qty 1 --meta "{\"e2e\":\"$RUN\",\"n\":$b}"
done
for ((u = 0; u < USERS; u++)); do
    gen_intents "$WORK/c1.gen" "$per" --user "e2e-$RUN-user$u" \
        --symbol "${SYMBOLS[u % ${#SYMBOLS[@]}]}" --side buy --qty 1
done
shuf "$WORK/c1.gen" >"$WORK/c1.jsonl" # interleave the keys
jq -r .intent_id "$WORK/c1.jsonl" | sort >"$WORK/c1.ids"
orders_before=$(sim_orders)
send_lines "$WORK/c1.jsonl" "$WORK/c1.sent"
expect_eq "intentctl delivered all $N intents" "$N" \
    "$(jq -s '[.[] | select(.status == "sent")] | length' "$WORK/c1.sent")"
wait_terminal "$WORK/c1.ids" 180000 || true
sleep 3 # room for late duplicates or a second outcome, which must not exist
snapshot "$WORK/c1.events" "$WORK/c1.ids"
jqe -r "$JQ_DEFS"' select(terminal) | .intent_id' "$WORK/c1.events" | sort -u >"$WORK/c1.terminal"
expect_same_lines "every one of the $N intents has a terminal outcome" \
    "$WORK/c1.ids" "$WORK/c1.terminal"
jqe -rs "$JQ_DEFS"' [.[] | select(terminal)] | group_by(.intent_id)[]
    | select((map(.event_id) | unique | length) > 1)
    | "\(.[0].intent_id): \(map(.event_id) | unique | join(", "))"' "$WORK/c1.events" >"$WORK/c1.multi"
expect_empty "no intent has two different terminal event_ids" "$WORK/c1.multi"
jqe -r 'select(._topic == $fills and .type == "accepted") | .event_id' "$WORK/c1.events" |
    sort -u >"$WORK/c1.accepted"
sed 's/$/:accepted:1/' "$WORK/c1.ids" >"$WORK/c1.accepted.want"
expect_same_lines "exactly $N accepted events (event_id <intent_id>:accepted:1)" \
    "$WORK/c1.accepted.want" "$WORK/c1.accepted"
jqe -r "$JQ_DEFS"' select(terminal) | "\(._topic) \(.type // .reason)"' "$WORK/c1.events" |
    sort | uniq -c >"$WORK/c1.kinds"
say "        outcomes: $(tr -s ' ' <"$WORK/c1.kinds" | paste -sd, -)"
orders_after=$(sim_orders)
expect_eq "the simulator's orders_created grew by exactly $N" "$N" "$((orders_after - orders_before))"
batched=$(worker_metric 'order_worker_intents_settled_total{path="batch"}')
if ((batched > 0)); then ok "the lanes took part of the burst in batches ($batched intents)"; else
    bad "the lanes took part of the burst in batches (order_worker_intents_settled_total{path=\"batch\"} is 0)"
fi

# ------------------------------------------------------------ 2. redelivery

say ""
say "[2] redelivery: the same bytes again, and a replay through a fresh consumer group"
# the exact bytes sent in [1]: 10 bot intents and 5 user intents
grep -F '"bot_id"' "$WORK/c1.jsonl" | head -n 10 >"$WORK/c2.jsonl" || true
grep -vF '"bot_id"' "$WORK/c1.jsonl" | head -n 5 >>"$WORK/c2.jsonl" || true
jq -r .intent_id "$WORK/c2.jsonl" | sort >"$WORK/c2.ids"
snapshot "$WORK/c2.before" "$WORK/c2.ids"
jq -r .event_id "$WORK/c2.before" | sort | uniq -c | awk '{print $2, $1}' >"$WORK/c2.count.before"
orders_before=$(sim_orders)
send_lines "$WORK/c2.jsonl"
for ((i = 0; i < 30; i++)); do
    sleep 2
    snapshot "$WORK/c2.after" "$WORK/c2.ids"
    jq -r .event_id "$WORK/c2.after" | sort | uniq -c | awk '{print $2, $1}' >"$WORK/c2.count.after"
    # event_ids not seen again yet: count after <= count before
    join "$WORK/c2.count.before" "$WORK/c2.count.after" -a1 |
        awk '($3 == "" || $3 <= $2) {print $1 " was not published again"}' >"$WORK/c2.missing"
    if [[ ! -s $WORK/c2.missing ]]; then break; fi
done
jq -r .event_id "$WORK/c2.before" | sort -u >"$WORK/c2.ids.before"
jq -r .event_id "$WORK/c2.after" | sort -u >"$WORK/c2.ids.after"
expect_same_lines "redelivered intents: no new event_id" \
    "$WORK/c2.ids.before" "$WORK/c2.ids.after"
expect_empty "redelivered intents: every event_id of theirs came back again" "$WORK/c2.missing"
expect_eq "redelivered intents: no new order at the simulator" "$orders_before" "$(sim_orders)"

# The replay: one more worker in a group of its own reads every intent topic
# from the beginning.
snapshot "$WORK/all.before"
total_before=$(wc -l <"$WORK/all.before")
jq -r .event_id "$WORK/c1.events" | sort -u >"$WORK/c1.eventids.before"
orders_before=$(sim_orders)
# Wrapped like the stack's workers (compose/dev valgrind runs it under valgrind).
read -r -a wrapper <<<"${DEV_WORKER_WRAPPER:-}"
KAFKA_GROUP_ID="e2e-replay-$RUN" REPLICA_ID="e2e-replay-$RUN" WORKER_DRAIN_MS=8000 ADMIN_PORT=0 \
    "${wrapper[@]}" "$WORKER" >"$WORK/replay.log" 2>&1 &
REPLAY_PID=$!
say "        replay worker pid $REPLAY_PID, group e2e-replay-$RUN; waiting until it has caught up"
stable=0 last=-1 count=$total_before
for ((i = 0; i < 60; i++)); do
    sleep 2
    if ! kill -0 "$REPLAY_PID" 2>/dev/null; then break; fi
    snapshot "$WORK/all.now"
    count=$(wc -l <"$WORK/all.now")
    # caught up: it re-published at least the N intents' events, and then
    # nothing new for three polls in a row
    if ((count == last && count >= total_before + N)); then stable=$((stable + 1)); else stable=0; fi
    last=$count
    if ((stable >= 3)); then break; fi
done
say "        result topics: $total_before messages before the replay, $count after"
if ((stable >= 3)); then ok "the replay worker caught up (re-published, then went quiet)"; else
    tail -n 20 "$WORK/replay.log" >"$WORK/replay.tail"
    bad "the replay worker caught up within 120 s (stable=$stable, messages $total_before -> $count)" "$WORK/replay.tail"
fi
replay_rc=0
if kill -0 "$REPLAY_PID" 2>/dev/null; then
    kill -TERM "$REPLAY_PID"
    for ((i = 0; i < 60; i++)); do
        if ! kill -0 "$REPLAY_PID" 2>/dev/null; then break; fi
        sleep 0.5
    done
    if kill -0 "$REPLAY_PID" 2>/dev/null; then
        kill -KILL "$REPLAY_PID"
        say "        the replay worker ignored SIGTERM for 30 s: killed"
    fi
fi
wait "$REPLAY_PID" || replay_rc=$?
REPLAY_PID=""
tail -n 20 "$WORK/replay.log" >"$WORK/replay.tail"
if ((replay_rc == 0)); then ok "the replay worker exited 0 on SIGTERM"; else
    bad "the replay worker exited 0 on SIGTERM (it exited $replay_rc)" "$WORK/replay.tail"
fi
expect_eq "replay: no new order at the simulator" "$orders_before" "$(sim_orders)"
snapshot "$WORK/c1.after" "$WORK/c1.ids"
jq -r .event_id "$WORK/c1.after" | sort -u >"$WORK/c1.eventids.after"
expect_same_lines "replay: no new event_id for the $N intents of [1]" \
    "$WORK/c1.eventids.before" "$WORK/c1.eventids.after"

# ------------------------------------------------------------- 3. key order

say ""
say "[3] per-key order: 20 intents from one bot, sent in sequence"
: >"$WORK/c3.jsonl"
gen_intents "$WORK/c3.jsonl" 20 --bot "e2e-$RUN-order" --user "e2e-$RUN-owner" --symbol AMD --side buy --qty 1
jq -r .intent_id "$WORK/c3.jsonl" >"$WORK/c3.ids"
send_lines "$WORK/c3.jsonl" "$WORK/c3.sent"
jq -r 'select(.status == "sent") | .intent_id' "$WORK/c3.sent" >"$WORK/c3.sent.ids"
expect_same_lines "intentctl delivered the 20 intents in the order given" "$WORK/c3.ids" "$WORK/c3.sent.ids"
wait_terminal "$WORK/c3.ids" 90000 || true
snapshot "$WORK/c3.events" "$WORK/c3.ids"
jqe -s '[.[] | select(._topic == $fills and .type == "accepted") | ._partition] | unique | length' \
    "$WORK/c3.events" >"$WORK/c3.parts"
expect_eq "their accepted events share one partition of $T_FILLS" 1 "$(cat "$WORK/c3.parts")"
jqe -rs '[.[] | select(._topic == $fills and .type == "accepted")] | sort_by(._partition, ._offset)
    | reduce .[] as $e ([]; if any(.[]; . == $e.intent_id) then . else . + [$e.intent_id] end) | .[]' \
    "$WORK/c3.events" >"$WORK/c3.order"
if diff "$WORK/c3.ids" "$WORK/c3.order" >"$WORK/c3.diff"; then
    ok "their accepted events appear in the order the intents were sent"
else
    sed -i '1i --- sent order  +++ order of accepted events by offset' "$WORK/c3.diff"
    bad "their accepted events appear in the order the intents were sent" "$WORK/c3.diff"
fi

# ------------------------------------------- 4. the three non-fill outcomes

say ""
say "[4] validation_failed, DLQ and expired: exactly one outcome each; the workers go on"
bad_id=$(cat /proc/sys/kernel/random/uuid)
late_id=$(cat /proc/sys/kernel/random/uuid)
dlq_key="e2e-$RUN-dlq"
jq -cn --arg id "$bad_id" --arg bot "e2e-$RUN-bad" --arg now "$(NOW)" \
    '{intent_id: $id, bot_id: $bot, user_id: "e2e-owner", symbol: "aapl", side: "buy",
      type: "market", qty: "-3", created_at: $now}' >"$WORK/c4.bad"
"$IC" send --raw --key "e2e-$RUN-bad" --topic "$T_BOT" <"$WORK/c4.bad" >/dev/null ||
    die "sending the invalid intent failed"
printf 'e2e %s: this is not JSON\n' "$RUN" | "$IC" send --raw --key "$dlq_key" --topic "$T_BOT" >/dev/null ||
    die "sending the DLQ message failed"
"$IC" send --bot "e2e-$RUN-late" --user "e2e-$RUN-owner" --symbol AAPL --side buy --qty 1 \
    --intent-id "$late_id" --created-at "$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.%3NZ)" \
    >/dev/null 2>&1 || die "sending the expired intent failed"
printf '%s\n' "$bad_id" "$late_id" "$dlq_key" >"$WORK/c4.ids"
wait_terminal "$WORK/c4.ids" 60000 || true
sleep 3 # a second outcome, if there were one, would have time to show
snapshot "$WORK/c4.events" "$WORK/c4.ids"
# outcome ID: "topic reason-or-type" per distinct event_id, or per DLQ message
outcomes() {
    jqe -r --arg id "$1" 'select(.intent_id == $id or (._topic == $dlq and ._key == $id))
        | if ._topic == $dlq then "\(._topic) \(._headers["x-dlq-reason"] // "no-reason") from \(._headers["x-dlq-topic"] // "?") offset \(._offset)"
          else "\(._topic) \(.reason // .type) \(.event_id)" end' "$WORK/c4.events" | sort -u
}
outcomes "$bad_id" >"$WORK/c4.bad.got"
printf '%s\n' "$T_REJ validation_failed $bad_id:rejected" >"$WORK/c4.bad.want"
expect_same_lines "invalid intent: exactly one outcome, a validation_failed rejection" \
    "$WORK/c4.bad.want" "$WORK/c4.bad.got"
jq -r --arg id "$bad_id" 'select(.intent_id == $id and .reason != null) | .errors[]?.field' \
    "$WORK/c4.events" | sort -u | paste -sd, - >"$WORK/c4.fields"
expect_eq "invalid intent: its errors name qty and symbol" "qty,symbol" "$(cat "$WORK/c4.fields")"
outcomes "$late_id" >"$WORK/c4.late.got"
printf '%s\n' "$T_REJ expired $late_id:rejected" >"$WORK/c4.late.want"
expect_same_lines "stale intent (created 5 min ago): exactly one outcome, an expired rejection" \
    "$WORK/c4.late.want" "$WORK/c4.late.got"
outcomes "$dlq_key" | sed 's/ offset [0-9]*$//' >"$WORK/c4.dlq.got"
printf '%s\n' "$T_DLQ not_json from $T_BOT" >"$WORK/c4.dlq.want"
expect_same_lines "not JSON: one DLQ message with x-dlq-reason not_json and x-dlq-topic $T_BOT" \
    "$WORK/c4.dlq.want" "$WORK/c4.dlq.got"
expect_eq "not JSON: exactly one message on $T_DLQ with its key" 1 \
    "$(jqe -r --arg k "$dlq_key" 'select(._topic == $dlq and ._key == $k) | ._offset' "$WORK/c4.events" | wc -l)"

: >"$WORK/c4.after.jsonl"
gen_intents "$WORK/c4.after.jsonl" 1 --bot "e2e-$RUN-after" --user "e2e-$RUN-owner" --symbol IBM --side buy --qty 1
jq -r .intent_id "$WORK/c4.after.jsonl" >"$WORK/c4.after.ids"
send_lines "$WORK/c4.after.jsonl"
if wait_terminal "$WORK/c4.after.ids" 60000; then
    snapshot "$WORK/c4.after.events" "$WORK/c4.after.ids"
    expect_eq "afterwards the workers still fill a valid intent" "fill" \
        "$(jqe -r "$JQ_DEFS"' select(terminal) | .type // .reason' "$WORK/c4.after.events" | sort -u | paste -sd, -)"
else
    bad "afterwards the workers still fill a valid intent (no outcome within 60 s)"
fi

# The ledger's deferred bookkeeping (ledger_defer_on): once the lanes run out
# of work, every event of this run is marked published and no intent lock is
# held (the follower's are momentary).  Polled for up to 20 s.
unmarked="" locks=""
for _ in $(seq 1 40); do
    unmarked=$(psql "$DATABASE_URL" -X -q -At -c \
        "SELECT count(*) FROM events e JOIN intents i USING (intent_id) WHERE e.published_at IS NULL
         AND i.bot_id LIKE 'e2e-$RUN-%'") ||
        die "cannot query the ledger"
    locks=$(psql "$DATABASE_URL" -X -q -At -c \
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") ||
        die "cannot query the ledger"
    [[ $unmarked == 0 && $locks == 0 ]] && break
    sleep 0.5
done
if [[ $unmarked != 0 ]]; then
    psql "$DATABASE_URL" -X -q -At -F ' ' -c "SELECT e.event_id, e.event_type, e.created_at, i.state,
        i.updated_at FROM events e JOIN intents i USING (intent_id) WHERE e.published_at IS NULL
        AND i.bot_id LIKE 'e2e-$RUN-%'" |
        sed 's/^/        | /'
fi
expect_eq "idle lanes mark every stored event published (unmarked events)" 0 "$unmarked"
expect_eq "idle lanes hold no intent lock (advisory locks held)" 0 "$locks"

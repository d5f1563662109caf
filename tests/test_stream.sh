#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_stream.sh -- fills from Alpaca's trade_updates stream, through
# the whole stack of `compose/dev test` (2 workers, the simulator with its
# stream, Kafka, Redis, PostgreSQL).  A recorder (tests/wsclient.py) listens
# to the simulator's stream beside the workers, as the truth of what
# happened to each order.
#   [1] every event of partially filled orders comes from the stream: each
#       partial_fill the simulator sent is published, in order, with the
#       same quantity, numbered 1..k, then one fill; no REST polling meanwhile;
#   [2] stream_drop, three times during fills, and [3] stream_silent_ms: every
#       order ends with its events complete (quantities adding up to the
#       order's, partial fills numbered without a gap, one fill, never two
#       payloads under one event_id, never one execution under two ids),
#       the reconciliation having found what the stream lost;
#   [4] a SIGKILL of the stream's holder: the other replica takes the lease
#       and the stream, and follows an order left open across the kill and
#       new ones from its stream;
#   [5] the stream down for good: the follower polls, says so in a log line
#       and the order_worker_follow_mode metric, and orders still fill.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test stream
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REC_PID=
CASH=

undo() {
    [[ -z $REC_PID ]] || kill "$REC_PID" 2>/dev/null || true
    sim POST /_sim/faults '{}' >/dev/null
    sim POST /_sim/config '{"partial_fill_rate":0,"quote_walk":true,"tick_ms":100}' >/dev/null
    [[ -z $CASH ]] || sim POST /_sim/account "{\"cash\":\"$CASH\"}" >/dev/null
    say "-- restoring the workers' settings"
    restore_settings
    restore_workers 2
}
trap test_exit EXIT

SETTINGS=(BOT_TRADES_PER_MIN ALPACA_STREAM_PING_MS ALPACA_STREAM_BACKOFF_MS
    ALPACA_STREAM_BACKOFF_MAX_MS FOLLOW_LEASE_MS FOLLOW_INTERVAL_MS ALPACA_STREAM_URL)
save_settings "${SETTINGS[@]}"
# restart_workers: both workers again, with the environment as it is now.
restart_workers() {
    timeout 180 "$DEV" --state "$STATE" workers-restart 2 >"$WORK/restart.log" 2>&1 || {
        sed 's/^/        | /' "$WORK/restart.log"
        die "workers-restart failed"
    }
}

# wait_metric SERIES VALUE TIMEOUT-S: until the series, summed over the
# workers, has that value.
wait_metric() {
    local deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        [[ $(worker_metric "$1") == "$2" ]] && return 0
        sleep 0.2
    done
    return 1
}
STREAM_MODE='order_worker_follow_mode{mode="stream"}'
POLL_MODE='order_worker_follow_mode{mode="poll"}'
RECONCILED='order_worker_follow_reconciliations_total{why="listening"}'
# REST reads of orders: what polling (and reconciling) spends.
rest_reads() {
    echo $(($(worker_metric 'order_worker_alpaca_requests_total{operation="order_list",status="200"}') +
        $(worker_metric 'order_worker_alpaca_requests_total{operation="order_lookup",status="200"}')))
}

# recorder start|stop: the simulator's stream, every message, into
# $WORK/truth.jsonl (tests/wsclient.py's lines).
recorder() {
    if [[ $1 == start ]]; then
        python3 "$HERE/wsclient.py" "${ALPACA_SIM_URL/http/ws}/stream" \
            "auth:$ALPACA_API_KEY_ID:$ALPACA_API_SECRET_KEY" listen:trade_updates \
            --seconds 600 >"$WORK/truth.jsonl" 2>"$WORK/recorder.err" &
        REC_PID=$!
        local i
        for i in $(seq 1 50); do
            grep -q '"listening"' "$WORK/truth.jsonl" 2>/dev/null && return 0
            sleep 0.1
        done
        die "the recorder did not get to listen to the simulator's stream"
    else
        kill "$REC_PID" 2>/dev/null || true
        wait "$REC_PID" 2>/dev/null || true
        REC_PID=
    fi
}

# place NAME COUNT SENDFLAGS...: COUNT market orders on distinct bots, their
# ids in $WORK/NAME.ids.
place() {
    local name=$1 count=$2 i
    shift 2
    : >"$WORK/$name.ids"
    for ((i = 1; i <= count; i++)); do
        send "$name-$i" --bot "s-$RUN-$name-$i" --user u1 --symbol AAPL --side buy "$@"
        cat "$WORK/$name-$i.id" >>"$WORK/$name.ids"
    done
}

# settle NAME: waits (90 s at most) until every order of NAME has its
# terminal outcome, then keeps their events in $WORK/NAME.events.
settle() {
    wait_terminal "$WORK/$1.ids" 90000 || bad "$1: every order reached its outcome within 90 s"
    snapshot "$WORK/$1.events" "$WORK/$1.ids"
}


# complete NAME QTY: for every order of NAME, the invariants that must hold
# whatever the stream lost; prints one line per broken order.
complete() {
    jq -rs --argjson want "$(($2 * 1000000000))" "$JQ_NANOS"'
      [.[] | select(.type == "partial_fill" or .type == "fill")] | group_by(.intent_id)[]
      | . as $evs | ($evs | unique_by(.event_id)) as $u
      | [$u[] | select(.type == "partial_fill") | .event_id | split(":")[2] | tonumber] as $parts
      | [ (if ([$u[] | .last_fill_qty | nanos] | add) != $want then "quantities add up to \([$u[] | .last_fill_qty] | join("+"))" else empty end),
          (if ($parts | sort) != [range(1; ($parts | length) + 1)] then "partial fills numbered \($parts)" else empty end),
          (if ([$u[] | select(.type == "fill")] | length) != 1 then "fill events: \([$u[] | select(.type == "fill")] | length)" else empty end),
          (if ($evs | group_by(.event_id) | any(map(del(._topic, ._partition, ._offset, ._timestamp, ._key)) | unique | length > 1)) then "two payloads under one event_id" else empty end),
          (if ([$u[] | select(.type == "partial_fill") | .filled_qty] | length) != ([$u[] | select(.type == "partial_fill") | .filled_qty] | unique | length) then "one execution under two ids" else empty end)
        ] | select(length > 0) | "\($evs[0].intent_id): \(join("; "))"' "$WORK/$1.events"
    local n
    n=$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/$1.events")
    [[ $n == $(wc -l <"$WORK/$1.ids") ]] || echo "only $n of $(wc -l <"$WORK/$1.ids") orders have a fill"
}

# as_recorded NAME: for every order of NAME, its published partial_fill and
# fill quantities are, in order, those of the simulator's stream.
as_recorded() {
    jq -c 'select(.msg.stream == "trade_updates") | .msg.data
        | select(.event == "partial_fill" or .event == "fill")
        | {c: .order.client_order_id, e: .event, q: .qty}' "$WORK/truth.jsonl" >"$WORK/truth.ev"
    jq -rs --slurpfile truth "$WORK/truth.ev" "$JQ_NANOS"'
      [.[] | select(.type == "partial_fill" or .type == "fill")] | unique_by(.event_id)
      | group_by(.intent_id)[] | sort_by(.event_id | split(":") | [(.[1] == "fill"), (.[2] | tonumber? // 0)])
      | . as $ours | $ours[0].client_order_id as $c
      | [$truth[] | select(.c == $c) | "\(.e) \(.q | nanos)"] as $want
      | [$ours[] | "\(.type) \(.last_fill_qty | nanos)"] as $got
      | select($want != $got) | "\($ours[0].intent_id): published \($got), the stream sent \($want)"' \
        "$WORK/$1.events"
}

say "== order-worker: fills from the trade_updates stream (run $RUN) =="
say "-- restarting the workers: pings every 500 ms, short backoff and lease"
export BOT_TRADES_PER_MIN=100000 ALPACA_STREAM_PING_MS=500 ALPACA_STREAM_BACKOFF_MS=100 \
    ALPACA_STREAM_BACKOFF_MAX_MS=1000 FOLLOW_LEASE_MS=2000
restart_workers
sim POST /_sim/config '{"partial_fill_rate":0,"quote_walk":false,"tick_ms":100}' >/dev/null
# Room for every order of this test, whatever the suite bought before.
CASH=$(alpaca GET /v2/account | jq -r .cash)
sim POST /_sim/account '{"cash":"100000000"}' >/dev/null
sim POST /_sim/quotes '{"AAPL":{"bid":"189.10","ask":"189.12"},"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null
if wait_metric "$STREAM_MODE" 1 30; then ok "one replica follows in stream mode"; else
    die "no replica in stream mode within 30 s"
fi

say ""
say "[1] every partial fill comes from the stream, in order, once"
recorder start
sim POST /_sim/config '{"partial_fill_rate":1,"tick_ms":300}' >/dev/null
reads=$(rest_reads)
place partial 3 --qty 100
settle partial
recorder stop
complete partial 100 >"$WORK/broken"
expect_empty "3 orders: partial fills 1..k and one fill adding up to 100" "$WORK/broken"
as_recorded partial >"$WORK/differ"
expect_empty "each order's partial fills and fill are the stream's, in its order" "$WORK/differ"
parts=$(jq -s '[.[] | select(.type == "partial_fill") | .event_id] | unique | length' "$WORK/partial.events")
if ((parts >= 3)); then ok "$parts partial_fill events"; else bad "at least 3 partial_fill events (got $parts)"; fi
expect_eq "no REST read of orders meanwhile" 0 $(($(rest_reads) - reads))

say ""
say "[2] stream_drop three times during fills"
sim POST /_sim/config '{"partial_fill_rate":1,"tick_ms":150}' >/dev/null
before=$(worker_metric "$RECONCILED")
mark drop
place drop 4 --qty 100
for _ in 1 2 3; do
    sleep 0.6
    sim POST /_sim/faults '{"stream_drop":true}' >/dev/null
done
settle drop
complete drop 100 >"$WORK/broken"
expect_empty "4 orders complete, nothing twice" "$WORK/broken"
after=$(worker_metric "$RECONCILED")
if ((after - before >= 2)); then ok "reconciled after $((after - before)) reconnections"; else
    bad "reconciled after at least 2 reconnections (got $((after - before)))"
fi
since drop >"$WORK/drop.log"
if grep -q '"event":"stream_lost"' "$WORK/drop.log"; then ok "the lost connections were logged"; else
    bad "a stream_lost log line"
fi

say ""
say "[3] stream_silent_ms during fills"
before=$(worker_metric "$RECONCILED")
mark silent
place silent 4 --qty 100
sleep 0.3
sim POST /_sim/faults '{"stream_silent_ms":4000}' >/dev/null
settle silent
sim POST /_sim/faults '{}' >/dev/null
complete silent 100 >"$WORK/broken"
expect_empty "4 orders complete, nothing twice" "$WORK/broken"
after=$(worker_metric "$RECONCILED")
if ((after > before)); then ok "reconciled after the silent connection was replaced"; else
    bad "a reconciliation after the silence"
fi
since silent >"$WORK/silent.log"
if grep '"event":"stream_lost"' "$WORK/silent.log" | grep -c 'silent' >/dev/null; then
    ok "the silent connection was taken as dead (no pong)"
else
    grep '"event":"stream_' "$WORK/silent.log" >"$WORK/streamlog" || true
    bad "a stream_lost log line naming the silence" "$WORK/streamlog"
fi

say ""
say "[4] a SIGKILL of the stream's holder"
sim POST /_sim/config '{"partial_fill_rate":0,"tick_ms":100}' >/dev/null
send resting --bot "s-$RUN-rest" --user u1 --symbol IBM --side buy --type limit --qty 1 \
    --limit 200 --tif gtc
cp "$WORK/resting.id" "$WORK/rest.ids"
wait_terminal "$WORK/rest.ids" 1 >/dev/null 2>&1 || true
leader=$(psql "$DATABASE_URL" -At -c "SELECT holder FROM leases WHERE name = 'order-follower' AND until > now()")
[[ $leader =~ ^worker-[0-9]+$ && -s $STATE/pids/$leader.pid ]] ||
    die "a live follower lease held by a worker of this stack (got '$leader')"
other=worker-$((3 - ${leader#worker-}))
mark kill
kill -KILL "$(head -n1 "$STATE/pids/$leader.pid")"
rm -f "$STATE/pids/$leader.pid"
ok "killed $leader, the stream's holder"
if wait_metric "$STREAM_MODE" 1 30; then ok "$other follows in stream mode"; else
    bad "$other in stream mode within 30 s"
fi
since kill "${other#worker-}" >"$WORK/kill.log"
if grep -q '"event":"stream_listening"' "$WORK/kill.log"; then
    ok "$other listens to the stream"
else
    bad "$other logged stream_listening"
fi
sim POST /_sim/quotes '{"IBM":{"bid":"199.00","ask":"199.02"}}' >/dev/null
settle rest
expect_eq "the order left open across the kill filled" fill \
    "$(jq -rs '[.[] | select(.type == "fill")][0].type // "none"' "$WORK/rest.events")"
recorder start
sim POST /_sim/config '{"partial_fill_rate":1,"tick_ms":300}' >/dev/null
place taken 2 --qty 50
settle taken
recorder stop
complete taken 50 >"$WORK/broken"
expect_empty "new orders complete" "$WORK/broken"
as_recorded taken >"$WORK/differ"
expect_empty "their partial fills are the stream's, in order" "$WORK/differ"

say ""
say "[5] the stream down for good: polling takes over and says so"
sim POST /_sim/config '{"partial_fill_rate":0,"tick_ms":100}' >/dev/null
export ALPACA_STREAM_URL=ws://127.0.0.1:1/stream FOLLOW_INTERVAL_MS=200
mark down
restart_workers
if wait_metric "$POLL_MODE" 1 30; then ok "the leader follows in poll mode"; else
    bad "poll mode within 30 s"
fi
expect_eq "no replica in stream mode" 0 "$(worker_metric "$STREAM_MODE")"
since down >"$WORK/down.log"
if grep '"event":"follow_mode"' "$WORK/down.log" | grep -c 'poll: ' >/dev/null; then
    ok "a follow_mode log line says polling is on, and why"
else
    bad "a follow_mode log line for poll"
fi
reads=$(rest_reads)
place down 2 --qty 10
settle down
complete down 10 >"$WORK/broken"
expect_empty "orders still fill" "$WORK/broken"
if (($(rest_reads) > reads)); then ok "found by polling ($(($(rest_reads) - reads)) REST reads)"; else
    bad "REST reads of orders while the stream is down"
fi

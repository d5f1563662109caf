#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_follow.sh -- orders followed to their end, through the whole
# stack of `compose/dev test` (2 workers, the simulator, Kafka, Redis,
# PostgreSQL).  Each check sends intents with intentctl and reads the result
# topics back:
#   partial fills ending in one fill whose quantity is the sum of the parts;
#   a limit order that fills only after the quote crosses it;
#   a canceled and an expired order;
#   the account gate; broker refusals mapped to broker_rejected with the
#   broker's status, code and message;
#   a placement whose answer is lost: exactly one order afterwards;
#   an open order picked up by the other replica after its follower is
#   killed with SIGKILL.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test follow
RESTARTED=0

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    sim POST /_sim/faults '{}' >/dev/null
    sim POST /_sim/market '{"open":true}' >/dev/null
    sim POST /_sim/account '{"trading_blocked":false,"status":"ACTIVE"}' >/dev/null
    sim POST /_sim/config '{"partial_fill_rate":0,"quote_walk":true,"tick_ms":100}' >/dev/null
    if ((RESTARTED)); then
        say "-- restoring the workers' settings"
        unset BOT_TRADES_PER_MIN FOLLOW_INTERVAL_MS FOLLOW_MAX_INTERVAL_MS FOLLOW_LEASE_MS \
            ACCOUNT_REFRESH_MS ALPACA_TIMEOUT_MS
        restore_workers
    fi
}
trap test_exit EXIT


say "== order-worker: orders followed to their end (run $RUN) =="
say "-- restarting the workers with fast following and short timeouts"
export BOT_TRADES_PER_MIN=100000 FOLLOW_INTERVAL_MS=200 FOLLOW_MAX_INTERVAL_MS=1000 \
    FOLLOW_LEASE_MS=2000 ACCOUNT_REFRESH_MS=0 ALPACA_TIMEOUT_MS=1500
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}
sim POST /_sim/config '{"partial_fill_rate":0,"quote_walk":false}' >/dev/null ||
    die "the simulator has no /_sim/config"
sim POST /_sim/quotes '{"AAPL":{"bid":"189.10","ask":"189.12"},"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null

say ""
say "[1] partial fills end in one fill"
# Every fill in parts, one engine step a second: the follower (every 200 ms
# here) must see each part, as it would see Alpaca's.
sim POST /_sim/config '{"partial_fill_rate":1,"tick_ms":1000}' >/dev/null
send partial --bot "f-$RUN" --user u1 --symbol AAPL --side buy --qty 100
if wait_for partial 'any(.[]; .type == "fill")' 60; then ok "the order filled"; else
    bad "the order filled within 60 s" "$WORK/partial.events"
fi
sim POST /_sim/config '{"partial_fill_rate":0,"tick_ms":100}' >/dev/null
parts=$(jq -s '[.[] | select(.type == "partial_fill")] | length' "$WORK/partial.events")
if ((parts >= 1)); then ok "$parts partial_fill event(s) before the fill"; else
    bad "at least one partial_fill before the fill" "$WORK/partial.events"
fi
expect_eq "partial fills numbered 1..$parts" "$(seq -s, 1 "$parts")" \
    "$(jq -rs '[.[] | select(.type == "partial_fill") | .event_id | split(":")[2]] | join(",")' "$WORK/partial.events")"
expect_eq "exactly one fill event" 1 "$(jq -s '[.[] | select(.type == "fill")] | length' "$WORK/partial.events")"
expect_eq "the sum of last_fill_qty is the order's quantity" "100000000000" \
    "$(jq -rs "$JQ_NANOS"' [.[] | select(.type == "partial_fill" or .type == "fill") | .last_fill_qty | nanos] | add' "$WORK/partial.events")"
expect_eq "the fill's cumulative filled_qty is 100" 100 \
    "$(jq -rs '[.[] | select(.type == "fill")][0].filled_qty' "$WORK/partial.events")"
cid=$(jq -rs '[.[] | select(.type == "fill")][0].client_order_id' "$WORK/partial.events")
expect_eq "the broker's order agrees (filled, 100)" "filled 100" \
    "$(alpaca GET "/v2/orders:by_client_order_id?client_order_id=$cid" | jq -r '"\(.status) \(.filled_qty)"')"

say ""
say "[2] a limit order fills only after the quote crosses it"
send limit --bot "f-$RUN" --user u1 --symbol AAPL --side buy --type limit --qty 2 --limit 180
if wait_for limit 'any(.[]; .type == "accepted")' 30; then ok "accepted"; else
    bad "accepted within 30 s" "$WORK/limit.events"
fi
sleep 3
events limit
expect_eq "no fill while the ask (189.12) is above the limit" 0 \
    "$(jq -s '[.[] | select(.type == "fill" or .type == "partial_fill")] | length' "$WORK/limit.events")"
sim POST /_sim/quotes '{"AAPL":{"bid":"179.88","ask":"179.90"}}' >/dev/null
if wait_for limit 'any(.[]; .type == "fill")' 30; then ok "filled once the ask fell to 179.90"; else
    bad "filled within 30 s of the quote crossing" "$WORK/limit.events"
fi
expect_eq "filled at the ask" "179.9" "$(jq -rs '[.[] | select(.type == "fill")][0].last_fill_price' "$WORK/limit.events")"
sim POST /_sim/quotes '{"AAPL":{"bid":"189.10","ask":"189.12"}}' >/dev/null

say ""
say "[3] a canceled order and an expired order"
send cancel --bot "f-$RUN" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 --tif gtc
send expire --bot "f-$RUN" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 --tif day
wait_for cancel 'any(.[]; .type == "accepted")' 30 || bad "cancel: accepted within 30 s" "$WORK/cancel.events"
wait_for expire 'any(.[]; .type == "accepted")' 30 || bad "expire: accepted within 30 s" "$WORK/expire.events"
oid=$(jq -rs '[.[] | select(.type == "accepted")][0].order_id' "$WORK/cancel.events")
expect_eq "DELETE /v2/orders/{id} answers 204" 204 \
    "$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "APCA-API-KEY-ID: $ALPACA_API_KEY_ID" \
        -H "APCA-API-SECRET-KEY: $ALPACA_API_SECRET_KEY" "$ALPACA_SIM_URL/v2/orders/$oid")"
if wait_for cancel 'any(.[]; .type == "canceled")' 30; then ok "a canceled event follows"; else
    bad "a canceled event within 30 s" "$WORK/cancel.events"
fi
sim POST /_sim/market '{"open":false}' >/dev/null
if wait_for expire 'any(.[]; .type == "expired")' 30; then ok "the day order expired at the close"; else
    bad "an expired event within 30 s of the close" "$WORK/expire.events"
fi
sim POST /_sim/market '{"open":true}' >/dev/null
for n in cancel expire; do
    expect_eq "$n: one terminal event, nothing after it" 1 \
        "$(jqe -s "$JQ_DEFS"' [.[] | select(terminal)] | length' "$WORK/$n.events")"
done

say ""
say "[4] the account gate and the broker's refusals"
before=$(sim_orders)
sim POST /_sim/account '{"trading_blocked":true}' >/dev/null
send blocked --bot "f-$RUN" --user u1 --symbol AAPL --side buy --qty 1
if wait_for blocked 'any(.[]; .reason == "broker_rejected")' 30; then
    ok "blocked account: rejected broker_rejected"
else
    bad "blocked account: a broker_rejected rejection within 30 s" "$WORK/blocked.events"
fi
if jq -s -e 'any(.[]; .message | test("may not trade"))' "$WORK/blocked.events" >/dev/null; then
    ok "the message says the account may not trade"
else
    bad "the message says the account may not trade" "$WORK/blocked.events"
fi
expect_eq "no order was placed for it" "$before" "$(sim_orders)"
sim POST /_sim/account '{"trading_blocked":false}' >/dev/null

send poor --bot "f-$RUN" --user u1 --symbol AAPL --side buy --qty 100000
send subpenny --bot "f-$RUN" --user u1 --symbol AAPL --side buy --type limit --qty 1 --limit 190.123
wait_for poor 'any(.[]; ._topic == $rej)' 30 || true
wait_for subpenny 'any(.[]; ._topic == $rej)' 30 || true
expect_eq "buying power: broker_rejected with the broker's 403 and code" "broker_rejected 403 40310000" \
    "$(jq -rs '[.[] | select(.reason)][0] | "\(.reason) \(.broker.status) \(.broker.code)"' "$WORK/poor.events")"
if jq -s -e 'any(.[]; .broker.message | test("buying power"))' "$WORK/poor.events" >/dev/null; then
    ok "buying power: the broker's message is kept"
else
    bad "buying power: the broker's message is kept" "$WORK/poor.events"
fi
expect_eq "sub-penny limit: broker_rejected with the broker's 422" "broker_rejected 422" \
    "$(jq -rs '[.[] | select(.reason)][0] | "\(.reason) \(.broker.status)"' "$WORK/subpenny.events")"

say ""
say "[5] a placement whose answer is lost: exactly one order"
before=$(sim_orders)
sim POST /_sim/faults '{"drop_response_rate":1}' >/dev/null
send lost --bot "f-$RUN" --user u1 --symbol AAPL --side buy --qty 3
# The first POST creates the order and loses the answer; let the worker see
# the loss before the broker is healthy again.
for _ in $(seq 1 40); do
    (($(sim_orders) > before)) && break
    sleep 0.25
done
sleep 2
sim POST /_sim/faults '{}' >/dev/null
if wait_for lost 'any(.[]; .type == "fill")' 60; then ok "the intent filled"; else
    bad "the intent filled within 60 s" "$WORK/lost.events"
fi
expect_eq "exactly one order was created" "$((before + 1))" "$(sim_orders)"
expect_eq "one broker order in the ledger" 1 \
    "$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM broker_orders WHERE intent_id = '$(cat "$WORK/lost.id")'")"

say ""
say "[6] an open order is picked up by the other replica after SIGKILL"
send pickup --bot "f-$RUN" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 200 --tif gtc
wait_for pickup 'any(.[]; .type == "accepted")' 30 || bad "pickup: accepted within 30 s" "$WORK/pickup.events"
leader=$(psql "$DATABASE_URL" -At -c "SELECT holder FROM leases WHERE name = 'order-follower' AND until > now()")
if [[ $leader =~ ^worker-[0-9]+$ && -s $STATE/pids/$leader.pid ]]; then
    ok "the follower is $leader"
    kill -KILL "$(head -n1 "$STATE/pids/$leader.pid")"
    sim POST /_sim/quotes '{"IBM":{"bid":"199.00","ask":"199.02"}}' >/dev/null
    if wait_for pickup 'any(.[]; .type == "fill")' 45; then ok "the fill was published after the kill"; else
        bad "a fill within 45 s of killing $leader" "$WORK/pickup.events"
    fi
    now_leader=$(psql "$DATABASE_URL" -At -c "SELECT holder FROM leases WHERE name = 'order-follower'")
    if [[ -n $now_leader && $now_leader != "$leader" ]]; then ok "$now_leader took over"; else
        bad "another replica took the lease over (holder: $now_leader)"
    fi
else
    bad "a live follower lease held by a worker of this stack (got '$leader')"
fi

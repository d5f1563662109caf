#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_hazards.sh -- each named hazard of the exactly-once guarantee,
# provoked on purpose through the stack of `compose/dev test`:
#   [1] a crash after the ledger says "submitting" but before the POST;
#   [2] a crash after the POST but before the ledger recorded its answer;
#   [3] a crash after the terminal event was produced but before the offset
#       was committed;
#   [4] a rebalance while intents are in flight (slow broker, a third
#       replica joins);
#   [5] an intent left behind in the ledger, settled by the reconciler.
# The crashes use WORKER_FAILPOINT (a test-only setting: the worker exits
# abruptly at that point).  After each: exactly one terminal outcome per
# intent, exactly one order at the simulator, one broker order in the ledger.
# At the end: no orphan row in the ledger (tests/orphans.sql).
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test hazards

# Intents live for 10 minutes here: with a slow broker and a rebalance on a
# loaded machine, the default minute can run out, and an expiry would hide
# what these checks are about.
export BOT_TRADES_PER_MIN=100000 USER_TRADES_PER_MIN=100000 ALPACA_TIMEOUT_MS=1500 \
    WORKER_DRAIN_MS=3000 FOLLOW_INTERVAL_MS=300 FOLLOW_MAX_INTERVAL_MS=1000 \
    INTENT_MAX_AGE_MS=600000

restart() {  # restart WORKERS: every worker again with the settings exported now
    timeout 180 "$DEV" --state "$STATE" workers-restart "$1" >"$WORK/restart.log" 2>&1 || {
        sed 's/^/        | /' "$WORK/restart.log"
        return 1
    }
}

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    curl -fsS --max-time 5 -X POST -d '{}' "$ALPACA_SIM_URL/_sim/faults" >/dev/null
    "$DEV" --state "$STATE" stop worker-3 >/dev/null 2>&1
    say "-- restoring the workers' settings"
    unset WORKER_FAILPOINT BOT_TRADES_PER_MIN USER_TRADES_PER_MIN ALPACA_TIMEOUT_MS \
        WORKER_DRAIN_MS FOLLOW_INTERVAL_MS FOLLOW_MAX_INTERVAL_MS RECONCILE_INTERVAL_MS \
        RECONCILE_AFTER_MS INTENT_MAX_AGE_MS
    restore_workers 2
}
trap test_exit EXIT

dup_cids() { curl -fsS --max-time 10 "$ALPACA_SIM_URL/_sim/stats" | jq -r '.duplicate_client_order_ids'; }

# one_outcome NAME IDS-FILE ORDERS-BEFORE [REASON]: the checks after a
# hazard.  Without REASON every intent must fill (one order each); with it,
# every intent must be rejected for REASON (no order).
one_outcome() {
    local name=$1 ids=$2 before=$3 reason=${4:-} n
    n=$(wc -l <"$ids")
    wait_terminal "$ids" 120000 || bad "$name: every intent finished within 120 s"
    sleep 1  # a re-published duplicate, if any, arrives too
    snapshot "$WORK/$name.events" "$ids"
    jqe -rs "$JQ_DEFS"' [.[] | select(terminal)] | group_by(.intent_id)
        | map(select(([.[].event_id] | unique | length) != 1) | .[0].intent_id) | .[]' \
        "$WORK/$name.events" >"$WORK/$name.bad"
    expect_empty "$name: exactly one terminal outcome (one event_id) per intent" "$WORK/$name.bad"
    if [[ -n $reason ]]; then
        expect_eq "$name: all $n rejected $reason" "$n" \
            "$(jq -rs --arg r "$reason" '[.[] | select(.reason == $r) | .intent_id] | unique | length' "$WORK/$name.events")"
        expect_eq "$name: no order created at the simulator" "$before" "$(sim_orders)"
        return
    fi
    expect_eq "$name: all $n filled" "$n" \
        "$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/$name.events")"
    expect_eq "$name: exactly $n order(s) created at the simulator" "$((before + n))" "$(sim_orders)"
    local list
    list=$(sed "s/.*/'&'/" "$ids" | paste -sd, -)
    expect_eq "$name: one broker order per intent in the ledger" "$n $n" \
        "$(psql "$DATABASE_URL" -At -F' ' -c "SELECT count(*), count(DISTINCT intent_id) FROM broker_orders WHERE intent_id IN ($list)")"
}

# crash_at POINT: one intent meets a replica that dies at POINT; then the
# replicas come back without the failpoint and the intent must finish once.
crash_at() {
    local point=$1 name=$2 reason=${3:-} before dups
    local -a extra=()
    # A rejection is the terminal outcome the pipeline itself publishes
    # (fills are published later by the follower): an intent created fifteen
    # minutes ago is rejected expired (INTENT_MAX_AGE_MS is 10 minutes here).
    if [[ $reason == expired ]]; then extra=(--created-at "$(date -u -d '-15 minutes' +%Y-%m-%dT%H:%M:%SZ)"); fi
    say ""
    say "[$name] a crash $point"
    export WORKER_FAILPOINT=$point
    restart 2 || die "workers-restart with WORKER_FAILPOINT=$point failed"
    : >"$WORK/$point.jsonl"
    gen_intents "$WORK/$point.jsonl" 1 --bot "hz-$RUN-$point" --user "u-$RUN" --symbol AAPL \
        --side buy --qty 1 "${extra[@]}"
    jq -r '.intent_id' "$WORK/$point.jsonl" >"$WORK/$point.ids"
    before=$(sim_orders)
    dups=$(dup_cids)
    send_lines "$WORK/$point.jsonl"
    local died
    died=$(failpoint_hit 60)
    if [[ -n $died ]]; then ok "a replica died at $point ($(basename "$died" .log))"; else
        bad "a replica died at $point within 60 s"
    fi
    unset WORKER_FAILPOINT
    restart 2 || die "workers-restart without the failpoint failed"
    one_outcome "$point" "$WORK/$point.ids" "$before" "$reason"
    if [[ -n $reason ]]; then
        # The event was produced before the crash and again on redelivery:
        # more than one message, one event_id.
        # The first copy is already there: wait (bounded) for the group to
        # settle and redeliver the uncommitted message.
        local copies=0
        for _ in $(seq 1 60); do
            snapshot "$WORK/$point.events" "$WORK/$point.ids"
            copies=$(jq -s 'length' "$WORK/$point.events")
            ((copies >= 2)) && break
            sleep 1
        done
        if ((copies >= 2)); then ok "$name: the terminal event was re-published after the crash ($copies copies, one event_id)"; else
            bad "$name: the terminal event was re-published after the crash (saw $copies)" "$WORK/$point.events"
        fi
    fi
    say "        duplicate_client_order_ids grew by $(($(dup_cids) - dups)) (lookups, never orders)"
}

# rebalance_checks SENT-MS EVENTS: the rebalance of [4] happened while the
# intents were in flight -- after they were sent (SENT-MS, epoch ms) and
# before the last of them reached its outcome (the latest first terminal
# event's Kafka timestamp in EVENTS): in that window partitions were revoked
# from a replica and assigned to one, and worker-3 got partitions.  Reads the
# worker logs since the mark "rebalance" only.
rebalance_checks() {
    local sent=$1 events=$2 last
    last=$(jqe -rs "$JQ_DEFS"' [.[] | select(terminal)] | group_by(.intent_id)
        | map(map(._timestamp) | min) | max // empty' "$events")
    if [[ ! $last =~ ^[0-9]+$ ]]; then
        bad "rebalance: the intents' outcomes have timestamps (none found)" "$events"
        return
    fi
    # One line per rebalance event of this window: "ms replica event count".
    since rebalance | jq -Rr 'fromjson? | select(.event == "partitions_assigned" or .event == "partitions_revoked")
        | "\((.time[0:19] + "Z" | fromdate) * 1000 + (.time[20:23] | tonumber)) \(.replica) \(.event) \(.msg | capture("^(?<n>[0-9]+)").n)"' \
        >"$WORK/rebal.log-events"
    awk -v a="$sent" -v b="$last" '$1 >= a && $1 <= b && $4 > 0' "$WORK/rebal.log-events" >"$WORK/rebal.inflight"
    say "        intents sent at $sent, the last outcome at $last (ms); rebalance events of the replicas since:"
    sed 's/^/          /' "$WORK/rebal.log-events"
    printf 'in flight from %s to %s (epoch ms); rebalance events of the replicas since the mark:\n' "$sent" "$last" >"$WORK/rebal.why"
    cat "$WORK/rebal.log-events" >>"$WORK/rebal.why"
    if grep -q ' partitions_revoked ' "$WORK/rebal.inflight"; then
        ok "partitions were revoked from a replica while the intents were in flight"
    else
        bad "partitions were revoked from a replica while the intents were in flight" "$WORK/rebal.why"
    fi
    if grep -q ' partitions_assigned ' "$WORK/rebal.inflight"; then
        ok "partitions were assigned to a replica while the intents were in flight"
    else
        bad "partitions were assigned to a replica while the intents were in flight" "$WORK/rebal.why"
    fi
    if grep -q ' worker-3 partitions_assigned ' "$WORK/rebal.inflight"; then
        ok "a third replica joined and got partitions while the intents were in flight"
    else
        bad "a third replica joined and got partitions while the intents were in flight" "$WORK/rebal.why"
    fi
}

say "== order-worker: the hazards of exactly-once (run $RUN) =="
crash_at after_submitting 1
crash_at after_post 2
crash_at after_publish 3 expired

say ""
say "[4] a rebalance while intents are in flight"
restart 2 || die "workers-restart failed"
curl -fsS --max-time 5 -X POST -d '{"latency_ms":2500}' "$ALPACA_SIM_URL/_sim/faults" >/dev/null
: >"$WORK/rebal.jsonl"
for b in $(seq 1 12); do
    gen_intents "$WORK/rebal.jsonl" 2 --bot "rb-$RUN-$b" --user "u-$RUN" --symbol AAPL --side buy --qty 1
done
jq -r '.intent_id' "$WORK/rebal.jsonl" >"$WORK/rebal.ids"
before=$(sim_orders)
mark rebalance # this part's own window of the worker logs
sent_ms=$(date +%s%3N)
send_lines "$WORK/rebal.jsonl"
sleep 2
"$DEV" --state "$STATE" start worker-3 >"$WORK/w3.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/w3.log"
    die "could not start a third replica"
}
# The slow broker stays (at least 8 s, at most 120 s) until worker-3 logged
# that it got partitions, so that the group rebalances while the intents
# wait on it (the group takes some 30 s to settle on three members).
t0=$SECONDS
while ((SECONDS - t0 < 120)); do
    if ((SECONDS - t0 >= 8)); then
        since rebalance 3 >"$WORK/w3.since" # not piped into grep -q: SIGPIPE + pipefail
        grep -Eq '"event":"partitions_assigned","msg":"[1-9]' "$WORK/w3.since" && break
    fi
    sleep 0.5
done
curl -fsS --max-time 5 -X POST -d '{}' "$ALPACA_SIM_URL/_sim/faults" >/dev/null
one_outcome rebalance "$WORK/rebal.ids" "$before"
rebalance_checks "$sent_ms" "$WORK/rebalance.events"

say ""
say "[5] the reconciler settles an intent left behind, without a second order"
export RECONCILE_INTERVAL_MS=1000 RECONCILE_AFTER_MS=3000
restart 2 || die "workers-restart with a fast reconciler failed"
: >"$WORK/rec.jsonl"
gen_intents "$WORK/rec.jsonl" 1 --bot "rec-$RUN" --user "u-$RUN" --symbol AAPL --side buy --qty 1
jq -r '.intent_id' "$WORK/rec.jsonl" >"$WORK/rec.ids"
send_lines "$WORK/rec.jsonl"
rid=$(cat "$WORK/rec.ids")
wait_terminal "$WORK/rec.ids" 90000 || bad "reconciler: the intent finished first"
before=$(sim_orders)
dups=$(dup_cids)
# As if its message were gone before the worker got past "quota_granted":
psql "$DATABASE_URL" -q -c "UPDATE intents SET state = 'quota_granted',
    updated_at = now() - interval '1 hour' WHERE intent_id = '$rid'"
# (A replica killed in a pass above may still hold the reconciler's lock for
# its 15 s; the pass also runs whatever else the earlier tests left stuck.)
expect_eq "reconciler: the stuck intent is settled (filled again)" filled \
    "$(ledger_state "$rid" filled 60)"
expect_eq "reconciler: no second order at the simulator" "$before" "$(sim_orders)"
if (($(dup_cids) > dups)); then ok "reconciler: its placement met Alpaca's duplicate client order id and looked the order up"; else
    bad "reconciler: its placement met Alpaca's duplicate client order id (duplicate_client_order_ids did not grow)"
fi
if grep -h '"event":"reconcile_intent"' "$STATE"/logs/worker-*.log | grep -c "$rid" >/dev/null; then
    ok "reconciler: one replica logged running it again"
else
    bad "reconciler: no reconcile_intent log line for $rid"
fi
unset RECONCILE_INTERVAL_MS RECONCILE_AFTER_MS

say "[end] the ledger's integrity after the hazards, without foreign keys"
ledger_orphans

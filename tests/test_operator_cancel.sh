#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_operator_cancel.sh -- operators' cancels (`intentctl cancel`,
# `intentctl halt --cancel-open`; docs/operations.md, the kill switch)
# through the stack of `compose/dev test` (2 workers, the simulator, Kafka,
# Redis, PostgreSQL).  Resting gtc limit buys far below the market for bots
# b1 and b2 of user u1 and b3 of user u2:
#   [1] bad usage is refused (exit 2);
#   [2] halt --bot b1 --cancel-open: b1's orders end canceled (cancel_reason
#       operator, no cancel_intent_id, canceled at the broker), b2's keep
#       working, a new intent of b1 is rejected trading_halted;
#   [3] cancel --bot b2, twice: b2's orders canceled without a halt (a new
#       b2 intent is accepted), the second marks nothing, one canceled event
#       per target;
#   [4] cancel --user u2: b3's order canceled;
#   [5] cancel --intent I while the broker is down (4 s): a bot's cancel
#       request for I is not_cancelable ("an operator is already canceling
#       it"), and once the broker (and the cancel circuit its failures
#       opened) is back, the DELETE is sent again and I ends canceled;
#   [6] operator_cancels has a row per command, with who did it.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test operator_cancel
TEST_NAME=operator_cancels

U1=oc-$RUN-u1 U2=oc-$RUN-u2
B1=oc-$RUN-b1 B2=oc-$RUN-b2 B3=oc-$RUN-b3
WHY="test_$TEST_NAME $RUN"

undo() {
    sim POST /_sim/faults '{}' >/dev/null
    # Whatever is left resting of this run's orders goes too.
    timeout 30 "$IC" cancel --user "$U1" --reason "$WHY cleanup" >/dev/null
    timeout 30 "$IC" cancel --user "$U2" --reason "$WHY cleanup" >/dev/null
    resume_touched "oc-$RUN-%"
}
trap test_exit EXIT

# resting NAME BOT USER: a gtc limit buy far below the market, accepted.
resting() {
    send "$1" --bot "$2" --user "$3" --symbol IBM --side buy --type limit --qty 1 --limit 150 \
        --tif gtc
    wait_for "$1" 'any(.[]; .type == "accepted")' 30 || die "$1: accepted within 30 s"
}
# opcancel NAME intentctl-args...: an operator's command, its output in
# $WORK/NAME.out.
opcancel() {
    local name=$1
    shift
    timeout 30 "$IC" "$@" --reason "$WHY" >"$WORK/$name.out" 2>&1 || {
        sed 's/^/        | /' "$WORK/$name.out"
        die "intentctl $* failed"
    }
}
# canceled_by_operator NAME [SECONDS]: NAME ended (within SECONDS, 30 by
# default) with one canceled event whose cancel_reason is operator and that
# names no cancel request.
canceled_by_operator() {
    if wait_for "$1" 'any(.[]; .type == "canceled")' "${2:-30}"; then
        expect_eq "$1: one canceled event, cancel_reason operator, no cancel_intent_id" \
            "1 operator false" \
            "$(jq -rs '[.[] | select(.type == "canceled")] |
                "\(length) \(.[0].cancel_reason) \(.[0] | has("cancel_intent_id"))"' \
                "$WORK/$1.events")"
    else
        bad "$1: a canceled event within ${2:-30} s" "$WORK/$1.events"
    fi
}
# broker_status NAME: the broker's status of NAME's order.
broker_status() {
    local oid
    oid=$(jq -rs '[.[] | select(.type == "accepted")][0].order_id' "$WORK/$1.events")
    alpaca GET "/v2/orders/$oid" | jq -r .status
}

say "== order-worker: operators' cancels (run $RUN) =="
sim POST /_sim/quotes '{"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null
sim POST /_sim/market '{"open":true}' >/dev/null

say ""
say "[1] usage"
rc=0
"$IC" cancel >/dev/null 2>&1 || rc=$?
expect_eq "cancel without a scope: exit 2" 2 "$rc"
rc=0
"$IC" cancel --bot "$B1" --cancel-open >/dev/null 2>&1 || rc=$?
expect_eq "cancel --cancel-open: exit 2" 2 "$rc"
rc=0
"$IC" halt --intent "$B1" --cancel-open >/dev/null 2>&1 || rc=$?
expect_eq "halt --intent: exit 2" 2 "$rc"

say ""
say "[2] halt --bot b1 --cancel-open"
resting b1a "$B1" "$U1"
resting b1b "$B1" "$U1"
resting b2a "$B2" "$U1"
resting b2b "$B2" "$U1"
resting b3a "$B3" "$U2"
TOUCHED+=("--bot $B1")
opcancel halt1 halt --bot "$B1" --cancel-open
expect_eq "intentctl prints the halt and the count" \
    "bot $B1: halted (was active); 2 open orders being canceled" \
    "$(cut -d';' -f1-2 "$WORK/halt1.out")"
canceled_by_operator b1a
canceled_by_operator b1b
expect_eq "b1's order is canceled at the broker" canceled "$(broker_status b1a)"
sleep 1
events b2a
expect_eq "b2's order still works: its events" accepted \
    "$(jq -rs '[.[].type] | join(",")' "$WORK/b2a.events")"
st=$(broker_status b2a)
if [[ $st == new || $st == accepted ]]; then ok "b2's order still works at the broker ($st)"; else
    bad "b2's order still works at the broker: status $st"
fi
send b1new --bot "$B1" --user "$U1" --symbol IBM --side buy --type limit --qty 1 --limit 150 \
    --tif gtc
expect_outcome "a new intent of b1: trading_halted" b1new "rejected trading_halted: *"

say ""
say "[3] cancel --bot b2, twice"
opcancel cancel2 cancel --bot "$B2"
expect_eq "intentctl prints the count" "bot $B2: 2 open orders being canceled" \
    "$(cut -d';' -f1 "$WORK/cancel2.out")"
opcancel cancel2again cancel --bot "$B2"
expect_eq "the second marks nothing more" "bot $B2: 0 open orders being canceled" \
    "$(cut -d';' -f1 "$WORK/cancel2again.out")"
canceled_by_operator b2a
canceled_by_operator b2b
sleep 2
events b2a
events b2b
expect_eq "still one canceled event per target" "1 1" \
    "$(jq -rs '[.[] | select(.type == "canceled") | .event_id] | unique | length' "$WORK/b2a.events") $(
        jq -rs '[.[] | select(.type == "canceled") | .event_id] | unique | length' "$WORK/b2b.events")"
resting b2new "$B2" "$U1"
ok "a new intent of b2 is accepted (not halted)"

say ""
say "[4] cancel --user u2"
opcancel cancel3 cancel --user "$U2"
expect_eq "intentctl prints the count" "user $U2: 1 open order being canceled" \
    "$(cut -d';' -f1 "$WORK/cancel3.out")"
canceled_by_operator b3a

say ""
say "[5] cancel --intent while the broker is down; a bot's cancel request meanwhile"
resting b3b "$B3" "$U2"
FAILED_SERIES='order_worker_operator_cancels_total{result="failed"}'
failed0=$(worker_metric "$FAILED_SERIES")
sim POST /_sim/faults '{"outage_ms":4000}' >/dev/null
opcancel cancel4 cancel --intent "$(cat "$WORK/b3b.id")"
expect_eq "intentctl prints the count" "intent $(cat "$WORK/b3b.id"): 1 open order being canceled" \
    "$(cut -d';' -f1 "$WORK/cancel4.out")"
send b3b.cx --bot "$B3" --user "$U2" --cancel "$(cat "$WORK/b3b.id")"
expect_outcome "the bot's cancel request: not_cancelable" b3b.cx \
    "rejected not_cancelable: an operator is already canceling it"
# The failures open the cancel circuit (BREAKER_OPEN_MS, 30 s by default)
# before it probes again.
canceled_by_operator b3b 75
failed1=$(worker_metric "$FAILED_SERIES")
if ((failed1 > failed0)); then ok "the DELETE failed during the outage and was sent again"; else
    bad "a failed DELETE counted during the outage ($failed0 before, $failed1 after)"
fi

say ""
say "[6] the audit trail"
psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -At -v ON_ERROR_STOP=1 -v why="$WHY" <<<"
    SELECT scope || ' ' || id || ' ' || halted || ' ' || marked || ' ' || (requested_by <> '')
    FROM operator_cancels WHERE reason = :'why' ORDER BY cancel_id" >"$WORK/audit.got"
cat >"$WORK/audit.want" <<EOF
bot $B1 true 2 true
bot $B2 false 2 true
bot $B2 false 0 true
user $U2 false 1 true
intent $(cat "$WORK/b3b.id") false 1 true
EOF
if diff "$WORK/audit.want" "$WORK/audit.got" >"$WORK/audit.diff"; then
    ok "operator_cancels: a row per command, with who did it"
else
    bad "operator_cancels: a row per command, with who did it" "$WORK/audit.diff"
fi
by=$(sed -n 's/.*; by \(.*\) at .*/\1/p' "$WORK/halt1.out")
expect_eq "the halt and its cancel name the same operator" "$by $by" \
    "$(psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -At -v ON_ERROR_STOP=1 -v why="$WHY" -v bot="$B1" <<<"
        SELECT (SELECT changed_by FROM trading_state_changes WHERE id = :'bot' AND reason = :'why')
            || ' ' || (SELECT requested_by FROM operator_cancels WHERE id = :'bot' AND reason = :'why')")"
expect_eq "the marked intents point at their command" 2 \
    "$(psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -At -v ON_ERROR_STOP=1 -v why="$WHY" -v bot="$B1" <<<"
        SELECT count(*) FROM intents i JOIN operator_cancels c ON c.cancel_id = i.operator_cancel_id
        WHERE c.reason = :'why' AND c.id = :'bot' AND i.cancel_sent_at IS NOT NULL")"

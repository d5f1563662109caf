#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_cancel.sh -- cancel requests (contract section 3b) through the
# stack of `compose/dev test` (2 workers, the simulator, Kafka, Redis,
# PostgreSQL), sent with `intentctl send --cancel`:
#   [1] a resting limit order canceled: its canceled event names the cancel
#       request (cancel_intent_id, cancel_reason requested), the broker's
#       order is canceled, and the request has no event of its own;
#   [2] a cancel after the fill: not_cancelable, the target's fill alone;
#   [3] a cancel of another bot's order, and of an unknown intent:
#       not_cancelable, the order still working;
#   [4] the same cancel request sent twice: one outcome;
#   [5] a cancel while the bot is halted: still canceled (a cancel reduces
#       risk, it is never refused for a halt or a quota).
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test cancel
TEST_NAME=cancel

undo() {
    resume_touched "cx-$RUN-%"
    sim POST /_sim/quotes '{"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null
}
trap test_exit EXIT

# cancel NAME TARGET-NAME BOT: a cancel request by BOT of TARGET-NAME's intent.
cancel() {
    send "$1" --bot "$3" --user u1 --cancel "$(cat "$WORK/$2.id")"
}
# resting NAME BOT: a gtc limit buy far below the market, accepted.
resting() {
    send "$1" --bot "$2" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 \
        --tif gtc
    wait_for "$1" 'any(.[]; .type == "accepted")' 30 || die "$1: accepted within 30 s"
}

say "== order-worker: cancel requests (run $RUN) =="
sim POST /_sim/quotes '{"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null
B1=cx-$RUN-b1 B2=cx-$RUN-b2

say ""
say "[1] a resting limit order canceled"
resting rest "$B1"
cancel rest.cx rest "$B1"
if wait_for rest 'any(.[]; .type == "canceled")' 30; then ok "the order ended canceled"; else
    bad "a canceled event within 30 s" "$WORK/rest.events"
fi
expect_eq "its canceled event names the cancel request" "$(cat "$WORK/rest.cx.id") requested" \
    "$(jq -rs '[.[] | select(.type == "canceled")][0] | "\(.cancel_intent_id) \(.cancel_reason)"' \
        "$WORK/rest.events")"
oid=$(jq -rs '[.[] | select(.type == "accepted")][0].order_id' "$WORK/rest.events")
expect_eq "the broker's order is canceled" canceled "$(alpaca GET "/v2/orders/$oid" | jq -r .status)"
snapshot "$WORK/rest.cx.events" "$WORK/rest.cx.id"
expect_eq "the request has no event of its own" 0 "$(wc -l <"$WORK/rest.cx.events")"
expect_eq "the request is done in the ledger" canceled \
    "$(psql "$DATABASE_URL" -At -c "SELECT state FROM intents WHERE intent_id = '$(cat "$WORK/rest.cx.id")'")"

say ""
say "[2] a cancel after the fill"
send filled --bot "$B1" --user u1 --symbol IBM --side buy --qty 1
wait_for filled 'any(.[]; .type == "fill")' 30 || die "filled: a fill within 30 s"
cancel late filled "$B1"
expect_outcome "the cancel: not_cancelable" late "rejected not_cancelable: *has already ended*"
events filled
expect_eq "the target: its fill alone" "accepted,fill" \
    "$(jq -rs '[.[].type] | join(",")' "$WORK/filled.events")"

say ""
say "[3] another bot's order, and an unknown intent"
resting other "$B1"
cancel notmine other "$B2"
expect_outcome "another bot's: not_cancelable" notmine "rejected not_cancelable: *not the sender's*"
uuidgen >"$WORK/ghost.id" 2>/dev/null || python3 -c 'import uuid; print(uuid.uuid4())' >"$WORK/ghost.id"
cancel unknown ghost "$B1"
expect_outcome "an unknown intent: not_cancelable" unknown "rejected not_cancelable: *no intent*"
sleep 1
events other
expect_eq "the order still works" accepted "$(jq -rs '[.[].type] | join(",")' "$WORK/other.events")"
cancel other.cx other "$B1"
wait_for other 'any(.[]; .type == "canceled")' 30 || bad "its own bot's cancel works" "$WORK/other.events"

say ""
say "[4] the same cancel request twice"
resting twice "$B1"
"$IC" send --dry-run --bot "$B1" --user u1 --cancel "$(cat "$WORK/twice.id")" >"$WORK/twice.cx.json" ||
    die "intentctl send --dry-run --cancel failed"
send_lines "$WORK/twice.cx.json"
send_lines "$WORK/twice.cx.json"
wait_for twice 'any(.[]; .type == "canceled")' 30 || bad "canceled within 30 s" "$WORK/twice.events"
sleep 2
events twice
expect_eq "one canceled event, naming the request" "1 $(jq -r .intent_id "$WORK/twice.cx.json")" \
    "$(jq -rs '[.[] | select(.type == "canceled")] | "\([.[].event_id] | unique | length) \(.[0].cancel_intent_id)"' "$WORK/twice.events")"
jq -r .intent_id "$WORK/twice.cx.json" >"$WORK/twice.cx.id"
snapshot "$WORK/twice.cx.events" "$WORK/twice.cx.id"
expect_eq "no rejection of the repeated request" 0 "$(wc -l <"$WORK/twice.cx.events")"

say ""
say "[5] a cancel while the bot is halted"
resting halted "$B1"
ic_state halt --bot "$B1"
cancel halted.cx halted "$B1"
if wait_for halted 'any(.[]; .type == "canceled")' 30; then ok "canceled while halted"; else
    bad "canceled within 30 s while halted" "$WORK/halted.events"
fi

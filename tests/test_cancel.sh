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
#       risk, it is never refused for a halt or a quota);
#   [6] cancels racing fills, 20 times (each market order followed at once
#       by its cancel, against the simulator's 100 ms tick): each pair ends
#       either with the order canceled for its request or with its fill and
#       the request not_cancelable, never both;
#   [7] the worker killed between the cancel's DELETE and its record
#       (WORKER_FAILPOINT=after_cancel): resumed, the order ends canceled
#       for the request, once;
#   with the fleet's Alpaca budget cut to 2 calls per 10 s:
#   [8] a target waiting for its budget token: stopped unsent (its canceled
#       event has no order_id, the broker never heard of it), promptly;
#   [9] a target still queued behind its key's intents (the first of them
#       waiting for a token): the cancel overtakes them and stops it unsent
#       before either is placed; they are placed afterwards, in order;
#   [10] an operator's cancel (intentctl cancel --intent) of a target
#       waiting for its token (the budget filled first, so that no call
#       leaves it before the cancel: checked, with the target in the ledger
#       and marked): stopped unsent once the token comes (an operator's mark
#       does not wake it), reason operator;
#   [11] an operator's cancel of a placed order while six bots' intents wait
#       for tokens and the stream's reconnection makes the follower's leader
#       reconcile: the leader keeps its lease, and the DELETE goes out with
#       one of the next calls (canceled within 20 s).
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test cancel
TEST_NAME=cancel
RESTARTED=0

undo() {
    if ((RESTARTED)); then
        unset WORKER_FAILPOINT ALPACA_CALLS_PER_MIN RATE_PERIOD_MS INTENT_MAX_AGE_MS ACCOUNT_REFRESH_MS
        restore_workers 2
    fi
    resume_touched "cx-$RUN-%"
    sim POST /_sim/quotes '{"IBM":{"bid":"210.00","ask":"210.02"}}' >/dev/null
    sim POST /_sim/config '{"partial_fill_rate":0}' >/dev/null
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
    "$(ledger_state "$(cat "$WORK/rest.cx.id")" canceled 30)"

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

say ""
say "[6] cancels racing fills, 20 times"
: >"$WORK/race.ids"
: >"$WORK/race.cx.ids"
# Half of the executions leave the order open, so a cancel that reaches the
# broker while its order is being filled may still cancel the rest.  Each
# order and its cancel go out back to back, in one send.
sim POST /_sim/config '{"partial_fill_rate":0.5}' >/dev/null
: >"$WORK/race.jsonl"
for i in $(seq 1 20); do
    "$IC" send --dry-run --bot "cx-$RUN-r$i" --user u1 --symbol IBM --side buy --qty 10 \
        >"$WORK/race$i.json" || die "intentctl send --dry-run failed"
    jq -r .intent_id "$WORK/race$i.json" >"$WORK/race$i.id"
    "$IC" send --dry-run --bot "cx-$RUN-r$i" --user u1 --cancel "$(cat "$WORK/race$i.id")" \
        >"$WORK/race$i.cx.json" || die "intentctl send --dry-run --cancel failed"
    jq -r .intent_id "$WORK/race$i.cx.json" >"$WORK/race$i.cx.id"
    cat "$WORK/race$i.json" "$WORK/race$i.cx.json" >>"$WORK/race.jsonl"
    cat "$WORK/race$i.id" >>"$WORK/race.ids"
    cat "$WORK/race$i.cx.id" >>"$WORK/race.cx.ids"
done
send_lines "$WORK/race.jsonl"
wait_terminal "$WORK/race.ids" 60000 || bad "every raced order ended within 60 s"
sim POST /_sim/config '{"partial_fill_rate":0}' >/dev/null
# Each request ends with its target's canceled event or its own rejection;
# the requests' lanes take them one after another, so a little after their
# targets.
for _ in $(seq 1 60); do
    snapshot "$WORK/race.all" "$WORK/race.ids"
    snapshot "$WORK/race.cx.all" "$WORK/race.cx.ids"
    settled=$(cat "$WORK/race.all" "$WORK/race.cx.all" |
        jq -rs '[.[] | select(.type == "canceled") | .cancel_intent_id // empty] +
            [.[] | select(.reason == "not_cancelable") | .intent_id] | unique | length')
    ((settled >= 20)) && break
    sleep 0.5
done
: >"$WORK/race.bad"
canceled=0 filled=0
for i in $(seq 1 20); do
    t=$(cat "$WORK/race$i.id") c=$(cat "$WORK/race$i.cx.id")
    got=$(jq -rs --arg t "$t" '[.[] | select(.intent_id == $t and (.type == "fill" or .type == "canceled"))
        | "\(.type):\(.cancel_intent_id // "")"] | unique | join(",")' "$WORK/race.all")
    rej=$(jq -rs --arg c "$c" '[.[] | select(.intent_id == $c) | .reason] | unique | join(",")' "$WORK/race.cx.all")
    case "$got|$rej" in
    "canceled:$c|") canceled=$((canceled + 1)) ;;
    "fill:|not_cancelable") filled=$((filled + 1)) ;;
    *) echo "pair $i: target $got, request $rej" >>"$WORK/race.bad" ;;
    esac
done
expect_empty "20 pairs, each canceled for its request or filled and not_cancelable ($canceled canceled, $filled filled)" "$WORK/race.bad"

say ""
say "[7] killed between the cancel's DELETE and its record"
B3=cx-$RUN-b3
resting crash "$B3"
mark crash
export WORKER_FAILPOINT=after_cancel
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart 2 >"$WORK/restart.log" 2>&1 || die "workers-restart failed"
cancel crash.cx crash "$B3"
died=
for _ in $(seq 1 100); do
    since crash >"$WORK/crash.log"
    if grep -q '"event":"failpoint"' "$WORK/crash.log"; then died=1; break; fi
    sleep 0.3
done
if [[ -n $died ]]; then ok "a worker died after the DELETE"; else bad "a worker reached after_cancel"; fi
for f in "$STATE"/logs/worker-*.log; do sed -i 's/"event":"failpoint"/"event":"failpoint-seen"/' "$f"; done
unset WORKER_FAILPOINT
timeout 180 "$DEV" --state "$STATE" workers-restart 2 >"$WORK/restart.log" 2>&1 || die "workers-restart failed"
if wait_for crash 'any(.[]; .type == "canceled")' 60; then ok "resumed: the order ended canceled"; else
    bad "a canceled event within 60 s of the restart" "$WORK/crash.events"
fi
expect_eq "one canceled event, naming the request" "1 $(cat "$WORK/crash.cx.id")" \
    "$(jq -rs '[.[] | select(.type == "canceled")] | "\([.[].event_id] | unique | length) \(.[0].cancel_intent_id)"' "$WORK/crash.events")"
expect_eq "the request is done in the ledger" canceled \
    "$(ledger_state "$(cat "$WORK/crash.cx.id")" canceled 30)"

# never_sent NAME: NAME's one canceled event has no order_id, and the
# broker has no order with its client_order_id.
never_sent() {
    local cid
    expect_eq "$1: canceled unsent, for its request" "null $(cat "$WORK/$1.cx.id") requested" \
        "$(jq -rs '[.[] | select(.type == "canceled")][0] | "\(.order_id) \(.cancel_intent_id) \(.cancel_reason)"' \
            "$WORK/$1.events")"
    cid=$(jq -rs '[.[] | select(.type == "canceled")][0].client_order_id' "$WORK/$1.events")
    expect_eq "$1: the broker never heard of it" none \
        "$(alpaca GET "/v2/orders:by_client_order_id?client_order_id=$cid" | jq -r '.id // "none"')"
    expect_eq "$1: no other event" "canceled" \
        "$(jq -rs '[.[].type // .reason] | join(",")' "$WORK/$1.events")"
}

# budget_story IDS-FILE: where the budget went since [8]'s restart (the
# workers' calls and grants, the budget now, Alpaca's word, the ids' states
# in the ledger), for a wait on tokens that took too long.
budget_story() {
    local w
    say "        | since [8]'s restart ($((SECONDS - budget_from)) s):"
    for w in "$STATE"/pids/worker-*.pid; do
        w=$(basename "$w" .pid)
        curl -fsS --max-time 10 "http://127.0.0.1:$((DEV_ADMIN_BASE_PORT + ${w#worker-}))/metrics" |
            grep -E '^order_worker_alpaca_(requests|budget_grants|budget_timeouts)_total' |
            grep -v ' 0$' | sed "s/^/        | $w: /"
    done
    "$IC" quota alpaca 2>&1 | sed 's/^/        | /'
    since budget | grep -E '"event":"(budget_[a-z_]+|breaker_[a-z]+|follower_[a-z_]+|stream_[a-z_]+)"' |
        jq -r '"\(.time) \(.replica) \(.event): \(.msg)"' | tail -n 20 | sed 's/^/        | /'
    psql "$DATABASE_URL" -At -F ' ' -c "SELECT intent_id, state, updated_at FROM intents WHERE intent_id IN
        ($(sed "s/.*/'&'/" "$1" | paste -sd,))" | sed 's/^/        | ledger: /'
}

say ""
say "[8] a target waiting for its budget token"
# Long-lived intents: what waits for this budget must not expire meanwhile.
# The account is read once: each replica's refresh (every 15 s by default)
# takes a token like a placement, and at 2 calls per 10 s two replicas'
# refreshes would take a third of the calls, and a varying share of them.
export ALPACA_CALLS_PER_MIN=2 RATE_PERIOD_MS=10000 INTENT_MAX_AGE_MS=600000 ACCOUNT_REFRESH_MS=3600000
mark budget
budget_from=$SECONDS
timeout 180 "$DEV" --state "$STATE" workers-restart 2 >"$WORK/restart.log" 2>&1 || die "workers-restart failed"
B4=cx-$RUN-b4
: >"$WORK/use.jsonl"
for i in 1 2 3 4; do
    gen_intents "$WORK/use.jsonl" 1 --bot "$B4-u$i" --user u1 --symbol IBM --side buy --qty 1
done
send_lines "$WORK/use.jsonl"
send wait --bot "$B4" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 --tif gtc
sleep 1
started=$SECONDS
cancel wait.cx wait "$B4"
if wait_for wait 'any(.[]; .type == "canceled")' 20; then
    ok "stopped within $((SECONDS - started)) s of the cancel"
else
    bad "a canceled event within 20 s" "$WORK/wait.events"
fi
never_sent wait
expect_eq "the request is done in the ledger" canceled \
    "$(ledger_state "$(cat "$WORK/wait.cx.id")" canceled 30)"

say ""
say "[9] a target queued behind its key's intents"
B5=cx-$RUN-b5
: >"$WORK/queue.jsonl"
gen_intents "$WORK/queue.jsonl" 2 --bot "$B5" --user u1 --symbol IBM --side buy --qty 1
jq -r .intent_id "$WORK/queue.jsonl" >"$WORK/ahead.ids"
"$IC" send --dry-run --bot "$B5" --user u1 --symbol IBM --side buy --type limit --qty 1 \
    --limit 150 --tif gtc >"$WORK/queued.json" || die "intentctl send --dry-run failed"
jq -r .intent_id "$WORK/queued.json" >"$WORK/queued.id"
"$IC" send --dry-run --bot "$B5" --user u1 --cancel "$(cat "$WORK/queued.id")" \
    >"$WORK/queued.cx.json" || die "intentctl send --dry-run --cancel failed"
jq -r .intent_id "$WORK/queued.cx.json" >"$WORK/queued.cx.id"
cat "$WORK/queued.json" "$WORK/queued.cx.json" >>"$WORK/queue.jsonl"
started=$SECONDS
send_lines "$WORK/queue.jsonl"
if wait_for queued 'any(.[]; .type == "canceled")' 20; then
    ok "stopped within $((SECONDS - started)) s"
else
    bad "a canceled event within 20 s" "$WORK/queued.events"
fi
snapshot "$WORK/ahead.events" "$WORK/ahead.ids"
expect_eq "before the intents ahead of it were placed" 0 \
    "$(jq -rs '[.[] | select(.type == "accepted")] | length' "$WORK/ahead.events")"
never_sent queued

say ""
say "[10] an operator's cancel of a target waiting for its budget token"
B6=cx-$RUN-b6
# The premise, established, then checked: when the operator cancels it, the
# target is in the ledger (or the cancel would mark nothing) and unsent, and
# no call can leave the budget's window before the cancel, so its token
# cannot have come.  What [8] and [9] left waiting for tokens goes first: a
# lane waiting for a token holds back the other intents hashed to it, the
# target's maybe, which would then reach the ledger only with that token
# (eight calls at 2 per 10 s: six placements and each replica's one look at
# the account, after the calls of the workers before the restart leave the
# window: about 45 s; a wait of 60 s failed once under the sanitizers while
# the account was still read every 15 s).
# Then "use" intents fill the window, as many as it has calls left (none of
# them waits, so no lane is held), until no call is left and none leaves it
# for FULL_MS at least (intentctl quota alpaca: remaining 0; reset_ms, until
# its oldest call leaves).  With 2 calls per 10 s one of them always stays
# 5 s or more after the other's refill.
FULL_MS=4000
jq -r .intent_id "$WORK/use.jsonl" | cat - "$WORK/ahead.ids" >"$WORK/left8.ids"
waited=$SECONDS
if ! wait_terminal "$WORK/left8.ids" 90000; then
    budget_story "$WORK/left8.ids"
    die "[10]: what [8] and [9] left waiting ended within 90 s"
fi
say "        (what [8] and [9] left waiting ended $((SECONDS - waited)) s later)"
: >"$WORK/use6.jsonl"
full_until=0 uses=0
for _ in $(seq 1 60); do
    asked=$(date +%s%3N)
    read -r left reset < <("$IC" quota alpaca --json | jq -r '"\(.remaining) \(.reset_ms)"') ||
        die "intentctl quota alpaca failed"
    if ((left == 0 && reset >= FULL_MS)); then
        full_until=$((asked + reset))
        break
    fi
    if ((left > 0 && uses + left <= 8)); then
        : >"$WORK/fill.jsonl"
        for _ in $(seq 1 "$left"); do
            uses=$((uses + 1))
            gen_intents "$WORK/fill.jsonl" 1 --bot "$B6-u$uses" --user u1 --symbol IBM --side buy --qty 1
        done
        cat "$WORK/fill.jsonl" >>"$WORK/use6.jsonl"
        jq -r .intent_id "$WORK/fill.jsonl" >"$WORK/fill.ids"
        send_lines "$WORK/fill.jsonl"
        wait_terminal "$WORK/fill.ids" 30000 || die "[10]: the intents filling the budget ended within 30 s"
    else
        sleep 0.3
    fi
done
((full_until > 0)) || die "[10]: the budget full for ${FULL_MS} ms more within 60 tries ($uses intents sent)"
send opwait --bot "$B6" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 --tif gtc
opstate=""
while (($(date +%s%3N) < full_until)); do
    opstate=$(psql "$DATABASE_URL" -At -c "SELECT state FROM intents WHERE intent_id = '$(cat "$WORK/opwait.id")'")
    [[ -n $opstate ]] && break
    sleep 0.1
done
case $opstate in
received | validated | quota_granted | submitting) ;;
"") die "[10]: opwait not in the ledger before a call could leave the budget's window" ;;
*) die "[10]: opwait already $opstate before its cancel (the budget was full until then)" ;;
esac
timeout 30 "$IC" cancel --intent "$(cat "$WORK/opwait.id")" --reason "test_cancel $RUN" \
    >"$WORK/opcancel.out" 2>&1 || { sed 's/^/        | /' "$WORK/opcancel.out"; die "intentctl cancel failed"; }
marked=$(date +%s%3N)
if ((marked < full_until)); then
    ok "opwait ($opstate) marked $((full_until - marked)) ms before a call could leave the full budget"
else
    bad "opwait marked before a call could leave the full budget (${FULL_MS}+ ms): $((marked - full_until)) ms after"
fi
if grep -q ': 1 open order being canceled;' "$WORK/opcancel.out"; then ok "the operator's cancel marked it"; else
    bad "the operator's cancel marked it" "$WORK/opcancel.out"
fi
if wait_for opwait 'any(.[]; .type == "canceled")' 60; then ok "stopped once its token came"; else
    bad "a canceled event within 60 s" "$WORK/opwait.events"
fi
expect_eq "opwait: canceled unsent, for the operator" "null null operator" \
    "$(jq -rs '[.[] | select(.type == "canceled")][0] | "\(.order_id) \(.cancel_intent_id) \(.cancel_reason)"' \
        "$WORK/opwait.events")"
expect_eq "opwait: no other event" "canceled" \
    "$(jq -rs '[.[].type // .reason] | join(",")' "$WORK/opwait.events")"

say ""
say "[11] an operator's cancel of a placed order while bots wait and the follower reconciles"
# The stream's reconnection makes the follower's leader reconcile (a REST
# listing, last in the budget's queue) while six bots' intents wait for
# tokens ahead of it.  Its waits end within half its lease, so it keeps the
# lease (a wait past it let the other replica take the lease meanwhile, and
# each new leader's reconciliation waited again); and the operator's DELETE,
# first in the queue and no longer held back behind the follower's waits,
# goes out with one of the next calls to leave the window.
B7=cx-$RUN-b7
send placed --bot "$B7" --user u1 --symbol IBM --side buy --type limit --qty 1 --limit 150 --tif gtc
wait_for placed 'any(.[]; .type == "accepted")' 30 || die "placed: accepted within 30 s"
: >"$WORK/use7.jsonl"
for i in 1 2 3 4 5 6; do
    gen_intents "$WORK/use7.jsonl" 1 --bot "$B7-u$i" --user u1 --symbol IBM --side buy --qty 1
done
reconciled=$(worker_metric 'order_worker_follow_reconciliations_total{why="listening"}')
mark lease
send_lines "$WORK/use7.jsonl"
sim POST /_sim/faults '{"stream_drop":true}' >/dev/null
dropped=$SECONDS
sleep 1
started=$SECONDS
timeout 30 "$IC" cancel --intent "$(cat "$WORK/placed.id")" --reason "test_cancel $RUN" \
    >"$WORK/opcancel7.out" 2>&1 || { sed 's/^/        | /' "$WORK/opcancel7.out"; die "intentctl cancel failed"; }
if grep -q ': 1 open order being canceled;' "$WORK/opcancel7.out"; then ok "the operator's cancel marked it"; else
    bad "the operator's cancel marked it" "$WORK/opcancel7.out"
fi
if wait_for placed 'any(.[]; .type == "canceled")' 20; then
    ok "canceled within $((SECONDS - started)) s of the operator's cancel"
else
    bad "a canceled event within 20 s of the operator's cancel" "$WORK/placed.events"
fi
expect_eq "placed: canceled at the broker, for the operator" "true null operator" \
    "$(jq -rs '[.[] | select(.type == "canceled")][0] | "\(.order_id != null) \(.cancel_intent_id) \(.cancel_reason)"' \
        "$WORK/placed.events")"
# A wait past the lease shows within the longest of them (FOLLOW_MAX_INTERVAL_MS).
while ((SECONDS < dropped + 12)); do sleep 0.5; done
if (($(worker_metric 'order_worker_follow_reconciliations_total{why="listening"}') > reconciled)); then
    ok "the stream's reconnection made the follower's leader reconcile"
else
    bad "the stream's reconnection made the follower's leader reconcile (follow_reconciliations_total)"
fi
since lease | grep -E '"event":"follower_(leading|standing_by)"' >"$WORK/lease.changes" || true
expect_empty "the follower's leader kept its lease meanwhile" "$WORK/lease.changes"

say ""
say "-- the usual budget again: what waited for it goes on"
# (With 2 calls per 10 s the follower's reconciliation, last in the budget's
# queue, can wait as long as the placements ahead of it; the intents still
# waiting are redelivered to the restarted workers, in their order.)
unset ALPACA_CALLS_PER_MIN RATE_PERIOD_MS ACCOUNT_REFRESH_MS
timeout 180 "$DEV" --state "$STATE" workers-restart 2 >"$WORK/restart.log" 2>&1 || die "workers-restart failed"
if wait_terminal "$WORK/ahead.ids" 60000; then ok "[9] the intents ahead were placed afterwards"; else
    bad "[9] the two intents ahead of it ended within 60 s"
fi
snapshot "$WORK/ahead.events" "$WORK/ahead.ids"
expect_eq "[9] in their order" "$(paste -sd, "$WORK/ahead.ids")" \
    "$(jq -rs '[.[] | select(.type == "accepted") | .intent_id] | join(",")' "$WORK/ahead.events")"
# Nothing of this test may still be placing orders when the next one starts.
cat "$WORK/use.jsonl" "$WORK/use6.jsonl" "$WORK/use7.jsonl" | jq -r .intent_id >"$WORK/use.ids"
wait_terminal "$WORK/use.ids" 60000 || bad "the intents spending the budget ended within 60 s"
cat "$WORK/ahead.ids" "$WORK/use.ids" >"$WORK/budgeted.ids"
snapshot "$WORK/budgeted.events" "$WORK/budgeted.ids"
expect_eq "all of them filled" "$(wc -l <"$WORK/budgeted.ids")" \
    "$(jq -rs '[.[] | select(.type == "fill") | .intent_id] | unique | length' "$WORK/budgeted.events")"
unset INTENT_MAX_AGE_MS

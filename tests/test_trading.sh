#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_trading.sh -- the kill switch and the operator's quota view,
# through the whole stack of `compose/dev test` (2 workers, the simulator,
# Kafka, Redis, PostgreSQL).  States are set with `intentctl halt|reduce|
# resume` exactly as an operator would, intents sent with intentctl, and the
# outcomes read back from the result topics:
#   a halted bot is rejected trading_halted within a second, another bot
#   fills; resumed, it fills again;
#   a global halt rejects anyone; a user halt rejects the user's own intents
#   and its bots';
#   reducing lets only orders that shrink the position through;
#   every replica obeys a fresh halt within a second (10 bots, both
#   replicas' partitions);
#   `intentctl quota` shows what a bot's trades used (under an override set
#   with `quota set`, removed with `quota unset`) and the Alpaca budget.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test trading
RESTARTED=0
# Quota overrides this run set ("bot ID"), removed on exit.
OVERRIDES=()

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    local s
    # Whatever happened, trading is left active for the tests that follow,
    # and the run's rows go (every scope it set: ic_state, tests/lib.sh).
    resume_touched "ks-$RUN-%" --global
    for s in "${OVERRIDES[@]}"; do
        # shellcheck disable=SC2086
        timeout 30 "$IC" quota unset $s >/dev/null || FAILED=$((FAILED + 1))
    done
    if ((RESTARTED)); then
        say "-- restoring the workers' settings"
        unset BOT_TRADES_PER_MIN USER_TRADES_PER_MIN
        restore_workers
    fi
}
trap test_exit EXIT

# position SYMBOL: the account's quantity of SYMBOL (0 when flat).
position() {
    local body
    body=$(alpaca GET "/v2/positions/$1") || die "cannot read the position of $1"
    jq -r 'if .qty then .qty else "0" end' <<<"$body"
}

U="ks-$RUN-u"
B="ks-$RUN-b"
C="ks-$RUN-c"
R="ks-$RUN-r"
SYM=AAPL
say "== order-worker: the kill switch (run $RUN) =="
say "-- restarting the workers with high quotas and the default refresh (500 ms)"
export BOT_TRADES_PER_MIN=100000 USER_TRADES_PER_MIN=100000
unset TRADING_REFRESH_MS
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}
sim POST /_sim/market '{"open":true}' >/dev/null || die "the simulator does not answer"

say ""
say "[1] a halted bot is rejected within a second; other bots trade"
ic_state halt --bot "$B"
expect_eq "intentctl halt prints the new state" "bot $B: halted (was active)" \
    "$(cut -d';' -f1 "$WORK/state.out")"
sleep 1.2
send b_halted --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1
send c_active --bot "$C" --user "$U" --symbol "$SYM" --side buy --qty 1
expect_outcome "bot $B: rejected trading_halted, the message names the bot" b_halted \
    "rejected trading_halted: *bot $B*"
expect_outcome "bot $C: filled" c_active fill
if timeout 30 "$IC" trading --json >"$WORK/trading.json" &&
    jq -s -e --arg b "$B" 'any(.[]; .scope == "bot" and .id == $b and .state == "halted")' \
        "$WORK/trading.json" >/dev/null; then
    ok "intentctl trading lists the halt"
else
    bad "intentctl trading lists the halt" "$WORK/trading.json"
fi
ic_state resume --bot "$B"
sleep 1.2
send b_resumed --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1
expect_outcome "bot $B resumed: filled" b_resumed fill
expect_eq "the ledger keeps both changes, with who and why" "active->halted,halted->active" \
    "$(psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -At -v ON_ERROR_STOP=1 -v bot="$B" -v why="test_trading $RUN" <<<"
        SELECT string_agg(coalesce(from_state, 'active') || '->' || to_state, ',' ORDER BY change_id)
        FROM trading_state_changes
        WHERE scope = 'bot' AND id = :'bot' AND reason = :'why' AND changed_by <> ''")"

say ""
say "[2] a global halt rejects anyone"
ic_state halt --global
sleep 1.2
send g_halted --bot "ks-$RUN-g" --user "ks-$RUN-gu" --symbol "$SYM" --side buy --qty 1
expect_outcome "global halt: rejected trading_halted for everyone" g_halted \
    "rejected trading_halted: *everyone*"
ic_state resume --global
sleep 1.2
send g_resumed --bot "ks-$RUN-g" --user "ks-$RUN-gu" --symbol "$SYM" --side buy --qty 1
expect_outcome "global resume: filled" g_resumed fill

say ""
say "[3] a user halt rejects the user's intents and its bots'"
ic_state halt --user "$U"
sleep 1.2
send u_user --user "$U" --symbol "$SYM" --side buy --qty 1
send u_bot --bot "ks-$RUN-ub" --user "$U" --symbol "$SYM" --side buy --qty 1
send u_other --user "ks-$RUN-other" --symbol "$SYM" --side buy --qty 1
expect_outcome "user topic, user $U: rejected trading_halted naming the user" u_user \
    "rejected trading_halted: *user $U*"
expect_outcome "bot topic, a bot of user $U: rejected trading_halted" u_bot \
    "rejected trading_halted: *user $U*"
expect_outcome "another user: filled" u_other fill
ic_state resume --user "$U"

say ""
say "[4] reducing: only orders that shrink the position"
send r_buy --bot "$R" --user "ks-$RUN-ru" --symbol "$SYM" --side buy --qty 5
expect_outcome "active: buy 5 $SYM filled" r_buy fill
held=$(position "$SYM")
ic_state reduce --bot "$R"
sleep 1.2
send r_buy2 --bot "$R" --user "ks-$RUN-ru" --symbol "$SYM" --side buy --qty 1
expect_outcome "reducing: a buy is rejected, the message says reducing" r_buy2 \
    "rejected trading_halted: *reducing*bot $R*"
send r_sell3 --bot "$R" --user "ks-$RUN-ru" --symbol "$SYM" --side sell --qty 3
expect_outcome "reducing: a sell of 3 (of $held held) fills" r_sell3 fill
# The account is shared with other tests: sell what is held now plus 8 (10
# when this test is alone on the account), always more than the position.
held=$(position "$SYM")
over=$(jq -rn --arg h "$held" '($h | tonumber) + 8 | floor')
send r_sell_over --bot "$R" --user "ks-$RUN-ru" --symbol "$SYM" --side sell --qty "$over"
expect_outcome "reducing: a sell of $over (more than the $held held) is rejected" r_sell_over \
    "rejected trading_halted: *reducing*"
ic_state resume --bot "$R"

say ""
say "[5] the operator's quota view"
# The workers run with 100000 trades a minute, which a GCRA forgets within a
# millisecond; a bot given its own limit of 10 keeps its trades in view.
Q="ks-$RUN-q"
OVERRIDES+=("bot $Q")
timeout 30 "$IC" quota set bot "$Q" 10 >"$WORK/set.out" 2>&1 || bad "intentctl quota set bot $Q 10" "$WORK/set.out"
send q_trades --bot "$Q" --user "ks-$RUN-qu" --symbol "$SYM" --side buy --qty 1 --repeat 3
wait_terminal "$WORK/q_trades.id" 30000 || true
snapshot "$WORK/q_trades.events" "$WORK/q_trades.id"
expect_eq "bot $Q: 3 trades filled" 3 "$(jq -s '[.[] | select(.type == "fill")] | length' "$WORK/q_trades.events")"
if timeout 30 "$IC" quota bot "$Q" --json >"$WORK/quota.json" &&
    jq -e '.used >= 3 and .limit == 10 and .limit_from == "override"
           and .remaining == .limit - .used and .reset_ms > 0 and .reset_ms <= 60000' \
        "$WORK/quota.json" >/dev/null; then
    ok "quota bot $Q: used >= 3 of its override 10, remaining = limit - used, reset_ms set"
else
    bad "quota bot $Q: used >= 3 of its override 10, remaining = limit - used" "$WORK/quota.json"
fi
if timeout 30 "$IC" quota bot "$Q" >"$WORK/quota.txt" && grep -q "^bot $Q: used [3-9]" "$WORK/quota.txt"; then
    ok "quota bot $Q: the plain output says used"
else
    bad "quota bot $Q: the plain output says used" "$WORK/quota.txt"
fi
timeout 30 "$IC" quota unset bot "$Q" >/dev/null || bad "intentctl quota unset bot $Q"
expect_eq "quota unset: the default limit again" "100000 default" \
    "$(timeout 30 "$IC" quota bot "$Q" --json | jq -r '"\(.limit) \(.limit_from)"')"
expect_eq "quota bot: an idle bot has used nothing" "0 100000 0" \
    "$(timeout 30 "$IC" quota bot "ks-$RUN-idle" --json | jq -r '"\(.used) \(.remaining) \(.reset_ms)"')"
if timeout 30 "$IC" quota alpaca --json >"$WORK/alpaca.json" &&
    jq -e '.used >= 1 and .limit >= 1 and .remaining == ([.limit - .used, 0] | max)' \
        "$WORK/alpaca.json" >/dev/null; then
    ok "quota alpaca: the calls of this test are counted"
else
    bad "quota alpaca: used >= 1, remaining = limit - used" "$WORK/alpaca.json"
fi

say ""
say "[6] every replica obeys a fresh halt within a second"
# Ten bots, keyed apart, land on both replicas' partitions; a batch that
# happened to reach one replica only is repeated (at most 3 times).
replicas=0
for attempt in 1 2 3; do
    : >"$WORK/batch.jsonl"
    for i in $(seq 1 10); do
        gen_intents "$WORK/batch.jsonl" 1 --bot "ks-$RUN-$attempt-$i" --user "ks-$RUN-fu" \
            --symbol "$SYM" --side buy --qty 1
    done
    jq -r '.intent_id' "$WORK/batch.jsonl" >"$WORK/batch.id"
    ic_state halt --global
    sleep 1.1
    send_lines "$WORK/batch.jsonl"
    if wait_terminal "$WORK/batch.id" 60000; then ok "batch $attempt: 10 outcomes"; else
        bad "batch $attempt: 10 outcomes within 60 s"
    fi
    snapshot "$WORK/batch.events" "$WORK/batch.id"
    jqe -c 'select(._topic != $rej or .reason != "trading_halted")' "$WORK/batch.events" \
        >"$WORK/batch.bad"
    expect_empty "batch $attempt: all 10 rejected trading_halted 1.1 s after the halt" \
        "$WORK/batch.bad"
    ic_state resume --global
    ids=$(paste -sd, "$WORK/batch.id")
    replicas=$(psql "$DATABASE_URL" -At -v ON_ERROR_STOP=1 -v ids="$ids" <<<"
        SELECT count(DISTINCT replica) FROM intent_history
        WHERE intent_id = ANY (string_to_array(:'ids', ','))") ||
        die "cannot read intent_history"
    say "        (batch $attempt was handled by $replicas replica(s))"
    ((replicas >= 2)) && break
    sleep 1.2
done
if ((replicas >= 2)); then ok "both replicas rejected intents of the batch"; else
    bad "both replicas handled a batch (3 batches reached one replica only)"
fi

say ""
say "[7] resumed: trading again"
sleep 1.2
send final --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1
expect_outcome "after the global resume bot $B fills" final fill

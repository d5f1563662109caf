#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_positions.sh -- positions by bot, by user and for the account,
# from the ledger, and the kill switch's "reducing" measured against them,
# through the whole stack of `compose/dev test` (2 workers, the simulator,
# Kafka, Redis, PostgreSQL).  A symbol of this run's own (added to the
# simulator's quotes) keeps the account's figures free of other tests':
#   [1] two bots of a user buy 7 and 3, the user buys 2: `intentctl
#       positions` shows 7, 3, the user's 12 and the account's 12;
#   [2] `reduce --bot B1`: a sell of 8 by B1 is refused trading_halted
#       though the account holds 12, a sell of 2 fills;
#   [3] two sells of 3 by B1 (holding 5), sent together: one fills, the
#       other is refused;
#   [4] `reduce --user U2`, whose two bots hold 4 each: a sell of 5 by each,
#       sent together (different keys: different lanes or replicas), never
#       both pass;
#   [5] a resting sell of 2 of B2 (holding 3) is an open sell: `positions`
#       shows it, and under `reduce --bot B2` a sell of 2 is refused, 1 fills;
#   [6] the ledger against the simulator: the gauge
#       order_worker_position_mismatch is 0, becomes 4 with a log line
#       naming both quantities once 4 shares are bought on the simulator
#       behind the worker's back, and 0 again once they are sold.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test positions
RESTARTED=0
RESTING=""

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    # Every scope this run set (ic_state, tests/lib.sh) active again.
    resume_touched "pos-$RUN-%"
    if [[ -n $RESTING ]]; then trade DELETE "/v2/orders/$RESTING" >/dev/null || true; fi
    if ((RESTARTED)); then
        say "-- restoring the workers' settings"
        restore_settings
        restore_workers
    fi
}
trap test_exit EXIT

# trade METHOD PATH [JSON]: the simulator's trading API with the keys, as a
# program placing orders by hand would call it; prints the body.
trade() {
    curl -fsS --max-time 10 -X "$1" -H "APCA-API-KEY-ID: $ALPACA_API_KEY_ID" \
        -H "APCA-API-SECRET-KEY: $ALPACA_API_SECRET_KEY" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$ALPACA_SIM_URL$2"
}

# held SCOPE-FLAGS...: the scope's position in $SYM as `intentctl positions
# --json` prints it ("0" when it has none), then its open sells.
held() {
    timeout 30 "$IC" positions "$@" --json >"$WORK/positions.json" 2>"$WORK/positions.err" || {
        sed 's/^/        | /' "$WORK/positions.err"
        die "intentctl positions $* failed"
    }
    jq -rs --arg s "$SYM" '([.[] | select(.symbol == $s)][0] // {qty: "0", open_sell: "0"})
        | "\(.qty) \(.open_sell)"' "$WORK/positions.json"
}

# mismatch: order_worker_position_mismatch{symbol="$SYM"} of the replica
# that compared last ("absent" when no replica has the series).
mismatch() {
    local pidf w v out=absent
    for pidf in "$STATE"/pids/worker-*.pid; do
        [[ -e $pidf ]] || continue
        w=$(basename "$pidf" .pid)
        v=$(curl -fsS --max-time 10 \
            "http://127.0.0.1:$((${DEV_ADMIN_BASE_PORT:?} + ${w#worker-}))/metrics" |
            awk -v k="order_worker_position_mismatch{symbol=\"$SYM\"}" '$1 == k { print $2 }') ||
            die "GET /metrics of $w failed"
        if [[ -n $v ]]; then out=$v; fi
    done
    printf '%s\n' "$out"
}

# wait_mismatch VALUE TIMEOUT-S: until the gauge says VALUE.
wait_mismatch() {
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        [[ $(mismatch) == "$1" ]] && return 0
        sleep 0.5
    done
    return 1
}

# one_passes NAME LINES-FILE WHAT: sends the file's two intents at once
# (their ids go to NAME-1.id and NAME-2.id); one must fill, the other be
# rejected trading_halted.
one_passes() {
    send_lines "$2"
    local i=0 id got
    while read -r id; do
        i=$((i + 1))
        printf '%s\n' "$id" >"$WORK/$1-$i.id"
    done < <(jq -r '.intent_id' "$2")
    got="$(outcome "$1-1" | cut -d: -f1),$(outcome "$1-2" | cut -d: -f1)"
    case $got in
        "fill,rejected trading_halted" | "rejected trading_halted,fill") ok "$3 ($got)" ;;
        *) bad "$3 (got: $got)" ;;
    esac
}

# A symbol of this run: P and the run's tag as letters (A..P).
SYM=P$(tr '0-9a-f' 'A-P' <<<"$RUN")
U="pos-$RUN-u"
B1="pos-$RUN-b1"
B2="pos-$RUN-b2"
U2="pos-$RUN-v"
B3="pos-$RUN-b3"
B4="pos-$RUN-b4"

say "== order-worker: positions from the ledger (run $RUN, symbol $SYM) =="
say "-- restarting the workers with high quotas and a comparison every 2 s"
save_settings BOT_TRADES_PER_MIN USER_TRADES_PER_MIN POSITION_CHECK_MS TRADING_REFRESH_MS
export BOT_TRADES_PER_MIN=100000 USER_TRADES_PER_MIN=100000 POSITION_CHECK_MS=2000
unset TRADING_REFRESH_MS
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}
# The workers the stack started took the comparisons' lease for the default
# 5 minutes (a restarted replica is a new holder and waits for it to run
# out): let these take it at once.
psql "${ADMIN_DATABASE_URL:-$DATABASE_URL}" -q -v ON_ERROR_STOP=1 \
    <<<"UPDATE leases SET until = now() WHERE name = 'position-check'" >/dev/null ||
    die "cannot end the position-check lease"
sim POST /_sim/market '{"open":true}' >/dev/null || die "the simulator does not answer"
sim POST /_sim/quotes "{\"$SYM\":{\"bid\":\"10.00\",\"ask\":\"10.01\"}}" >/dev/null ||
    die "the simulator would not quote $SYM"

say ""
say "[1] each bot's, the user's and the account's position"
send b1_buy --bot "$B1" --user "$U" --symbol "$SYM" --side buy --qty 7
send b2_buy --bot "$B2" --user "$U" --symbol "$SYM" --side buy --qty 3
send u_buy --user "$U" --symbol "$SYM" --side buy --qty 2
expect_outcome "bot $B1 buys 7: filled" b1_buy fill
expect_outcome "bot $B2 buys 3: filled" b2_buy fill
expect_outcome "user $U buys 2: filled" u_buy fill
expect_eq "positions --bot $B1: 7" "7 0" "$(held --bot "$B1")"
expect_eq "positions --bot $B2: 3" "3 0" "$(held --bot "$B2")"
expect_eq "positions --user $U: its bots' and its own, 12" "12 0" "$(held --user "$U")"
expect_eq "positions (the account): 12" "12 0" "$(held)"
expect_eq "the simulator's account holds 12" 12 \
    "$(trade GET "/v2/positions/$SYM" | jq -r '.qty')"
if timeout 30 "$IC" positions --bot "$B1" >"$WORK/plain.out" &&
    grep -Eq "^$SYM +7 +0 +0\$" "$WORK/plain.out"; then
    ok "the plain output has a row: $SYM 7 0 0"
else
    bad "the plain output has a row: $SYM 7 0 0" "$WORK/plain.out"
fi

say ""
say "[2] reduce --bot $B1: measured against $B1's own position"
ic_state reduce --bot "$B1"
sleep 1.2
send b1_over --bot "$B1" --user "$U" --symbol "$SYM" --side sell --qty 8
expect_outcome "a sell of 8 by $B1 (it holds 7, the account 12): rejected trading_halted" \
    b1_over "rejected trading_halted: *reducing*bot $B1*holds 7 $SYM*"
send b1_sell2 --bot "$B1" --user "$U" --symbol "$SYM" --side sell --qty 2
expect_outcome "a sell of 2 by $B1: filled" b1_sell2 fill
expect_eq "positions --bot $B1: 5" "5 0" "$(held --bot "$B1")"

say ""
say "[3] two sells of 3 by $B1 (holding 5), sent together: not both"
: >"$WORK/pair.jsonl"
gen_intents "$WORK/pair.jsonl" 2 --bot "$B1" --user "$U" --symbol "$SYM" --side sell --qty 3
one_passes pair "$WORK/pair.jsonl" "one filled, the other was rejected trading_halted"
expect_eq "positions --bot $B1: 2" "2 0" "$(held --bot "$B1")"

say ""
say "[4] reduce --user $U2: two of its bots' sells at once never both pass"
send b3_buy --bot "$B3" --user "$U2" --symbol "$SYM" --side buy --qty 4
send b4_buy --bot "$B4" --user "$U2" --symbol "$SYM" --side buy --qty 4
expect_outcome "bot $B3 of $U2 buys 4: filled" b3_buy fill
expect_outcome "bot $B4 of $U2 buys 4: filled" b4_buy fill
ic_state reduce --user "$U2"
sleep 1.2
: >"$WORK/race.jsonl"
gen_intents "$WORK/race.jsonl" 1 --bot "$B3" --user "$U2" --symbol "$SYM" --side sell --qty 5
gen_intents "$WORK/race.jsonl" 1 --bot "$B4" --user "$U2" --symbol "$SYM" --side sell --qty 5
one_passes race "$WORK/race.jsonl" "user $U2 holds 8: of two sells of 5, one filled, one was refused"
expect_eq "positions --user $U2: 3" "3 0" "$(held --user "$U2")"

say ""
say "[5] an open sell of $B2 counts"
send b2_rest --bot "$B2" --user "$U" --symbol "$SYM" --side sell --type limit --qty 2 \
    --limit 1000 --tif gtc
snapshot "$WORK/b2_rest.events" "$WORK/b2_rest.id"
for _ in $(seq 1 60); do
    jq -s -e 'any(.[]; .type == "accepted")' "$WORK/b2_rest.events" >/dev/null && break
    sleep 0.5
    snapshot "$WORK/b2_rest.events" "$WORK/b2_rest.id"
done
RESTING=$(jq -rs '[.[] | select(.type == "accepted")][0].order_id // ""' "$WORK/b2_rest.events")
[[ -n $RESTING ]] || die "the resting sell of $B2 was not accepted within 30 s"
expect_eq "positions --bot $B2: 3, open sells 2" "3 2" "$(held --bot "$B2")"
ic_state reduce --bot "$B2"
sleep 1.2
send b2_sell2 --bot "$B2" --user "$U" --symbol "$SYM" --side sell --qty 2
expect_outcome "a sell of 2 by $B2 (3 held, 2 being sold): rejected trading_halted" b2_sell2 \
    "rejected trading_halted: *reducing*bot $B2*open sells 2*"
send b2_sell1 --bot "$B2" --user "$U" --symbol "$SYM" --side sell --qty 1
expect_outcome "a sell of 1 by $B2: filled" b2_sell1 fill
trade DELETE "/v2/orders/$RESTING" >/dev/null || bad "DELETE the resting order of $B2"
expect_outcome "the resting sell of $B2 ends canceled" b2_rest canceled
RESTING=""
expect_eq "positions --bot $B2: 2, nothing open" "2 0" "$(held --bot "$B2")"

say ""
say "[6] the ledger against the simulator"
# 12 - 2 - 3 + 8 - 5 - 1 = 9
expect_eq "positions (the account): 9" "9 0" "$(held)"
if wait_mismatch 0 30; then ok "order_worker_position_mismatch{symbol=\"$SYM\"} is 0"; else
    bad "the mismatch of $SYM is 0 within 30 s (got: $(mismatch))"
fi
mark hand
trade POST /v2/orders "{\"symbol\":\"$SYM\",\"qty\":\"4\",\"side\":\"buy\",\"type\":\"market\",\"time_in_force\":\"day\"}" \
    >"$WORK/hand.json" || die "placing an order on the simulator by hand failed"
if wait_mismatch 4 30; then ok "after 4 shares bought by hand: the mismatch of $SYM is 4"; else
    bad "the mismatch of $SYM is 4 within 30 s (got: $(mismatch))"
fi
since hand >"$WORK/hand.log"
if grep -F "position_mismatch" "$WORK/hand.log" | grep -F "$SYM: Alpaca's account holds 13" |
    grep -F "ledger come to 9" | grep -Fc "placed by hand" >/dev/null; then
    ok "a position_mismatch line names $SYM, 13 at the broker, 9 in the ledger, and says why"
else
    grep -F "$SYM" "$WORK/hand.log" >"$WORK/hand.lines" || true
    bad "a position_mismatch line naming $SYM, 13 and 9" "$WORK/hand.lines"
fi
mark back
trade POST /v2/orders "{\"symbol\":\"$SYM\",\"qty\":\"4\",\"side\":\"sell\",\"type\":\"market\",\"time_in_force\":\"day\"}" \
    >"$WORK/back.json" || die "selling the 4 shares on the simulator by hand failed"
if wait_mismatch 0 30; then ok "sold again: the mismatch of $SYM is back to 0"; else
    bad "the mismatch of $SYM is 0 again within 30 s (got: $(mismatch))"
fi
if since back | grep -F "position_match" | grep -Fc "$SYM" >/dev/null; then
    ok "a position_match line says $SYM agrees again"
else
    bad "a position_match line for $SYM"
fi

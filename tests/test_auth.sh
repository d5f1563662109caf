#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_auth.sh -- who may trade, and hostile input, through the whole
# stack of `compose/dev test` (2 workers, Kafka, the simulator).
#
# The workers are restarted with INTENT_SIGNING=required.  Bots are made
# with `intentctl bot add`, and intents signed by `intentctl send
# --sign-key-file`.  Each case has one exact outcome:
#   signed by its bot, bound user ............... fill
#   unsigned, forged signature, another bot's
#   key, unbound user, key after its grace,
#   revoked key ................................. rejected unauthorized,
#                                                 "the intent is not authorized"
#                                                 and nothing more
#   rotated key, old one within its grace ....... fill (both keys)
#   the user topic, signed by USER_TOPIC_SIGNER . fill; unsigned: unauthorized
#   a filled intent replayed byte for byte ...... no second order, the same
#                                                 event ids again
#   a signed intent replayed after its expiry ... rejected expired
#   over 64 KiB, nesting beyond 2048, invalid
#   UTF-8, duplicate keys ....................... DLQ too_large / not_json
#   a quantity that overflows every number type . rejected validation_failed (qty)
#   a message key that is not UTF-8 text ........ DLQ bad_key
# and after every hostile message the same key's next intent is filled: the
# consumer keeps going.  The last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test auth
RESTARTED=0

# undo: what this test changed, put back on exit (test_exit, tests/lib.sh).
undo() {
    if ((RESTARTED)); then
        say "-- restoring the workers' settings"
        unset INTENT_SIGNING SIGNING_REFRESH_MS USER_TOPIC_SIGNER BOT_TRADES_PER_MIN \
            USER_TRADES_PER_MIN
        restore_workers
    fi
}
trap test_exit EXIT

B="au-$RUN-b" O="au-$RUN-o" BE="au-$RUN-backend" U="au-$RUN-u" X="au-$RUN-x"
NOT_AUTHORIZED="rejected unauthorized: the intent is not authorized"
SYM=AAPL

# bot intentctl-bot-args...: an operator's command that must succeed.
bot() {
    timeout 30 "$IC" bot "$@" >"$WORK/bot.out" 2>&1 || {
        sed 's/^/        | /' "$WORK/bot.out"
        die "intentctl bot $* failed"
    }
}

# Twice SIGNING_REFRESH_MS: every replica has read the change.
refreshed() { sleep 0.5; }

# order NAME KEY-FILE [flags...]: a market buy of 1 by bot B for user U,
# signed with KEY-FILE ("-" for none).
order() {
    local name=$1 key=$2
    shift 2
    local -a sign=(--no-sign)
    if [[ $key != - ]]; then sign=(--sign-key-file "$key"); fi
    send "$name" --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1 "${sign[@]}" "$@"
}

# rejection_clean NAME: the rejection says nothing beyond the reason: no
# errors, no broker answer, no retry hint.
rejection_clean() {
    jqe -c 'select(._topic == $rej) | select(.errors or .broker or .retry_after_ms)' \
        "$WORK/$1.events" >"$WORK/$1.leaky"
    expect_empty "$1: the rejection carries no detail" "$WORK/$1.leaky"
}

# raw_signed NAME KEY LINE-FILE: sends the file's one line unchecked to the
# bot topic with message key KEY, signed with B's current key.
raw_signed() {
    "$IC" send --raw --json --key "$2" --topic "$T_BOT" --sign-key-file "$WORK/key" \
        <"$3" >"$WORK/$1.sent" 2>"$WORK/send.err" || {
        sed 's/^/        | /' "$WORK/send.err"
        die "intentctl send --raw $1 failed"
    }
}

# dlq_reason NAME: the DLQ reason of the message raw_signed sent as NAME
# (waits up to 30 s; "none" if it never arrives).
dlq_reason() {
    local where reason=none
    where=$(jq -c '{topic, partition, offset}' "$WORK/$1.sent")
    for _ in $(seq 1 60); do
        "$IC" dlq list --json >"$WORK/dlq.json" 2>/dev/null || true
        reason=$(jq -r --argjson w "$where" \
            'select(.topic == $w.topic and .partition == $w.partition and .offset == $w.offset)
             | .reason' "$WORK/dlq.json" | head -n1)
        [[ -n $reason ]] && break
        reason=none
        sleep 0.5
    done
    printf '%s\n' "$reason"
}

# keeps_going WHAT: the next signed intent of bot B is filled.
keeps_going() {
    order "next-$1" "$WORK/key"
    expect_outcome "after $1: the next intent of the same key is filled" "next-$1" fill
}

say "== order-worker: signed intents and hostile input (run $RUN) =="
say "-- restarting the workers with INTENT_SIGNING=required, SIGNING_REFRESH_MS=200"
export INTENT_SIGNING=required SIGNING_REFRESH_MS=200 USER_TOPIC_SIGNER="$BE"
export BOT_TRADES_PER_MIN=100000 USER_TRADES_PER_MIN=100000
RESTARTED=1
timeout 180 "$DEV" --state "$STATE" workers-restart >"$WORK/restart.log" 2>&1 || {
    sed 's/^/        | /' "$WORK/restart.log"
    die "workers-restart failed"
}

say ""
say "[1] intentctl bot add: a key shown once, in a file only its owner reads"
bot add "$B" --user "$U" --key-file "$WORK/b1.key"
bot add "$O" --user "$U" --key-file "$WORK/o.key"
bot add "$BE" --user '*' --key-file "$WORK/be.key"
expect_eq "the key file is mode 600 and holds 64 hex digits" "600 1" \
    "$(stat -c %a "$WORK/b1.key") $(grep -cE '^[0-9a-f]{64}$' "$WORK/b1.key")"
if grep -qF "$(cat "$WORK/b1.key")" "$WORK/bot.out"; then
    bad "--key-file: the key is not printed"
else ok "--key-file: the key is not printed"; fi
bot list --json
expect_eq "bot list: one active key, bound to the user" "1 active $U" \
    "$(jq -r --arg b "$B" 'select(.bot_id == $b) | "\(.keys) \(.users)"' "$WORK/bot.out")"
if "$IC" bot add "$B" --key-file "$WORK/again.key" >"$WORK/again.out" 2>&1; then
    bad "adding an existing bot is refused"
else ok "adding an existing bot is refused"; fi
cp "$WORK/b1.key" "$WORK/key"
refreshed

say ""
say "[2] signed by its bot for a bound user: filled; anything else: unauthorized"
order good "$WORK/b1.key"
expect_outcome "signed with the bot's key: filled" good fill
order unsigned -
expect_outcome "unsigned: unauthorized" unsigned "$NOT_AUTHORIZED"
rejection_clean unsigned
order forged - --signature "v1=$(printf '0%.0s' $(seq 1 64))"
expect_outcome "a forged signature: unauthorized" forged "$NOT_AUTHORIZED"
order garbled - --signature "v1=not-hex"
expect_outcome "a malformed signature header: unauthorized" garbled "$NOT_AUTHORIZED"
order wrong_key "$WORK/o.key"
expect_outcome "signed with another bot's key: unauthorized" wrong_key "$NOT_AUTHORIZED"
rejection_clean wrong_key
send unbound --bot "$B" --user "$X" --symbol "$SYM" --side buy --qty 1 \
    --sign-key-file "$WORK/b1.key"
expect_outcome "for a user the bot is not bound to: unauthorized" unbound "$NOT_AUTHORIZED"
bot bind "$B" "$X"
refreshed
send bound --bot "$B" --user "$X" --symbol "$SYM" --side buy --qty 1 \
    --sign-key-file "$WORK/b1.key"
expect_outcome "after bot bind: filled" bound fill
expect_eq "the workers counted each refusal by why" "1 1 2 1" \
    "$(for w in no_signature bad_signature_format bad_signature user_not_bound; do
        worker_metric "order_worker_unauthorized_total{why=\"$w\"}"
    done | tr '\n' ' ' | sed 's/ $//')"

say ""
say "[3] the user topic: signed by USER_TOPIC_SIGNER, bound to every user"
send user_signed --user "$X" --symbol "$SYM" --side buy --qty 1 --sign-key-file "$WORK/be.key"
expect_outcome "a user intent signed by the backend: filled" user_signed fill
send user_unsigned --user "$X" --symbol "$SYM" --side buy --qty 1 --no-sign
expect_outcome "a user intent unsigned: unauthorized" user_unsigned "$NOT_AUTHORIZED"
send user_by_bot --user "$X" --symbol "$SYM" --side buy --qty 1 --sign-key-file "$WORK/b1.key"
expect_outcome "a user intent signed by a bot: unauthorized" user_by_bot "$NOT_AUTHORIZED"

say ""
say "[4] replays: never executed twice"
gen_intents "$WORK/replay.line" 1 --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1
before=$(sim_orders)
"$IC" send --stdin --json --sign-key-file "$WORK/b1.key" <"$WORK/replay.line" >"$WORK/replay.sent"
jq -r '.intent_id' "$WORK/replay.sent" >"$WORK/replay.id"
expect_outcome "the original: filled" replay fill
cp "$WORK/replay.events" "$WORK/replay.first"
"$IC" send --stdin --json --sign-key-file "$WORK/b1.key" <"$WORK/replay.line" >/dev/null
sleep 3
snapshot "$WORK/replay.events" "$WORK/replay.id"
expect_eq "replayed byte for byte: one order in all" "$((before + 1))" "$(sim_orders)"
expect_eq "replayed: its events again, with the same event ids" \
    "$(jq -r .event_id "$WORK/replay.first" | sort -u | tr '\n' ' ')" \
    "$(jq -r .event_id "$WORK/replay.events" | sort -u | tr '\n' ' ')"
# Captured off the wire and replayed once its expiry has passed.
gen_intents "$WORK/late.line" 1 --bot "$B" --user "$U" --symbol "$SYM" --side buy --qty 1 \
    --expires-in 1000
sleep 1.5
"$IC" send --stdin --json --sign-key-file "$WORK/b1.key" <"$WORK/late.line" \
    >"$WORK/late.sent" 2>/dev/null
jq -r '.intent_id' "$WORK/late.sent" >"$WORK/late.id"
expect_outcome "a signed intent replayed after its expiry: expired" late \
    "rejected expired: *"

say ""
say "[5] rotation: the old key lives out its grace, then stops"
rotated=$(date +%s%3N)
bot rotate "$B" --grace-ms 6000 --key-file "$WORK/b2.key"
refreshed
order old_in_grace "$WORK/b1.key"
expect_outcome "the old key within its grace: filled" old_in_grace fill
order new_key "$WORK/b2.key"
expect_outcome "the new key: filled" new_key fill
left=$((rotated + 6300 - $(date +%s%3N)))
((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
order old_after_grace "$WORK/b1.key"
expect_outcome "the old key after its grace: unauthorized" old_after_grace "$NOT_AUTHORIZED"
cp "$WORK/b2.key" "$WORK/key"

say ""
say "[6] hostile input from an authorized bot: an exact outcome each, and the consumer goes on"
head=$(jq -c . "$WORK/replay.line" | sed 's/}$//')
newid() { sed -E "s/\"intent_id\":\"[0-9a-f-]{36}\"/\"intent_id\":\"$(cat /proc/sys/kernel/random/uuid)\"/"; }
{ printf '%s,"meta":{"pad":"' "$head"; head -c 70000 /dev/zero | tr '\0' 'x'; printf '"}}\n'; } |
    newid >"$WORK/big.line"
raw_signed big "$B" "$WORK/big.line"
expect_eq "over 64 KiB: DLQ too_large" too_large "$(dlq_reason big)"
keeps_going big
{ printf '%s,"meta":{"n":' "$head"; head -c 3000 /dev/zero | tr '\0' '['
  head -c 3000 /dev/zero | tr '\0' ']'; printf '}}\n'; } | newid >"$WORK/deep.line"
raw_signed deep "$B" "$WORK/deep.line"
expect_eq "nested 3000 deep: DLQ not_json" not_json "$(dlq_reason deep)"
printf '%s,"meta":{"s":"\xff\xfe"}}\n' "$head" | newid >"$WORK/utf8.line"
raw_signed utf8 "$B" "$WORK/utf8.line"
expect_eq "invalid UTF-8: DLQ not_json" not_json "$(dlq_reason utf8)"
printf '%s,"side":"sell"}\n' "$head" | newid >"$WORK/dup.line"
raw_signed dup "$B" "$WORK/dup.line"
expect_eq "a duplicate key: DLQ not_json" not_json "$(dlq_reason dup)"
keeps_going dup
sed -E 's/"qty":"?1"?/"qty":1e400/' "$WORK/replay.line" | newid >"$WORK/huge.line"
raw_signed huge "$B" "$WORK/huge.line"
jq -r .intent_id "$WORK/huge.line" >"$WORK/huge.id"
expect_outcome "qty 1e400: rejected validation_failed" huge "rejected validation_failed: *"
expect_eq "... naming qty" qty \
    "$(jqe -r 'select(._topic == $rej) | [.errors[].field] | join(",")' "$WORK/huge.events")"
newid <"$WORK/replay.line" >"$WORK/badkey.line"
raw_signed badkey $'b\xff' "$WORK/badkey.line"
expect_eq "a message key that is not UTF-8: DLQ bad_key" bad_key "$(dlq_reason badkey)"
keeps_going badkey

say ""
say "[7] the Python bot library signs (orderbot.Bot(signing_key=...), or the environment)"
if INTENT_SIGNING_KEY_FILE="$WORK/key" timeout 120 /usr/bin/python3 - "$B" "$U" \
    >"$WORK/py.out" 2>&1 <<'PY'
import os
import sys
from decimal import Decimal
sys.path.insert(0, os.environ["ORDER_WORKER_ROOT"] + "/producers/python")
from orderbot import Bot
with Bot(bot_id=sys.argv[1], user_id=sys.argv[2]) as bot:
    iid = bot.submit("AAPL", "buy", qty=Decimal("1"))
    o = bot.wait([iid], timeout=60)[iid]
    print(o.status, o.reason or "-")
PY
then
    expect_eq "a bot of the library, signing with its key: filled" "fill -" "$(tail -n1 "$WORK/py.out")"
else
    bad "the Python bot ran" "$WORK/py.out"
fi

say ""
say "[8] revocation"
bot revoke "$B"
refreshed
order revoked "$WORK/b2.key"
expect_outcome "a revoked key: unauthorized" revoked "$NOT_AUTHORIZED"
bot list --json
expect_eq "bot list: both keys revoked" "1 revoked,2 revoked" \
    "$(jq -r --arg b "$B" 'select(.bot_id == $b) | .keys' "$WORK/bot.out")"
if grep -rqF -e "$(cat "$WORK/b1.key")" -e "$(cat "$WORK/b2.key")" "$STATE/logs"; then
    bad "no key appears in any log"
else ok "no key appears in any log"; fi

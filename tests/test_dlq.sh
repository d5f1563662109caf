#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_dlq.sh -- `intentctl dlq list` and `intentctl dlq replay`,
# through the whole stack of `compose/dev test` (2 workers, Kafka):
#   a message that is not JSON (and not UTF-8) and a JSON array are sent raw
#   and land on the DLQ; `dlq list --json` shows them with the reasons
#   not_json / not_object, the original topic, partition, offset, key and
#   bytes (value / value_b64); --reason filters; the text form has a line
#   per message;
#   `dlq replay --dry-run` sends nothing; `dlq replay --offset P:O` puts
#   the original bytes and key back on the intent topic with the header
#   x-dlq-replayed-from, and the worker, still unable to read them, sends
#   them to the DLQ a second time with x-dlq-offset the replayed copy's
#   offset: the round trip;
#   nothing matched, an unknown offset and a missing selection fail.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test dlq

trap test_exit EXIT

NJ_KEY="k-$RUN-nj" ARR_KEY="k-$RUN-arr"

# raw NAME KEY FILE: sends FILE's one line unchecked to the bot topic; the
# delivery report (partition, offset) goes to $WORK/NAME.sent.
raw() {
    "$IC" send --raw --json --key "$2" --topic "$T_BOT" <"$3" >"$WORK/$1.sent" 2>"$WORK/send.err" || {
        sed 's/^/        | /' "$WORK/send.err"
        die "intentctl send --raw --key $2 failed"
    }
}

# dlq_list OUT [ARGS...]: `dlq list --json` to OUT; a failure aborts.
dlq_list() {
    local out=$1
    shift
    "$IC" dlq list --json --timeout 60000 "$@" >"$out" 2>"$WORK/list.err" || {
        sed 's/^/        | /' "$WORK/list.err"
        die "intentctl dlq list $* failed"
    }
}

# mine FILE KEY: the DLQ entries of FILE with that key.
mine() { jq -c --arg k "$2" 'select(.key == $k)' "$1"; }

say "== order-worker: the DLQ, listed and replayed (run $RUN) =="

say ""
say "[1] unreadable messages land on the DLQ and dlq list shows them"
# Not JSON, and not UTF-8 either (so the JSON form must carry base64).
printf 'dlq %s: not JSON \xff\xfe\x01 tail\n' "$RUN" >"$WORK/nj.line"
printf '[1,2,"dlq %s"]\n' "$RUN" >"$WORK/arr.line"
raw nj "$NJ_KEY" "$WORK/nj.line"
raw arr "$ARR_KEY" "$WORK/arr.line"
printf '%s\n' "$NJ_KEY" "$ARR_KEY" >"$WORK/keys"
"$IC" tail --topics "$T_DLQ" --from-beginning --json --intents "$WORK/keys" \
    --until-terminal all --timeout 60000 >/dev/null 2>"$WORK/wait.err" || {
    sed 's/^/        | /' "$WORK/wait.err"
    die "both messages on $T_DLQ within 60 s"
}
ok "both messages reached $T_DLQ"

dlq_list "$WORK/all.json"
mine "$WORK/all.json" "$NJ_KEY" >"$WORK/nj.dlq"
mine "$WORK/all.json" "$ARR_KEY" >"$WORK/arr.dlq"
expect_eq "not JSON: one DLQ entry with its key" 1 "$(wc -l <"$WORK/nj.dlq")"
expect_eq "JSON array: one DLQ entry with its key" 1 "$(wc -l <"$WORK/arr.dlq")"
for n in nj arr; do
    want_reason=not_json
    [[ $n == arr ]] && want_reason=not_object
    expect_eq "$n: reason $want_reason, from $T_BOT at the offset it was written to" \
        "$(jq -r --arg r "$want_reason" '"\($r) \(.topic) \(.partition) \(.offset)"' "$WORK/$n.sent")" \
        "$(jq -r '"\(.reason) \(.topic) \(.partition) \(.offset)"' "$WORK/$n.dlq")"
    if jq -e '(.detail | type) == "string" and (.detail | length) > 0 and (.dlq_topic == $t)
              and (.dlq_partition | type) == "number" and (.dlq_offset | type) == "number"' \
        --arg t "$T_DLQ" "$WORK/$n.dlq" >/dev/null; then
        ok "$n: the entry has a detail and its own DLQ partition/offset"
    else
        bad "$n: the entry has a detail and its own DLQ partition/offset" "$WORK/$n.dlq"
    fi
done
expect_eq "JSON array: the value as a string, byte for byte" "$(head -c -1 "$WORK/arr.line")" \
    "$(jq -r '.value' "$WORK/arr.dlq")"
head -c -1 "$WORK/nj.line" >"$WORK/nj.bytes"
jq -r '.value_b64 // empty' "$WORK/nj.dlq" | base64 -d >"$WORK/nj.got" 2>/dev/null || true
if cmp -s "$WORK/nj.bytes" "$WORK/nj.got" && jq -e 'has("value") | not' "$WORK/nj.dlq" >/dev/null; then
    ok "not UTF-8: the value in value_b64, byte for byte"
else
    bad "not UTF-8: the value in value_b64, byte for byte" "$WORK/nj.dlq"
fi

dlq_list "$WORK/obj.json" --reason not_object
expect_eq "--reason not_object: only not_object entries" not_object \
    "$(jq -r '.reason' "$WORK/obj.json" | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--reason not_object: the array is there, the not-JSON message is not" "1 0" \
    "$(mine "$WORK/obj.json" "$ARR_KEY" | wc -l) $(mine "$WORK/obj.json" "$NJ_KEY" | wc -l)"
"$IC" dlq list --timeout 60000 >"$WORK/all.txt" 2>"$WORK/list.err" || die "intentctl dlq list failed"
nj_dlq_p=$(jq -r '.dlq_partition' "$WORK/nj.dlq")
nj_dlq_o=$(jq -r '.dlq_offset' "$WORK/nj.dlq")
nj_p=$(jq -r '.partition' "$WORK/nj.sent")
nj_o=$(jq -r '.offset' "$WORK/nj.sent")
line=$(grep -F -- "$NJ_KEY" "$WORK/all.txt" || true)
if [[ $line == "$nj_dlq_p/$nj_dlq_o "*" not_json "*"${T_BOT}[$nj_p]@$nj_o "*"'dlq $RUN: not JSON \\xff\\xfe\\x01 tail'"* ]]; then
    ok "the text form: DLQ position, reason, origin, key and escaped value on one line"
else
    printf '%s\n' "$line" >"$WORK/line.txt"
    bad "the text form: DLQ position, reason, origin, key and escaped value on one line" "$WORK/line.txt"
fi

say ""
say "[2] dlq replay --dry-run sends nothing"
"$IC" dlq replay --offset "$nj_dlq_p:$nj_dlq_o" --dry-run --json --timeout 60000 \
    >"$WORK/dry.json" 2>"$WORK/dry.err" || bad "dlq replay --dry-run exits 0" "$WORK/dry.err"
expect_eq "--dry-run: reports the message it would send, to $T_BOT" \
    "dry_run $T_DLQ/$nj_dlq_p/$nj_dlq_o $T_BOT" \
    "$(jq -r '"\(.status) \(.from) \(.topic)"' "$WORK/dry.json")"

say ""
say "[3] dlq replay --offset: the not-JSON message goes round again"
"$IC" dlq replay --offset "$nj_dlq_p:$nj_dlq_o" --json --timeout 60000 \
    >"$WORK/replay.json" 2>"$WORK/replay.err" || {
    sed 's/^/        | /' "$WORK/replay.err"
    die "dlq replay --offset $nj_dlq_p:$nj_dlq_o failed"
}
expect_eq "replay: one message sent to $T_BOT" "sent $T_BOT" \
    "$(jq -r '"\(.status) \(.topic)"' "$WORK/replay.json")"
new_p=$(jq -r '.partition' "$WORK/replay.json")
new_o=$(jq -r '.offset' "$WORK/replay.json")
[[ $new_p =~ ^[0-9]+$ && $new_o =~ ^[0-9]+$ ]] || die "replay reported no partition/offset"
expect_eq "the same key, so the same partition as the original" "$nj_p" "$new_p"

"$IC" tail --topics "$T_BOT" --from-beginning --exit-at-end --json --timeout 60000 \
    >"$WORK/bot.json" 2>/dev/null || die "cannot read $T_BOT to its end"
jq -c --argjson p "$new_p" --argjson o "$new_o" 'select(._partition == $p and ._offset == $o)' \
    "$WORK/bot.json" >"$WORK/copy.json"
expect_eq "the copy on $T_BOT: the original key and the header x-dlq-replayed-from" \
    "$NJ_KEY $T_DLQ/$nj_dlq_p/$nj_dlq_o" \
    "$(jq -r '"\(._key) \(._headers["x-dlq-replayed-from"])"' "$WORK/copy.json")"

deadline=$((SECONDS + 60))
: >"$WORK/again.dlq"
while ((SECONDS < deadline)); do
    dlq_list "$WORK/all2.json" --reason not_json
    mine "$WORK/all2.json" "$NJ_KEY" >"$WORK/nj2.dlq"
    jq -c --argjson p "$new_p" --argjson o "$new_o" 'select(.partition == $p and .offset == $o)' \
        "$WORK/nj2.dlq" >"$WORK/again.dlq"
    [[ -s $WORK/again.dlq ]] && break
    sleep 1
done
if [[ -s $WORK/again.dlq ]]; then
    ok "back on the DLQ with x-dlq-offset $new_o (the replayed copy's)"
else
    bad "back on the DLQ with x-dlq-offset $new_o within 60 s" "$WORK/nj2.dlq"
fi
expect_eq "the second DLQ entry: not_json from $T_BOT, the same bytes" \
    "not_json $T_BOT $(jq -r '.value_b64' "$WORK/nj.dlq")" \
    "$(jq -r '"\(.reason) \(.topic) \(.value_b64)"' "$WORK/again.dlq")"
# The dry run came before the replay on the same partition: had it sent
# anything, the worker would have DLQ'd it first.
expect_eq "exactly two DLQ entries for the key: the dry run sent nothing" 2 \
    "$(wc -l <"$WORK/nj2.dlq")"

say ""
say "[4] nothing to replay"
rc=0
"$IC" dlq replay --reason "no-such-reason-$RUN" --timeout 60000 >/dev/null 2>"$WORK/none.err" || rc=$?
expect_eq "--reason matching nothing: exit 1" 1 "$rc"
rc=0
"$IC" dlq replay --offset "$nj_dlq_p:999999999" --json --timeout 60000 >"$WORK/nf.json" 2>/dev/null || rc=$?
expect_eq "an --offset not on the DLQ: exit 1, reported not_found" "1 not_found" \
    "$rc $(jq -r '.status' "$WORK/nf.json" 2>/dev/null)"
rc=0
"$IC" dlq replay >/dev/null 2>&1 || rc=$?
expect_eq "no selection: usage error (exit 2)" 2 "$rc"
if "$IC" help dlq | grep -c 'x-dlq-replayed-from' >/dev/null && "$IC" --help | grep -c 'dlq replay' >/dev/null; then
    ok "intentctl help dlq and intentctl --help describe the commands"
else
    bad "intentctl help dlq and intentctl --help describe the commands"
fi

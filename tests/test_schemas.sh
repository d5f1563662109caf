#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_schemas.sh -- the machine-readable contract of schemas/, and what
# the worker really publishes, checked with tools/schema-check (the official
# AsyncAPI parser; ajv for JSON Schema 2020-12), against the stack of
# `compose/dev test`:
#   [1] schemas/asyncapi.yaml parses and validates, its payload $refs compile,
#       and broken copies (a $ref to a missing $def, a removed required field,
#       an example that breaks its payload schema) are reported invalid;
#   [2] every schemas/*.json is a valid JSON Schema 2020-12 (strict), and a
#       schema with a misspelt keyword is not;
#   [3] the samples of producers/samples/, filled in as the demo does, against
#       the bot or user intent: 07-validation-failed and 08-not-json are
#       deliberately invalid and must be INVALID, the rest valid; the schema's
#       verdict matches the worker's own validator's (intentctl send --dry-run);
#   [4] a few samples are sent (fills by qty, by notional and of a user, the
#       rejections expired and validation_failed, a DLQ message); once they have
#       their terminal outcomes, EVERY event on orders.fills and
#       orders.rejections from the beginning (under the full suite: those of
#       all the earlier tests) validates against the schema its "schema" field
#       names, and every DLQ message's headers against the AsyncAPI document's;
#       the events of ours are keyed by the intent's key;
#   [5] tampered events (a numeric qty, no event_id, an unknown reason, a
#       DLQ message without x-dlq-reason) are reported invalid.
# Registered after the other tests of its stack (tests/CMakeLists.txt), so
# that it sees the events of all of them; once per stack, [1] and [2] only
# with the first (argument `events`: [3] to [5]).  Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test schemas
SC="$ROOT/tools/schema-check/schema-check.mjs"
SCHEMAS="$ROOT/schemas"
SAMPLES="$ROOT/producers/samples"

trap test_exit EXIT

command -v node >/dev/null || die "node is missing (compose/dev install)"
[[ -d $ROOT/tools/schema-check/node_modules/@asyncapi/parser ]] ||
    die "tools/schema-check/node_modules is missing: run compose/dev build (it runs npm ci)"
[[ -x $IC ]] || die "$IC is missing: compose/dev build"

# sc NAME ARGS...: runs schema-check; output in $WORK/NAME.out, exit code in $SC_RC.
SC_RC=0
sc() {
    local name=$1
    shift
    SC_RC=0
    timeout 120 node "$SC" "$@" >"$WORK/$name.out" 2>&1 || SC_RC=$?
}
# expect_invalid WHAT NAME PATTERN: the last sc run said INVALID (exit 1),
# with an error line matching PATTERN (grep -E).
expect_invalid() {
    if ((SC_RC == 1)) && grep -q '^INVALID\|^  error\|INVALID ' "$WORK/$2.out" &&
        grep -Eq -- "$3" "$WORK/$2.out"; then
        ok "$1"
    else
        printf '(exit %s; wanted 1 and a line matching %s)\n' "$SC_RC" "$3" >>"$WORK/$2.out"
        bad "$1" "$WORK/$2.out"
    fi
}
expect_valid() {
    if ((SC_RC == 0)); then ok "$1"; else
        printf '(exit %s)\n' "$SC_RC" >>"$WORK/$2.out"
        bad "$1" "$WORK/$2.out"
    fi
}

say "== order-worker: schemas/ and the events against them (run $RUN) =="

# `test_schemas.sh events` (the second stack's run) leaves out [1] and [2],
# which read only the repository: the first stack's run checks them.
if [[ ${1:-} != events ]]; then
say ""
say "[1] schemas/asyncapi.yaml"
sc asyncapi asyncapi "$SCHEMAS/asyncapi.yaml"
expect_valid "asyncapi.yaml parses and validates (official parser), no error diagnostics" asyncapi
sed 's/^/        /' "$WORK/asyncapi.out"
: >"$WORK/missing"
for want in "$T_BOT" "${TOPIC_INTENTS_USER:-orders.intents.user}" "$T_FILLS" "$T_REJ" "$T_DLQ"; do
    grep -q "channels .*$want" "$WORK/asyncapi.out" || echo "no channel $want" >>"$WORK/missing"
done
expect_empty "the five topics are channels" "$WORK/missing"
expect_eq "four payloads \$ref a JSON Schema file that compiles" 4 \
    "$(grep -c '^  payload .* compiles' "$WORK/asyncapi.out" || true)"
# The header names and DLQ reasons as the code spells them.
for h in x-dlq-reason x-dlq-topic x-dlq-partition x-dlq-offset x-dlq-detail x-dlq-replayed-from; do
    grep -q -- "\"$h\"" "$ROOT/worker/publish.c" "$ROOT"/producers/intentctl/*.c ||
        echo "$h: not in worker/publish.c or producers/intentctl/" >>"$WORK/missing"
    grep -q -- "^ *$h:" "$SCHEMAS/asyncapi.yaml" || echo "$h: not in asyncapi.yaml" >>"$WORK/missing"
done
grep -oh 'dead_letter(p, j, "[a-z_]*"\|set_unreadable(v, "[a-z_]*"' "$ROOT"/worker/*.c |
    sed 's/.*"\(.*\)"/\1/' | sort -u >"$WORK/reasons.code"
[[ -s $WORK/reasons.code ]] || echo "no DLQ reason found in worker/*.c" >>"$WORK/missing"
while read -r r; do
    grep -q "enum: \[.*\b$r\b" "$SCHEMAS/asyncapi.yaml" ||
        echo "DLQ reason $r (worker/) not in the x-dlq-reason enum" >>"$WORK/missing"
done <"$WORK/reasons.code"
expect_empty "asyncapi.yaml names every x-dlq-* header and DLQ reason of the code ($(paste -sd' ' "$WORK/reasons.code"))" \
    "$WORK/missing"

# Broken copies, next to copies of the JSON Schemas (relative $refs).
mkdir -p "$WORK/broken"
cp "$SCHEMAS"/*.json "$WORK/broken/"
sed 's|intent.schema.json#/$defs/bot_intent|intent.schema.json#/$defs/no_such_intent|' \
    "$SCHEMAS/asyncapi.yaml" >"$WORK/broken/bad-ref.yaml"
cmp -s "$SCHEMAS/asyncapi.yaml" "$WORK/broken/bad-ref.yaml" && die "could not break the \$ref"
sc bad-ref asyncapi "$WORK/broken/bad-ref.yaml"
expect_invalid "a copy whose payload \$ref names a missing \$def is INVALID" bad-ref 'no_such_intent'
# info.version is required by AsyncAPI 3.0.
grep -q '^  version: ' "$SCHEMAS/asyncapi.yaml" || die "asyncapi.yaml has no info.version line"
sed '/^  version: /d' "$SCHEMAS/asyncapi.yaml" >"$WORK/broken/no-version.yaml"
sc no-version asyncapi "$WORK/broken/no-version.yaml"
expect_invalid "a copy without the required info.version is INVALID" no-version '"version"'
sed "s/^            qty: '2'$/            qty: '-2'/" "$SCHEMAS/asyncapi.yaml" >"$WORK/broken/bad-example.yaml"
cmp -s "$SCHEMAS/asyncapi.yaml" "$WORK/broken/bad-example.yaml" && die "could not break the example"
sc bad-example asyncapi "$WORK/broken/bad-example.yaml"
expect_invalid "a copy whose example breaks its payload schema (qty -2) is INVALID" bad-example \
    'example.*/qty'

say ""
say "[2] the JSON Schemas are valid draft 2020-12"
mapfile -t schema_files < <(find "$SCHEMAS" -maxdepth 1 -name '*.json' | sort)
((${#schema_files[@]} >= 3)) || die "fewer than 3 JSON Schema files in $SCHEMAS"
sc compile compile "${schema_files[@]}"
expect_valid "every schemas/*.json compiles with ajv (2020-12, strict)" compile
expect_eq "one 'ok' per schema file (${#schema_files[@]})" "${#schema_files[@]}" \
    "$(grep -c '^ok ' "$WORK/compile.out" || true)"
sed 's/^/        /' "$WORK/compile.out"
jq '.allOf[0].then.requird = .allOf[0].then.required | del(.allOf[0].then.required)' \
    "$SCHEMAS/order-fill.schema.json" >"$WORK/broken/typo.schema.json"
sc typo compile "$WORK/broken/typo.schema.json"
expect_invalid "a schema with a misspelt keyword (requird) is INVALID" typo 'requird'
jq '.properties.qty = {"type": "decimal"}' "$SCHEMAS/order-fill.schema.json" \
    >"$WORK/broken/badtype.schema.json"
sc badtype compile "$WORK/broken/badtype.schema.json"
expect_invalid "a schema with an unknown type (decimal) is INVALID" badtype 'type'

fi

say ""
say "[3] the samples of producers/samples/"
NOW_TS=$(NOW)
OLD_TS=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.%3NZ)
# fill TEMPLATE NAME: the template with its placeholders filled, as the demo
# does (producers/demo.sh), one JSON line on stdout.
fill() {
    jq -c --arg id "$(cat /proc/sys/kernel/random/uuid)" --arg bot "schema-$RUN-$2" \
        --arg user "schema-$RUN-user" --arg now "$NOW_TS" --arg old "$OLD_TS" '
        walk(if . == "@INTENT_ID" then $id
             elif . == "@BOT_ID" then $bot
             elif . == "@USER_ID" then $user
             elif . == "@NOW" then $now
             elif . == "@FIVE_MIN_AGO" then $old
             elif . == "@MARKETABLE_LIMIT" then "1000.00"
             elif . == "@RESTING_LIMIT" then "1.00"
             else . end)' "$1"
}
# Deliberately invalid samples: what the schema must say about them.
declare -A INVALID_WHY=(
    [07-validation-failed]='/symbol must match pattern'
    [08-not-json]='not a JSON object'
)
n_valid=0 n_invalid=0
for f in "$SAMPLES"/*; do
    base=$(basename "$f")
    name=${base%.*}
    if [[ $f == *.json ]]; then fill "$f" "$name" >"$WORK/$name.json"; else cp "$f" "$WORK/$name.json"; fi
    as=bot
    if [[ $(jq -r 'if type == "object" and has("bot_id") then "bot" else "user" end' \
        "$WORK/$name.json" 2>/dev/null) == user ]]; then as=user; fi
    sc "s-$name" intents --as "$as" "$WORK/$name.json"
    # The worker's own validator (what intentctl send checks before sending).
    worker=valid
    if [[ $f == *.json ]]; then
        "$IC" send --stdin --dry-run --json <"$WORK/$name.json" >"$WORK/dry-$name.out" 2>&1 || worker=invalid
    else
        worker=invalid # not JSON: the DLQ's (intentctl send --stdin refuses it too)
    fi
    if [[ -n ${INVALID_WHY[$name]:-} ]]; then
        expect_invalid "$base: deliberately invalid, and INVALID against ${as}_intent" "s-$name" \
            "${INVALID_WHY[$name]}"
        if [[ $name == 07-* ]]; then
            if grep -q '^    /qty ' "$WORK/s-$name.out"; then ok "$base: its negative qty is reported too"
            else bad "$base: its negative qty is reported too" "$WORK/s-$name.out"; fi
        fi
        n_invalid=$((n_invalid + 1))
        expect_eq "$base: the worker's validator refuses it too" invalid "$worker"
    else
        expect_valid "$base: valid against ${as}_intent" "s-$name"
        n_valid=$((n_valid + 1))
        expect_eq "$base: the worker's validator accepts it too" valid "$worker"
    fi
done
say "        samples: $n_valid valid, $n_invalid deliberately invalid (07-validation-failed, 08-not-json)"
((n_valid >= 8)) || bad "at least 8 valid samples (found $n_valid)"
# The two definitions differ where they should: bot_id.
sc bot-as-user intents --as user "$WORK/01-market-qty.json"
expect_invalid "a bot sample is INVALID as a user intent (bot_id present)" bot-as-user 'must NOT be valid'
sc user-as-bot intents --as bot "$WORK/04-user-market.json"
expect_invalid "the user sample is INVALID as a bot intent (no bot_id)" user-as-bot "bot_id"

say ""
say "[4] every event on $T_FILLS and $T_REJ, from the beginning"
# A few samples of our own, so that the check is never vacuous: fills (by
# qty, by notional, a user's), the rejections expired and validation_failed,
# and a message for the DLQ.  Filled again with the time of sending: the
# checks of [3] can take a minute on a loaded machine, and a created_at that
# old would expire before the worker sees it.
NOW_TS=$(NOW)
OLD_TS=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.%3NZ)
for s in 01-market-qty 02-market-notional 04-user-market 06-expired 07-validation-failed; do
    fill "$SAMPLES/$s.json" "$s" >"$WORK/$s.json"
done
cat "$WORK/01-market-qty.json" "$WORK/02-market-notional.json" "$WORK/04-user-market.json" \
    "$WORK/06-expired.json" >"$WORK/send.jsonl"
send_lines "$WORK/send.jsonl" "$WORK/sent.json"
expect_eq "4 samples sent" 4 "$(jq -r 'select(.status == "sent") | .intent_id' "$WORK/sent.json" | wc -l)"
DLQ_KEY="schema-$RUN-08-not-json"
for raw in 07-validation-failed:"schema-$RUN-07-validation-failed" 08-not-json:"$DLQ_KEY"; do
    "$IC" send --raw --json --key "${raw#*:}" --topic "$T_BOT" <"$WORK/${raw%%:*}.json" \
        >"$WORK/raw.sent" 2>"$WORK/send.err" || {
        sed 's/^/        | /' "$WORK/send.err"
        die "intentctl send --raw ${raw%%:*} failed"
    }
done
for s in 01-market-qty 02-market-notional 04-user-market 06-expired 07-validation-failed; do
    jq -r '.intent_id' "$WORK/$s.json"
done >"$WORK/ids"
printf '%s\n' "$DLQ_KEY" >>"$WORK/ids"
wait_terminal "$WORK/ids" 120000 || die "terminal outcomes for the 6 messages within 120 s"
ok "the 6 messages have their terminal outcomes"

snapshot "$WORK/all.jsonl"
sc events events --asyncapi "$SCHEMAS/asyncapi.yaml" "$WORK/all.jsonl"
summary=$(grep '^checked events:' "$WORK/events.out" || true)
say "        $(wc -l <"$WORK/all.jsonl") messages on the result topics; $summary"
if ((SC_RC == 0)); then
    ok "every event validates against its schema, every DLQ message's headers against asyncapi.yaml"
else
    grep -c '^INVALID' "$WORK/events.out" >"$WORK/n-invalid" || true
    say "        $(cat "$WORK/n-invalid") invalid; the first ones:"
    bad "every event validates against its schema, every DLQ message's headers against asyncapi.yaml" \
        "$WORK/events.out"
fi
n_fill=$(sed -n 's/.*order-fill\/v1=\([0-9]*\).*/\1/p' <<<"$summary")
n_rej=$(sed -n 's/.*order-rejection\/v1=\([0-9]*\).*/\1/p' <<<"$summary")
n_dlq=$(sed -n 's/.*dead-letter=\([0-9]*\).*/\1/p' <<<"$summary")
if [[ ${n_fill:-0} -gt 0 && ${n_rej:-0} -gt 0 && ${n_dlq:-0} -gt 0 ]]; then
    ok "validated $n_fill order-fill/v1, $n_rej order-rejection/v1 events, $n_dlq DLQ messages (all > 0)"
else
    bad "events of each kind were validated (order-fill/v1 ${n_fill:-?}, order-rejection/v1 ${n_rej:-?}, dead-letter ${n_dlq:-?})" \
        "$WORK/events.out"
fi
# Ours among them, as the samples say, keyed by the intent's key.
jqe -r --slurpfile ids <(jq -R . "$WORK/ids") '
    select((.intent_id // ._key) as $i | any($ids[]; . == $i))
    | if ._topic == $dlq then "\(._key) dlq \(._headers["x-dlq-reason"])"
      elif ._topic == $rej then "\(.intent_id) \(.reason) key=\(._key == (.bot_id // .user_id))"
      else "\(.intent_id) \(.type) key=\(._key == (.bot_id // .user_id)) \(if .qty then "qty" else "notional" end)"
      end' "$WORK/all.jsonl" | grep -v ' accepted \| partial_fill ' | sort -u >"$WORK/ours.got"
{
    printf '%s fill key=true qty\n' "$(jq -r .intent_id "$WORK/01-market-qty.json")"
    printf '%s fill key=true notional\n' "$(jq -r .intent_id "$WORK/02-market-notional.json")"
    printf '%s fill key=true qty\n' "$(jq -r .intent_id "$WORK/04-user-market.json")"
    printf '%s expired key=true\n' "$(jq -r .intent_id "$WORK/06-expired.json")"
    printf '%s validation_failed key=true\n' "$(jq -r .intent_id "$WORK/07-validation-failed.json")"
    printf '%s dlq not_json\n' "$DLQ_KEY"
} | sort >"$WORK/ours.want"
expect_same_lines "our samples' terminal events: the expected outcome, keyed by bot_id/user_id" \
    "$WORK/ours.want" "$WORK/ours.got"

say ""
say "[5] tampered events are reported invalid"
# first(...): jq stops at the first match (a `| head -n1` would kill it
# with SIGPIPE on a long topic, and pipefail would end the test).
jqe -c -n 'first(inputs | select(._topic == $fills and .type == "fill" and .qty != null))' "$WORK/all.jsonl" >"$WORK/fill.json"
jqe -c -n 'first(inputs | select(._topic == $rej))' "$WORK/all.jsonl" >"$WORK/rej.json"
jqe -c -n 'first(inputs | select(._topic == $dlq))' "$WORK/all.jsonl" >"$WORK/dlq.json"
[[ -s $WORK/fill.json && -s $WORK/rej.json && -s $WORK/dlq.json ]] ||
    die "no fill, rejection or DLQ message to tamper with"
# tamper NAME FILE JQ PATTERN WHAT
tamper() {
    jqe -c "$3" "$2" >"$WORK/t-$1.json"
    sc "t-$1" events --asyncapi "$SCHEMAS/asyncapi.yaml" "$WORK/t-$1.json"
    expect_invalid "$5" "t-$1" "$4"
}
tamper numqty "$WORK/fill.json" '.qty = (.qty | tonumber)' '/qty must be string' \
    "a fill whose qty is a JSON number is INVALID"
tamper noid "$WORK/fill.json" 'del(.event_id)' "required property 'event_id'" \
    "a fill without event_id is INVALID"
tamper badid "$WORK/fill.json" '.event_id = "\(.intent_id):fill"' '/event_id must match pattern' \
    "a fill whose event_id lacks its number is INVALID"
tamper reason "$WORK/rej.json" '.reason = "bored"' '/reason must be equal to one of' \
    "a rejection with an unknown reason is INVALID"
tamper topic "$WORK/rej.json" '._topic = $fills' 'order-rejection/v1 event on' \
    "a rejection on $T_FILLS is INVALID"
tamper dlqhdr "$WORK/dlq.json" 'del(._headers["x-dlq-reason"])' "required property 'x-dlq-reason'" \
    "a DLQ message without x-dlq-reason is INVALID"
# And the untampered ones pass alone (the failures above are the tampering's).
cat "$WORK/fill.json" "$WORK/rej.json" "$WORK/dlq.json" >"$WORK/orig.jsonl"
sc orig events --asyncapi "$SCHEMAS/asyncapi.yaml" "$WORK/orig.jsonl"
expect_valid "the same three messages untampered are valid" orig

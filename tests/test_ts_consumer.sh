#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_ts_consumer.sh -- the backend's TypeScript consumer
# (producers/typescript) through the whole stack of `compose/dev test`:
#   the committed generated types equal a fresh generation from schemas/, and a
#   changed schema is detected as drift; the package type-checks in strict mode;
#   intents that fill (qty and notional), one rejected as expired and one
#   rejected as validation_failed (sent raw) are sent with a per-run bot/user;
#   results-watch (ResultConsumer) sees every one reach its terminal outcome and
#   exits 0; the events it printed, and the outcomes it reports, equal what
#   `intentctl tail --from-beginning --exit-at-end --json` shows for those ids;
#   a consumer group resumes after its committed offsets (nothing read twice);
#   on a scratch topic, a duplicated event is handed over once and four
#   malformed or foreign messages are skipped with a reason, not crashed on;
#   an id that never ends makes it time out non-zero; SIGTERM stops it cleanly
#   with a summary; cancel requests (intentctl send --cancel): a resting order's
#   canceled event names its request (cancel_intent_id, requested) and ends the
#   listed request too, a cancel of an unknown intent ends rejected:
#   not_cancelable, and the cancel fields' types and the producer's input types
#   compile (test/*.check.ts, with misspellings and wrong inputs refused); the
#   package's node tests (guard units, the producer's builders, verdicts,
#   signature and outcome waits, redelivery of a
#   failed callback, commits, stop() committing the message in hand, a consumer
#   killed inside a callback leaving it for the group) pass against the broker.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test ts
TS="$ROOT/producers/typescript"
RW="$TS/dist/bin/results-watch.js"
WATCH_PID=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $WATCH_PID ]]; then kill "$WATCH_PID" 2>/dev/null; fi
    if ((rc != 0)); then FAILED=$((FAILED + 1)); fi
    finish
}
trap cleanup EXIT

command -v node >/dev/null || die "node is not installed"
[[ -x $RW && -d $TS/node_modules ]] || die "producers/typescript is not built (compose/dev build runs npm ci and the build)"

# rwatch OUT RC-VAR ARGS...: results-watch with ARGS, stdout to OUT, stderr to
# OUT.err, bounded by `timeout`; its exit status into RC-VAR.
rwatch() {
    local out=$1 var=$2 status=0
    shift 2
    timeout 200 node "$RW" "$@" >"$out" 2>"$out.err" || status=$?
    printf -v "$var" '%s' "$status"
}
summary() { tail -n 1 "$1" | jq -c '.summary'; }

rc=0
say "== generated types and strict type-check"
if (cd "$TS" && node scripts/generate.mjs --check) >"$WORK/gen.out" 2>&1; then
    ok "src/generated equals a fresh generation from schemas/"
else bad "src/generated is stale (run npm run generate in producers/typescript)" "$WORK/gen.out"; fi
# Negative: a schema with one more field must be reported as drift.
mkdir -p "$WORK/schemas"
cp "$ROOT"/schemas/*.json "$WORK/schemas/"
jq '.properties.ts_test_extra = {"type": "string"}' "$ROOT/schemas/order-fill.schema.json" >"$WORK/schemas/order-fill.schema.json"
if (cd "$TS" && SCHEMAS_DIR="$WORK/schemas" node scripts/generate.mjs --check) >"$WORK/gen-neg.out" 2>&1; then
    bad "a changed schema was not detected as drift" "$WORK/gen-neg.out"
elif grep -q 'events.ts is stale' "$WORK/gen-neg.out"; then
    ok "negative: a changed schema makes the check fail (events.ts is stale)"
else bad "the drift check failed for another reason" "$WORK/gen-neg.out"; fi
if (cd "$TS" && timeout 120 node node_modules/typescript/bin/tsc --noEmit -p .) >"$WORK/tsc.out" 2>&1; then
    ok "tsc --noEmit (strict) passes"
else bad "tsc --noEmit failed" "$WORK/tsc.out"; fi
if (cd "$TS" && timeout 120 node node_modules/typescript/bin/tsc -p test) >"$WORK/tsc-test.out" 2>&1; then
    ok "the cancel fields' and the producer's input types: test/*.check.ts compiles (strict), misspellings refused"
else bad "tsc -p test failed" "$WORK/tsc-test.out"; fi

say "== intents: fills, an expired one, a validation failure"
BOT="ts-bot-$RUN" USR="ts-user-$RUN"
: >"$WORK/intents.jsonl"
gen_intents "$WORK/intents.jsonl" 2 --bot "$BOT" --user "$USR" --symbol AAPL --side buy --qty 1
gen_intents "$WORK/intents.jsonl" 1 --bot "$BOT" --user "$USR" --symbol MSFT --side buy --notional 100
gen_intents "$WORK/intents.jsonl" 1 --bot "$BOT" --user "$USR" --symbol TSLA --side sell --qty 1 \
    --created-at "$(date -u -d '15 minutes ago' +%Y-%m-%dT%H:%M:%SZ)"
send_lines "$WORK/intents.jsonl" "$WORK/sent.json"
BADID=$(cat /proc/sys/kernel/random/uuid)
# Readable intent_id, broken fields: the worker rejects it (validation_failed).
printf '{"intent_id":"%s","bot_id":"%s","user_id":"%s","symbol":"aapl","side":"buy","type":"market","qty":"-5","created_at":"%s"}\n' \
    "$BADID" "$BOT" "$USR" "$(NOW)" >"$WORK/bad.jsonl"
"$IC" send --raw --key "$BOT" --topic "$T_BOT" <"$WORK/bad.jsonl" >/dev/null 2>"$WORK/send.err" ||
    die "intentctl send --raw failed: $(cat "$WORK/send.err")"
jq -r '.intent_id' "$WORK/intents.jsonl" >"$WORK/ids"
echo "$BADID" >>"$WORK/ids"
mapfile -t IDS <"$WORK/ids"
EXPIRED=${IDS[3]}
expect_eq "5 intents sent" 5 "$(wc -l <"$WORK/ids")"

say "== results-watch until every intent ends"
rwatch "$WORK/watch.out" rc --intents "$WORK/ids" --timeout 120000
expect_eq "results-watch exits 0 (every intent reached a terminal outcome)" 0 "$rc"
[[ $rc == 0 ]] || sed 's/^/        | /' "$WORK/watch.out.err" | head -20
summary "$WORK/watch.out" >"$WORK/summary.json"
jq -r --arg exp "$EXPIRED" --arg bad "$BADID" '.outcomes | to_entries[] |
    "\(.key) \(.value)"' "$WORK/summary.json" | sort >"$WORK/outcomes.actual"
{
    for id in "${IDS[@]:0:3}"; do echo "$id fill"; done
    echo "$EXPIRED rejected:expired"
    echo "$BADID rejected:validation_failed"
} | sort >"$WORK/outcomes.expected"
expect_same_lines "outcomes: 3 fills, expired, validation_failed" "$WORK/outcomes.expected" "$WORK/outcomes.actual"
jq -c 'select(.summary|not) | select(._terminal) | .intent_id' "$WORK/watch.out" | sort | uniq -d >"$WORK/twice"
expect_empty "one terminal event printed per intent" "$WORK/twice"

say "== the same events as intentctl tail"
snapshot "$WORK/tail.json" "$WORK/ids"
STRIP='with_entries(select(.key | startswith("_") | not))'
jq -cS "select(.summary|not) | $STRIP" "$WORK/watch.out" | sort >"$WORK/events.watch"
jq -cS --arg dlq "$T_DLQ" "select(._topic != \$dlq) | $STRIP" "$WORK/tail.json" | sort -u >"$WORK/events.tail"
expect_same_lines "results-watch printed exactly the events intentctl tail shows (content, once each)" \
    "$WORK/events.tail" "$WORK/events.watch"
jqe -r "$JQ_DEFS"' select(terminal) | "\(.intent_id) \(if ._topic == $rej then "rejected:\(.reason)" else .type end)"' \
    "$WORK/tail.json" | sort -u >"$WORK/outcomes.tail"
expect_same_lines "outcomes equal intentctl tail's terminal events" "$WORK/outcomes.tail" "$WORK/outcomes.actual"

say "== a group resumes after its committed offsets"
GROUP="ts-test-$RUN"
rwatch "$WORK/g1.out" rc --group "$GROUP" --intents "$WORK/ids" --timeout 120000
expect_eq "first run of group $GROUP: exit 0" 0 "$rc"
rwatch "$WORK/g2.out" rc --group "$GROUP" --intents "$WORK/ids" --timeout 8000
expect_eq "second run of the group: nothing redelivered, times out (exit 1)" "1 0 timeout" \
    "$rc $(summary "$WORK/g2.out" | jq -r '"\(.terminal) \(.result)"')"

say "== duplicates and malformed messages (scratch topic), a missing id"
S="ts-scratch-$RUN"
jq -c --arg id "${IDS[0]}" "select(.intent_id == \$id and .type == \"fill\") | $STRIP" "$WORK/tail.json" | head -n 1 >"$WORK/fill.json"
[[ -s $WORK/fill.json ]] || die "no fill event of ${IDS[0]} to copy"
{
    cat "$WORK/fill.json" "$WORK/fill.json"                           # a duplicate
    echo 'not json'                                                   # not JSON
    jq -c '.filled_qty = 12' "$WORK/fill.json"                        # a decimal as a number
    jq -c 'del(.last_fill_price) | .event_id = .intent_id + ":fill:2"' "$WORK/fill.json" # a fill without its price
    jq -c '.schema = "order-rejection/v1"' "$WORK/fill.json"          # a rejection on the fills topic
} >"$WORK/scratch.jsonl"
"$IC" send --raw --key "$BOT" --topic "$S.fills" <"$WORK/scratch.jsonl" >/dev/null 2>"$WORK/send.err" ||
    die "intentctl send --raw --topic $S.fills failed: $(cat "$WORK/send.err")"
MISSING=$(cat /proc/sys/kernel/random/uuid)
start=$(date +%s)
TOPIC_FILLS="$S.fills" TOPIC_REJECTIONS="$S.rejections" rwatch "$WORK/s.out" rc --timeout 15000 "${IDS[0]}" "$MISSING"
took=$(($(date +%s) - start))
expect_eq "an id that never ends: exit 1, reported missing, result timeout" "1 [\"$MISSING\"] timeout" \
    "$rc $(summary "$WORK/s.out" | jq -c '.missing') $(summary "$WORK/s.out" | jq -r '.result')"
if ((took < 60)); then ok "it gave up in time (${took}s for a 15 s timeout)"; else bad "it took ${took}s for a 15 s timeout"; fi
expect_eq "the duplicate is dropped, the 4 malformed ones skipped (handled duplicates invalid)" "1 1 4" \
    "$(summary "$WORK/s.out" | jq -r '.events | "\(.handled) \(.duplicates) \(.invalid)"')"
expect_eq "the valid fill printed once" 1 "$(jq -c 'select(.summary|not)' "$WORK/s.out" | wc -l)"
for why in 'not JSON' 'filled_qty must be string' "required property 'last_fill_price'" 'order-rejection/v1 on the fills topic'; do
    if grep -qF "$why" "$WORK/s.out.err"; then ok "skipped with a reason: $why"; else bad "no skip reported: $why" "$WORK/s.out.err"; fi
done

say "== SIGTERM"
TOPIC_FILLS="$S.fills" TOPIC_REJECTIONS="$S.rejections" node "$RW" --timeout 120000 "$MISSING" \
    >"$WORK/t.out" 2>"$WORK/t.out.err" &
WATCH_PID=$!
started=0
for ((i = 0; i < 300; i++)); do # it consumes once it reports the scratch topic's last bad message
    if grep -q 'on the fills topic' "$WORK/t.out.err"; then started=1 && break; fi
    kill -0 "$WATCH_PID" 2>/dev/null || break
    sleep 0.2
done
((started)) || bad "results-watch did not start consuming within 60 s" "$WORK/t.out.err"
kill -TERM "$WATCH_PID" 2>/dev/null
rc=0
for ((i = 0; i < 150; i++)); do kill -0 "$WATCH_PID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$WATCH_PID" 2>/dev/null; then
    bad "results-watch still runs 30 s after SIGTERM"
    kill -KILL "$WATCH_PID"
fi
wait "$WATCH_PID" || rc=$?
WATCH_PID=""
expect_eq "SIGTERM: stops with exit 1 and a summary saying so" "1 signal:SIGTERM" \
    "$rc $(summary "$WORK/t.out" | jq -r '.result')"

say "== cancel requests: a canceled event naming its request, not_cancelable"
# A gtc limit buy at half the bid rests; intentctl cancels it; a second request
# cancels an intent nobody sent.  results-watch waits for the target and both
# requests (a request that works has no event of its own: its target's
# canceled event names it).
LIMIT=$(sim GET /_sim/quotes | jq -r '.IBM.bid | tonumber / 2 | floor') || die "no IBM quote from the simulator"
send rest --bot "$BOT" --user "$USR" --symbol IBM --side buy --type limit --qty 1 --limit "$LIMIT" --tif gtc
wait_for rest 'any(.[]; .type == "accepted")' 30 || die "the resting buy was not accepted within 30 s"
send cx --bot "$BOT" --user "$USR" --cancel "$(cat "$WORK/rest.id")"
send ghost --bot "$BOT" --user "$USR" --cancel "$(cat /proc/sys/kernel/random/uuid)"
REST=$(cat "$WORK/rest.id") CXID=$(cat "$WORK/cx.id") GHOST=$(cat "$WORK/ghost.id")
rwatch "$WORK/cx.out" rc --timeout 60000 "$REST" "$CXID" "$GHOST"
expect_eq "results-watch: the target and both requests end (exit 0)" 0 "$rc"
printf '%s canceled\n%s canceled\n%s rejected:not_cancelable\n' "$REST" "$CXID" "$GHOST" | sort >"$WORK/cx.expected"
summary "$WORK/cx.out" | jq -r '.outcomes | to_entries[] | "\(.key) \(.value)"' | sort >"$WORK/cx.actual"
expect_same_lines "outcomes: target canceled, its request canceled, the unknown one not_cancelable" \
    "$WORK/cx.expected" "$WORK/cx.actual"
expect_eq "the canceled event, printed once, names the request (requested)" "1 $CXID requested" \
    "$(jq -r -s --arg t "$REST" '[.[] | select(.intent_id == $t and .type == "canceled")] | "\(length) \(.[0].cancel_intent_id) \(.[0].cancel_reason)"' "$WORK/cx.out")"
expect_eq "the unknown request's own rejection: not_cancelable" "not_cancelable" \
    "$(jq -r --arg g "$GHOST" 'select(.intent_id == $g) | .reason' "$WORK/cx.out")"

say "== the package's node tests (guard units; redelivery, commits, stop and kill on the broker)"
if (cd "$TS" && timeout 300 node --test test/) >"$WORK/node-test.out" 2>&1; then
    ok "node --test: $(grep -E '^# (pass|fail) ' "$WORK/node-test.out" | tr '\n' ' ')"
else bad "node --test failed" "$WORK/node-test.out"; fi

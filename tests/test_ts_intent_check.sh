#!/usr/bin/env bash
# tests/test_ts_intent_check.sh -- the TypeScript package's intent validator
# (producers/typescript: validate.ts, behind intent-check and IntentProducer)
# gives the worker's verdict.  A unit test: it needs no stack, only node, jq,
# the built package (dist/) and intentctl, whose `send --dry-run --json --stdin`
# runs the worker's own validator (worker/intent.c) and sends nothing.
#
# usage: tests/test_ts_intent_check.sh INTENTCTL
#
# Checks:
#   [1] every sample of producers/samples/, its placeholders filled as the
#       schemas test does, gets the same verdict from intent-check as from the
#       worker (valid; or refused with the same reason, the same fields and the
#       same error messages), 07-validation-failed refused (symbol, qty) and
#       08-not-json refused not_json;
#   [2] the same for every case of producers/typescript/test/fixtures/
#       intent-cases.tsv (order intents and cancel requests on both topics:
#       decimals as strings and as numbers, places, signs, exponents, types and
#       their prices, symbols, times and calendar dates, meta's size, unknown
#       fields, unreadable messages: not JSON, duplicate keys, nesting, bad
#       UTF-8, no intent_id) and a message over 65,536 bytes;
#   [3] intent-check --no-numbers refuses a decimal given as a JSON number (the
#       producer's rule) and takes the same intent with the decimal as a string.
# The last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ROOT=${ORDER_WORKER_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
IC=${1:-${DEV_BUILD_DIR:-$ROOT/build}/bin/intentctl}
TS=$ROOT/producers/typescript
CHECK=$TS/dist/bin/intent-check.js
WORK=$(mktemp -d "${TMPDIR:-/tmp}/order-worker-ts-intent-check.XXXXXX")
PASSED=0 FAILED=0
trap test_exit EXIT

command -v node >/dev/null || die "node is not installed"
[[ -x $IC ]] || die "$IC is missing: compose/dev build"
[[ -f $CHECK ]] || die "$CHECK is missing: compose/dev build (or npm run build in producers/typescript)"

# The worker's verdicts (intentctl's dry-run lines: a refusal, or the intent
# echoed, which may nest deeper than jq reads) and intent-check's, both as
# {valid} or {valid, reason, errors} (an unreadable message's errors are
# empty; its message is each side's own parser's, so not compared).
WORKER_JQ='if .status == "refused" then {valid: false, reason, errors} else {valid: true} end'
OURS_JQ='if .valid then {valid: true} else {valid: false, reason, errors} end'

# verdicts NAME SOURCE LINES-FILE: both verdicts of every line, compared line
# by line; prints the differing lines into $WORK/NAME.diff.
verdicts() {
    local name=$1 source=$2 lines=$3
    "$IC" send --dry-run --json --stdin --topic "orders.intents.$source" <"$lines" \
        2>"$WORK/$name.ic.err" | LC_ALL=C sed '/^{"status":"refused"/!c {"valid":true}' |
        jq -c "$WORKER_JQ" >"$WORK/$name.worker" || true
    node "$CHECK" --source "$source" <"$lines" 2>"$WORK/$name.ts.err" | jq -c "$OURS_JQ" >"$WORK/$name.ours" || true
    paste -d '\n' "$WORK/$name.worker" "$WORK/$name.ours" /dev/null >"$WORK/$name.pairs"
    awk 'NR % 3 == 1 { w = $0 } NR % 3 == 2 && $0 != w { printf "line %d:\n  worker: %s\n  ours:   %s\n", (NR + 1) / 3, w, $0 }' \
        "$WORK/$name.pairs" >"$WORK/$name.diff"
}

say "[1] the samples of producers/samples/"
NOW_TS=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
OLD_TS=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.%3NZ)
fill() {
    jq -c --arg id "$(cat /proc/sys/kernel/random/uuid)" --arg bot "check-$2" --arg user "check-user" \
        --arg now "$NOW_TS" --arg old "$OLD_TS" '
        walk(if . == "@INTENT_ID" then $id elif . == "@BOT_ID" then $bot elif . == "@USER_ID" then $user
             elif . == "@NOW" then $now elif . == "@FIVE_MIN_AGO" then $old
             elif . == "@MARKETABLE_LIMIT" then "1000.00" elif . == "@RESTING_LIMIT" then "1.00"
             else . end)' "$1"
}
n=0
for f in "$ROOT"/producers/samples/*; do
    base=$(basename "$f")
    name=${base%.*}
    if [[ $f == *.json ]]; then fill "$f" "$name" >"$WORK/$name.line"; else cp "$f" "$WORK/$name.line"; fi
    source=bot
    if [[ $(jq -r 'if type == "object" and has("bot_id") then "bot" else "user" end' "$WORK/$name.line" 2>/dev/null) == user ]]; then
        source=user
    fi
    verdicts "s-$name" "$source" "$WORK/$name.line"
    if [[ ! -s $WORK/s-$name.worker ]]; then
        bad "$base: the worker gave no verdict" "$WORK/s-$name.ic.err"
    elif [[ -s $WORK/s-$name.diff ]]; then
        bad "$base ($source): intent-check differs from the worker" "$WORK/s-$name.diff"
    else
        ok "$base ($source): $(jq -r 'if .valid then "valid" else "refused \(.reason) \([.errors[].field] | join(","))" end' "$WORK/s-$name.ours"), as the worker says"
        n=$((n + 1))
    fi
done
expect_eq "07-validation-failed: refused, fields symbol and qty" '{"valid":false,"reason":"validation_failed","fields":["symbol","qty"]}' \
    "$(node "$CHECK" --source bot <"$WORK/07-validation-failed.line" | jq -c '{valid, reason, fields}')"
expect_eq "08-not-json: refused not_json" "not_json" \
    "$(node "$CHECK" --source bot <"$WORK/08-not-json.line" | jq -r '.reason')"
((n >= 10)) || bad "every sample compared (only $n)"

say "[2] the cases of test/fixtures/intent-cases.tsv, and a message too large"
CASES=$TS/test/fixtures/intent-cases.tsv
for source in bot user; do
    LC_ALL=C grep -a "^$source"$'\t' "$CASES" | LC_ALL=C cut -f2- >"$WORK/cases-$source"
    if [[ $source == user ]]; then # 65,537 bytes: too_large
        printf '{"intent_id":"6f1c2b9e-8d4a-4e1b-9c3f-2a7d5e0b1c44","user_id":"u","meta":{"k":"%s"}}\n' \
            "$(head -c 65490 /dev/zero | tr '\0' x)" >>"$WORK/cases-$source"
    fi
    verdicts "c-$source" "$source" "$WORK/cases-$source"
    total=$(wc -l <"$WORK/cases-$source")
    expect_eq "$source: a verdict from both for each of the $total cases" "$total $total" \
        "$(wc -l <"$WORK/c-$source.worker") $(wc -l <"$WORK/c-$source.ours")"
    expect_empty "$source: intent-check's verdicts equal the worker's ($(grep -c true "$WORK/c-$source.ours") valid, $(grep -c false "$WORK/c-$source.ours") refused; reasons $(jq -r 'select(.valid | not) | .reason' "$WORK/c-$source.ours" | sort | uniq -c | awk '{ printf "%s%s %s", s, $2, $1; s = ", " }'))" \
        "$WORK/c-$source.diff"
done

say "[3] --no-numbers: the producer's rule"
jq -c '.qty = 2' "$WORK/01-market-qty.line" >"$WORK/number.line"
expect_eq "a numeric qty: refused by --no-numbers, taken by default (as by the worker)" "qty true" \
    "$(node "$CHECK" --source bot --no-numbers <"$WORK/number.line" | jq -r '.fields | join(",")') $(node "$CHECK" --source bot <"$WORK/number.line" | jq -r '.valid')"

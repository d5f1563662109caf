#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs: their $names are jq variables
# tests/test_python_bot.sh -- the Python package orderbot (producers/python)
# and its examples, installed as a bot author installs them, through the
# whole stack of `compose/dev test`:
#   [1] the package installs offline into a venv made with
#       --system-site-packages (Debian's python3-confluent-kafka and
#       python3-jsonschema serve it; `pip check` agrees), is imported from
#       there, passes mypy --strict and compileall, and its pytest suite passes
#       from the venv: the unit tests (float money, lower-case symbols, qty
#       with notional, ... refused naming the field; the wire form; the schema
#       copy identical to schemas/intent.schema.json; the verdicts of
#       `python -m orderbot.check` equal to intentctl's on the samples and a
#       corpus of broken intents; keys never shown) and the stack tests (await
#       place, events(), cancel, OutcomeTimeout, the blocking place);
#   [2] examples/example_bot.py (the blocking interface), run from the venv,
#       sends its intents (fills, IOC bids the broker cancels, an oversized buy
#       the broker rejects) under a bot id of this run, exits 0, and reports
#       exactly one terminal outcome for every intent;
#   [3] what the bot reports equals what `intentctl tail` shows on the result
#       topics for those intents: the same event ids, the same terminal
#       status and rejection reason;
#   [4] a duplicate of a terminal event (same event_id, as after a worker
#       crash) put on orders.fills is dropped by the library;
#   [5] negative checks: a tampered report is caught by the comparison of
#       [3]; a bot given no time to wait exits 1 and names the pending
#       intent; a bot with an invalid notional exits 2 before sending;
#   [6] cancel requests: a resting gtc limit buy far below the market, then
#       Bot.cancel of it: the library reads back the target's canceled event
#       naming the request (and the request's outcome is that event), the
#       topics agree, the request is keyed like its target; Bot.cancel of an
#       intent nobody sent: rejected not_cancelable;
#   [7] examples/async_bot.py (await bot.place, bot.cancel) from the venv:
#       exits 0, its market buy ended, its resting bid canceled by its
#       request; its output is printed here.
# Every wait is bounded; the last line is "N passed, M failed".
set -euo pipefail

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_test pybot
SYSPY=/usr/bin/python3 # Debian's: its venv sees python3-confluent-kafka, -jsonschema, mypy, pytest
PYDIR="$ROOT/producers/python"
VENV="$WORK/venv"
PY="$VENV/bin/python" # what every Python program below runs with: the package installed

trap test_exit EXIT

for m in confluent_kafka jsonschema mypy pytest venv; do
    "$SYSPY" -c "import $m" 2>/dev/null ||
        die "$SYSPY cannot import $m (compose/dev install: python3-confluent-kafka, python3-jsonschema, mypy, python3-pytest, python3-venv)"
done

# bot_view REPORT: one line per intent from the bot's --json report:
# "id status reason terminal_count sorted,event,ids".
bot_view() {
    jq -r '.intents[].outcome |
        "\(.intent_id) \(.status) \(.reason // "-") \(.terminal_events) \(.event_ids | sort | join(","))"' "$1"
}
# topic_view SNAPSHOT IDS: the same lines from intentctl tail's JSON, events
# deduplicated by event_id as the contract says a consumer must.
topic_view() {
    jqe -rs --rawfile ids "$2" "$JQ_DEFS"'
        ($ids | split("\n") | map(select(length > 0))) as $want
        | map(select(._topic != $dlq)) | unique_by(.event_id) | group_by(.intent_id) | .[]
        | select(.[0].intent_id as $i | $want | index($i))
        | (map(select(terminal))) as $t
        | "\(.[0].intent_id) \(if ($t | length) == 0 then "pending"
                                elif $t[0]._topic == $rej then "rejected" else $t[0].type end) \(
            if ($t | length) > 0 and $t[0]._topic == $rej then $t[0].reason else "-" end) \(
            $t | length) \(map(.event_id) | sort | join(","))"' "$1"
}

say "== order-worker: the Python bot library and example bot (run $RUN) =="

# The outcomes checked below assume an open market and an account that can
# afford a few shares (tests before this one move the simulator around): say
# so plainly rather than fail obscurely.  Python, so the keys stay off argv.
"$SYSPY" - >"$WORK/pre.err" 2>&1 <<'EOF' || die "the simulator is not ready to trade: $(tail -n 1 "$WORK/pre.err")"
import json, os, urllib.request
from decimal import Decimal
def get(path, auth):
    h = {"APCA-API-KEY-ID": os.environ["ALPACA_API_KEY_ID"],
         "APCA-API-SECRET-KEY": os.environ["ALPACA_API_SECRET_KEY"]} if auth else {}
    req = urllib.request.Request(os.environ["ALPACA_SIM_URL"] + path, headers=h)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
acct, market = get("/v2/account", True), get("/_sim/market", False)
assert market.get("open") is True, "the simulated market is closed"
assert not acct.get("trading_blocked"), "the account's trading is blocked"
assert Decimal(acct["buying_power"]) >= 5000, f"buying power {acct['buying_power']} < 5000"
EOF

say ""
say "[1] the package: installed into a venv, typed, its pytest suite"
# A copy, so that the build's files (build/, *.egg-info) stay out of the tree.
cp -r "$PYDIR" "$WORK/pysrc"
rm -rf "$WORK/pysrc/build" "$WORK"/pysrc/*.egg-info
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
if "$SYSPY" -m venv --system-site-packages "$VENV" >"$WORK/venv.log" 2>&1 &&
    "$VENV/bin/pip" install --no-build-isolation --no-index "$WORK/pysrc" >>"$WORK/venv.log" 2>&1; then
    ok "pip install --no-build-isolation --no-index: installed into a --system-site-packages venv"
else
    bad "the package installs into a venv offline" "$WORK/venv.log"
fi
# pip check judges every distribution the venv sees, Debian's too: only a
# complaint about orderbot counts here (the others are the system's own).
"$VENV/bin/pip" check >"$WORK/pipcheck.log" 2>&1 || :
"$VENV/bin/pip" show orderbot >>"$WORK/pipcheck.log" 2>&1 || :
if ! grep -qi '^orderbot [0-9]' "$WORK/pipcheck.log" &&
    grep -qx 'Requires: confluent-kafka, jsonschema' "$WORK/pipcheck.log"; then
    ok "pip check: orderbot's requirements are met ($(grep -E -o '^(confluent-kafka|jsonschema) +[0-9.]+' <("$VENV/bin/pip" list 2>/dev/null) | tr -s ' ' | paste -sd, -), Debian's)"
else
    bad "pip check: orderbot's requirements are met" "$WORK/pipcheck.log"
fi
where=$(cd "$WORK" && "$PY" -c 'import orderbot; print(orderbot.__file__)' 2>&1)
expect_eq "orderbot is imported from the venv, with py.typed and its schema" \
    "$VENV ok" "$(cd "$WORK" && "$PY" -c '
import importlib.resources as r, sys, orderbot
f = r.files("orderbot")
print(sys.prefix, "ok" if f.joinpath("py.typed").is_file() and f.joinpath("intent.schema.json").is_file() else "missing")' 2>&1)"
if [[ $where == "$VENV"/lib/python3*/site-packages/orderbot/__init__.py ]]; then
    ok "import orderbot: ${where#"$WORK"/}"
else
    bad "orderbot comes from the venv's site-packages, not $where"
fi
if (cd "$WORK/pysrc" && "$PY" -m mypy --strict --config-file pyproject.toml -p orderbot &&
    "$PY" -m mypy --strict --config-file pyproject.toml examples/async_bot.py) >"$WORK/mypy.log" 2>&1; then
    ok "mypy --strict: the package and examples/async_bot.py ($(tail -n 1 "$WORK/mypy.log"))"
else
    bad "mypy --strict passes" "$WORK/mypy.log"
fi
if "$PY" -m compileall -q "$WORK/pysrc/orderbot" "$WORK/pysrc/examples" "$WORK/pysrc/tests" \
    >"$WORK/compile.log" 2>&1; then
    ok "python3 -m compileall: the package, the examples and the tests compile"
else
    bad "compileall passes" "$WORK/compile.log"
fi
# From $WORK, so that the installed package is the one imported.
if (cd "$WORK" && ORDERBOT_STACK=1 ORDERBOT_EXPECT_INSTALLED=1 ORDERBOT_RUN="$RUN" \
    ORDERBOT_USER="py-user-$RUN" INTENTCTL="$IC" timeout 400 \
    "$PY" -m pytest -v -p no:cacheprovider "$WORK/pysrc/tests") >"$WORK/pytest.log" 2>&1; then
    ok "pytest from the venv: $(tail -n 1 "$WORK/pytest.log" | tr -d '=')"
else
    bad "pytest from the venv passes" "$WORK/pytest.log"
fi
n=$(grep -cE '(test_unit|test_stack)\.py::.* PASSED' "$WORK/pytest.log" || true)
if ((n >= 60)); then ok "the tests ran ($n passed, unit and stack)"; else bad "at least 60 tests passed, not $n" "$WORK/pytest.log"; fi
expect_eq "no test was skipped (the stack tests and the cross-check with intentctl ran)" 0 \
    "$(grep -cE ' SKIPPED' "$WORK/pytest.log" || true)"

say ""
say "[2] examples/example_bot.py (blocking interface) from the venv against the stack"
BOT="py-$RUN" USER_ID="py-user-$RUN"
rc=0
timeout 300 "$PY" "$PYDIR/examples/example_bot.py" --json --bot-id "$BOT" --user-id "$USER_ID" \
    --timeout 120 >"$WORK/report.json" 2>"$WORK/bot.err" || rc=$?
if ((rc == 0)); then ok "example_bot.py exits 0"; else
    bad "example_bot.py exits 0 (it exited $rc)" "$WORK/bot.err"
fi
jq -e '.ok == true and (.intents | length) >= 4' "$WORK/report.json" >/dev/null 2>&1 ||
    die "example_bot.py reported no complete run: $(head -c 400 "$WORK/report.json")"
jq -r '.intents[].intent_id' "$WORK/report.json" >"$WORK/ids"
sent=$(grep -c '^sent ' "$WORK/bot.err" || true)
expect_eq "every intent it said it sent is in its report" "$sent" "$(wc -l <"$WORK/ids")"
expect_eq "the intent ids are distinct" "$(wc -l <"$WORK/ids")" "$(sort -u "$WORK/ids" | wc -l)"
jq -c '.intents[] | select(.outcome.terminal_events != 1 or .outcome.status == "pending")' \
    "$WORK/report.json" >"$WORK/not-one.json"
expect_empty "every intent: exactly one terminal outcome as the bot reports it" "$WORK/not-one.json"
expect_eq "the notional buy of the cheapest symbol filled" "fill" \
    "$(jq -r '[.intents[] | select(.notional) | .outcome.status] | join(" ")' "$WORK/report.json")"
expect_eq "the oversized buy: rejected by the broker" "rejected broker_rejected" \
    "$(jq -r '.intents[-1].outcome | "\(.status) \(.reason)"' "$WORK/report.json")"
jq -c '.intents[] | select(.time_in_force == "ioc" and .outcome.status != "canceled")' \
    "$WORK/report.json" >"$WORK/ioc.json"
expect_empty "every IOC bargain bid below the market: canceled" "$WORK/ioc.json"
jq -c '.intents[] | select(.type == "market" and .qty == "1" and .outcome.status != "fill")' \
    "$WORK/report.json" >"$WORK/mkt.json"
expect_empty "every 1-share market buy: filled" "$WORK/mkt.json"
if jq -e '[.intents[].outcome.event_ids[]] | length == (unique | length)' "$WORK/report.json" >/dev/null; then
    ok "no event reported twice"
else
    bad "no event reported twice" "$WORK/report.json"
fi

say ""
say "[3] the bot's outcomes are what the result topics show"
snapshot "$WORK/topics.json" "$WORK/ids"
bot_view "$WORK/report.json" >"$WORK/bot.view"
topic_view "$WORK/topics.json" "$WORK/ids" >"$WORK/topic.view"
expect_same_lines "per intent: status, reason, one terminal, the same event ids" \
    "$WORK/topic.view" "$WORK/bot.view"
jq -r 'select(._key != $k) | "\(.intent_id) key \(._key)"' --arg k "$BOT" "$WORK/topics.json" \
    >"$WORK/keys.bad"
expect_empty "every result event is keyed by the bot id (the intents were)" "$WORK/keys.bad"
jq -r 'select(.bot_id != $b or .user_id != $u) | .event_id' --arg b "$BOT" --arg u "$USER_ID" \
    "$WORK/topics.json" >"$WORK/who.bad"
expect_empty "every result event carries this run's bot_id and user_id" "$WORK/who.bad"
jq -r 'select((.meta.strategy // "") != "example-mean-reversion") | .event_id' \
    "$WORK/topics.json" >"$WORK/meta.bad"
expect_empty "every result event carries the intent's meta" "$WORK/meta.bad"

say ""
say "[4] a duplicate terminal event (same event_id) is dropped"
cat >"$WORK/dup.py" <<'EOF'
import json, os, sys, time
from decimal import Decimal
from confluent_kafka import Producer
from orderbot import Bot, OrderIntent, Side, Status
with Bot(os.environ["DUP_BOT"], os.environ["DUP_USER"]) as bot:
    o = bot.place(OrderIntent("AAPL", Side.BUY, qty=Decimal("1"),
                              meta={"strategy": "example-mean-reversion"}), timeout=120)
    iid = o.intent_id
    term = dict(o.terminal.raw)
    p = Producer({"bootstrap.servers": os.environ["KAFKA_BROKERS"], "enable.idempotence": True})
    p.produce(bot.topic_fills if o.status != Status.REJECTED else bot.topic_rejections,
              key=bot.bot_id.encode(), value=json.dumps(term, default=str).encode())
    if p.flush(30) != 0:
        sys.exit("the duplicate was not written")
    deadline = time.monotonic() + 60
    while o.duplicates_dropped == 0 and time.monotonic() < deadline:
        bot.poll(0.5)
    print(json.dumps({"intent_id": iid, "status": o.status, "terminal_events": o.terminal_events,
                      "duplicates_dropped": o.duplicates_dropped, "events": len(o.events)}))
EOF
DUP_BOT="py-dup-$RUN" DUP_USER="$USER_ID" timeout 300 "$PY" "$WORK/dup.py" \
    >"$WORK/dup.json" 2>"$WORK/dup.err" || bad "the duplicate check ran" "$WORK/dup.err"
expect_eq "the duplicate: dropped, still one terminal outcome, a fill" "1 1 fill" \
    "$(jq -r '"\(.duplicates_dropped) \(.terminal_events) \(.status)"' "$WORK/dup.json" 2>/dev/null)"

say ""
say "[5] negative checks"
# A report that differs from the topics in one status must not compare equal.
jq -c '(.intents[0].outcome.status) |= (if . == "fill" then "canceled" else "fill" end)' \
    "$WORK/report.json" >"$WORK/tampered.json"
bot_view "$WORK/tampered.json" >"$WORK/tampered.view"
if diff -q <(sort "$WORK/topic.view") <(sort "$WORK/tampered.view") >/dev/null; then
    bad "a tampered report (one status changed) is caught by the comparison"
else
    ok "a tampered report (one status changed) is caught by the comparison"
fi
# One event id left out must not compare equal either.
jq -c '(.intents[0].outcome.event_ids) |= .[1:]' "$WORK/report.json" >"$WORK/short.json"
bot_view "$WORK/short.json" >"$WORK/short.view"
if diff -q <(sort "$WORK/topic.view") <(sort "$WORK/short.view") >/dev/null; then
    bad "a report missing an event is caught by the comparison"
else
    ok "a report missing an event is caught by the comparison"
fi
# No time to wait: the outcome cannot have arrived; exit 1, the intent named.
rc=0
timeout 120 "$PY" "$PYDIR/examples/example_bot.py" --json --bot-id "py-late-$RUN" --user-id "$USER_ID" \
    --symbols AAPL --oversize-probe 0 --timeout 0 >"$WORK/late.json" 2>"$WORK/late.err" || rc=$?
expect_eq "--timeout 0: exit 1, ok false, its one intent pending" "1 false 1" \
    "$rc $(jq -r '"\(.ok) \(.pending | length)"' "$WORK/late.json" 2>/dev/null)"
if grep -qF "$(jq -r '.pending[0]' "$WORK/late.json" 2>/dev/null)" "$WORK/late.err"; then
    ok "the pending intent is named on stderr"
else
    bad "the pending intent is named on stderr" "$WORK/late.err"
fi
# A notional with 3 decimal places: refused client-side, nothing sent.
rc=0
timeout 120 "$PY" "$PYDIR/examples/example_bot.py" --bot-id "py-bad-$RUN" --user-id "$USER_ID" \
    --symbols AAPL --notional 10.001 >"$WORK/badn.out" 2>"$WORK/badn.err" || rc=$?
expect_eq "--notional 10.001: exit 2" 2 "$rc"
if grep -q 'notional must have at most 2 decimal places' "$WORK/badn.err" &&
    ! grep -q '^sent ' "$WORK/badn.err"; then
    ok "--notional 10.001: the error names notional, and nothing was sent"
else
    bad "--notional 10.001: the error names notional, and nothing was sent" "$WORK/badn.err"
fi
"$IC" tail --topics "$T_BOT" --from-beginning --exit-at-end --json --timeout 60000 \
    >"$WORK/bot-topic.json" 2>/dev/null || die "cannot read $T_BOT to its end"
expect_eq "nothing on $T_BOT from the refused bot py-bad-$RUN; the run's own intents are there" \
    "0 $(wc -l <"$WORK/ids")" \
    "$(jq -r --arg b "py-bad-$RUN" 'select(._key == $b) | ._offset' "$WORK/bot-topic.json" | wc -l) $(
        jq -r --arg b "$BOT" 'select(._key == $b) | ._offset' "$WORK/bot-topic.json" | wc -l)"

say ""
say "[6] cancel requests through the library"
# A resting gtc limit buy at half the bid (far below the market), accepted;
# Bot.cancel of it; its outcome read back through the library: the target
# canceled, naming the request; then a cancel of an intent nobody sent:
# not_cancelable.  Bot.cancel keys the request like its target (the bot id).
cat >"$WORK/cancel.py" <<'EOF'
import json, os, sys, time, uuid, urllib.request
from decimal import ROUND_DOWN, Decimal
from orderbot import Bot
req = urllib.request.Request(
    os.environ["ALPACA_DATA_URL"].rstrip("/") + "/v2/stocks/quotes/latest?symbols=IBM&feed=iex",
    headers={"APCA-API-KEY-ID": os.environ["ALPACA_API_KEY_ID"],
             "APCA-API-SECRET-KEY": os.environ["ALPACA_API_SECRET_KEY"]})
with urllib.request.urlopen(req, timeout=10) as r:
    bid = Decimal(str(json.loads(r.read())["quotes"]["IBM"]["bp"]))
limit = (bid / 2).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
meta = {"strategy": "example-mean-reversion"}
with Bot(os.environ["CX_BOT"], os.environ["CX_USER"]) as bot:
    target = bot.submit("IBM", "buy", type="limit", qty=Decimal(1), limit_price=limit,
                        time_in_force="gtc", meta=meta)
    deadline = time.monotonic() + 60
    while "accepted" not in bot.outcome(target).event_types and time.monotonic() < deadline:
        if bot.outcome(target).done:
            sys.exit(f"the resting buy ended before its cancel: {bot.outcome(target).summary()}")
        bot.poll(0.3)
    if "accepted" not in bot.outcome(target).event_types:
        sys.exit("the resting buy was not accepted within 60 s")
    cx = bot.cancel(target, meta=meta)
    got = bot.wait([target, cx], 60)
    ghost = bot.cancel(str(uuid.uuid4()), meta=meta)
    got.update(bot.wait([ghost], 60))
    print(json.dumps({"target": got[target].summary(), "cancel": got[cx].summary(),
                      "ghost": got[ghost].summary()}))
EOF
CX_BOT="py-cx-$RUN" CX_USER="$USER_ID" timeout 300 "$PY" "$WORK/cancel.py" \
    >"$WORK/cancel.json" 2>"$WORK/cancel.err" || bad "the cancel round trip ran" "$WORK/cancel.err"
CX=$(jq -r '.cancel.intent_id' "$WORK/cancel.json" 2>/dev/null)
TARGET=$(jq -r '.target.intent_id' "$WORK/cancel.json" 2>/dev/null)
expect_eq "the target: canceled, naming the request (cancel_intent_id, requested)" \
    "canceled $CX requested" \
    "$(jq -r '.target | "\(.status) \(.cancel_intent_id) \(.cancel_reason)"' "$WORK/cancel.json" 2>/dev/null)"
expect_eq "the request: canceled by the same event of its target" \
    "canceled $TARGET $TARGET:canceled:1" \
    "$(jq -r '.cancel | "\(.status) \(.target_intent_id) \(.terminal_event_id)"' "$WORK/cancel.json" 2>/dev/null)"
expect_eq "a cancel of an unknown intent: rejected not_cancelable" "rejected not_cancelable 1" \
    "$(jq -r '.ghost | "\(.status) \(.reason) \(.terminal_events)"' "$WORK/cancel.json" 2>/dev/null)"
# What the library reported is what the topics hold.
jq -r '.target.intent_id, .cancel.intent_id, .ghost.intent_id' "$WORK/cancel.json" >"$WORK/cx.ids" 2>/dev/null || :
snapshot "$WORK/cx.topics.json" "$WORK/cx.ids"
expect_eq "on the topics: the target's canceled event names the request" "$CX requested" \
    "$(jq -r --arg t "$TARGET" 'select(.intent_id == $t and .type == "canceled") | "\(.cancel_intent_id) \(.cancel_reason)"' "$WORK/cx.topics.json")"
expect_eq "on the topics: the request has no event of its own, the unknown cancel one rejection" \
    "0 not_cancelable" \
    "$(jq -r --arg c "$CX" 'select(.intent_id == $c) | .event_id' "$WORK/cx.topics.json" | wc -l) $(
        jq -r --arg g "$(jq -r '.ghost.intent_id' "$WORK/cancel.json" 2>/dev/null)" \
            'select(.intent_id == $g) | .reason' "$WORK/cx.topics.json")"
"$IC" tail --topics "$T_BOT" --from-beginning --exit-at-end --json --timeout 60000 \
    >"$WORK/cx-topic.json" 2>/dev/null || die "cannot read $T_BOT to its end"
jq -r --arg c "$CX" --arg t "$TARGET" 'select(.intent_id == $t or .intent_id == $c) | ._key' \
    "$WORK/cx-topic.json" | sort | uniq -c | awk '{print $1, $2}' >"$WORK/cx.keys"
expect_eq "the cancel request was keyed like its target (the bot id)" "2 py-cx-$RUN" \
    "$(cat "$WORK/cx.keys")"

say ""
say "[7] examples/async_bot.py (asyncio: await bot.place, bot.cancel) from the venv"
rc=0
(cd "$WORK" && timeout 300 "$PY" "$PYDIR/examples/async_bot.py" --bot-id "py-async-$RUN" \
    --user-id "$USER_ID" --symbol AAPL) >"$WORK/async.out" 2>"$WORK/async.err" || rc=$?
say "  --- its output:"
sed 's/^/  | /' "$WORK/async.out" "$WORK/async.err"
say "  ---"
expect_eq "async_bot.py exits 0" 0 "$rc"
expect_eq "its market buy filled; its resting bid and its cancel request: canceled" "fill canceled canceled" \
    "$(awk '/^market buy/ {a=$4} /^limit buy/ {b=$4} /^cancel request/ {c=$4} END {print a, b, c}' "$WORK/async.out")"
CXA=$(awk '/^cancel request/ {sub(":", "", $3); print $3}' "$WORK/async.out")
if [[ -n $CXA ]] && grep -q "^limit buy .*(by $CXA, requested)" "$WORK/async.out"; then
    ok "the resting bid's canceled event names the example's cancel request"
else
    bad "the resting bid's canceled event names the example's cancel request" "$WORK/async.out"
fi

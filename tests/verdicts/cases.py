#!/usr/bin/env python3
"""tests/verdicts/cases.py -- the cases of the intent-verdict cross-check.

Prints one JSON line per case: {"name", "source" ("bot" | "user"), "line"
(the intent's bytes as one line of text), "field" (the top-level field the
case breaks, or null for a valid intent or an unreadable message)}.

The cases: every sample of producers/samples/ (placeholders filled in as the
demo does), every intent example of schemas/asyncapi.yaml, and a valid bot
and user intent broken one rule at a time -- each rule of the contract that
worker/intent.c checks (type and format of every field, the order rules,
the cancel rules, the topic rules, the limits).  Why: the worker, the Python
client and the TypeScript client each check intents; a rule one of them
misses or invents shows up here as a disagreement (tests/test_verdicts.sh).

Standard library only (and PyYAML, if present, for the asyncapi examples).
Deterministic: fixed intent ids, created_at fixed well in the past is fine
(the validators do not judge age), so two runs print the same cases."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = "2026-01-02T03:04:05.678Z"
ID = "8f3c2a1e-5b4d-4c6e-9a7b-1d2e3f4a5b6c"
OTHER = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"


def base(source):
    i = {"intent_id": ID}
    if source == "bot":
        i["bot_id"] = "verdict-bot"
    i.update({"user_id": "verdict-user", "symbol": "AAPL", "side": "buy", "type": "market",
              "qty": "1", "created_at": NOW})
    return i


def cancel(source):
    i = {"intent_id": ID}
    if source == "bot":
        i["bot_id"] = "verdict-bot"
    i.update({"user_id": "verdict-user", "action": "cancel", "target_intent_id": OTHER,
              "created_at": NOW})
    return i


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def with_(d, **kv):
    e = dict(d)
    e.update(kv)
    return e


def limit(source, **kv):
    return with_(with_(base(source), type="limit", limit_price="150.25"), **kv)


def stop(source, **kv):
    return with_(with_(base(source), type="stop", stop_price="140"), **kv)


def rules(source):
    """(name, intent, field): one broken rule each, or field None when valid."""
    b = base(source)
    yield "valid market qty", b, None
    yield "valid market notional", with_(without(b, "qty"), notional="250.50"), None
    yield "valid limit gtc", limit(source, time_in_force="gtc"), None
    yield "valid stop_limit", with_(b, type="stop_limit", limit_price="99.5",
                                     stop_price="100"), None
    yield "valid extended_hours and meta", limit(source, time_in_force="day",
                                                 extended_hours=True,
                                                 meta={"why": "test", "n": [1, 2]}), None
    yield "valid expires_at", with_(b, expires_at="2026-01-02T03:05:05Z"), None
    yield "valid qty with 9 places", with_(b, qty="0.000000001"), None
    yield "valid qty as a JSON number", with_(b, qty=2), None
    yield "valid cancel", cancel(source), None
    yield "valid action place", with_(b, action="place"), None
    # identities
    yield "user_id missing", without(b, "user_id"), "user_id"
    yield "user_id with a space", with_(b, user_id="a b"), "user_id"
    yield "user_id too long", with_(b, user_id="u" * 65), "user_id"
    yield "user_id not a string", with_(b, user_id=7), "user_id"
    if source == "bot":
        yield "bot_id missing", without(b, "bot_id"), "bot_id"
        yield "bot_id with a slash", with_(b, bot_id="a/b"), "bot_id"
        yield "bot_id empty", with_(b, bot_id=""), "bot_id"
        yield "bot_id not a string", with_(b, bot_id=["x"]), "bot_id"
    else:
        yield "bot_id on the user topic", with_(b, bot_id="verdict-bot"), "bot_id"
    # symbol, side, type
    yield "symbol missing", without(b, "symbol"), "symbol"
    yield "symbol lower case", with_(b, symbol="aapl"), "symbol"
    yield "symbol too long", with_(b, symbol="A" * 16), "symbol"
    yield "symbol with a dollar", with_(b, symbol="AA$"), "symbol"
    yield "symbol not a string", with_(b, symbol=1), "symbol"
    yield "side missing", without(b, "side"), "side"
    yield "side unknown", with_(b, side="hold"), "side"
    yield "type missing", without(b, "type"), "type"
    yield "type unknown", with_(b, type="trailing_stop"), "type"
    # qty and notional
    yield "neither qty nor notional", without(b, "qty"), "qty"
    yield "both qty and notional", with_(b, notional="10"), "notional"
    yield "notional with type limit", with_(without(limit(source), "qty"), notional="10"), "notional"
    yield "qty zero", with_(b, qty="0"), "qty"
    yield "qty negative", with_(b, qty="-1"), "qty"
    yield "qty with 10 places", with_(b, qty="0.0000000001"), "qty"
    yield "qty not a number", with_(b, qty="ten"), "qty"
    yield "qty with an exponent string", with_(b, qty="1e3"), "qty"
    yield "qty boolean", with_(b, qty=True), "qty"
    yield "notional with 3 places", with_(without(b, "qty"), notional="10.123"), "notional"
    yield "notional negative", with_(without(b, "qty"), notional="-10"), "notional"
    # prices
    yield "limit without limit_price", without(limit(source), "limit_price"), "limit_price"
    yield "limit_price with market", with_(b, limit_price="10"), "limit_price"
    yield "limit_price zero", limit(source, limit_price="0"), "limit_price"
    yield "limit_price text", limit(source, limit_price="cheap"), "limit_price"
    yield "stop without stop_price", without(stop(source), "stop_price"), "stop_price"
    yield "stop_price with limit", limit(source, stop_price="10"), "stop_price"
    yield "stop_price negative", stop(source, stop_price="-1"), "stop_price"
    # time in force, extended hours
    yield "time_in_force unknown", with_(b, time_in_force="week"), "time_in_force"
    yield "time_in_force upper case", with_(b, time_in_force="DAY"), "time_in_force"
    yield "extended_hours a string", with_(b, extended_hours="yes"), "extended_hours"
    # times
    yield "created_at missing", without(b, "created_at"), "created_at"
    yield "created_at not a date-time", with_(b, created_at="yesterday"), "created_at"
    yield "created_at a number", with_(b, created_at=1767323045), "created_at"
    yield "expires_at not a date-time", with_(b, expires_at="soon"), "expires_at"
    # meta, extras
    yield "meta an array", with_(b, meta=[1]), "meta"
    yield "meta a string", with_(b, meta="x"), "meta"
    yield "meta over 8 KiB", with_(b, meta={"pad": "x" * 8200}), "meta"
    yield "an unknown field", with_(b, color="blue"), "color"
    # actions and cancels
    yield "action unknown", with_(b, action="modify"), "action"
    yield "target_intent_id without cancel", with_(b, target_intent_id=OTHER), "target_intent_id"
    c = cancel(source)
    yield "cancel without target", without(c, "target_intent_id"), "target_intent_id"
    yield "cancel target not a UUID", with_(c, target_intent_id="abc"), "target_intent_id"
    yield "cancel of itself", with_(c, target_intent_id=ID), "target_intent_id"
    yield "cancel with qty", with_(c, qty="1"), "qty"
    yield "cancel with symbol", with_(c, symbol="AAPL"), "symbol"
    yield "cancel without created_at", without(c, "created_at"), "created_at"


def samples():
    """The demo's samples, placeholders filled in (producers/demo.sh)."""
    d = os.path.join(ROOT, "producers", "samples")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), encoding="utf-8") as f:
            text = f.read()
        for n, line in enumerate(l for l in text.splitlines() if l.strip()):
            for k, v in (("@INTENT_ID", ID), ("@BOT_ID", "verdict-bot"),
                         ("@USER_ID", "verdict-user"), ("@NOW", NOW),
                         ("@FIVE_MIN_AGO", "2026-01-02T02:59:05.678Z"),
                         ("@MARKETABLE_LIMIT", "1000.00"), ("@RESTING_LIMIT", "1.00")):
                line = line.replace(k, v)
            try:
                obj = json.loads(line)
                source = "bot" if isinstance(obj, dict) and "bot_id" in obj else "user"
            except ValueError:
                source = "bot"
            yield f"sample {name}#{n + 1}", source, line


def asyncapi_examples():
    try:
        import yaml
    except ImportError:
        return
    with open(os.path.join(ROOT, "schemas", "asyncapi.yaml"), encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    for mname, msg in sorted((doc.get("components", {}).get("messages") or {}).items()):
        for k, ex in enumerate(msg.get("examples") or []):
            p = ex.get("payload")
            if isinstance(p, dict) and "intent_id" in p and "created_at" in p:
                yield (f"asyncapi {mname} example {k + 1}",
                       "bot" if "bot_id" in p else "user", json.dumps(p))


def main():
    out = sys.stdout
    for name, source, line in samples():
        out.write(json.dumps({"name": name, "source": source, "line": line, "field": None}) + "\n")
    for name, source, line in asyncapi_examples():
        out.write(json.dumps({"name": name, "source": source, "line": line, "field": None}) + "\n")
    for source in ("bot", "user"):
        for name, intent, field in rules(source):
            out.write(json.dumps({"name": f"{source}: {name}", "source": source,
                                  "line": json.dumps(intent), "field": field}) + "\n")
    # Not JSON at all, and not an object: unreadable for every validator.
    out.write(json.dumps({"name": "bot: not JSON", "source": "bot", "line": "{\"intent_id\": ",
                          "field": None}) + "\n")
    out.write(json.dumps({"name": "bot: an array", "source": "bot", "line": "[1, 2]",
                          "field": None}) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# producers/python/tests/test_orderbot.py -- unit tests of orderbot's
# client-side checks and outcome folding (no Kafka needed).
#
# Owns: proving that build_intent/check_intent refuse, with a ValueError naming
# the field, what contract section 3 forbids (float money, lower-case symbols,
# qty with notional, ...), accept what it allows, put decimals on the wire as
# exact strings, and that Outcome keeps the first terminal event, counts
# later ones and takes a rejection's reason / retry_after_ms; and the same
# for cancel requests (section 3b): build_cancel's wire form, the fields it
# refuses, and a cancel request's outcome (its target's canceled event naming
# it, or its own not_cancelable rejection), also as Bot routes events.  Run by
# tests/test_python_bot.sh; alone: /usr/bin/python3 -m unittest -v (from
# producers/python).
import datetime as dt
import json
import os
import sys
import unittest
import uuid
from decimal import Decimal

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from orderbot import (IntentError, Outcome, build_cancel, build_intent, check_intent,  # noqa: E402
                      decided_intents, encode_intent, load_signing_key, sign)

BASE = dict(bot_id="bot-1", user_id="user.1", symbol="AAPL", side="buy")


def build(**kw):
    a = dict(BASE)
    a.update(kw)
    return build_intent(**a)


class Refused(unittest.TestCase):
    def refused(self, field, **kw):
        with self.assertRaises(ValueError) as cm:  # IntentError is a ValueError
            build(**kw)
        self.assertIsInstance(cm.exception, IntentError)
        self.assertIn(field, cm.exception.fields, str(cm.exception))
        self.assertIn(field, str(cm.exception))
        return cm.exception

    def test_float_qty(self):
        e = self.refused("qty", qty=0.1)
        self.assertIn("float", str(e))

    def test_float_prices_and_notional(self):
        self.refused("notional", notional=10.5)
        self.refused("limit_price", type="limit", qty=1, limit_price=187.25)
        self.refused("stop_price", type="stop", qty=1, stop_price=180.0)

    def test_bool_is_not_a_quantity(self):
        self.refused("qty", qty=True)

    def test_lower_case_symbol(self):
        e = self.refused("symbol", symbol="aapl", qty=1)
        self.assertIn("upper case", str(e))

    def test_bad_symbols(self):
        self.refused("symbol", symbol="", qty=1)
        self.refused("symbol", symbol="A" * 16, qty=1)
        self.refused("symbol", symbol="AA PL", qty=1)

    def test_qty_and_notional(self):
        self.refused("notional", qty=1, notional=100)

    def test_neither_qty_nor_notional(self):
        self.refused("qty")

    def test_notional_only_with_market(self):
        self.refused("notional", type="limit", notional=100, limit_price="10")

    def test_places(self):
        self.refused("qty", qty=Decimal("0.0000000001"))
        self.refused("notional", notional="10.001")
        build(qty=Decimal("0.123456789"))            # 9 places: fine
        build(notional="10.10")                      # trailing zeros do not count
        build(qty=Decimal("1.5000000000000"))

    def test_not_positive(self):
        self.refused("qty", qty=0)
        self.refused("qty", qty="-1")
        self.refused("notional", notional=Decimal("0.00"))

    def test_decimal_syntax(self):
        self.refused("qty", qty="1e3")
        self.refused("qty", qty=" 1")
        self.refused("qty", qty="+1")
        self.refused("qty", qty=Decimal("NaN"))
        self.refused("qty", qty=Decimal("Infinity"))

    def test_prices_by_type(self):
        self.refused("limit_price", type="limit", qty=1)
        self.refused("stop_price", type="stop", qty=1)
        e = self.refused("limit_price", type="stop_limit", qty=1)
        self.assertIn("stop_price", e.fields)   # every broken field is named
        self.refused("limit_price", qty=1, limit_price="10")      # market: forbidden
        self.refused("stop_price", type="limit", qty=1, limit_price="10", stop_price="9")

    def test_enums(self):
        self.refused("side", side="short", qty=1)
        self.refused("type", type="trailing_stop", qty=1)
        self.refused("time_in_force", qty=1, time_in_force="GTC")
        self.refused("extended_hours", qty=1, extended_hours="yes")

    def test_ids(self):
        self.refused("bot_id", bot_id="bot 1", qty=1)
        self.refused("user_id", user_id="u" * 65, qty=1)
        self.refused("intent_id", intent_id="not-a-uuid", qty=1)

    def test_times(self):
        self.refused("expires_at", qty=1, expires_at="2026-02-30T10:00:00Z")
        self.refused("expires_at", qty=1, expires_at="2026-11-23 10:00:00")
        self.refused("expires_at", qty=1, expires_at=dt.datetime(2026, 11, 23, 10, 0))  # naive
        self.refused("created_at", qty=1, created_at="yesterday")

    def test_meta(self):
        self.refused("meta", qty=1, meta=["not", "an", "object"])
        self.refused("meta", qty=1, meta={"blob": "x" * 8200})
        self.refused("meta", qty=1, meta={"when": dt.date(2026, 1, 1)})

    def test_unknown_field(self):
        with self.assertRaises(IntentError) as cm:
            check_intent({**build(qty=1), "strategy": "x"})
        self.assertEqual(["strategy"], cm.exception.fields)

    def test_user_topic_has_no_bot_id(self):
        with self.assertRaises(IntentError) as cm:
            check_intent(build(qty=1), "user")
        self.assertEqual(["bot_id"], cm.exception.fields)


class Accepted(unittest.TestCase):
    def test_wire_form(self):
        i = build(type="stop_limit", qty=Decimal("2.50"), limit_price=Decimal("187.25"),
                  stop_price=180, time_in_force="gtc", expires_at=dt.timedelta(minutes=5),
                  meta={"confidence": Decimal("0.7"), "why": "dip"})
        self.assertEqual(str(uuid.UUID(i["intent_id"])), i["intent_id"])
        self.assertEqual(4, uuid.UUID(i["intent_id"]).version)
        self.assertRegex(i["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        created = dt.datetime.fromisoformat(i["created_at"].replace("Z", "+00:00"))
        expires = dt.datetime.fromisoformat(i["expires_at"].replace("Z", "+00:00"))
        self.assertEqual(dt.timedelta(minutes=5), expires - created)
        wire = json.loads(encode_intent(i))
        self.assertEqual(("2.50", "187.25", "180"),
                         (wire["qty"], wire["limit_price"], wire["stop_price"]))
        self.assertEqual("0.7", wire["meta"]["confidence"])
        self.assertNotIn("notional", wire)
        for k in ("qty", "limit_price", "stop_price"):
            self.assertIsInstance(wire[k], str)

    def test_exponent_decimal_is_written_plain(self):
        self.assertEqual("100", build(qty=Decimal("1E+2"))["qty"])

    def test_past_expiry_is_not_a_client_error(self):
        # The worker rejects it as expired; that is an outcome, not a bug.
        build(qty=1, expires_at="2020-01-01T00:00:00Z")

    def test_notional_market(self):
        self.assertEqual("250", build(notional=250)["notional"])


def ev(iid, typ, n=1, **kw):
    e = {"schema": "order-fill/v1", "event_id": f"{iid}:{typ}:{n}", "intent_id": iid, "type": typ}
    e.update(kw)
    return e


class Folding(unittest.TestCase):
    def test_fill(self):
        o = Outcome("i1")
        self.assertFalse(o.add(ev("i1", "accepted"), "fills"))
        self.assertFalse(o.done)
        self.assertTrue(o.add(ev("i1", "fill", filled_qty="2", filled_avg_price="187.5"), "fills"))
        self.assertEqual(("fill", 1, Decimal("2"), Decimal("187.5")),
                         (o.status, o.terminal_events, o.filled_qty, o.filled_avg_price))
        self.assertEqual(["accepted", "fill"], o.event_types)

    def test_rejection(self):
        o = Outcome("i2")
        o.add({"event_id": "i2:rejected", "intent_id": "i2", "reason": "quota_exceeded",
               "message": "bot quota", "retry_after_ms": 1234}, "rejections")
        self.assertEqual(("rejected", "quota_exceeded", 1234), (o.status, o.reason, o.retry_after_ms))

    def test_second_terminal_is_counted_not_taken(self):
        o = Outcome("i3")
        o.add(ev("i3", "canceled"), "fills")
        o.add({"event_id": "i3:rejected", "intent_id": "i3", "reason": "expired"}, "rejections")
        self.assertEqual(("canceled", 2), (o.status, o.terminal_events))


TARGET = "6f1c2b9e-8d4a-4e1b-9c3f-2a7d5e0b1c44"


def cancel(**kw):
    a = dict(bot_id="bot-1", user_id="user.1", target_intent_id=TARGET)
    a.update(kw)
    return build_cancel(**a)


class CancelRequest(unittest.TestCase):
    def refused(self, field, intent, source="bot"):
        with self.assertRaises(IntentError) as cm:
            check_intent(intent, source)
        self.assertIn(field, cm.exception.fields, str(cm.exception))
        return cm.exception

    def test_wire_form(self):
        c = cancel(meta={"why": "stale"}, expires_at=dt.timedelta(seconds=30))
        self.assertEqual(4, uuid.UUID(c["intent_id"]).version)
        self.assertNotEqual(TARGET, c["intent_id"])
        wire = json.loads(encode_intent(c))
        self.assertEqual(["action", "bot_id", "created_at", "expires_at", "intent_id", "meta",
                          "target_intent_id", "user_id"], sorted(wire))
        self.assertEqual(("cancel", TARGET, "stale"),
                         (wire["action"], wire["target_intent_id"], wire["meta"]["why"]))
        self.assertEqual(c, check_intent(c))  # what was built checks again unchanged

    def test_order_fields_are_refused(self):
        for name, v in (("symbol", "AAPL"), ("side", "buy"), ("type", "limit"), ("qty", "1"),
                        ("notional", "10"), ("limit_price", "1"), ("stop_price", "1"),
                        ("time_in_force", "gtc"), ("extended_hours", False)):
            e = self.refused(name, {**cancel(), name: v})
            self.assertIn("not allowed in a cancel request", str(e))
        self.refused("strategy", {**cancel(), "strategy": "x"})

    def test_target(self):
        c = cancel()
        self.refused("target_intent_id", {k: v for k, v in c.items() if k != "target_intent_id"})
        self.refused("target_intent_id", {**c, "target_intent_id": "not-a-uuid"})
        self.refused("target_intent_id", {**c, "target_intent_id": 7})
        e = self.refused("target_intent_id", {**c, "target_intent_id": c["intent_id"]})
        self.assertIn("another intent", str(e))
        with self.assertRaises(IntentError):
            cancel(target_intent_id=None)

    def test_common_rules_still_hold(self):
        self.refused("bot_id", cancel(), "user")
        self.refused("intent_id", {**cancel(), "intent_id": "x"})
        self.refused("created_at", {**cancel(), "created_at": "yesterday"})
        self.refused("meta", {**cancel(), "meta": ["x"]})
        with self.assertRaises(IntentError) as cm:
            cancel(bot_id="bot 1", expires_at="2026-02-30T10:00:00Z")
        self.assertEqual({"bot_id", "expires_at"}, set(cm.exception.fields))

    def test_action(self):
        self.refused("action", {**build(qty=1), "action": "delete"})
        e = self.refused("target_intent_id", {**build(qty=1), "target_intent_id": TARGET})
        self.assertIn("only allowed with action cancel", str(e))
        placed = check_intent({**build(qty=1), "action": "place"})
        self.assertEqual("place", placed["action"])
        self.refused("symbol", {"intent_id": str(uuid.uuid4()), "action": "place",
                                "bot_id": "b", "user_id": "u", "created_at": "2026-11-23T10:00:00Z"})


REQ = "2b7e4f10-3c5d-4a6b-8e9f-1a2b3c4d5e6f"


class CancelFolding(unittest.TestCase):
    def canceled(self, **kw):
        return ev(TARGET, "canceled", order_id="o-1", filled_qty="0", **kw)

    def test_decided_intents(self):
        self.assertEqual([TARGET, REQ], decided_intents(
            self.canceled(cancel_intent_id=REQ, cancel_reason="requested"), "fills"))
        self.assertEqual([TARGET], decided_intents(self.canceled(cancel_reason="operator"), "fills"))
        self.assertEqual([TARGET], decided_intents(ev(TARGET, "fill"), "fills"))

    def test_canceled_names_the_request(self):
        target, req = Outcome(TARGET), Outcome(REQ, target_intent_id=TARGET)
        e = self.canceled(cancel_intent_id=REQ, cancel_reason="requested")
        self.assertTrue(target.add(e, "fills"))
        self.assertTrue(req.add(e, "fills"))
        for o in (target, req):
            self.assertEqual(("canceled", REQ, "requested", 1),
                             (o.status, o.cancel_intent_id, o.cancel_reason, o.terminal_events))
        s = req.summary()
        self.assertEqual((TARGET, REQ, f"{TARGET}:canceled:1"),
                         (s["target_intent_id"], s["cancel_intent_id"], s["terminal_event_id"]))

    def test_operator_cancel(self):
        o = Outcome(TARGET)
        o.add(self.canceled(cancel_reason="operator"), "fills")
        self.assertEqual(("canceled", None, "operator"), (o.status, o.cancel_intent_id, o.cancel_reason))

    def test_not_cancelable(self):
        o = Outcome(REQ, target_intent_id=TARGET)
        o.add({"event_id": f"{REQ}:rejected", "intent_id": REQ, "reason": "not_cancelable",
               "message": f"not cancelable: no intent {TARGET}"}, "rejections")
        self.assertEqual(("rejected", "not_cancelable", None), (o.status, o.reason, o.cancel_intent_id))
        self.assertEqual(["rejected"], o.event_types)


class FakeMessage:
    def __init__(self, topic, event):
        self._topic, self._value = topic, json.dumps(event).encode()

    def topic(self):
        return self._topic

    def value(self):
        return self._value


try:
    import confluent_kafka  # noqa: F401
    HAVE_KAFKA = True
except ImportError:
    HAVE_KAFKA = False


@unittest.skipUnless(HAVE_KAFKA, "python3-confluent-kafka is not installed")
class BotRoutesCancelOutcomes(unittest.TestCase):
    """Bot._take without a broker: nothing connects before start()."""

    def setUp(self):
        from orderbot import Bot
        self.bot = Bot("bot-1", "user.1", brokers="127.0.0.1:1", signing_key=bytes(32))
        self.bot._outcomes = {i: Outcome(i) for i in (TARGET, REQ)}
        self.bot._outcomes[REQ].target_intent_id = TARGET

    def test_canceled_event_ends_both(self):
        e = ev(TARGET, "canceled", cancel_intent_id=REQ, cancel_reason="requested")
        self.bot._take(FakeMessage(self.bot.topic_fills, e))
        self.bot._take(FakeMessage(self.bot.topic_fills, e))  # a duplicate
        for i in (TARGET, REQ):
            o = self.bot.outcome(i)
            self.assertEqual(("canceled", REQ, 1, 1),
                             (o.status, o.cancel_intent_id, o.terminal_events, o.duplicates_dropped))

    def test_request_alone_is_still_told(self):
        # The target sent by an earlier run: the request's outcome comes anyway.
        del self.bot._outcomes[TARGET]
        other = ev(TARGET, "canceled", cancel_intent_id=REQ, cancel_reason="requested")
        self.bot._take(FakeMessage(self.bot.topic_fills, other))
        self.assertEqual("canceled", self.bot.outcome(REQ).status)

    def test_not_cancelable_ends_the_request_only(self):
        self.bot._take(FakeMessage(self.bot.topic_rejections, {
            "event_id": f"{REQ}:rejected", "intent_id": REQ, "reason": "not_cancelable"}))
        self.assertEqual(("rejected", "not_cancelable"),
                         (self.bot.outcome(REQ).status, self.bot.outcome(REQ).reason))
        self.assertFalse(self.bot.outcome(TARGET).done)


class SigningTest(unittest.TestCase):
    # openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f <<< 'hello intent' (no newline)
    KEY = bytes(range(32))
    VECTOR = "v1=f6f92ede57c79d4f4317c232ef7867fe3b7d7592a638c55e140728cbd58c488c"

    def test_vector(self):
        self.assertEqual(sign(self.KEY, b"hello intent"), self.VECTOR)

    def test_one_byte_changes_it(self):
        self.assertNotEqual(sign(self.KEY, b"hello intenT"), self.VECTOR)

    def test_key_forms(self):
        self.assertEqual(load_signing_key(self.KEY.hex()), self.KEY)
        self.assertEqual(load_signing_key(" " + self.KEY.hex() + "\n"), self.KEY)
        self.assertEqual(load_signing_key(self.KEY), self.KEY)

    def test_bad_key_is_refused_without_showing_it(self):
        for bad in ("abc", "zz" * 32, b"short", self.KEY.hex() + "00"):
            with self.assertRaises(ValueError) as cm:
                load_signing_key(bad)
            self.assertNotIn("zz", str(cm.exception))
            self.assertNotIn(self.KEY.hex(), str(cm.exception))

    def test_environment(self):
        old = {k: os.environ.pop(k, None) for k in ("INTENT_SIGNING_KEY", "INTENT_SIGNING_KEY_FILE")}
        try:
            self.assertIsNone(load_signing_key())
            os.environ["INTENT_SIGNING_KEY"] = self.KEY.hex()
            self.assertEqual(load_signing_key(), self.KEY)
        finally:
            os.environ.pop("INTENT_SIGNING_KEY", None)
            for k, v in old.items():
                if v is not None:
                    os.environ[k] = v


if __name__ == "__main__":
    unittest.main()

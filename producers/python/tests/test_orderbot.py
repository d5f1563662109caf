#!/usr/bin/python3
# producers/python/tests/test_orderbot.py -- unit tests of orderbot's
# client-side checks and outcome folding (no Kafka needed).
#
# Owns: proving that build_intent/check_intent refuse, with a ValueError naming
# the field, what contract section 3 forbids (float money, lower-case symbols,
# qty with notional, ...), accept what it allows, put decimals on the wire as
# exact strings, and that Outcome keeps the first terminal event, counts
# later ones and takes a rejection's reason / retry_after_ms.  Run by
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
from orderbot import (IntentError, Outcome, build_intent, check_intent, encode_intent,  # noqa: E402
                      load_signing_key, sign)

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

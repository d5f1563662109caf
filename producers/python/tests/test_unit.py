# producers/python/tests/test_unit.py -- orderbot without Kafka (pytest).
#
# Owns: proving that the package refuses what the contract forbids before
# sending (a float anywhere money or a quantity goes, naming the field; a
# lower-case symbol; qty with notional; ...), writes the wire form the worker
# reads (decimals as exact strings, RFC 3339 UTC times, enums as values),
# judges raw intents as the worker does (`python3 -m orderbot.check`, compared
# with `intentctl send --dry-run` when $INTENTCTL names it), carries a schema
# identical to schemas/intent.schema.json, folds events into outcomes (cancel
# requests included, duplicates dropped), signs as the worker checks, and never
# shows a signing key.  Run by tests/test_python_bot.sh from a venv the package
# is installed in; alone: `python3 -m pytest tests` in producers/python.
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict

import pytest

import orderbot
from orderbot import (CancelRequest, FillEvent, IntentError, OrderIntent, OrderType, Outcome,
                      RejectionEvent, RejectionReason, Side, SigningKey, Status, TimeInForce,
                      Tracker, check_bytes, encode_request, event_from_dict, load_signing_key, sign)
from orderbot.validate import SCHEMA_TEXT

HERE = Path(__file__).resolve().parent
REPO = Path(os.environ.get("ORDER_WORKER_ROOT", HERE.parents[2]))
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
import verdicts  # noqa: E402

BOT, USER = "bot-1", "user.1"


def wire(req: Any, bot_id: Any = BOT) -> Dict[str, Any]:
    return json.loads(encode_request(req, bot_id=bot_id, user_id=USER))


def refused(req: Any, field: str, bot_id: Any = BOT) -> IntentError:
    with pytest.raises(IntentError) as ei:
        encode_request(req, bot_id=bot_id, user_id=USER)
    assert field in ei.value.fields, str(ei.value)
    assert field in str(ei.value)
    assert isinstance(ei.value, ValueError)
    return ei.value


# ---------------------------------------------------------------- money is Decimal

@pytest.mark.parametrize("field,kw", [
    ("qty", dict(qty=0.1)),
    ("notional", dict(notional=10.5)),
    ("limit_price", dict(type=OrderType.LIMIT, qty=Decimal(1), limit_price=187.25)),
    ("stop_price", dict(type=OrderType.STOP, qty=Decimal(1), stop_price=180.0)),
])
def test_float_is_refused_naming_the_field(field: str, kw: Dict[str, Any]) -> None:
    e = refused(OrderIntent("AAPL", Side.BUY, **kw), field)
    assert e.fields == [field]
    assert "float" in str(e) and "Decimal" in str(e)


@pytest.mark.parametrize("v", [1, "1", True, Decimal("NaN"), Decimal("Infinity")])
def test_only_a_finite_decimal_is_money(v: Any) -> None:
    refused(OrderIntent("AAPL", Side.BUY, qty=v), "qty")


# ---------------------------------------------------------------- contract rules

@pytest.mark.parametrize("field,kw,words", [
    ("symbol", dict(symbol="aapl", qty=Decimal(1)), "upper case"),
    ("symbol", dict(symbol="", qty=Decimal(1)), "1 to 15"),
    ("symbol", dict(symbol="A" * 16, qty=Decimal(1)), "1 to 15"),
    ("symbol", dict(symbol="AA PL", qty=Decimal(1)), "A-Z 0-9"),
    ("notional", dict(qty=Decimal(1), notional=Decimal(100)), "together with qty"),
    ("qty", dict(), "exactly one of qty and notional"),
    ("notional", dict(type=OrderType.LIMIT, notional=Decimal(100), limit_price=Decimal(10)),
     "only allowed with type market"),
    ("qty", dict(qty=Decimal("0.0000000001")), "at most 9 decimal places"),
    ("notional", dict(notional=Decimal("10.001")), "at most 2 decimal places"),
    ("qty", dict(qty=Decimal(0)), "must be positive"),
    ("qty", dict(qty=Decimal(-5)), "must be positive"),
    ("limit_price", dict(type=OrderType.LIMIT, qty=Decimal(1)), "required with type limit"),
    ("stop_price", dict(type=OrderType.STOP_LIMIT, qty=Decimal(1), limit_price=Decimal(1)),
     "required with type stop_limit"),
    ("limit_price", dict(qty=Decimal(1), limit_price=Decimal(1)), "not allowed with type market"),
    ("side", dict(side="hold", qty=Decimal(1)), "one of buy, sell"),
    ("type", dict(type="twap", qty=Decimal(1)), "one of market"),
    ("time_in_force", dict(qty=Decimal(1), time_in_force="week"), "one of day"),
    ("extended_hours", dict(qty=Decimal(1), extended_hours="yes"), "boolean"),
    ("expires_at", dict(qty=Decimal(1), expires_at="2026-02-30T00:00:00Z"), "RFC 3339"),
    ("created_at", dict(qty=Decimal(1), created_at="yesterday"), "RFC 3339"),
    ("created_at", dict(qty=Decimal(1), created_at=dt.datetime(2026, 1, 1)), "naive"),
    ("meta", dict(qty=Decimal(1), meta={"x": "y" * 9000}), "over the limit of 8192"),
    ("intent", dict(qty=Decimal(1), intent_id="not-a-uuid"), "intent_id"),
])
def test_refused(field: str, kw: Dict[str, Any], words: str) -> None:
    args: Dict[str, Any] = dict(symbol="AAPL", side=Side.BUY)
    args.update(kw)
    e = refused(OrderIntent(**args), field)
    assert words in str(e)


def test_every_broken_field_is_named() -> None:
    e = refused(OrderIntent("aapl", Side.BUY, qty=Decimal(-5)), "symbol")
    assert e.fields == ["symbol", "qty"]


def test_ids_are_checked() -> None:
    refused(OrderIntent("AAPL", Side.BUY, qty=Decimal(1)), "bot_id", bot_id="bad id")
    with pytest.raises(IntentError):
        orderbot.check_ids(bot_id="ok", user_id="")


def test_user_topic_has_no_bot_id() -> None:
    w = wire(OrderIntent("AAPL", Side.BUY, qty=Decimal(1)), bot_id=None)
    assert "bot_id" not in w
    v = check_bytes(json.dumps(dict(w, bot_id="b")).encode(), "user")
    assert (v.valid, v.fields) == (False, ["bot_id"])


def test_wire_form() -> None:
    o = OrderIntent("BRK.B", Side.SELL, type=OrderType.STOP_LIMIT, qty=Decimal("2.50"),
                    limit_price=Decimal("187.25"), stop_price=Decimal("1E+2"),
                    time_in_force=TimeInForce.GTC, expires_at=dt.timedelta(minutes=5),
                    meta={"confidence": Decimal("0.7"), "why": "dip"})
    w = wire(o)
    assert uuid.UUID(w["intent_id"]).version == 4 and w["intent_id"] == o.intent_id
    assert (w["side"], w["type"], w["time_in_force"]) == ("sell", "stop_limit", "gtc")
    assert (w["qty"], w["limit_price"], w["stop_price"]) == ("2.50", "187.25", "100")
    assert w["meta"] == {"confidence": "0.7", "why": "dip"}
    created = dt.datetime.fromisoformat(w["created_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(w["expires_at"].replace("Z", "+00:00"))
    assert expires - created == dt.timedelta(minutes=5)
    assert w["created_at"].endswith("Z") and len(w["created_at"]) == 24
    assert "notional" not in w and "action" not in w


def test_past_expiry_is_not_a_client_error() -> None:
    # The worker rejects it as expired; that is an outcome, not a bug.
    wire(OrderIntent("AAPL", Side.BUY, qty=Decimal(1), expires_at="2020-01-01T00:00:00Z"))


def test_cancel_request() -> None:
    target = str(uuid.uuid4())
    c = CancelRequest(target, meta={"why": "stale"})
    w = wire(c)
    assert (w["action"], w["target_intent_id"], w["bot_id"]) == ("cancel", target, BOT)
    assert set(w) == {"intent_id", "action", "target_intent_id", "bot_id", "user_id",
                      "created_at", "meta"}
    refused(CancelRequest("nope"), "target_intent_id")
    refused(CancelRequest(target, intent_id=target), "target_intent_id")


def test_enums_are_their_values() -> None:
    assert f"{Side.BUY}" == "buy" and str(Status.FILL) == "fill"
    assert json.dumps([Side.SELL, RejectionReason.NOT_CANCELABLE]) == '["sell", "not_cancelable"]'


# ---------------------------------------------------------------- the schema and the CLI

def test_the_installed_package_is_tested() -> None:
    if os.environ.get("ORDERBOT_EXPECT_INSTALLED") != "1":
        pytest.skip("not run from an installed package (ORDERBOT_EXPECT_INSTALLED)")
    assert "site-packages" in orderbot.__file__, orderbot.__file__


def test_package_schema_is_the_repository_schema() -> None:
    assert SCHEMA_TEXT == (REPO / "schemas" / "intent.schema.json").read_bytes(), \
        "orderbot/intent.schema.json differs from schemas/intent.schema.json: copy it over"


def run_check(lines: bytes, *args: str) -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run([sys.executable, "-m", "orderbot.check", *args], input=lines,
                          capture_output=True, timeout=60)


def test_check_cli() -> None:
    good = encode_request(OrderIntent("AAPL", Side.BUY, qty=Decimal(1)), bot_id=BOT, user_id=USER)
    bad = json.dumps(dict(json.loads(good), symbol="aapl", qty="-1")).encode()
    p = run_check(good + b"\n\n" + bad + b"\r\nnot json\n")
    assert p.returncode == 0, p.stderr
    out = [json.loads(x) for x in p.stdout.splitlines()]
    assert out[0] == {"valid": True}
    assert (out[1]["valid"], out[1]["fields"], out[1]["reason"]) == \
        (False, ["symbol", "qty"], "validation_failed")
    assert out[1]["errors"] == [{"field": "symbol", "message": "must be upper case"},
                                {"field": "qty", "message": "must be positive"}]
    assert (out[2]["valid"], out[2]["fields"], out[2]["reason"]) == (False, [], "not_json")
    assert len(out) == 3
    p = run_check(good + b"\n", "--source", "user")
    assert json.loads(p.stdout)["fields"] == ["bot_id"]
    assert run_check(b"", "--source", "nobody").returncode == 2


def intentctl() -> str:
    path = os.environ.get("INTENTCTL") or str(REPO / "build" / "bin" / "intentctl")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no intentctl at {path} (set INTENTCTL)")
    return path


def samples() -> list[bytes]:
    now = dt.datetime.now(dt.timezone.utc)
    fill = {"@BOT_ID": "sample-bot", "@USER_ID": "sample-user", "@NOW": orderbot.rfc3339(now),
            "@FIVE_MIN_AGO": orderbot.rfc3339(now - dt.timedelta(minutes=5)),
            "@MARKETABLE_LIMIT": "1000.00", "@RESTING_LIMIT": "1.00"}

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if v == "@INTENT_ID":
            return str(uuid.uuid4())
        return fill.get(v, v) if isinstance(v, str) else v
    out = []
    for f in sorted((REPO / "producers" / "samples").iterdir()):
        for line in f.read_bytes().splitlines():
            try:
                out.append(json.dumps(walk(json.loads(line))).encode())
            except ValueError:
                out.append(line)
    return out


def test_samples_same_verdicts_as_the_worker() -> None:
    lines = samples()
    assert len(lines) >= 10
    w, p = verdicts.worker_verdicts(intentctl(), lines), verdicts.package_verdicts(lines)
    assert [v for v, _ in w].count(False) >= 2  # the broken samples are there
    assert w == p


def test_corpus_same_verdicts_as_the_worker() -> None:
    lines = corpus.corpus()
    w, p = verdicts.worker_verdicts(intentctl(), lines), verdicts.package_verdicts(lines)
    bad = [(line[:200], a, b) for line, a, b in zip(lines, w, p) if a != b]
    assert not bad, f"{len(bad)} of {len(lines)} differ, e.g. {bad[:5]}"
    assert sum(1 for v, _ in w if not v) > len(lines) // 2


# ---------------------------------------------------------------- outcomes

TARGET, REQ = str(uuid.uuid4()), str(uuid.uuid4())


def fill(iid: str, typ: str, n: int = 1, **extra: Any) -> FillEvent:
    d = {"schema": "order-fill/v1", "event_id": f"{iid}:{typ}:{n}", "type": typ,
         "intent_id": iid, "user_id": USER, "symbol": "AAPL", "side": "buy",
         "occurred_at": "2026-11-23T13:21:25.123Z", "client_order_id": f"ow-{iid}",
         "order_type": "limit", "status": typ, "filled_qty": "0", "filled_avg_price": None,
         "order_id": "o-1", "qty": "1"}
    d.update(extra)
    ev = event_from_dict("fills", d)
    assert isinstance(ev, FillEvent)
    return ev


def rejection(iid: str, reason: str, **extra: Any) -> RejectionEvent:
    d = {"schema": "order-rejection/v1", "event_id": f"{iid}:rejected", "intent_id": iid,
         "user_id": USER, "symbol": "AAPL", "side": "buy",
         "occurred_at": "2026-11-23T13:21:25.123Z", "reason": reason, "message": "no"}
    d.update(extra)
    ev = event_from_dict("rejections", d)
    assert isinstance(ev, RejectionEvent)
    return ev


def test_fill_outcome() -> None:
    o = Outcome(TARGET)
    assert not o.add(fill(TARGET, "accepted"))
    assert o.add(fill(TARGET, "fill", filled_qty="1", filled_avg_price="187.25",
                      last_fill_qty="1", last_fill_price="187.25"))
    assert (o.status, o.filled_qty, o.filled_avg_price) == (Status.FILL, Decimal(1),
                                                            Decimal("187.25"))
    assert o.event_types == ["accepted", "fill"] and o.order_id == "o-1"
    assert o.summary()["status"] == "fill" and o.summary()["filled_qty"] == "1"


def test_rejection_outcome() -> None:
    o = Outcome(TARGET)
    o.add(rejection(TARGET, "quota_exceeded", retry_after_ms=1500,
                    errors=[{"field": "qty", "message": "x"}]))
    assert (o.status, o.reason, o.retry_after_ms) == (Status.REJECTED,
                                                     RejectionReason.QUOTA_EXCEEDED, 1500)
    assert o.errors[0].field == "qty"
    assert o.summary()["reason"] == "quota_exceeded"


def test_second_terminal_is_counted_not_taken() -> None:
    o = Outcome(TARGET)
    o.add(fill(TARGET, "fill"))
    o.add(rejection(TARGET, "broker_rejected"))
    assert (o.status, o.terminal_events) == (Status.FILL, 2)


def test_tracker_drops_duplicates_and_foreign_events() -> None:
    t = Tracker()
    t.track(TARGET)
    assert t.take(fill(TARGET, "fill")) and not t.take(fill(TARGET, "fill"))
    assert t.outcomes[TARGET].duplicates_dropped == 1
    assert t.take(fill(str(uuid.uuid4()), "fill")) == []
    with pytest.raises(ValueError):
        t.track(TARGET)


def test_canceled_event_ends_the_request_too() -> None:
    t = Tracker()
    t.track(TARGET)
    t.track(REQ, TARGET)
    t.take(fill(TARGET, "canceled", cancel_intent_id=REQ, cancel_reason="requested"))
    tgt, req = t.outcomes[TARGET], t.outcomes[REQ]
    assert (tgt.status, tgt.cancel_intent_id, tgt.cancel_reason) == (Status.CANCELED, REQ,
                                                                     "requested")
    assert (req.status, req.terminal) == (Status.CANCELED, tgt.terminal)
    assert req.summary()["terminal_event_id"] == f"{TARGET}:canceled:1"


def test_not_cancelable_ends_the_request_only() -> None:
    t = Tracker()
    t.track(TARGET)
    t.track(REQ, TARGET)
    t.take(rejection(REQ, "not_cancelable"))
    assert (t.outcomes[REQ].status, t.outcomes[REQ].reason) == (
        Status.REJECTED, RejectionReason.NOT_CANCELABLE)
    assert not t.outcomes[TARGET].done


def test_malformed_event_is_skipped() -> None:
    assert orderbot.parse_event("fills", b'{"event_id": "x"}') is None
    assert orderbot.parse_event("rejections", b"not json") is None


# ---------------------------------------------------------------- signing

KEY = bytes(range(32))
# openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f <<< 'hello intent' (no newline)
VECTOR = "v1=f6f92ede57c79d4f4317c232ef7867fe3b7d7592a638c55e140728cbd58c488c"


def test_signing_vector() -> None:
    assert sign(KEY, b"hello intent") == VECTOR
    assert sign(SigningKey(KEY), b"hello intenT") != VECTOR


def test_key_forms() -> None:
    for form in (KEY.hex(), " " + KEY.hex() + "\n", KEY, SigningKey(KEY)):
        assert load_signing_key(form) == SigningKey(KEY)


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, b"short", KEY.hex() + "00"])
def test_bad_key_is_refused_without_showing_it(bad: Any) -> None:
    with pytest.raises(ValueError) as ei:
        load_signing_key(bad)
    assert "zz" not in str(ei.value) and KEY.hex() not in str(ei.value)


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("INTENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("INTENT_SIGNING_KEY_FILE", raising=False)
    assert load_signing_key() is None
    monkeypatch.setenv("INTENT_SIGNING_KEY", KEY.hex())
    assert load_signing_key() == SigningKey(KEY)
    (tmp_path / "k").write_text("ff" * 32 + "\n")
    monkeypatch.setenv("INTENT_SIGNING_KEY_FILE", str(tmp_path / "k"))
    assert load_signing_key() == SigningKey(b"\xff" * 32)


def test_no_key_in_reprs_or_errors() -> None:
    from orderbot import AsyncBot, Bot
    texts = [repr(SigningKey(KEY)), str(SigningKey(KEY))]
    for cls in (Bot, AsyncBot):
        b = cls("bot-1", "user-1", brokers="127.0.0.1:1", signing_key=KEY.hex())
        texts += [repr(b), str(b), repr(b.settings), str(vars(b))]
        assert "signed=True" in repr(b)
    with pytest.raises(ValueError) as ei:
        load_signing_key(KEY.hex()[:-2])
    texts.append(str(ei.value))
    for t in texts:
        assert KEY.hex() not in t and KEY.hex()[:-2] not in t and repr(KEY) not in t, t

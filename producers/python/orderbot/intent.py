# orderbot/intent.py -- building and checking order intents (contract section 3)
# and cancel requests (section 3b: "action": "cancel" with target_intent_id).
#
# Owns: turning a bot author's arguments into the JSON object the worker reads
# (uuid4 intent_id, created_at in RFC 3339 UTC, decimals as exact strings) and
# checking an intent or a cancel request against the contract's rules before
# it is sent.  Why: a
# mistake caught here is a ValueError naming the field at the call site,
# instead of a validation_failed rejection seconds later on orders.rejections.
# The worker (worker/intent.c) stays the judge; these checks only ever refuse
# what the worker would refuse too.  No Kafka here, so it is testable alone.
#
# Money is decimal.Decimal (or int, or a decimal string) -- never float: a
# binary float cannot hold 0.1 exactly and the worker reads decimals exactly.
import datetime as _dt
import json
import re
import uuid
from decimal import Decimal, InvalidOperation

MAX_INTENT_BYTES = 65536
MAX_META_BYTES = 8192
MAX_DECIMAL_TEXT = 47  # the worker's canonical decimal text (no trailing zeros)
MAX_TIME_TEXT = 47

SIDES = ("buy", "sell")
TYPES = ("market", "limit", "stop", "stop_limit")
TIMES_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
ACTIONS = ("place", "cancel")
FIELDS = ("intent_id", "action", "bot_id", "user_id", "symbol", "side", "type", "qty",
          "notional", "limit_price", "stop_price", "time_in_force",
          "extended_hours", "created_at", "expires_at", "meta")
# A cancel request carries these and nothing else (no order field).
CANCEL_FIELDS = ("intent_id", "action", "target_intent_id", "bot_id", "user_id",
                 "created_at", "expires_at", "meta")

_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SYMBOL = re.compile(r"[A-Z0-9./]{1,15}")
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_RFC3339 = re.compile(
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):"
    r"([0-5][0-9]):([0-5][0-9])(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")


class IntentError(ValueError):
    """An intent breaks a contract rule.  .errors lists (field, message)
    pairs, every broken field, like the worker's validation_failed event."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("invalid intent: " + "; ".join(f"{f} {m}" for f, m in self.errors))

    @property
    def fields(self):
        return [f for f, _ in self.errors]


def rfc3339(t):
    """An aware datetime as RFC 3339 UTC with milliseconds: 2026-11-23T13:21:25.123Z."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone: use datetime.now(timezone.utc)")
    t = t.astimezone(_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def now_rfc3339():
    return rfc3339(_dt.datetime.now(_dt.timezone.utc))


def decimal_text(d):
    """The canonical text of a Decimal: plain digits, no exponent, no trailing
    fraction zeros (how the worker counts places and length)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _decimal(errors, name, v):
    """v as a Decimal, or None after recording why it is not one."""
    if isinstance(v, bool) or isinstance(v, float):
        errors.append((name, f"must be a decimal.Decimal, int or decimal string, not "
                             f"{type(v).__name__} (binary floating point is not exact; "
                             f"write Decimal(\"{v}\") or \"{v}\")"))
        return None
    if isinstance(v, Decimal):
        if not v.is_finite():
            errors.append((name, f"must be a finite decimal, not {v}"))
            return None
        return v
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str):
        if not _DECIMAL_TEXT.fullmatch(v):
            errors.append((name, f"must be a decimal like \"10\" or \"0.5\" (digits and an "
                                 f"optional fraction; no exponent, '+' or spaces), not {v!r}"))
            return None
        try:
            return Decimal(v)
        except InvalidOperation:  # pragma: no cover - the pattern already checked
            errors.append((name, f"is not a decimal: {v!r}"))
            return None
    errors.append((name, f"must be a decimal.Decimal, int or decimal string, not "
                         f"{type(v).__name__}"))
    return None


def _check_decimal(errors, name, v, max_places):
    """Checks a decimal field; returns its wire text (a string) or None."""
    d = _decimal(errors, name, v)
    if d is None:
        return None
    if d <= 0:
        errors.append((name, f"must be positive, not {decimal_text(d)}"))
        return None
    text = decimal_text(d)
    if len(text) > MAX_DECIMAL_TEXT:
        errors.append((name, f"has too many digits ({len(text)} characters, at most "
                             f"{MAX_DECIMAL_TEXT})"))
        return None
    places = len(text.split(".")[1]) if "." in text else 0
    if max_places is not None and places > max_places:
        errors.append((name, f"must have at most {max_places} decimal places, "
                             f"{text} has {places}"))
        return None
    return format(d, "f")


def _check_time(errors, name, v):
    """A datetime (aware) or an RFC 3339 string; returns the wire text or None."""
    if isinstance(v, _dt.datetime):
        try:
            return rfc3339(v)
        except ValueError as e:
            errors.append((name, str(e)))
            return None
    if not isinstance(v, str):
        errors.append((name, f"must be an aware datetime or an RFC 3339 string, not "
                             f"{type(v).__name__}"))
        return None
    m = _RFC3339.fullmatch(v)
    ok = m is not None and len(v) <= MAX_TIME_TEXT
    if ok:
        try:  # a real calendar date: no 2026-02-30
            _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            ok = False
    if not ok:
        errors.append((name, f"must be an RFC 3339 date-time like \"2026-11-23T13:21:25Z\" "
                             f"(with a valid date, time and offset), not {v!r}"))
        return None
    return v


def _check_id(errors, name, v):
    if not isinstance(v, str) or not _ID.fullmatch(v):
        errors.append((name, f"must be 1-64 of A-Z a-z 0-9 . _ -, not {v!r}"))


def _json_default(o):
    # Decimals in meta travel as strings, like every decimal of the contract.
    if isinstance(o, Decimal):
        return decimal_text(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def check_ids(**ids):
    """Checks bot_id= / user_id= style ids; raises IntentError naming the bad ones."""
    errors = []
    for name, v in ids.items():
        _check_id(errors, name, v)
    if errors:
        raise IntentError(errors)


def _meta_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def check_intent(intent, source="bot"):
    """Checks a wire-level intent (a dict as it will be sent) against contract
    section 3 -- or, with "action": "cancel", a cancel request against section
    3b -- and returns a new dict with its decimals and times as strings.
    Raises IntentError naming every broken field.  source: "bot" (bot_id
    required) or "user" (bot_id absent)."""
    if not isinstance(intent, dict):
        raise IntentError([("intent", f"must be a dict, not {type(intent).__name__}")])
    errors = []
    out = {}
    _check_who(intent, source, errors, out)
    action = intent.get("action")
    if action is not None:
        if action not in ACTIONS:
            errors.append(("action", f"must be one of {', '.join(ACTIONS)}, not {action!r}"))
        else:
            out["action"] = action
    if action == "cancel":
        _check_cancel_fields(intent, errors, out)
    else:
        _check_order_fields(intent, errors, out)
    _check_when_and_meta(intent, errors, out)
    if errors:
        raise IntentError(errors)
    if len(encode_intent(out)) > MAX_INTENT_BYTES:
        raise IntentError([("intent", f"is over {MAX_INTENT_BYTES} bytes as JSON")])
    return out


def _check_who(intent, source, errors, out):
    """intent_id, bot_id and user_id: the same for an order and a cancel request."""
    g = intent.get
    iid = g("intent_id")
    if not isinstance(iid, str) or not _UUID.fullmatch(iid):
        errors.append(("intent_id", f"must be a UUID (8-4-4-4-12 hex digits), not {iid!r}"))
    else:
        out["intent_id"] = iid
    if source == "bot":
        if "bot_id" not in intent:
            errors.append(("bot_id", "is required on the bot topic"))
        else:
            _check_id(errors, "bot_id", g("bot_id"))
            out["bot_id"] = g("bot_id")
    elif "bot_id" in intent:
        errors.append(("bot_id", "must be absent on the user topic"))
    if "user_id" not in intent:
        errors.append(("user_id", "is required"))
    else:
        _check_id(errors, "user_id", g("user_id"))
        out["user_id"] = g("user_id")


def _check_cancel_fields(intent, errors, out):
    """A cancel request's target, and none of an order's fields (section 3b)."""
    target = intent.get("target_intent_id")
    if target is None:
        errors.append(("target_intent_id", "is required in a cancel request"))
    elif not isinstance(target, str) or not _UUID.fullmatch(target):
        errors.append(("target_intent_id", f"must be a UUID (8-4-4-4-12 hex digits), "
                                           f"not {target!r}"))
    elif target == intent.get("intent_id"):
        errors.append(("target_intent_id", "must name another intent, not the cancel "
                                           "request itself"))
    else:
        out["target_intent_id"] = target
    for k in intent:
        if k not in CANCEL_FIELDS:
            why = ("is not allowed in a cancel request" if k in FIELDS
                   else "is not a known field (extras belong in meta)")
            errors.append((k, why))


def _check_order_fields(intent, errors, out):
    """An order intent's own fields (section 3): symbol .. extended_hours."""
    g = intent.get
    if "target_intent_id" in intent:
        errors.append(("target_intent_id", "is only allowed with action cancel"))
    sym = g("symbol")
    if sym is None:
        errors.append(("symbol", "is required"))
    elif not isinstance(sym, str):
        errors.append(("symbol", f"must be a string, not {type(sym).__name__}"))
    elif not _SYMBOL.fullmatch(sym):
        if _SYMBOL.fullmatch(sym.upper()):
            errors.append(("symbol", f"must be upper case: {sym!r} is not upper-cased for you "
                                     f"(did you mean {sym.upper()!r}?)"))
        else:
            errors.append(("symbol", f"must be 1-15 of A-Z 0-9 . /, not {sym!r}"))
    else:
        out["symbol"] = sym

    for name, allowed in (("side", SIDES), ("type", TYPES)):
        v = g(name)
        if v is None:
            errors.append((name, "is required"))
        elif v not in allowed:
            errors.append((name, f"must be one of {', '.join(allowed)}, not {v!r}"))
        else:
            out[name] = v
    typ = out.get("type")

    has_qty, has_notional = g("qty") is not None, g("notional") is not None
    if has_qty:
        t = _check_decimal(errors, "qty", g("qty"), 9)
        if t is not None:
            out["qty"] = t
    if has_notional:
        if has_qty:
            errors.append(("notional", "must not be given together with qty: give exactly "
                                       "one of them"))
        elif typ is not None and typ != "market":
            errors.append(("notional", f"is only allowed with type market, not {typ}"))
        else:
            t = _check_decimal(errors, "notional", g("notional"), 2)
            if t is not None:
                out["notional"] = t
    if not has_qty and not has_notional:
        errors.append(("qty", "is required: give exactly one of qty and notional"))

    for name, needed_by in (("limit_price", ("limit", "stop_limit")),
                            ("stop_price", ("stop", "stop_limit"))):
        v = g(name)
        if v is not None:
            if typ is not None and typ not in needed_by:
                errors.append((name, f"is not allowed with type {typ}"))
            else:
                t = _check_decimal(errors, name, v, None)
                if t is not None:
                    out[name] = t
        elif typ in needed_by:
            errors.append((name, f"is required with type {typ}"))

    tif = g("time_in_force")
    if tif is not None:
        if tif not in TIMES_IN_FORCE:
            errors.append(("time_in_force", f"must be one of {', '.join(TIMES_IN_FORCE)}, "
                                            f"not {tif!r}"))
        else:
            out["time_in_force"] = tif
    eh = g("extended_hours")
    if eh is not None:
        if not isinstance(eh, bool):
            errors.append(("extended_hours", f"must be a bool, not {type(eh).__name__}"))
        else:
            out["extended_hours"] = eh
    for k in intent:
        if k not in FIELDS and k != "target_intent_id":
            errors.append((k, "is not a known field (extras belong in meta)"))


def _check_when_and_meta(intent, errors, out):
    """created_at, expires_at and meta: the same for an order and a cancel request."""
    g = intent.get
    if g("created_at") is None:
        errors.append(("created_at", "is required"))
    else:
        t = _check_time(errors, "created_at", g("created_at"))
        if t is not None:
            out["created_at"] = t
    if g("expires_at") is not None:
        # A past expiry is no error: the worker rejects the intent as expired.
        t = _check_time(errors, "expires_at", g("expires_at"))
        if t is not None:
            out["expires_at"] = t

    meta = g("meta")
    if meta is not None:
        if not isinstance(meta, dict):
            errors.append(("meta", f"must be a dict, not {type(meta).__name__}"))
        else:
            try:
                n = len(_meta_json(meta).encode("utf-8"))
            except (TypeError, ValueError) as e:
                errors.append(("meta", f"must be JSON-serialisable: {e}"))
            else:
                if n > MAX_META_BYTES:
                    errors.append(("meta", f"is {n} bytes when compact, over the limit of "
                                           f"{MAX_META_BYTES}"))
                else:
                    out["meta"] = meta


def encode_intent(intent):
    """The intent's bytes on the wire: compact UTF-8 JSON (Decimals in meta as strings)."""
    return _meta_json(intent).encode("utf-8")


def build_intent(*, bot_id, user_id, symbol, side, type="market", qty=None, notional=None,
                 limit_price=None, stop_price=None, time_in_force=None, extended_hours=None,
                 expires_at=None, meta=None, intent_id=None, created_at=None):
    """A checked bot intent (dict, decimals as strings) with a fresh uuid4
    intent_id and created_at = now in UTC unless given.  expires_at may be an
    aware datetime, an RFC 3339 string or a datetime.timedelta after
    created_at.  Raises IntentError (a ValueError) naming every broken field."""
    created, expires_at = _times(created_at, expires_at)
    intent = {"intent_id": intent_id if intent_id is not None else str(uuid.uuid4()),
              "bot_id": bot_id, "user_id": user_id, "symbol": symbol, "side": side,
              "type": type}
    for name, v in (("qty", qty), ("notional", notional), ("limit_price", limit_price),
                    ("stop_price", stop_price), ("time_in_force", time_in_force),
                    ("extended_hours", extended_hours), ("created_at", created),
                    ("expires_at", expires_at), ("meta", meta)):
        if v is not None:
            intent[name] = v
    return check_intent(intent, "bot")


def build_cancel(*, bot_id, user_id, target_intent_id, expires_at=None, meta=None,
                 intent_id=None, created_at=None):
    """A checked cancel request (contract section 3b) of the order intent
    target_intent_id, with a fresh uuid4 intent_id of its own and created_at =
    now in UTC unless given; expires_at as for build_intent.  Raises
    IntentError (a ValueError) naming every broken field."""
    created, expires_at = _times(created_at, expires_at)
    intent = {"intent_id": intent_id if intent_id is not None else str(uuid.uuid4()),
              "action": "cancel", "target_intent_id": target_intent_id,
              "bot_id": bot_id, "user_id": user_id, "created_at": created}
    for name, v in (("expires_at", expires_at), ("meta", meta)):
        if v is not None:
            intent[name] = v
    return check_intent(intent, "bot")


def _times(created_at, expires_at):
    """created_at (default now, UTC) and expires_at, a timedelta turned into
    the time that long after created_at."""
    created = created_at if created_at is not None else _dt.datetime.now(_dt.timezone.utc)
    if isinstance(expires_at, _dt.timedelta):
        if not isinstance(created, _dt.datetime):
            raise IntentError([("expires_at", "a timedelta needs created_at as a datetime")])
        expires_at = created + expires_at
    return created, expires_at

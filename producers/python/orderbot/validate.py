# orderbot/validate.py -- the verdict on an intent's bytes, as the worker gives it.
#
# Owns: deciding whether a message is a valid intent or cancel request, and
# naming every offending top-level field the way worker/intent.c (intent_decode)
# names it.  Why: a mistake caught here is an IntentError at the call site
# instead of a validation_failed rejection seconds later; and the CLI
# `python3 -m orderbot.check` lets a test compare this verdict with the
# worker's own on any input.
#
# How, in the worker's order:
# 1. Readability (what the worker sends to the DLQ instead): over 65536
#    bytes, not UTF-8/JSON by jansson's rules (NUL bytes, duplicate keys at any
#    depth, NaN, lone surrogates, nested numbers a double or int64 cannot
#    hold), not an object, no usable intent_id.
# 2. Every field's value is judged by its own subschema of
#    schemas/intent.schema.json (the package's copy, intent.schema.json,
#    kept byte-identical by the test suite); the structure (required fields,
#    cancel vs order, exactly one of qty and notional, prices by type) is
#    checked field by field in the worker's order, because the worker names
#    fields in ways a whole-schema error path does not (e.g. "notional" for
#    notional with a limit type, where the schema's error points at type).
# 3. Only what a schema cannot say is coded here: decimal places and the
#    47-character canonical text of decimals given as JSON numbers, real
#    calendar dates, meta's compact size, a cancel request naming itself.
# 4. The whole schema is run as well; it must agree (a message it refuses
#    that the steps above passed is refused with its error).
# Messages are the worker's own texts.  No Kafka here.
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import jsonschema
from jsonschema import Draft202012Validator

from .types import FieldError, IntentError

MAX_INTENT_BYTES = 65536
MAX_META_BYTES = 8192
MAX_ERRORS = 32          # the worker lists at most this many
MAX_FIELD_BYTES = 31     # and cuts a field name to this many bytes
MAX_DECIMAL_TEXT = 47    # canonical decimal text, sign included
MAX_TIME_TEXT = 47
SOURCES = ("bot", "user")

# The worker's fields in the order it checks them (worker/intent.c).
ORDER_FIELDS = ("symbol", "side", "type", "qty", "notional", "limit_price", "stop_price",
                "time_in_force", "extended_hours")
DECIMAL_PLACES = {"qty": 9, "notional": 2, "limit_price": None, "stop_price": None}
ENUM_TEXT = {"side": "buy, sell", "type": "market, limit, stop, stop_limit",
             "time_in_force": "day, gtc, opg, cls, ioc, fok", "action": "place, cancel"}

SCHEMA_TEXT = resources.files("orderbot").joinpath("intent.schema.json").read_bytes()
SCHEMA: Dict[str, Any] = json.loads(SCHEMA_TEXT)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    # JSON Schema patterns are ECMA-262: "$" is the end of the text.  Python's
    # "$" also matches before a final newline ("AAPL\n"), so it becomes \Z.
    if not validator.is_type(instance, "string"):
        return
    p = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern
    if re.search(p, instance) is None:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})
_ROOT = _Validator(SCHEMA)
_WHOLE = {s: _ROOT.evolve(schema={"$ref": f"#/$defs/{s}_intent"}) for s in SOURCES}
_FIELD = {name: _ROOT.evolve(schema=sub) for name, sub in SCHEMA["properties"].items()}
KNOWN_FIELDS = tuple(SCHEMA["properties"])


@dataclass(frozen=True)
class Verdict:
    """valid, or why not: reason "validation_failed" with errors naming every
    broken field, or a DLQ reason (not_json, not_object, too_large,
    no_intent_id) with message, as the worker decides."""
    valid: bool
    errors: Tuple[FieldError, ...] = ()
    reason: Optional[str] = None
    message: Optional[str] = None

    @property
    def fields(self) -> List[str]:
        return [e.field for e in self.errors]

    def to_json(self) -> Dict[str, Any]:
        if self.valid:
            return {"valid": True}
        d: Dict[str, Any] = {"valid": False, "fields": self.fields,
                             "errors": [{"field": e.field, "message": e.message}
                                        for e in self.errors],
                             "reason": self.reason}
        if self.message is not None:
            d["message"] = self.message
        return d


class _Unreadable(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


# ---------------------------------------------------------------- reading

def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    d: Dict[str, Any] = {}
    for k, v in pairs:
        if k in d:
            raise _Unreadable("not_json", f"not valid JSON: duplicate object key {k!r}")
        if "\x00" in k:
            raise _Unreadable("not_json", "not valid JSON: NUL byte in object key")
        d[k] = v
    return d


def _no_constant(name: str) -> Any:
    raise _Unreadable("not_json", f"not valid JSON: {name} is not a JSON value")


def _load(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                      parse_float=Decimal, parse_int=int)


def _check_nested(v: Any) -> None:
    """What jansson refuses inside a value: lone surrogates, numbers a double
    (or an int64) cannot hold.  Top-level scalars are read from their text."""
    if isinstance(v, dict):
        for k, x in v.items():
            _check_text(k)
            _check_nested(x)
            _check_scalar(x)
    elif isinstance(v, list):
        for x in v:
            _check_nested(x)
            _check_scalar(x)


def _check_scalar(x: Any) -> None:
    if isinstance(x, str):
        _check_text(x)
    elif isinstance(x, bool):
        pass
    elif isinstance(x, int) and not -2**63 <= x < 2**63:
        raise _Unreadable("not_json", "not valid JSON: too big integer")
    elif isinstance(x, Decimal) and math.isinf(float(x)):
        raise _Unreadable("not_json", "not valid JSON: real number overflow")


def _check_text(s: str) -> None:
    if any("\ud800" <= c <= "\udfff" for c in s):
        raise _Unreadable("not_json", "not valid JSON: invalid Unicode (a lone surrogate)")


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\n\r":
        i += 1
    return i


def _member_texts(text: str) -> Dict[str, str]:
    """The raw text of each top-level member's value (text is a JSON object)."""
    dec = json.JSONDecoder(parse_float=Decimal)
    out: Dict[str, str] = {}
    i = _skip_ws(text, 0) + 1
    i = _skip_ws(text, i)
    while i < len(text) and text[i] == '"':
        key, i = dec.raw_decode(text, i)
        i = _skip_ws(text, _skip_ws(text, i) + 1)  # past ':'
        _, end = dec.raw_decode(text, i)
        out[key] = text[i:end]
        i = _skip_ws(text, end)
        if text[i] == ",":
            i = _skip_ws(text, i + 1)
    return out


def _compact(raw: str) -> str:
    """raw without the whitespace outside strings (jsonscan_compact)."""
    out, in_str, esc = [], False, False
    for c in raw:
        if in_str:
            out.append(c)
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c not in " \t\n\r":
            out.append(c)
            in_str = c == '"'
    return "".join(out)


def read(data: bytes) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The intent object and its members' raw texts; raises _Unreadable."""
    if len(data) > MAX_INTENT_BYTES:
        raise _Unreadable("too_large", f"message is {len(data)} bytes, over the limit of "
                                       f"{MAX_INTENT_BYTES}")
    if b"\x00" in data:
        raise _Unreadable("not_json", f"not valid JSON: a NUL byte at offset {data.index(0)}")
    try:
        text = data.decode("utf-8")
        obj = _load(text)
    except UnicodeDecodeError as e:
        raise _Unreadable("not_json", f"not valid JSON: invalid UTF-8 at byte {e.start}")
    except ValueError as e:
        raise _Unreadable("not_json", f"not valid JSON: {e}")
    if not isinstance(obj, dict):
        raise _Unreadable("not_object", f"the message is {json_type_name(obj)}, not a JSON object")
    for k, v in obj.items():
        _check_text(k)
        _check_nested(v)
        if isinstance(v, str):
            _check_text(v)
    return obj, _member_texts(text)


def json_type_name(v: Any) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "a boolean"
    if v is None:
        return "null"
    return "a number"


# ---------------------------------------------------------------- field rules

def _field_ok(name: str, v: Any) -> bool:
    """The field's own subschema of intent.schema.json accepts v."""
    return bool(_FIELD[name].is_valid(v))


def canonical_decimal(d: Decimal) -> str:
    """A decimal's canonical text: plain digits, no exponent, no leading or
    trailing zeros (how the worker counts places and length)."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


_STRING_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def _decimal_message(name: str, v: Any, raw: Optional[str]) -> Optional[str]:
    """The worker's complaint about a decimal field, or None if it has none."""
    if isinstance(v, str):
        text = v
        if not _STRING_DECIMAL.match(text):
            return ("must be a decimal like \"10\" or \"0.5\" (digits and an optional "
                    "fraction; no exponent, '+' or spaces)")
    elif isinstance(v, (int, Decimal)) and not isinstance(v, bool) and raw is not None:
        text = raw
    else:
        return f"must be a decimal (a string like \"0.5\" or a number), not {json_type_name(v)}"
    try:
        d = Decimal(text)
    except InvalidOperation:
        return "has too many digits"
    canon = canonical_decimal(d)
    if len(canon) > MAX_DECIMAL_TEXT:
        return "has too many digits"
    if d <= 0:
        return "must be positive"
    places = DECIMAL_PLACES[name]
    if places is not None and "." in canon and len(canon.split(".")[1]) > places:
        return f"must have at most {places} decimal places"
    return None


_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_date(s: str) -> bool:
    y, m, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    return 1 <= m <= 12 and 1 <= d <= (29 if m == 2 and leap else _DAYS[m - 1])


def _time_message(name: str, v: Any) -> Optional[str]:
    if not isinstance(v, str):
        return f"must be a string, not {json_type_name(v)}"
    if len(v.encode("utf-8")) > MAX_TIME_TEXT:
        return f"must be at most {MAX_TIME_TEXT} characters"
    if not _field_ok(name, v) or not _real_date(v):
        return ("must be an RFC 3339 date-time like \"2026-11-23T13:21:25Z\" (with a valid "
                "date, time and offset)")
    return None


def _id_message(name: str, v: Any) -> Optional[str]:
    if not isinstance(v, str):
        return f"must be a string, not {json_type_name(v)}"
    if not _field_ok(name, v):
        return "must be 1 to 64 characters of A-Z a-z 0-9 . _ -"
    return None


def _enum_message(name: str, v: Any) -> Optional[str]:
    if not isinstance(v, str):
        return f"must be a string, not {json_type_name(v)}"
    if not _field_ok(name, v):
        return f"must be one of {ENUM_TEXT[name]}"
    return None


def check_ids(**ids: Any) -> None:
    """Raises IntentError naming each of bot_id= / user_id= that breaks the id rule."""
    errors = [FieldError(n, m) for n, v in ids.items() if (m := _id_message(n, v)) is not None]
    if errors:
        raise IntentError(errors)


def _symbol_message(v: Any) -> Optional[str]:
    if not isinstance(v, str):
        return f"must be a string, not {json_type_name(v)}"
    if _field_ok("symbol", v):
        return None
    if not 1 <= len(v.encode("utf-8")) <= 15:
        return "must be 1 to 15 characters long"
    if _field_ok("symbol", v.upper()):
        return "must be upper case"
    return "may only contain A-Z 0-9 . /"


def _value_message(name: str, v: Any, raw: Optional[str]) -> Optional[str]:
    """The worker's complaint about field name's value v, or None.  The
    verdict is the field's subschema plus what it cannot say."""
    if name in DECIMAL_PLACES:
        msg = _decimal_message(name, v, raw)
        if msg is None and not _field_ok(name, v):
            msg = "must be a positive decimal"
        return msg
    if name in ("bot_id", "user_id"):
        return _id_message(name, v)
    if name == "symbol":
        return _symbol_message(v)
    if name in ENUM_TEXT:
        return _enum_message(name, v)
    if name in ("created_at", "expires_at"):
        return _time_message(name, v)
    if name == "extended_hours" and not _field_ok(name, v):
        return f"must be a boolean, not {json_type_name(v)}"
    if name == "meta":
        if not _field_ok(name, v):
            return f"must be an object, not {json_type_name(v)}"
        n = len(_compact(raw or "").encode("utf-8"))
        if n > MAX_META_BYTES:
            return f"is {n} bytes when compact, over the limit of {MAX_META_BYTES}"
    return None


# ---------------------------------------------------------------- the verdict

class _Errors:
    def __init__(self) -> None:
        self.items: List[FieldError] = []

    def add(self, name: str, message: Optional[str]) -> None:
        if message is None or len(self.items) >= MAX_ERRORS:
            return
        b = name.encode("utf-8")
        if len(b) > MAX_FIELD_BYTES:
            name = b[:MAX_FIELD_BYTES].decode("utf-8", errors="ignore")
        self.items.append(FieldError(name, message))


def check_bytes(data: bytes, source: str = "bot") -> Verdict:
    """The verdict on one message (its exact bytes) for the bot or user topic."""
    if source not in SOURCES:
        raise ValueError(f"source must be bot or user, not {source!r}")
    try:
        obj, raws = read(data)
        iid = obj.get("intent_id")
        if "intent_id" not in obj:
            raise _Unreadable("no_intent_id", "intent_id is missing")
        if not isinstance(iid, str):
            raise _Unreadable("no_intent_id", f"intent_id is {json_type_name(iid)}, not a string")
        if not _field_ok("intent_id", iid):
            raise _Unreadable("no_intent_id",
                              "intent_id is not a UUID (8-4-4-4-12 hexadecimal digits)")
    except _Unreadable as e:
        return Verdict(False, (), e.reason, e.message)
    errs = _Errors()
    _check_who(obj, raws, source, errs)
    if obj.get("action") == "cancel":
        _check_cancel(obj, errs)
    else:
        _check_order(obj, raws, errs)
    for name in ("created_at", "expires_at", "meta"):
        if name in obj:
            errs.add(name, _value_message(name, obj[name], raws.get(name)))
        elif name == "created_at":
            errs.add(name, "is required")
    for name in obj:
        if name not in KNOWN_FIELDS:
            errs.add(name, "is not a known field (extras belong in meta)")
    if not errs.items:
        # The whole schema must agree with the rules above.
        for err in _WHOLE[source].iter_errors(obj):
            path = list(err.absolute_path)
            errs.add(str(path[0]) if path else "intent", str(err.message))
            break
    if errs.items:
        return Verdict(False, tuple(errs.items), "validation_failed")
    return Verdict(True)


def _check_who(obj: Mapping[str, Any], raws: Mapping[str, str], source: str,
               errs: _Errors) -> None:
    if source == "bot":
        errs.add("bot_id", _id_message("bot_id", obj["bot_id"]) if "bot_id" in obj
                 else "is required")
    elif "bot_id" in obj:
        errs.add("bot_id", "must be absent on the user topic")
    errs.add("user_id", _id_message("user_id", obj["user_id"]) if "user_id" in obj
             else "is required")
    if "action" in obj:
        errs.add("action", _enum_message("action", obj["action"]))


def _check_cancel(obj: Mapping[str, Any], errs: _Errors) -> None:
    t = obj.get("target_intent_id")
    if "target_intent_id" not in obj:
        errs.add("target_intent_id", "is required in a cancel request")
    elif not isinstance(t, str):
        errs.add("target_intent_id", f"must be a string, not {json_type_name(t)}")
    elif not _field_ok("target_intent_id", t):
        errs.add("target_intent_id", "must be a UUID (8-4-4-4-12 hexadecimal digits)")
    elif t == obj["intent_id"]:
        errs.add("target_intent_id", "must name another intent, not the cancel request")
    for name in ORDER_FIELDS:
        if name in obj:
            errs.add(name, "is not allowed in a cancel request")


def _check_order(obj: Mapping[str, Any], raws: Mapping[str, str], errs: _Errors) -> None:
    if "target_intent_id" in obj:
        errs.add("target_intent_id", "is only allowed with action cancel")
    for name in ("symbol", "side", "type"):
        errs.add(name, _value_message(name, obj[name], None) if name in obj else "is required")
    typ = obj.get("type") if "type" in obj and _field_ok("type", obj["type"]) else None

    def value(n: str) -> None:
        errs.add(n, _value_message(n, obj[n], raws.get(n)))

    # Exactly one of qty and notional; notional only with type market.
    if "qty" in obj:
        value("qty")
    if "notional" in obj:
        if "qty" in obj:
            errs.add("notional", "must not be given together with qty: give exactly one of them")
        elif typ is not None and typ != "market":
            errs.add("notional", "is only allowed with type market")
        else:
            value("notional")
    elif "qty" not in obj:
        errs.add("qty", "is required: give exactly one of qty and notional")
    # A price is required by the types that use it and refused by the others.
    for name, needed_by in (("limit_price", ("limit", "stop_limit")),
                            ("stop_price", ("stop", "stop_limit"))):
        if name in obj:
            if typ is not None and typ not in needed_by:
                errs.add(name, f"is not allowed with type {typ}")
            else:
                value(name)
        elif typ in needed_by:
            errs.add(name, f"is required with type {typ}")
    for name in ("time_in_force", "extended_hours"):
        if name in obj:
            value(name)


def check(intent: Mapping[str, Any], source: str = "bot") -> Verdict:
    """The verdict on a wire-level intent dict (as orderbot encodes it)."""
    from .intent import encode_wire
    return check_bytes(encode_wire(intent), source)

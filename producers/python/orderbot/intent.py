# orderbot/intent.py -- turning an OrderIntent or CancelRequest into the
# checked bytes the worker reads (contract sections 3 and 3b).
#
# Owns: the wire form (decimals as exact strings, times as RFC 3339 UTC with
# milliseconds, enums as their values, compact UTF-8 JSON) and the refusal
# of what must never reach it: a float (or anything else that is not a
# Decimal) where the contract has money or a quantity, a naive datetime.
# The rules themselves are validate.py's (the JSON Schema and the worker's
# extras); this module only calls it and raises IntentError on a refusal.
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional

from .types import CancelRequest, FieldError, IntentError, OrderIntent, Request
from .validate import canonical_decimal, check_bytes

MONEY_FIELDS = ("qty", "notional", "limit_price", "stop_price")


def rfc3339(t: dt.datetime) -> str:
    """An aware datetime as RFC 3339 UTC with milliseconds: 2026-11-23T13:21:25.123Z."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone: use datetime.now(timezone.utc)")
    t = t.astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _json_default(o: Any) -> Any:
    # Decimals in meta travel as strings, like every decimal of the contract.
    if isinstance(o, Decimal):
        return canonical_decimal(o)
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def encode_wire(wire: Mapping[str, Any]) -> bytes:
    """A wire-level dict's bytes: compact UTF-8 JSON (Decimals as strings)."""
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default).encode("utf-8")


def _money(errors: List[FieldError], name: str, v: Any) -> Optional[str]:
    if isinstance(v, float):
        errors.append(FieldError(name, f"must be a decimal.Decimal, not float (binary floating "
                                       f"point is not exact; write Decimal(\"{v!r}\"))"))
        return None
    if not isinstance(v, Decimal):
        errors.append(FieldError(name, f"must be a decimal.Decimal, not {type(v).__name__}"))
        return None
    if not v.is_finite():
        errors.append(FieldError(name, f"must be a finite decimal, not {v}"))
        return None
    return format(v, "f")


def _time(errors: List[FieldError], name: str, v: Any) -> Any:
    if isinstance(v, dt.datetime):
        try:
            return rfc3339(v)
        except ValueError as e:
            errors.append(FieldError(name, str(e)))
            return None
    return v  # a string (or a mistake the schema names)


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _times(errors: List[FieldError], req: Request) -> Dict[str, Any]:
    out: Dict[str, Any] = {"created_at": _time(errors, "created_at", req.created_at)}
    exp = req.expires_at
    if isinstance(exp, dt.timedelta):
        if not isinstance(req.created_at, dt.datetime):
            errors.append(FieldError("expires_at", "a timedelta needs created_at as a datetime"))
            return out
        exp = req.created_at + exp
    if exp is not None:
        out["expires_at"] = _time(errors, "expires_at", exp)
    return out


def to_wire(req: Request, *, bot_id: Optional[str], user_id: str) -> Dict[str, Any]:
    """The wire-level dict of an order intent or cancel request, from bot_id
    (None: the user topic) and user_id.  Not checked: see encode_request."""
    errors: List[FieldError] = []
    wire: Dict[str, Any] = {"intent_id": req.intent_id}
    if isinstance(req, CancelRequest):
        wire.update(action="cancel", target_intent_id=req.target_intent_id)
    if bot_id is not None:
        wire["bot_id"] = bot_id
    wire["user_id"] = user_id
    if isinstance(req, OrderIntent):
        wire.update(symbol=req.symbol, side=_plain(req.side), type=_plain(req.type))
        for name in MONEY_FIELDS:
            v = getattr(req, name)
            if v is not None:
                wire[name] = _money(errors, name, v)
        if req.time_in_force is not None:
            wire["time_in_force"] = _plain(req.time_in_force)
        if req.extended_hours is not None:
            wire["extended_hours"] = req.extended_hours
    wire.update(_times(errors, req))
    if req.meta is not None:
        wire["meta"] = dict(req.meta) if isinstance(req.meta, Mapping) else req.meta
    if errors:
        raise IntentError(errors)
    return wire


def encode_request(req: Request, *, bot_id: Optional[str], user_id: str) -> bytes:
    """The checked bytes of an order intent or cancel request; raises
    IntentError naming every broken field (nothing is sent then)."""
    wire = to_wire(req, bot_id=bot_id, user_id=user_id)
    try:
        data = encode_wire(wire)
    except (TypeError, ValueError) as e:
        raise IntentError([FieldError("meta", f"must be JSON-serialisable: {e}")]) from None
    verdict = check_bytes(data, "bot" if bot_id is not None else "user")
    if not verdict.valid:
        raise IntentError(verdict.errors or
                          [FieldError("intent", verdict.message or str(verdict.reason))])
    return data


# orderbot/types.py -- the typed values of the contract: enums, intents,
# cancel requests, result events and the errors a bot can meet.
#
# Owns: the names a bot author types against.  OrderIntent and CancelRequest
# (contract sections 3 and 3b) are what a bot builds; FillEvent and
# RejectionEvent (section 4, schemas/order-fill.schema.json and
# order-rejection.schema.json) are what it reads back.  Why one module: the
# enums are shared by all of them, and every other module (building, checking,
# outcome folding, Kafka) only moves these values around.
#
# Money and quantities are decimal.Decimal and nothing else: a float is
# refused with an IntentError naming the field (a binary float cannot hold
# 0.1, and the worker reads decimals exactly).  No Kafka here.
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any, Mapping, Optional, Tuple, Union


class _Text(str, Enum):
    """A str enum whose str() and format() are its wire value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Side(_Text):
    BUY = "buy"
    SELL = "sell"


class OrderType(_Text):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(_Text):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class FillType(_Text):
    """The type of an event on orders.fills."""
    ACCEPTED = "accepted"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCELED = "canceled"
    EXPIRED = "expired"


class RejectionReason(_Text):
    """Why an intent was rejected (orders.rejections)."""
    VALIDATION_FAILED = "validation_failed"
    EXPIRED = "expired"
    QUOTA_EXCEEDED = "quota_exceeded"
    RISK_REJECTED = "risk_rejected"
    TRADING_HALTED = "trading_halted"
    UNAUTHORIZED = "unauthorized"
    BROKER_REJECTED = "broker_rejected"
    BROKER_UNAVAILABLE = "broker_unavailable"
    NOT_CANCELABLE = "not_cancelable"


class Status(_Text):
    """An intent's outcome: PENDING until its terminal event."""
    PENDING = "pending"
    FILL = "fill"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


# ---------------------------------------------------------------- errors

class OrderbotError(Exception):
    """The base of every error this package raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One broken rule: the top-level field as the worker names it, and why."""
    field: str
    message: str


class IntentError(OrderbotError, ValueError):
    """An intent breaks the contract; .errors lists every broken field, like
    the worker's validation_failed event.  Nothing was sent."""

    def __init__(self, errors: "Tuple[FieldError, ...] | list[FieldError]") -> None:
        self.errors: Tuple[FieldError, ...] = tuple(errors)
        super().__init__("invalid intent: " + "; ".join(f"{e.field} {e.message}"
                                                        for e in self.errors))

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]


class DeliveryError(OrderbotError, RuntimeError):
    """Kafka did not confirm that an intent was written."""


class OutcomeTimeout(OrderbotError, TimeoutError):
    """No terminal outcome of intent_id within the time given.  The intent
    may still end later; the Bot keeps tracking it."""

    def __init__(self, intent_id: str, timeout: float) -> None:
        self.intent_id = intent_id
        self.timeout = timeout
        super().__init__(f"intent {intent_id}: no terminal outcome within {timeout:g} s")


# ---------------------------------------------------------------- what a bot sends

def new_intent_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True)
class OrderIntent:
    """An order to place (contract section 3).  Exactly one of qty and
    notional; limit_price for limit/stop_limit, stop_price for
    stop/stop_limit.  Times are aware datetimes (or RFC 3339 strings);
    expires_at may also be a timedelta after created_at.  Checked against the
    contract's JSON Schema when sent (or by orderbot.to_wire)."""
    symbol: str
    side: Side
    type: OrderType = OrderType.MARKET
    qty: Optional[Decimal] = None
    notional: Optional[Decimal] = None
    limit_price: Optional[Decimal] = None
    stop_price: Optional[Decimal] = None
    time_in_force: Optional[TimeInForce] = None
    extended_hours: Optional[bool] = None
    expires_at: Union[dt.datetime, dt.timedelta, str, None] = None
    meta: Optional[Mapping[str, Any]] = None
    intent_id: str = field(default_factory=new_intent_id)
    created_at: Union[dt.datetime, str] = field(default_factory=utc_now)


@dataclass(frozen=True)
class CancelRequest:
    """A cancel request of this bot's order intent target_intent_id (contract
    section 3b).  Its outcome is the target's canceled event naming it, or
    its own rejection (e.g. not_cancelable)."""
    target_intent_id: str
    expires_at: Union[dt.datetime, dt.timedelta, str, None] = None
    meta: Optional[Mapping[str, Any]] = None
    intent_id: str = field(default_factory=new_intent_id)
    created_at: Union[dt.datetime, str] = field(default_factory=utc_now)


Request = Union[OrderIntent, CancelRequest]


# ---------------------------------------------------------------- what a bot reads

def _dec(v: Any) -> Optional[Decimal]:
    return Decimal(str(v)) if v is not None else None


def _opt_str(v: Any) -> Optional[str]:
    return v if isinstance(v, str) else None


@dataclass(frozen=True)
class BrokerAnswer:
    """The broker's own refusal on a rejection: HTTP status, code, message."""
    status: int
    message: str
    code: Optional[int] = None


@dataclass(frozen=True)
class FillEvent:
    """An event of orders.fills (schemas/order-fill.schema.json); decimals as
    Decimal.  raw is the event as read (for logging or storing)."""
    event_id: str
    type: FillType
    intent_id: str
    user_id: str
    symbol: str
    side: Side
    occurred_at: str
    client_order_id: str
    order_type: OrderType
    status: str
    filled_qty: Decimal
    filled_avg_price: Optional[Decimal]
    raw: Mapping[str, Any]
    bot_id: Optional[str] = None
    order_id: Optional[str] = None
    qty: Optional[Decimal] = None
    notional: Optional[Decimal] = None
    limit_price: Optional[Decimal] = None
    stop_price: Optional[Decimal] = None
    time_in_force: Optional[TimeInForce] = None
    last_fill_qty: Optional[Decimal] = None
    last_fill_price: Optional[Decimal] = None
    cancel_intent_id: Optional[str] = None
    cancel_reason: Optional[str] = None
    meta: Optional[Mapping[str, Any]] = None

    @property
    def terminal(self) -> bool:
        return self.type in (FillType.FILL, FillType.CANCELED, FillType.EXPIRED)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "FillEvent":
        """Raises KeyError/ValueError when d is not an order-fill/v1 event."""
        tif = d.get("time_in_force")
        return cls(event_id=str(d["event_id"]), type=FillType(d["type"]),
                   intent_id=str(d["intent_id"]), user_id=str(d["user_id"]),
                   symbol=str(d["symbol"]), side=Side(d["side"]),
                   occurred_at=str(d["occurred_at"]),
                   client_order_id=str(d["client_order_id"]),
                   order_type=OrderType(d["order_type"]), status=str(d["status"]),
                   filled_qty=Decimal(str(d["filled_qty"])),
                   filled_avg_price=_dec(d.get("filled_avg_price")), raw=dict(d),
                   bot_id=_opt_str(d.get("bot_id")), order_id=_opt_str(d.get("order_id")),
                   qty=_dec(d.get("qty")), notional=_dec(d.get("notional")),
                   limit_price=_dec(d.get("limit_price")), stop_price=_dec(d.get("stop_price")),
                   time_in_force=TimeInForce(tif) if tif is not None else None,
                   last_fill_qty=_dec(d.get("last_fill_qty")),
                   last_fill_price=_dec(d.get("last_fill_price")),
                   cancel_intent_id=_opt_str(d.get("cancel_intent_id")),
                   cancel_reason=_opt_str(d.get("cancel_reason")), meta=d.get("meta"))


@dataclass(frozen=True)
class RejectionEvent:
    """The one event of orders.rejections about an intent
    (schemas/order-rejection.schema.json)."""
    event_id: str
    intent_id: str
    occurred_at: str
    reason: RejectionReason
    message: str
    raw: Mapping[str, Any]
    user_id: Optional[str] = None
    symbol: Optional[str] = None
    side: Optional[str] = None
    bot_id: Optional[str] = None
    errors: Tuple[FieldError, ...] = ()
    retry_after_ms: Optional[int] = None
    broker: Optional[BrokerAnswer] = None
    meta: Optional[Mapping[str, Any]] = None

    terminal = True

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RejectionEvent":
        """Raises KeyError/ValueError when d is not an order-rejection/v1 event."""
        b = d.get("broker")
        broker = (BrokerAnswer(status=int(b["status"]), message=str(b["message"]),
                               code=int(b["code"]) if b.get("code") is not None else None)
                  if isinstance(b, dict) else None)
        ra = d.get("retry_after_ms")
        return cls(event_id=str(d["event_id"]), intent_id=str(d["intent_id"]),
                   occurred_at=str(d["occurred_at"]), reason=RejectionReason(d["reason"]),
                   message=str(d["message"]), raw=dict(d), user_id=_opt_str(d.get("user_id")),
                   symbol=_opt_str(d.get("symbol")), side=_opt_str(d.get("side")),
                   bot_id=_opt_str(d.get("bot_id")),
                   errors=tuple(FieldError(str(e["field"]), str(e["message"]))
                                for e in d.get("errors") or []),
                   retry_after_ms=int(ra) if ra is not None else None, broker=broker,
                   meta=d.get("meta"))


Event = Union[FillEvent, RejectionEvent]

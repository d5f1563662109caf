# orderbot/outcome.py -- what became of an intent, as typed values.
#
# Owns: folding the result events of one intent (contract section 4: the
# lifecycle on orders.fills, the one event on orders.rejections) into an
# Outcome a bot author can act on: its status, the terminal event, the fill
# figures as Decimals, and for a rejection its reason, message, errors and
# retry_after_ms.  Why separate: the folding rules (what is terminal,
# duplicates dropped by event_id) are the contract's, not Kafka's, and are
# shared by Bot.wait() and anyone replaying events from elsewhere.
#
# A cancel request (contract section 3b) has no event of its own when it
# works: its target's `canceled` event names it in cancel_intent_id.  So one
# event can decide two intents (decided_intents); the request's Outcome then
# holds its target's canceled event, with status "canceled".  When it does not
# work, it gets its own rejection like any intent (reason not_cancelable).
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Optional

FILL_TERMINAL = ("fill", "canceled", "expired")
PENDING = "pending"      # no terminal event yet
REJECTED = "rejected"    # the one event on orders.rejections


def decided_intents(event, kind):
    """The intent ids one result event ("fills" or "rejections" kind) is about:
    its intent_id, and on a canceled event the cancel request it names
    (cancel_intent_id), whose outcome it is too."""
    ids = [event.get("intent_id")]
    if kind == "fills" and event.get("type") == "canceled" and event.get("cancel_intent_id"):
        ids.append(event["cancel_intent_id"])
    return ids


def _dec(v):
    return Decimal(str(v)) if v is not None else None


@dataclass
class Outcome:
    """Every event of one intent (duplicates dropped) and its terminal outcome.

    status: "pending" until a terminal event arrives, then "fill", "canceled",
    "expired" (the broker's order ended so) or "rejected" (reason says why,
    e.g. validation_failed, quota_exceeded, broker_rejected, or "expired" when
    the intent outlived its expiry before it could be sent).

    For a cancel request (target_intent_id set): "canceled" when its target's
    canceled event names it (terminal is that event, of the target), or
    "rejected" with reason not_cancelable (or validation_failed, ...); its
    order_id and filled_qty are then its target's (how much filled first).
    cancel_intent_id / cancel_reason: from a canceled event that says who
    canceled the order ("requested": that cancel request; "operator")."""
    intent_id: str
    target_intent_id: Optional[str] = None
    status: str = PENDING
    events: List[Dict[str, Any]] = field(default_factory=list)
    terminal: Optional[Dict[str, Any]] = None
    terminal_events: int = 0          # the contract says exactly one, ever
    duplicates_dropped: int = 0
    reason: Optional[str] = None
    message: Optional[str] = None
    errors: List[Dict[str, str]] = field(default_factory=list)
    retry_after_ms: Optional[int] = None
    broker: Optional[Dict[str, Any]] = None
    filled_qty: Optional[Decimal] = None
    filled_avg_price: Optional[Decimal] = None
    order_id: Optional[str] = None
    cancel_intent_id: Optional[str] = None
    cancel_reason: Optional[str] = None

    @property
    def done(self):
        return self.status != PENDING

    @property
    def event_types(self):
        """The events in arrival order: accepted, partial_fill, fill ... or rejected."""
        return [e.get("type", REJECTED) if e.get("_topic_kind") == "fills" else REJECTED
                for e in self.events]

    def add(self, event, kind):
        """Adds one event ("fills" or "rejections" kind) that is not a
        duplicate.  Returns True if it was terminal."""
        event = dict(event)
        event["_topic_kind"] = kind
        self.events.append(event)
        if kind == "fills":
            if event.get("order_id"):
                self.order_id = event["order_id"]
            if event.get("filled_qty") is not None:
                self.filled_qty = _dec(event["filled_qty"])
            if event.get("filled_avg_price") is not None:
                self.filled_avg_price = _dec(event["filled_avg_price"])
            terminal = event.get("type") in FILL_TERMINAL
        else:
            terminal = True
        if not terminal:
            return False
        self.terminal_events += 1
        if self.terminal is None:  # the first one decides; a second is a contract breach
            self.terminal = event
            if kind == "fills":
                self.status = event["type"]
                self.cancel_intent_id = event.get("cancel_intent_id")
                self.cancel_reason = event.get("cancel_reason")
            else:
                self.status = REJECTED
                self.reason = event.get("reason")
                self.message = event.get("message")
                self.errors = list(event.get("errors") or [])
                self.retry_after_ms = event.get("retry_after_ms")
                self.broker = event.get("broker")
        return True

    def summary(self):
        """A JSON-friendly dict (decimals as strings)."""
        d = {"intent_id": self.intent_id, "status": self.status,
             "events": self.event_types, "event_ids": [e.get("event_id") for e in self.events],
             "terminal_events": self.terminal_events,
             "duplicates_dropped": self.duplicates_dropped}
        if self.terminal is not None:
            d["terminal_event_id"] = self.terminal.get("event_id")
        for k in ("reason", "message", "retry_after_ms", "order_id", "target_intent_id",
                  "cancel_intent_id", "cancel_reason"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.errors:
            d["errors"] = self.errors
        for k in ("filled_qty", "filled_avg_price"):
            if getattr(self, k) is not None:
                d[k] = str(getattr(self, k))
        return d

# orderbot/outcome.py -- what became of an intent, folded from its events.
#
# Owns: turning the raw result events of Kafka into typed events (FillEvent,
# RejectionEvent), and folding the events of one intent (contract section 4:
# the lifecycle on orders.fills, the one event on orders.rejections) into an
# Outcome: its status, its terminal event, the fill figures as Decimals, a
# rejection's reason, message, errors and retry_after_ms.  Tracker does it for
# every intent a bot sent, dropping duplicate event_ids.  Why separate: the
# folding rules are the contract's, not Kafka's, and are shared by the
# blocking Bot and the asyncio AsyncBot (and anyone replaying events).
#
# A cancel request (contract section 3b) has no event of its own when it
# works: its target's `canceled` event names it in cancel_intent_id.  So one
# event can decide two intents (decided_intents); the request's Outcome then
# holds its target's canceled event, with status canceled.  When it does not
# work, it gets its own rejection like any intent (reason not_cancelable).
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from .types import (BrokerAnswer, Event, FieldError, FillEvent, FillType, RejectionEvent,
                    RejectionReason, Status)

FILLS, REJECTIONS = "fills", "rejections"


def parse_event(kind: str, value: Optional[bytes]) -> Optional[Event]:
    """The typed event of a message of orders.fills (kind "fills") or
    orders.rejections ("rejections"); None if it is not one."""
    if value is None:
        return None
    try:
        d = json.loads(value, parse_float=Decimal)
        if not isinstance(d, dict):
            return None
        return FillEvent.from_json(d) if kind == FILLS else RejectionEvent.from_json(d)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def event_from_dict(kind: str, d: Mapping[str, Any]) -> Event:
    """A typed event from an already decoded dict (tests, replays)."""
    return FillEvent.from_json(d) if kind == FILLS else RejectionEvent.from_json(d)


def decided_intents(event: Event) -> List[str]:
    """The intent ids one result event is about: its intent_id, and on a
    canceled event the cancel request it names, whose outcome it is too."""
    ids = [event.intent_id]
    if (isinstance(event, FillEvent) and event.type == FillType.CANCELED
            and event.cancel_intent_id):
        ids.append(event.cancel_intent_id)
    return ids


@dataclass
class Outcome:
    """Every event of one intent (duplicates dropped) and its terminal outcome.

    status: PENDING until a terminal event arrives, then FILL, CANCELED,
    EXPIRED (the broker's order ended so) or REJECTED (reason says why).
    For a cancel request (target_intent_id set): CANCELED when its target's
    canceled event names it (terminal is that event, of the target), or
    REJECTED with reason not_cancelable."""
    intent_id: str
    target_intent_id: Optional[str] = None
    status: Status = Status.PENDING
    events: List[Event] = field(default_factory=list)
    terminal: Optional[Event] = None
    terminal_events: int = 0          # the contract says exactly one, ever
    duplicates_dropped: int = 0

    @property
    def done(self) -> bool:
        return self.status != Status.PENDING

    @property
    def event_types(self) -> List[str]:
        """The events in arrival order: accepted, partial_fill, fill ... or rejected."""
        return [e.type.value if isinstance(e, FillEvent) else "rejected" for e in self.events]

    def _rejection(self) -> Optional[RejectionEvent]:
        return self.terminal if isinstance(self.terminal, RejectionEvent) else None

    def _last_fill(self) -> Optional[FillEvent]:
        fills = [e for e in self.events if isinstance(e, FillEvent)]
        return fills[-1] if fills else None

    @property
    def reason(self) -> Optional[RejectionReason]:
        r = self._rejection()
        return r.reason if r else None

    @property
    def message(self) -> Optional[str]:
        r = self._rejection()
        return r.message if r else None

    @property
    def errors(self) -> Tuple[FieldError, ...]:
        r = self._rejection()
        return r.errors if r else ()

    @property
    def retry_after_ms(self) -> Optional[int]:
        r = self._rejection()
        return r.retry_after_ms if r else None

    @property
    def broker(self) -> Optional[BrokerAnswer]:
        r = self._rejection()
        return r.broker if r else None

    @property
    def order_id(self) -> Optional[str]:
        ids = [e.order_id for e in self.events if isinstance(e, FillEvent) and e.order_id]
        return ids[-1] if ids else None

    @property
    def filled_qty(self) -> Optional[Decimal]:
        f = self._last_fill()
        return f.filled_qty if f else None

    @property
    def filled_avg_price(self) -> Optional[Decimal]:
        f = self._last_fill()
        return f.filled_avg_price if f else None

    @property
    def cancel_intent_id(self) -> Optional[str]:
        t = self.terminal
        return t.cancel_intent_id if isinstance(t, FillEvent) else None

    @property
    def cancel_reason(self) -> Optional[str]:
        t = self.terminal
        return t.cancel_reason if isinstance(t, FillEvent) else None

    def add(self, event: Event) -> bool:
        """Adds one event that is not a duplicate.  True if it was terminal."""
        self.events.append(event)
        if not event.terminal:
            return False
        self.terminal_events += 1
        if self.terminal is None:  # the first one decides; a second is a contract breach
            self.terminal = event
            self.status = (Status(event.type.value) if isinstance(event, FillEvent)
                           else Status.REJECTED)
        return True

    def summary(self) -> Dict[str, Any]:
        """A JSON-friendly dict (decimals as strings, enums as their values)."""
        d: Dict[str, Any] = {"intent_id": self.intent_id, "status": self.status.value,
                             "events": self.event_types,
                             "event_ids": [e.event_id for e in self.events],
                             "terminal_events": self.terminal_events,
                             "duplicates_dropped": self.duplicates_dropped}
        if self.terminal is not None:
            d["terminal_event_id"] = self.terminal.event_id
        for k in ("reason", "message", "retry_after_ms", "order_id", "target_intent_id",
                  "cancel_intent_id", "cancel_reason"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v.value if isinstance(v, RejectionReason) else v
        if self.errors:
            d["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        for k in ("filled_qty", "filled_avg_price"):
            v = getattr(self, k)
            if v is not None:
                d[k] = str(v)
        return d


class Tracker:
    """The outcomes of every intent one bot sent, and the event_ids seen.
    Not thread-safe: one thread (or the asyncio loop) owns it."""

    def __init__(self) -> None:
        self.outcomes: Dict[str, Outcome] = {}
        self._seen: Set[str] = set()

    def track(self, intent_id: str, target_intent_id: Optional[str] = None) -> Outcome:
        """Starts tracking an intent about to be sent (before it is written,
        so that no event can be missed)."""
        if intent_id in self.outcomes:
            raise ValueError(f"intent_id {intent_id} was already sent by this bot")
        o = self.outcomes[intent_id] = Outcome(intent_id, target_intent_id=target_intent_id)
        return o

    def forget(self, intent_id: str) -> None:
        self.outcomes.pop(intent_id, None)

    def take(self, event: Event) -> List[Outcome]:
        """Adds event to the outcomes it decides; returns them (empty when it
        is another bot's or a duplicate, which is counted, not added)."""
        mine = [self.outcomes[i] for i in decided_intents(event) if i in self.outcomes]
        if not mine:
            return []
        if event.event_id in self._seen:
            for o in mine:
                o.duplicates_dropped += 1
            return []
        self._seen.add(event.event_id)
        for o in mine:
            o.add(event)
        return mine

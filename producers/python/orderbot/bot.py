# orderbot/bot.py -- the blocking interface: send intents, wait for outcomes.
#
# Owns: one bot's connection to the order-worker's topics (contract section
# 2) for programs without asyncio: each call blocks until Kafka confirmed the
# write (send, submit, cancel) or the outcome arrived (place, wait).  The
# result consumer is read on demand (poll) in the caller's thread, so there
# is no thread of its own.  Cancel requests (contract section 3b) go the same
# way, keyed like their target (by bot_id).  For asyncio, see aio.AsyncBot.
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from confluent_kafka import Consumer, Producer

from .intent import encode_request
from .kafka import BotBase, message_event, open_consumer, open_producer
from .outcome import Outcome
from .types import (CancelRequest, DeliveryError, OrderIntent, OrderType, OutcomeTimeout,
                    Request, Side, TimeInForce)


class Bot(BotBase):
    """A bot's blocking client for the order-worker.

        with Bot("meanrev-1", "alice") as bot:
            o = bot.place(OrderIntent("AAPL", Side.BUY, qty=Decimal("1")), timeout=60)
            print(o.intent_id, o.status, o.reason)

    brokers defaults to $KAFKA_BROKERS; topics to $TOPIC_INTENTS_BOT,
    $TOPIC_FILLS, $TOPIC_REJECTIONS or the contract's names; kafka_config
    adds librdkafka properties to both clients.  signing_key (a SigningKey,
    32 bytes or 64 hex digits; default $INTENT_SIGNING_KEY_FILE or
    $INTENT_SIGNING_KEY) signs every intent; it never appears in a repr."""

    def _init_state(self) -> None:
        self._producer: Optional[Producer] = None
        self._consumer: Optional[Consumer] = None

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Bot":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> "Bot":
        """Connects, and positions the result consumer at the current end of
        the result topics.  Must happen before the first intent is sent;
        send() calls it if needed."""
        if self._consumer is None:
            consumer = open_consumer(self.settings, self.bot_id)
            self._producer = open_producer(self.settings, self.bot_id)
            self._consumer = consumer
        return self

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(self.settings.timeout)
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # ------------------------------------------------------------ sending

    def send(self, request: Request) -> str:
        """Checks and sends an OrderIntent or CancelRequest; returns its
        intent_id once Kafka confirmed the write.  Raises IntentError before
        sending anything if a contract rule is broken, DeliveryError if Kafka
        refused or did not answer in time."""
        value = encode_request(request, bot_id=self.bot_id, user_id=self.user_id)
        self.start()
        assert self._producer is not None
        iid = request.intent_id
        target = request.target_intent_id if isinstance(request, CancelRequest) else None
        self.tracker.track(iid, target)  # before the write: no event can be missed
        report: List[Any] = []
        try:
            self._producer.produce(self.settings.topic_intents, key=self.bot_id.encode(),
                                   value=value, headers=self.settings.headers(value),
                                   on_delivery=lambda err, msg: report.append(err))
            wait = self.settings.timeout + 5
            deadline = time.monotonic() + wait
            while not report and time.monotonic() < deadline:
                self._producer.poll(0.1)
        except BaseException:
            self.tracker.forget(iid)
            raise
        if not report:
            # The message may still be written later: keep tracking it.
            raise DeliveryError(f"intent {iid}: no delivery report within {wait:.0f} s")
        if report[0] is not None:
            self.tracker.forget(iid)
            raise DeliveryError(f"intent {iid}: not written to {self.settings.topic_intents}: "
                                f"{report[0]}")
        return iid

    def submit(self, symbol: str, side: Union[Side, str], *,
               type: Union[OrderType, str] = OrderType.MARKET, qty: Optional[Decimal] = None,
               notional: Optional[Decimal] = None, limit_price: Optional[Decimal] = None,
               stop_price: Optional[Decimal] = None,
               time_in_force: Union[TimeInForce, str, None] = None,
               extended_hours: Optional[bool] = None, expires_at: Any = None,
               meta: Optional[Mapping[str, Any]] = None) -> str:
        """send(OrderIntent(...)) from keywords; enums may be given as their
        strings ("buy", "limit", "ioc").  Money and quantities: Decimal."""
        return self.send(OrderIntent(symbol=symbol, side=Side(side), type=OrderType(type),
                                     qty=qty, notional=notional, limit_price=limit_price,
                                     stop_price=stop_price,
                                     time_in_force=(TimeInForce(time_in_force)
                                                    if time_in_force is not None else None),
                                     extended_hours=extended_hours, expires_at=expires_at,
                                     meta=meta))

    def cancel(self, target_intent_id: str, *, expires_at: Any = None,
               meta: Optional[Mapping[str, Any]] = None) -> str:
        """Sends a cancel request of this bot's order intent target_intent_id
        (contract section 3b), on the same topic and key as the order; returns
        the request's own intent_id.  Its outcome: CANCELED when the target's
        canceled event names it, or REJECTED with reason not_cancelable."""
        return self.send(CancelRequest(target_intent_id=target_intent_id,
                                       expires_at=expires_at, meta=meta))

    def place(self, request: Request, timeout: Optional[float] = None) -> Outcome:
        """send() and wait for the terminal outcome; raises OutcomeTimeout
        (naming the intent) when none came within timeout seconds (default:
        the Bot's timeout)."""
        iid = self.send(request)
        limit = self.settings.timeout if timeout is None else timeout
        o = self.wait([iid], limit)[iid]
        if not o.done:
            raise OutcomeTimeout(iid, limit)
        return o

    # ------------------------------------------------------------ outcomes

    def outcome(self, intent_id: str) -> Outcome:
        """The Outcome of an intent sent by this Bot, as far as read so far."""
        return self.tracker.outcomes[intent_id]

    def poll(self, timeout: float = 0.5) -> None:
        """Reads what is available on the result topics (at most timeout seconds)."""
        if self._consumer is None:
            return
        for m in self._consumer.consume(num_messages=500, timeout=timeout):
            ev = message_event(self.settings, m)
            if ev is not None:
                self.tracker.take(ev)

    def wait(self, intent_ids: Iterable[str], timeout: float) -> Dict[str, Outcome]:
        """Reads results until every listed intent has its terminal outcome or
        timeout seconds pass.  Returns {intent_id: Outcome}; an Outcome whose
        .done is False (status pending) did not end in time."""
        ids = list(intent_ids)
        unknown = [i for i in ids if i not in self.tracker.outcomes]
        if unknown:
            raise KeyError(f"not sent by this bot: {', '.join(unknown)}")
        deadline = time.monotonic() + timeout
        while not all(self.tracker.outcomes[i].done for i in ids):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.poll(min(left, 0.5))
        # Whatever else is already here (e.g. a duplicate right behind a terminal event).
        self.poll(0)
        return {i: self.tracker.outcomes[i] for i in ids}


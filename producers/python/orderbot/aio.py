# orderbot/aio.py -- the asyncio interface: await outcomes, stream events.
#
# Owns: AsyncBot, one bot's connection to the order-worker for asyncio
# programs.  confluent-kafka 1.7 has no asyncio API, so two background
# threads do the blocking calls and hand their results to the event loop:
#   - the reader thread blocks in Consumer.consume (up to 0.25 s at a time,
#     so it notices close() soon; never a busy loop) and passes each decoded
#     event to the loop with call_soon_threadsafe;
#   - the delivery thread blocks in Producer.poll, which runs the delivery
#     callbacks; each resolves its send's future on the loop the same way.
# Everything else (the Tracker of outcomes, the futures of place(), the
# queues of events()) lives on the loop thread only, so nothing is shared
# between threads but the librdkafka clients, which are thread-safe.
# close() stops both threads, joins them (in the loop's executor, so the
# loop keeps running), flushes the producer, closes the consumer, ends every
# events() iterator and fails every pending place() with BotClosed.
from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, Dict, List, Mapping, Optional, Set

from confluent_kafka import Consumer, KafkaException, Producer

from .intent import encode_request
from .kafka import BotBase, message_event, open_consumer, open_producer
from .outcome import Outcome
from .types import (CancelRequest, DeliveryError, Event, FillEvent, OrderbotError, OutcomeTimeout,
                    RejectionEvent, Request)

_POLL_S = 0.25


class BotClosed(OrderbotError):
    """The AsyncBot was closed (or its Kafka client failed) before an
    outcome arrived."""


_END = object()  # ends an events() iterator


class AsyncBot(BotBase):
    """A bot's asyncio client for the order-worker.

        async with AsyncBot("meanrev-1", "alice") as bot:
            o = await bot.place(OrderIntent("AAPL", Side.BUY, qty=Decimal("1")))
            print(o.status, o.filled_qty)
            async for event in bot.events():     # every event of this bot's intents
                ...

    Settings as for Bot (brokers, topics, kafka_config, timeout, signing_key)."""

    def _init_state(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._consumer: Optional[Consumer] = None
        self._producer: Optional[Producer] = None
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._waiters: Dict[str, "asyncio.Future[Outcome]"] = {}
        self._subscribers: Set["asyncio.Queue[object]"] = set()
        self._failure: Optional[BaseException] = None
        self._closed = False

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> "AsyncBot":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> "AsyncBot":
        """Connects (in the loop's executor) and positions the result reader
        at the current end of the result topics; starts the two threads."""
        if self._loop is not None:
            return self
        if self._closed:
            raise BotClosed("this AsyncBot was closed")
        loop = asyncio.get_running_loop()
        self._consumer = await loop.run_in_executor(None, open_consumer, self.settings,
                                                    self.bot_id)
        self._producer = open_producer(self.settings, self.bot_id)
        self._loop = loop
        for name, target in (("reader", self._read), ("delivery", self._deliver)):
            t = threading.Thread(target=target, name=f"orderbot-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    async def close(self) -> None:
        """Stops the threads, flushes what is being sent, closes the clients,
        ends every events() iterator and fails every waiting place()."""
        if self._closed:
            return
        self._closed = True
        loop = self._loop or asyncio.get_running_loop()
        self._stop.set()
        for t in self._threads:
            await loop.run_in_executor(None, t.join)
        self._threads.clear()
        if self._producer is not None:
            await loop.run_in_executor(None, self._producer.flush, self.settings.timeout)
            self._producer = None
        if self._consumer is not None:
            await loop.run_in_executor(None, self._consumer.close)
            self._consumer = None
        self._end(BotClosed("the AsyncBot was closed before the outcome arrived"))

    def _end(self, exc: BaseException) -> None:
        for iid, fut in list(self._waiters.items()):
            if not fut.done():
                fut.set_exception(exc)
        self._waiters.clear()
        for q in self._subscribers:
            q.put_nowait(_END)

    # ------------------------------------------------------------ the threads

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        """Runs fn(*args) on the loop thread (from a background thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                pass  # the loop closed meanwhile: nobody is waiting any more

    def _read(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stop.is_set():
            try:
                for m in consumer.consume(num_messages=500, timeout=_POLL_S):
                    ev = message_event(self.settings, m)
                    if ev is not None:
                        self._call(self._on_event, ev)
            except KafkaException as e:
                self._call(self._on_failure, e)
                return

    def _deliver(self) -> None:
        producer = self._producer
        assert producer is not None
        while not self._stop.is_set():
            producer.poll(_POLL_S)

    # ------------------------------------------------------------ on the loop thread

    def _on_event(self, ev: Event) -> None:
        taken = self.tracker.take(ev)  # empty: another bot's event, or a duplicate
        for o in taken:
            fut = self._waiters.get(o.intent_id)
            if o.done and fut is not None and not fut.done():
                fut.set_result(o)
        if taken:
            for q in self._subscribers:
                q.put_nowait(ev)

    def _on_failure(self, e: BaseException) -> None:
        self._failure = e
        self._end(BotClosed(f"the result reader failed: {e}"))

    def _delivered(self, fut: "asyncio.Future[None]", err: Any) -> None:
        if fut.done():
            return
        if err is None:
            fut.set_result(None)
        else:
            fut.set_exception(DeliveryError(f"not written to {self.settings.topic_intents}: {err}"))

    # ------------------------------------------------------------ the API

    async def send(self, request: Request) -> str:
        """Checks and sends an OrderIntent or CancelRequest; returns its
        intent_id once Kafka confirmed the write.  Raises IntentError before
        sending anything if a contract rule is broken, DeliveryError if Kafka
        refused or did not answer in time."""
        value = encode_request(request, bot_id=self.bot_id, user_id=self.user_id)
        await self.start()
        if self._failure is not None or self._closed:
            raise BotClosed("this AsyncBot is closed")
        loop = asyncio.get_running_loop()
        assert self._producer is not None
        iid = request.intent_id
        target = request.target_intent_id if isinstance(request, CancelRequest) else None
        self.tracker.track(iid, target)  # before the write: no event can be missed
        delivered: "asyncio.Future[None]" = loop.create_future()
        try:
            self._producer.produce(
                self.settings.topic_intents, key=self.bot_id.encode(), value=value,
                headers=self.settings.headers(value),
                on_delivery=lambda err, msg: self._call(self._delivered, delivered, err))
        except BaseException:
            self.tracker.forget(iid)
            raise
        wait = self.settings.timeout + 5
        try:
            await asyncio.wait_for(delivered, wait)
        except asyncio.TimeoutError:
            # The message may still be written later: keep tracking it.
            raise DeliveryError(f"intent {iid}: no delivery report within {wait:.0f} s") from None
        except DeliveryError as e:
            self.tracker.forget(iid)
            raise DeliveryError(f"intent {iid}: {e}") from None
        return iid

    async def outcome(self, intent_id: str, timeout: Optional[float] = None) -> Outcome:
        """The terminal Outcome of an intent this bot sent; raises
        OutcomeTimeout naming it when none came within timeout seconds
        (default: the bot's timeout).  The intent stays tracked."""
        o = self.tracker.outcomes[intent_id]
        if o.done:
            return o
        if self._closed or self._failure is not None:
            raise BotClosed("this AsyncBot is closed")
        fut = self._waiters.get(intent_id)
        if fut is None:
            fut = self._waiters[intent_id] = asyncio.get_running_loop().create_future()
        limit = self.settings.timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(fut), limit)
        except asyncio.TimeoutError:
            raise OutcomeTimeout(intent_id, limit) from None

    async def place(self, request: Request, timeout: Optional[float] = None) -> Outcome:
        """send() and await the terminal outcome (OutcomeTimeout after
        timeout seconds, default the bot's timeout)."""
        return await self.outcome(await self.send(request), timeout)

    async def cancel(self, target_intent_id: str, *, timeout: Optional[float] = None,
                     expires_at: Any = None,
                     meta: Optional[Mapping[str, Any]] = None) -> Outcome:
        """Sends a cancel request of this bot's order intent target_intent_id
        (contract section 3b) and awaits its outcome: CANCELED (its terminal
        is the target's canceled event naming it) or REJECTED with its own
        reason, e.g. not_cancelable."""
        return await self.place(CancelRequest(target_intent_id=target_intent_id,
                                              expires_at=expires_at, meta=meta), timeout)

    async def events(self) -> AsyncIterator[Event]:
        """Every result event of this bot's intents from now on (duplicates
        dropped), in arrival order, until the bot is closed."""
        q: "asyncio.Queue[object]" = asyncio.Queue()
        if self._closed:
            return
        self._subscribers.add(q)
        try:
            while True:
                item = await q.get()
                if item is _END:
                    return
                assert isinstance(item, (FillEvent, RejectionEvent))
                yield item
        finally:
            self._subscribers.discard(q)


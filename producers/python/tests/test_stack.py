# producers/python/tests/test_stack.py -- orderbot through the local stack (pytest).
#
# Owns: the round trip of the asyncio and blocking interfaces against a
# running order-worker (stack b of `compose/dev test`): await place() of a
# market buy ends in a fill and events() streams its events; a resting limit
# buy canceled with cancel() ends canceled, naming the request; a cancel of an
# intent nobody sent is rejected not_cancelable; place() with no time to wait
# raises OutcomeTimeout naming the intent; the blocking Bot.place() fills too;
# close() leaves no thread behind.  Skipped unless $ORDERBOT_STACK is 1
# (tests/test_python_bot.sh sets it, with KAFKA_BROKERS and the rest of the
# stack's environment).
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from decimal import Decimal
from typing import List

import pytest

from orderbot import (AsyncBot, Bot, Event, FillEvent, OrderIntent, OrderType, OutcomeTimeout,
                      RejectionReason, Side, Status, TimeInForce)

pytestmark = pytest.mark.skipif(os.environ.get("ORDERBOT_STACK") != "1",
                                reason="needs the local stack (ORDERBOT_STACK=1)")
RUN = os.environ.get("ORDERBOT_RUN", uuid.uuid4().hex[:8])
USER = os.environ.get("ORDERBOT_USER", f"py-user-{RUN}")
META = {"strategy": "example-mean-reversion"}


def bot_id(name: str) -> str:
    return f"py-{name}-{RUN}"


def test_async_place_fills_and_events_stream() -> None:
    async def run() -> None:
        seen: List[Event] = []
        async with AsyncBot(bot_id("aplace"), USER, timeout=60) as bot:
            async def watch() -> None:
                async for ev in bot.events():
                    seen.append(ev)
            watcher = asyncio.create_task(watch())
            order = OrderIntent("AAPL", Side.BUY, qty=Decimal("1"), meta=META)
            o = await bot.place(order)
            assert (o.intent_id, o.status, o.filled_qty) == (order.intent_id, Status.FILL,
                                                             Decimal("1"))
            assert o.terminal_events == 1 and o.event_types[-1] == "fill"
            await asyncio.sleep(0.5)
        await asyncio.wait_for(watcher, 10)  # events() ends when the bot closes
        assert [e.event_id for e in seen] == [e.event_id for e in o.events]
        assert all(isinstance(e, FillEvent) and e.intent_id == order.intent_id for e in seen)
    asyncio.run(run())
    assert not [t for t in threading.enumerate() if t.name.startswith("orderbot-")]


def test_async_cancel_of_a_resting_order() -> None:
    async def run() -> None:
        async with AsyncBot(bot_id("acancel"), USER, timeout=60) as bot:
            bid = OrderIntent("IBM", Side.BUY, type=OrderType.LIMIT, qty=Decimal("1"),
                              limit_price=Decimal("1.00"), time_in_force=TimeInForce.GTC,
                              meta=META)
            await bot.send(bid)
            async for ev in bot.events():  # resting at the broker first
                if ev.intent_id == bid.intent_id and isinstance(ev, FillEvent):
                    assert ev.type == "accepted", ev
                    break
            cx = await bot.cancel(bid.intent_id, meta=META)
            target = await bot.outcome(bid.intent_id)
            assert (cx.status, cx.target_intent_id) == (Status.CANCELED, bid.intent_id)
            assert (target.status, target.cancel_intent_id, target.cancel_reason) == (
                Status.CANCELED, cx.intent_id, "requested")
            assert cx.terminal is target.terminal
            ghost = await bot.cancel(str(uuid.uuid4()), meta=META)
            assert (ghost.status, ghost.reason) == (Status.REJECTED,
                                                    RejectionReason.NOT_CANCELABLE)
    asyncio.run(run())


def test_async_place_timeout_names_the_intent() -> None:
    async def run() -> None:
        async with AsyncBot(bot_id("atimeout"), USER, timeout=60) as bot:
            order = OrderIntent("AAPL", Side.BUY, qty=Decimal("1"), meta=META)
            with pytest.raises(OutcomeTimeout) as ei:
                await bot.place(order, timeout=0.001)
            assert ei.value.intent_id == order.intent_id and order.intent_id in str(ei.value)
            o = await bot.outcome(order.intent_id, timeout=60)  # still tracked
            assert o.status == Status.FILL
    asyncio.run(run())


def test_blocking_place() -> None:
    with Bot(bot_id("bplace"), USER, timeout=60) as bot:
        o = bot.place(OrderIntent("MSFT", Side.BUY, qty=Decimal("1"), meta=META))
        assert (o.status, o.terminal_events) == (Status.FILL, 1)
        with pytest.raises(OutcomeTimeout) as ei:
            bot.place(OrderIntent("MSFT", Side.BUY, qty=Decimal("1"), meta=META), timeout=0)
        assert ei.value.intent_id in str(ei.value)

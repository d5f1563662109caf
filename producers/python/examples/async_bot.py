#!/usr/bin/env python3
# producers/python/examples/async_bot.py -- a minimal asyncio bot to copy.
#
# Owns: the shortest complete use of orderbot.AsyncBot: place a market order
# and await its outcome, rest a limit buy far below the market and cancel it,
# while a task streams every event of the bot's intents.  Why: what a bot
# author starts from; tests/test_python_bot.sh runs it against the local
# stack and shows its output.
#
# Needs the orderbot package installed (producers/python/README.md) and
# KAFKA_BROKERS (and INTENT_SIGNING_KEY_FILE where intents must be signed).
# Exit 0 when the order ended and the resting bid was canceled, 1 otherwise.
import argparse
import asyncio
import sys
from decimal import Decimal

from orderbot import AsyncBot, OrderIntent, OrderType, Side, Status, TimeInForce


async def watch(bot: AsyncBot) -> None:
    async for event in bot.events():  # ends when the bot closes
        print(f"  event {event.event_id}")


async def main() -> int:
    ap = argparse.ArgumentParser(description="A minimal asyncio bot for the order-worker.")
    ap.add_argument("--bot-id", default="example-async")
    ap.add_argument("--user-id", default="demo-alice")
    ap.add_argument("--symbol", default="AAPL")
    ap.add_argument("--bid", type=Decimal, default=Decimal("1.00"),
                    help="the resting limit buy's price, far below the market")
    args = ap.parse_args()

    async with AsyncBot(args.bot_id, args.user_id, timeout=60) as bot:
        watcher = asyncio.create_task(watch(bot))

        order = OrderIntent(args.symbol, Side.BUY, qty=Decimal("1"),
                            meta={"strategy": "example-async"})
        outcome = await bot.place(order)  # its terminal outcome (OutcomeTimeout after 60 s)
        print(f"market buy {order.intent_id}: {outcome.status} {outcome.filled_qty or ''} "
              f"@ {outcome.filled_avg_price or '-'} {outcome.reason or ''}".rstrip())

        bid = OrderIntent(args.symbol, Side.BUY, type=OrderType.LIMIT, qty=Decimal("1"),
                          limit_price=args.bid, time_in_force=TimeInForce.GTC,
                          meta={"strategy": "example-async"})
        await bot.send(bid)  # returns once Kafka has it; the order rests at the broker
        cancel = await bot.cancel(bid.intent_id)
        resting = await bot.outcome(bid.intent_id)
        print(f"limit buy {bid.intent_id}: {resting.status} "
              f"(by {resting.cancel_intent_id}, {resting.cancel_reason})")
        print(f"cancel request {cancel.intent_id}: {cancel.status} {cancel.reason or ''}".rstrip())
    await watcher
    ok = outcome.done and resting.status == Status.CANCELED and cancel.status == Status.CANCELED
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

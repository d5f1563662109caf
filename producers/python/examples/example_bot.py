#!/usr/bin/env python3
# producers/python/examples/example_bot.py -- an example strategy bot on the orderbot library.
#
# Owns: a small, honest mean-reversion bot that shows a bot author the whole
# round trip: read market data (the Alpaca data API of the simulator, or real
# Alpaca), decide, send intents with orderbot.Bot (the blocking interface),
# wait for their outcomes and report them.  Why: the README's usage example in a runnable form, and what
# tests/test_python_bot.sh drives against the stack of `compose/dev test`.
#
# The strategy, once per run: for each symbol, the mid of the latest quote
# against the simple moving average of the last --lookback 1-minute closes.
#   - the symbol furthest below its average is bought at market for --notional
#     dollars (there is always one: the relatively cheapest);
#   - every other symbol at or below its average is bought at market, --qty shares;
#   - a symbol above its average only gets a bargain bid: an IOC limit buy
#     --dip-pct below its average, which the market will not meet unless it
#     drops that far at once -- so the broker cancels it;
#   - and, unless --oversize-probe 0, one market buy of that many shares of the
#     cheapest symbol, far past the account's buying power: a deliberate
#     sizing mistake that passes the client-side checks (the library cannot
#     know the account) and that the broker rejects -- the rejection path.
# Then it waits for every outcome and prints a summary (--json: one object).
# Exit 0 when every intent ended within --timeout seconds, 1 when one did not,
# 2 on a usage, market data or Kafka error.
#
# Needs the orderbot package installed (producers/python/README.md).
# Environment: KAFKA_BROKERS (and TOPIC_* overrides), ALPACA_DATA_URL,
# ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY (sent as headers, never printed).
import argparse
import datetime as dt
import json
import os
import sys
import urllib.parse
import urllib.request
from decimal import ROUND_DOWN, Decimal

from orderbot import Bot, IntentError, canonical_decimal as decimal_text

CENT = Decimal("0.01")


def fail(msg, code=2):
    print(f"example_bot: {msg}", file=sys.stderr)
    sys.exit(code)


def data_get(path, params):
    base = os.environ.get("ALPACA_DATA_URL")
    key, secret = os.environ.get("ALPACA_API_KEY_ID"), os.environ.get("ALPACA_API_SECRET_KEY")
    if not base or not key or not secret:
        fail("ALPACA_DATA_URL, ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY must be set "
             "(eval \"$(compose/dev env)\")")
    url = base.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url, headers={"APCA-API-KEY-ID": key,
                                               "APCA-API-SECRET-KEY": secret})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read(), parse_float=Decimal)  # prices stay exact
    except Exception as e:  # noqa: BLE001 - any failure here ends the run the same way
        fail(f"market data {path}: {e}")


def signals(symbols, lookback):
    """[(symbol, mid, sma, deviation)] with deviation = (mid - sma) / sma."""
    quotes = data_get("/v2/stocks/quotes/latest", {"symbols": ",".join(symbols),
                                                   "feed": "iex"}).get("quotes") or {}
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=lookback)
    out = []
    for s in symbols:
        q = quotes.get(s) or {}
        bid, ask = Decimal(str(q.get("bp", 0))), Decimal(str(q.get("ap", 0)))
        if bid <= 0 or ask <= 0:
            fail(f"no usable quote for {s}")
        closes, token = [], None
        while True:
            params = {"timeframe": "1Min", "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "limit": 1000, "feed": "iex"}
            if token:
                params["page_token"] = token
            page = data_get(f"/v2/stocks/{urllib.parse.quote(s)}/bars", params)
            closes += [Decimal(str(b["c"])) for b in page.get("bars") or []]
            token = page.get("next_page_token")
            if not token:
                break
        closes = closes[-lookback:]
        mid = (bid + ask) / 2
        sma = sum(closes) / len(closes) if closes else mid
        out.append((s, mid, sma, (mid - sma) / sma))
    return out


def plan(sigs, args):
    """The intents to send: [(why, fields)] in the order they are sent."""
    ranked = sorted(sigs, key=lambda x: x[3])
    cheapest = ranked[0]
    orders = []
    for s, mid, sma, dev in ranked:
        m = {"strategy": "example-mean-reversion", "mid": decimal_text(mid.quantize(Decimal("0.0001"))),
             "sma": decimal_text(sma.quantize(Decimal("0.0001"))),
             "deviation_bps": decimal_text((dev * 10000).quantize(Decimal("0.01")))}
        if s == cheapest[0]:
            orders.append(("furthest below its average: buy by notional",
                           dict(symbol=s, side="buy", type="market", notional=args.notional,
                                meta=dict(m, rationale="the relatively cheapest symbol"))))
        elif dev <= 0:
            orders.append(("at or below its average: buy",
                           dict(symbol=s, side="buy", type="market", qty=args.qty,
                                meta=dict(m, rationale="below its moving average"))))
        else:
            bid = (sma * (1 - args.dip_pct / 100)).quantize(CENT, rounding=ROUND_DOWN)
            orders.append((f"above its average: IOC bid {args.dip_pct}% below it",
                           dict(symbol=s, side="buy", type="limit", qty=args.qty, limit_price=bid,
                                time_in_force="ioc",
                                meta=dict(m, rationale="only on a deep dip, now or never"))))
    if args.oversize_probe > 0:
        orders.append(("sizing probe: past the buying power",
                       dict(symbol=cheapest[0], side="buy", type="market", qty=args.oversize_probe,
                            meta={"strategy": "example-mean-reversion",
                                  "rationale": "deliberately oversized: shows a broker rejection"})))
    return orders


def main():
    ap = argparse.ArgumentParser(description="An example mean-reversion bot for the order-worker.")
    ap.add_argument("--bot-id", default="example-meanrev")
    ap.add_argument("--user-id", default="demo-alice")
    ap.add_argument("--symbols", default="AAPL,MSFT,NVDA,IBM")
    ap.add_argument("--lookback", type=int, default=20, help="1-minute bars in the average")
    ap.add_argument("--qty", type=Decimal, default=Decimal("1"), help="shares per buy")
    ap.add_argument("--notional", type=Decimal, default=Decimal("250"),
                    help="dollars for the cheapest symbol")
    ap.add_argument("--dip-pct", type=Decimal, default=Decimal("2"),
                    help="how far below the average the IOC bargain bid sits")
    ap.add_argument("--oversize-probe", type=Decimal, default=Decimal("1000000"),
                    help="shares of the oversized buy the broker rejects (0: none)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds to wait for the outcomes")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    symbols = [s for s in args.symbols.split(",") if s]
    if not symbols or args.lookback < 1:
        fail("--symbols needs at least one symbol and --lookback at least 1")

    sigs = signals(symbols, args.lookback)
    orders = plan(sigs, args)
    sent = []
    try:
        with Bot(args.bot_id, args.user_id) as bot:
            for why, fields in orders:
                iid = bot.submit(**fields)
                sent.append((iid, why, fields))
                print(f"sent {iid} {fields['type']} {fields['side']} {fields['symbol']}: {why}",
                      file=sys.stderr)
            outcomes = bot.wait([i for i, _, _ in sent], args.timeout)
    except IntentError as e:
        fail(str(e))
    except Exception as e:  # noqa: BLE001 - Kafka errors, reported plainly
        fail(f"kafka: {e}")

    rows = []
    for iid, why, fields in sent:
        o = outcomes[iid]
        row = {"intent_id": iid, "symbol": fields["symbol"], "side": fields["side"],
               "type": fields["type"], "why": why}
        for k in ("qty", "notional", "limit_price", "time_in_force"):
            if k in fields:
                row[k] = str(fields[k])
        row["outcome"] = o.summary()
        rows.append(row)
    pending = [r["intent_id"] for r in rows if r["outcome"]["status"] == "pending"]
    if args.json:
        print(json.dumps({"bot_id": args.bot_id, "user_id": args.user_id,
                          "signals": [{"symbol": s, "mid": decimal_text(m),
                                       "sma": decimal_text(a.quantize(Decimal("0.0001"))),
                                       "deviation_bps": decimal_text((d * 10000).quantize(CENT))}
                                      for s, m, a, d in sigs],
                          "intents": rows, "pending": pending, "ok": not pending}))
    else:
        print(f"{'symbol':7} {'order':28} {'outcome':10} detail")
        for r in rows:
            o = r["outcome"]
            size = f"qty {r['qty']}" if "qty" in r else f"${r['notional']}"
            order = f"{r['type']} {r['side']} {size}" + (f" @{r['limit_price']}"
                                                          if "limit_price" in r else "")
            if o["status"] == "rejected":
                detail = f"{o.get('reason')}: {o.get('message')}"
            elif o.get("filled_qty") not in (None, "0"):
                detail = f"filled {o['filled_qty']} @ {o.get('filled_avg_price', '-')}"
            else:
                detail = ""
            print(f"{r['symbol']:7} {order:28} {o['status']:10} {detail}")
        print(f"{len(rows) - len(pending)} of {len(rows)} intents ended within {args.timeout:g} s")
    if pending:
        print(f"example_bot: no outcome within {args.timeout:g} s for: {' '.join(pending)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

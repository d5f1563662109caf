# producers/python/tests/corpus.py -- intents broken on purpose, as JSON lines.
#
# Owns: a deterministic corpus for comparing this package's verdicts with the
# worker's (test_check.py): a few valid intents and cancel requests (bot and
# user topic), each with every field removed in turn and set in turn to values
# of every JSON type and of every edge a rule has (places, signs, exponents,
# calendar dates, lengths, case), plus messages that are no intent at all
# (duplicate keys, NaN, nested numbers too big for a double, lone surrogates,
# bad UTF-8, arrays).  `python3 tests/corpus.py` prints it.
from __future__ import annotations

import json
from typing import Any, Dict, List

IID = "6f1c1d2e-8a3b-4c5d-9e0f-112233445566"
TARGET = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
NOW = "2026-11-23T13:21:25.123Z"

BASES: List[Dict[str, Any]] = [
    {"intent_id": IID, "bot_id": "bot-1", "user_id": "u.1", "symbol": "AAPL", "side": "buy",
     "type": "market", "qty": "1", "created_at": NOW},
    {"intent_id": IID, "bot_id": "bot-1", "user_id": "u.1", "symbol": "MSFT", "side": "sell",
     "type": "market", "notional": "10.50", "time_in_force": "day", "created_at": NOW,
     "meta": {"a": [1, 2.5, {"b": None}]}},
    {"intent_id": IID, "bot_id": "bot-1", "user_id": "u.1", "symbol": "BRK.B", "side": "buy",
     "type": "stop_limit", "qty": "0.5", "limit_price": "187.25", "stop_price": "180",
     "time_in_force": "gtc", "extended_hours": False, "created_at": NOW,
     "expires_at": "2026-11-23T14:21:25+01:00"},
    {"intent_id": IID, "user_id": "u.1", "symbol": "IBM", "side": "buy", "type": "limit",
     "qty": "2", "limit_price": "100", "created_at": NOW},
    {"intent_id": IID, "action": "cancel", "target_intent_id": TARGET, "bot_id": "bot-1",
     "user_id": "u.1", "created_at": NOW},
    {"intent_id": IID, "action": "place", "bot_id": "bot-1", "user_id": "u.1",
     "symbol": "AAPL", "side": "buy", "type": "stop", "qty": 3, "stop_price": 99.5,
     "created_at": NOW},
]

VALUES: List[Any] = [
    None, True, False, 0, 1, -1, 0.5, 1e400, -0.0, 10.001, 10.01, 1e-10, 1.5e2, 123.456789012, "", "x", "1", "0", "-1", "1.0", "01.50",
    "1e5", "1.5e2", " 1", "1.", ".5", "+1", "0.1234567891", "0.123456789", "10.001",
    "10.010", "1" * 48, "0." + "0" * 46 + "1", [], {}, [1], {"a": 1}, "AAPL", "aapl", "AAPL\n",
    "A" * 16, "A B", "ÄAPL", "buy", "BUY", "market", "limit", "stop", "stop_limit", "day", "IOC",
    "fok", "cancel", "place", "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T13:21:60Z",
    "2026-11-23 13:21:25Z", "2026-11-23T13:21:25", "2026-11-23t13:21:25.5z",
    "2026-11-23T13:21:25.123456789+05:30", "2026-11-23T13:21:25-24:00", "0000-02-29T00:00:00Z",
    "2026-11-23T13:21:25." + "1" * 30 + "Z", "2026-11-23T13:21:25." + "1" * 40 + "Z",
    IID, TARGET, IID.upper(), IID[:-1], "bot_1", "b" * 64, "b" * 65, "bot 1", "bot\n",
    {"big": "x" * 8200}, {"s": "x" * 8170}, 12345678901234567890,
]


def corpus() -> List[bytes]:
    out: List[bytes] = []

    def add(obj: Any) -> None:
        out.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode("utf-8"))

    for base in BASES:
        add(base)
        for k in list(base) + ["qty", "notional", "limit_price", "stop_price", "target_intent_id",
                               "action", "bot_id", "meta", "expires_at", "extended_hours",
                               "time_in_force", "type"]:
            if k in base:
                add({x: v for x, v in base.items() if x != k})
            for v in VALUES:
                if isinstance(v, float) and v != v * 1 or v == 1e400:
                    continue
                d = dict(base)
                d[k] = v
                add(d)
        add(dict(base, extra=1))
        add(dict(base, **{"e" * 40: 1}))
        add(dict(base, qty="1", notional="1"))
        add(dict(base, target_intent_id=IID, action="cancel"))
    raw = [
        b'{"intent_id":"%s","intent_id":"%s"}' % (IID.encode(), IID.encode()),
        b'{"intent_id":"%s","user_id":"u","bot_id":"b","meta":{"a":1,"a":2}}' % IID.encode(),
        b'{"intent_id":"%s","qty":NaN}' % IID.encode(),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":1e400,"created_at":"%s"}' % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":1E-3,"created_at":"%s","meta":{"x":1e400}}' % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":"1","created_at":"%s","meta":{"x":99999999999999999999}}' % (IID.encode(),
                                                                               NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":"1","created_at":"%s","meta":{"x":"\\ud800"}}' % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":1.0000000000,"created_at":"%s","meta":{"x":"\\ud83d\\ude00 \xc3\xa4"}}'
        % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b\xff","user_id":"u"}' % IID.encode(),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":0.0000000001,"created_at":"%s"}' % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":-0,"created_at":"%s"}' % (IID.encode(), NOW.encode()),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","symbol":"A","side":"buy","type":"market",'
        b'"qty":  2 ,  "created_at":"%s","meta": { "k" : [ 1 , 2 ] } }' % (IID.encode(), NOW.encode()),
        b'[1,2]', b'"x"', b'{}', b'{"intent_id":5}', b'{"intent_id":"nope"}', b'{',
        b'{"intent_id":"%s"} x' % IID.encode(), b'\xef\xbb\xbf{"intent_id":"%s"}' % IID.encode(),
        b'{"intent_id":"%s","bot_id":"b","user_id":"u","created_at":"%s","meta":{"k":"%s"}}'
        % (IID.encode(), NOW.encode(), b"y" * 70000),
    ]
    return out + raw


if __name__ == "__main__":
    import sys
    for line in corpus():
        sys.stdout.buffer.write(line + b"\n")

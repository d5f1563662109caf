#!/usr/bin/python3
"""bench/priority.py -- the priority scenario's load and probe (bench/run.sh).

What a user feels when the fleet's Alpaca budget is spent by bots: one bot
floods, sixty others queue, and meanwhile users place orders and bots cancel
resting ones.  Measured, by reading the result topics back as the backend
would: the time from publishing a user intent to its `accepted` event and to
its terminal event, and from publishing a cancel request to its target's
`canceled` event (or its own rejection).  Times are this process's clock at
publication and at read-back, so every figure includes both Kafka hops.

Steps: resting gtc limit buys far below the market, one per cancel to come,
placed first and read back accepted; the flood (--flood intents of one bot,
--per-other of each of --others bots, as fast as Kafka takes them); --settle
seconds for the budget to run dry; then every --interval-ms one user intent
and one cancel, --probes of each; then up to --timeout seconds for their
outcomes.  Prints one JSON object.

Intents are unsigned: the bench stack registers no signing keys.  Kafka
settings: KAFKA_BROKERS, and KAFKA_CONSUMER_<PROPERTY> / KAFKA_PRODUCER_<PROPERTY>
as the worker reads them (the dev stack's fetch.wait.max.ms among them).
"""
import argparse
import datetime
import json
import os
import sys
import threading
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition


def client_conf(prefix, base):
    """base plus every <prefix><PROPERTY> of the environment, as librdkafka's
    property (KAFKA_CONSUMER_FETCH_WAIT_MAX_MS -> fetch.wait.max.ms)."""
    conf = dict(base)
    for name, value in os.environ.items():
        if name.startswith(prefix) and value != "":
            conf[name[len(prefix):].lower().replace("_", ".")] = value
    return conf


def now_rfc3339():
    t = datetime.datetime.now(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def order(bot, user, **fields):
    o = {"intent_id": str(uuid.uuid4()), "user_id": user, "symbol": "IBM", "side": "buy",
         "type": "market", "qty": "1", "time_in_force": "day", "created_at": now_rfc3339()}
    if bot:
        o["bot_id"] = bot
    o.update(fields)
    return o


def cancel(bot, user, target):
    return {"intent_id": str(uuid.uuid4()), "action": "cancel", "target_intent_id": target,
            "bot_id": bot, "user_id": user, "created_at": now_rfc3339()}


class Reader(threading.Thread):
    """Reads orders.fills and orders.rejections from their end, noting when
    each intent's first accepted, first terminal event (and the canceled
    event naming a cancel request) arrive."""

    def __init__(self, brokers, topics):
        super().__init__(daemon=True)
        self.topics = topics
        self.consumer = Consumer(client_conf("KAFKA_CONSUMER_", {
            "bootstrap.servers": brokers, "group.id": "bench-priority-" + uuid.uuid4().hex,
            "enable.auto.commit": False}))
        parts = []
        for topic in topics:
            md = self.consumer.list_topics(topic, timeout=10).topics[topic]
            for p in md.partitions:
                _, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                parts.append(TopicPartition(topic, p, high))
        self.consumer.assign(parts)
        self.lock = threading.Lock()
        self.accepted, self.terminal, self.kind = {}, {}, {}
        self.stop = False

    def run(self):
        while not self.stop:
            m = self.consumer.poll(0.05)
            if m is None or m.error():
                continue
            t = time.time()
            try:
                e = json.loads(m.value())
            except ValueError:
                continue
            iid, typ = e.get("intent_id"), e.get("type") or "rejected:" + str(e.get("reason"))
            with self.lock:
                if typ == "accepted":
                    self.accepted.setdefault(iid, t)
                if typ in ("fill", "canceled", "expired") or typ.startswith("rejected"):
                    self.terminal.setdefault(iid, t)
                    self.kind.setdefault(iid, typ)
                if typ == "canceled" and e.get("cancel_intent_id"):
                    self.terminal.setdefault(e["cancel_intent_id"], t)
                    self.kind.setdefault(e["cancel_intent_id"], "canceled")
        self.consumer.close()

    def wait(self, ids, table, timeout):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if all(i in table for i in ids):
                    return True
            time.sleep(0.1)
        return False


def pct(values, q):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, int(q * len(v) + 0.999999) - 1))], 1)


def summary(ms):
    return {"n": len(ms), "p50_ms": pct(ms, 0.5), "p90_ms": pct(ms, 0.9),
            "p99_ms": pct(ms, 0.99), "max_ms": round(max(ms), 1) if ms else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--flood", type=int, default=3000)
    ap.add_argument("--others", type=int, default=60)
    ap.add_argument("--per-other", type=int, default=20)
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--interval-ms", type=int, default=500)
    ap.add_argument("--settle", type=float, default=5)
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    brokers = os.environ["KAFKA_BROKERS"]
    t_bot = os.environ.get("TOPIC_INTENTS_BOT", "orders.intents.bot")
    t_user = os.environ.get("TOPIC_INTENTS_USER", "orders.intents.user")
    reader = Reader(brokers, [os.environ.get("TOPIC_FILLS", "orders.fills"),
                              os.environ.get("TOPIC_REJECTIONS", "orders.rejections")])
    reader.start()
    prod = Producer(client_conf("KAFKA_PRODUCER_", {"bootstrap.servers": brokers}))
    req = urllib.request.Request(a.sim + "/_sim/quotes", method="POST",
                                 data=b'{"IBM":{"bid":"210.00","ask":"210.02"}}',
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()

    def send(topic, key, intent):
        t = time.time()
        prod.produce(topic, json.dumps(intent).encode(), key.encode())
        prod.poll(0)
        return t

    # Resting orders, one per cancel to come, accepted before the flood.
    resting = []
    for k in range(a.probes):
        bot = f"rest-{k}"
        o = order(bot, "u-rest", type="limit", limit_price="150.00", time_in_force="gtc")
        send(t_bot, bot, o)
        resting.append((bot, o["intent_id"]))
    prod.flush(30)
    if not reader.wait([i for _, i in resting], reader.accepted, 120):
        print(json.dumps({"error": "resting orders not all accepted within 120 s"}))
        return 1

    # The flood: one bot's long queue, and sixty bots with a few each.
    t0 = time.time()
    flood_ids = []
    for _ in range(a.flood):
        o = order("flood", "u-flood")
        flood_ids.append(o["intent_id"])
        send(t_bot, "flood", o)
    for b in range(a.others):
        for _ in range(a.per_other):
            o = order(f"other-{b}", "u-others")
            flood_ids.append(o["intent_id"])
            send(t_bot, f"other-{b}", o)
    prod.flush(60)
    flood_published_s = time.time() - t0
    time.sleep(a.settle)

    # The probes.
    users, cancels = [], []
    for k in range(a.probes):
        u = f"user-{k % 10}"
        o = order(None, u)
        users.append((o["intent_id"], send(t_user, u, o)))
        bot, target = resting[k]
        c = cancel(bot, "u-rest", target)
        cancels.append((c["intent_id"], send(t_bot, bot, c)))
        time.sleep(a.interval_ms / 1000)
    prod.flush(30)
    reader.wait([i for i, _ in users] + [i for i, _ in cancels], reader.terminal, a.timeout)
    reader.stop = True
    reader.join(5)

    with reader.lock:
        acc = [(reader.accepted[i] - t) * 1000 for i, t in users if i in reader.accepted]
        term = [(reader.terminal[i] - t) * 1000 for i, t in users if i in reader.terminal]
        canc = [(reader.terminal[i] - t) * 1000 for i, t in cancels if i in reader.terminal]
        cancel_kinds = {}
        for i, _ in cancels:
            kind = reader.kind.get(i, "none")
            cancel_kinds[kind] = cancel_kinds.get(kind, 0) + 1
        flood_accepted = sum(1 for i in flood_ids if i in reader.accepted)
    print(json.dumps({
        "flood_intents": len(flood_ids), "flood_published_s": round(flood_published_s, 2),
        "flood_accepted_by_end": flood_accepted,
        "user_to_accepted": summary(acc), "user_to_terminal": summary(term),
        "user_missing": len(users) - len(acc),
        "cancel_to_outcome": summary(canc), "cancel_outcomes": cancel_kinds,
        "cancel_missing": len(cancels) - len(canc),
        "what": "publication (this process's clock, just before produce) -> the event read back "
                "from orders.fills / orders.rejections by this process: a user intent's accepted "
                "and terminal events; a cancel request's target's canceled event naming it (or "
                "its own rejection)"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# orderbot/bot.py -- the Kafka side of a trading bot: send intents, await outcomes.
#
# Owns: one bot's connection to the order-worker's topics (contract section 2):
# publishing checked intents to orders.intents.bot keyed by bot_id through an
# idempotent producer, waiting for each delivery report, and reading
# orders.fills / orders.rejections for the outcomes of the intents this Bot
# sent, dropping duplicate event_ids.  Cancel requests (contract section 3b)
# go the same way, keyed like their target (by bot_id); their outcome is their
# target's canceled event naming them, or their own rejection.  Why: every bot needs exactly this, and
# the two ways to get it wrong (an outcome missed because the consumer started
# late, a duplicate event counted twice) are easy to make and hard to notice.
#
# Uses Debian's python3-confluent-kafka (run with /usr/bin/python3).
import json
import os
import time
import uuid
from decimal import Decimal

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from .intent import build_cancel, build_intent, check_ids, check_intent, encode_intent
from .outcome import Outcome, decided_intents
from .signing import SIGNATURE_HEADER, load_signing_key, sign


class DeliveryError(RuntimeError):
    """Kafka did not confirm that an intent was written."""


class Bot:
    """A bot's client for the order-worker.

        with Bot(bot_id="meanrev-1", user_id="alice") as bot:
            ids = [bot.submit("AAPL", "buy", qty=Decimal("1"))]
            for o in bot.wait(ids, timeout=60).values():
                print(o.intent_id, o.status, o.reason)
            bid = bot.submit("AAPL", "buy", type="limit", qty=1, limit_price="150",
                             time_in_force="gtc")
            cx = bot.cancel(bid)          # same key as the bid; returns its own id
            o = bot.wait([cx], timeout=60)[cx]
            print(o.status, o.reason)     # canceled, or rejected not_cancelable

    brokers defaults to $KAFKA_BROKERS; topics to $TOPIC_INTENTS_BOT,
    $TOPIC_FILLS, $TOPIC_REJECTIONS or the contract's names.  kafka_config
    adds librdkafka properties to both clients (security settings, ...).
    signing_key (32 bytes or 64 hex digits; default $INTENT_SIGNING_KEY_FILE
    or $INTENT_SIGNING_KEY) signs every intent, as `intentctl bot add` gave
    it; a deployment with INTENT_SIGNING=required refuses unsigned intents."""

    def __init__(self, bot_id, user_id, *, brokers=None, topic_intents=None,
                 topic_fills=None, topic_rejections=None, kafka_config=None,
                 timeout=30.0, signing_key=None):
        self.bot_id = bot_id
        self.user_id = user_id
        self.brokers = brokers or os.environ.get("KAFKA_BROKERS")
        if not self.brokers:
            raise ValueError("no brokers: pass brokers= or set KAFKA_BROKERS")
        self.topic_intents = topic_intents or os.environ.get("TOPIC_INTENTS_BOT") or "orders.intents.bot"
        self.topic_fills = topic_fills or os.environ.get("TOPIC_FILLS") or "orders.fills"
        self.topic_rejections = (topic_rejections or os.environ.get("TOPIC_REJECTIONS")
                                 or "orders.rejections")
        self.timeout = timeout
        self._extra = dict(kafka_config or {})
        self._key = load_signing_key(signing_key)
        self._producer = None
        self._consumer = None
        self._outcomes = {}      # intent_id -> Outcome, for every intent this Bot sent
        self._seen = set()       # event_ids already taken (duplicates are dropped)
        check_ids(bot_id=bot_id, user_id=user_id)  # now rather than at the first submit

    # ------------------------------------------------------------ lifecycle

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def start(self):
        """Connects, and positions the result consumer at the current end of
        the result topics.  Must happen before the first intent is sent; submit()
        calls it if needed."""
        if self._consumer is not None:
            return self
        base = {"bootstrap.servers": self.brokers, "client.id": f"orderbot-{self.bot_id}",
                "log.connection.close": False}
        base.update(self._extra)
        # Manual assign at offsets read now, not a consumer group subscription:
        # a group join takes seconds, and "auto.offset.reset=latest" would be
        # resolved only when fetching starts, after the join -- an outcome
        # written in between would be skipped.  Here the end offsets (high
        # watermarks) are read synchronously before start() returns, so every
        # event about an intent sent afterwards is at or past them.  Nothing is
        # committed; group.id is required by the client for assign() and is
        # unique so no other consumer's state is touched.
        conf = dict(base)
        conf.update({"group.id": f"orderbot-{self.bot_id}-{uuid.uuid4()}",
                     "enable.auto.commit": False, "enable.auto.offset.store": False,
                     "auto.offset.reset": "earliest"})
        consumer = Consumer(conf)
        try:
            md = consumer.list_topics(timeout=self.timeout)
            assignment = []
            for topic in (self.topic_fills, self.topic_rejections):
                t = md.topics.get(topic)
                if t is None or t.error is not None or not t.partitions:
                    raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                    f"topic {topic} is not on the brokers"))
                for p in sorted(t.partitions):
                    _low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=self.timeout, cached=False)
                    assignment.append(TopicPartition(topic, p, high))
            consumer.assign(assignment)
        except Exception:
            consumer.close()
            raise
        pconf = dict(base)
        # linger.ms 0: an intent leaves at once (librdkafka 2.0's default
        # holds it 5 ms to batch); what queues while a request is in flight
        # still goes out together.
        pconf.update({"enable.idempotence": True, "message.timeout.ms": int(self.timeout * 1000),
                      "linger.ms": 0})
        self._producer = Producer(pconf)
        self._consumer = consumer
        return self

    def close(self):
        if self._producer is not None:
            self._producer.flush(self.timeout)
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # ------------------------------------------------------------ sending

    def intent(self, symbol, side, **fields):
        """A checked intent for this bot (not sent): see orderbot.build_intent."""
        return build_intent(bot_id=self.bot_id, user_id=self.user_id, symbol=symbol,
                            side=side, **fields)

    def submit(self, symbol, side, **fields):
        """Builds, checks and sends one intent; returns its intent_id once Kafka
        confirmed the write.  fields: type ("market"), qty or notional,
        limit_price, stop_price, time_in_force, extended_hours, expires_at
        (datetime, RFC 3339 string or timedelta), meta.  Decimals as Decimal,
        int or str.  Raises IntentError (ValueError) before sending anything
        if a contract rule is broken, DeliveryError if Kafka refused."""
        return self.send(self.intent(symbol, side, **fields))

    def cancel(self, target_intent_id, *, expires_at=None, meta=None):
        """Sends a cancel request of this bot's order intent target_intent_id
        (contract section 3b), on the same topic and key as the order; returns
        the request's own intent_id once Kafka confirmed the write.  Its
        outcome (outcome(), wait()): "canceled" when the target's canceled
        event names it, or "rejected" with reason not_cancelable (the target is
        unknown, not this bot's, already being canceled, or ended first).  The
        target's own outcome says canceled, or how it ended otherwise."""
        return self.send(build_cancel(bot_id=self.bot_id, user_id=self.user_id,
                                      target_intent_id=target_intent_id,
                                      expires_at=expires_at, meta=meta))

    def send(self, intent):
        """Checks and sends a ready intent or cancel request dict (e.g. from
        intent() or orderbot.build_cancel); returns its id."""
        intent = check_intent(intent, "bot")
        if intent["bot_id"] != self.bot_id:
            raise ValueError(f"bot_id {intent['bot_id']!r} is not this bot's ({self.bot_id!r}): "
                             "outcomes are read per bot")
        self.start()
        iid = intent["intent_id"]
        if iid in self._outcomes:
            raise ValueError(f"intent_id {iid} was already sent by this bot")
        report = {}

        def on_delivery(err, msg):
            report["err"] = err
            report["msg"] = msg

        # Tracked before the write: no event can be missed.
        self._outcomes[iid] = Outcome(iid, target_intent_id=intent.get("target_intent_id"))
        try:
            value = encode_intent(intent)
            headers = [(SIGNATURE_HEADER, sign(self._key, value))] if self._key else None
            self._producer.produce(self.topic_intents, key=self.bot_id.encode(), value=value,
                                   headers=headers, on_delivery=on_delivery)
            deadline = time.monotonic() + self.timeout + 5
            while not report and time.monotonic() < deadline:
                self._producer.poll(0.1)
        except BaseException:
            del self._outcomes[iid]
            raise
        if not report:
            # The message may still be written later: keep tracking it.
            raise DeliveryError(f"intent {iid}: no delivery report within {self.timeout + 5:.0f} s")
        if report["err"] is not None:
            del self._outcomes[iid]
            raise DeliveryError(f"intent {iid}: not written to {self.topic_intents}: {report['err']}")
        return iid

    # ------------------------------------------------------------ outcomes

    def outcome(self, intent_id):
        """The Outcome of an intent sent by this Bot, as far as read so far."""
        return self._outcomes[intent_id]

    def poll(self, timeout=0.5):
        """Reads what is available on the result topics (at most timeout seconds)."""
        if self._consumer is None:
            return
        msgs = self._consumer.consume(num_messages=500, timeout=timeout)
        for m in msgs:
            if m.error() is not None:
                if m.error().fatal():
                    raise KafkaException(m.error())
                continue  # transient (a broker reconnecting, end of partition)
            self._take(m)

    def _take(self, m):
        try:
            ev = json.loads(m.value(), parse_float=Decimal)
        except (TypeError, ValueError):
            return  # not an event of ours
        if not isinstance(ev, dict):
            return
        kind = "fills" if m.topic() == self.topic_fills else "rejections"
        # Its intent, and on a canceled event the cancel request it names.
        mine = [self._outcomes[i] for i in decided_intents(ev, kind) if i in self._outcomes]
        if not mine:
            return  # another bot's intent
        eid = ev.get("event_id")
        if eid is not None and eid in self._seen:
            for o in mine:
                o.duplicates_dropped += 1
            return
        if eid is not None:
            self._seen.add(eid)
        for o in mine:
            o.add(ev, kind)

    def wait(self, intent_ids, timeout):
        """Reads results until every listed intent has its terminal outcome or
        timeout seconds pass.  Returns {intent_id: Outcome}; an Outcome whose
        .done is False (status "pending") did not end in time."""
        ids = list(intent_ids)
        unknown = [i for i in ids if i not in self._outcomes]
        if unknown:
            raise KeyError(f"not sent by this bot: {', '.join(unknown)}")
        deadline = time.monotonic() + timeout
        while True:
            if all(self._outcomes[i].done for i in ids):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.poll(min(left, 0.5))
        # Whatever else is already here (e.g. a duplicate right behind a terminal event).
        self.poll(0)
        return {i: self._outcomes[i] for i in ids}

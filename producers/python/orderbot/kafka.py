# orderbot/kafka.py -- the Kafka side shared by Bot and AsyncBot.
#
# Owns: a bot's settings (brokers, topics, extra librdkafka properties,
# timeout, signing key) and the two clients built from them: a result
# consumer positioned at the current end of orders.fills / orders.rejections,
# and an idempotent producer for orders.intents.bot keyed by bot_id.  Why
# here: the one way to miss an outcome (a consumer started late) is avoided
# in one place for both interfaces.
#
# Uses confluent-kafka (Debian's python3-confluent-kafka 1.7 is enough).
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from .outcome import FILLS, REJECTIONS, Tracker, parse_event
from .signing import SIGNATURE_HEADER, KeyInput, SigningKey, load_signing_key
from .types import Event
from .validate import check_ids


@dataclass(frozen=True)
class Settings:
    """Where a bot talks to: brokers defaults to $KAFKA_BROKERS, topics to
    $TOPIC_INTENTS_BOT, $TOPIC_FILLS, $TOPIC_REJECTIONS or the contract's
    names; kafka_config adds librdkafka properties to both clients."""
    brokers: str
    topic_intents: str
    topic_fills: str
    topic_rejections: str
    timeout: float
    kafka_config: Mapping[str, Any] = field(default_factory=dict, repr=False)
    signing_key: Optional[SigningKey] = field(default=None, repr=False)

    @classmethod
    def make(cls, *, brokers: Optional[str] = None, topic_intents: Optional[str] = None,
             topic_fills: Optional[str] = None, topic_rejections: Optional[str] = None,
             kafka_config: Optional[Mapping[str, Any]] = None, timeout: float = 30.0,
             signing_key: KeyInput = None) -> "Settings":
        env = os.environ.get
        b = brokers or env("KAFKA_BROKERS")
        if not b:
            raise ValueError("no brokers: pass brokers= or set KAFKA_BROKERS")
        return cls(brokers=b,
                   topic_intents=topic_intents or env("TOPIC_INTENTS_BOT") or "orders.intents.bot",
                   topic_fills=topic_fills or env("TOPIC_FILLS") or "orders.fills",
                   topic_rejections=(topic_rejections or env("TOPIC_REJECTIONS")
                                     or "orders.rejections"),
                   timeout=timeout, kafka_config=dict(kafka_config or {}),
                   signing_key=load_signing_key(signing_key))

    def _base(self, bot_id: str) -> Dict[str, Any]:
        base: Dict[str, Any] = {"bootstrap.servers": self.brokers,
                                "client.id": f"orderbot-{bot_id}",
                                "log.connection.close": False}
        base.update(self.kafka_config)
        return base

    def headers(self, value: bytes) -> Optional[List[Tuple[str, str]]]:
        """The x-signature header of a message value, if this bot signs."""
        return [(SIGNATURE_HEADER, self.signing_key.sign(value))] if self.signing_key else None


def open_consumer(s: Settings, bot_id: str) -> Consumer:
    """A result consumer assigned at the current end of the result topics.

    Manual assign at offsets read now, not a consumer group subscription: a
    group join takes seconds, and "auto.offset.reset=latest" would be
    resolved only when fetching starts -- an outcome written in between would
    be skipped.  The end offsets (high watermarks) are read before this
    returns, so every event about an intent sent afterwards is at or past
    them.  Nothing is committed; group.id is required by the client for
    assign() and is unique so no other consumer's state is touched."""
    conf = s._base(bot_id)
    conf.update({"group.id": f"orderbot-{bot_id}-{uuid.uuid4()}", "enable.auto.commit": False,
                 "enable.auto.offset.store": False, "auto.offset.reset": "earliest"})
    consumer = Consumer(conf)
    try:
        md = consumer.list_topics(timeout=s.timeout)
        assignment = []
        for topic in (s.topic_fills, s.topic_rejections):
            t = md.topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                f"topic {topic} is not on the brokers"))
            for p in sorted(t.partitions):
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=s.timeout, cached=False)
                assignment.append(TopicPartition(topic, p, high))
        consumer.assign(assignment)
    except BaseException:
        consumer.close()
        raise
    return consumer


def open_producer(s: Settings, bot_id: str) -> Producer:
    """An idempotent producer; linger.ms 0: an intent leaves at once (what
    queues while a request is in flight still goes out together)."""
    conf = s._base(bot_id)
    conf.update({"enable.idempotence": True, "message.timeout.ms": int(s.timeout * 1000),
                 "linger.ms": 0})
    return Producer(conf)


def message_event(s: Settings, m: Message) -> Optional[Event]:
    """The event a consumed message holds; None for a transient error or a
    message that is not an event.  Raises KafkaException on a fatal error."""
    err = m.error()
    if err is not None:
        if err.fatal():
            raise KafkaException(err)
        return None  # transient (a broker reconnecting, end of partition)
    kind = FILLS if m.topic() == s.topic_fills else REJECTIONS
    return parse_event(kind, m.value())


class BotBase:
    """What Bot and AsyncBot share: who the bot is, its Settings, and the
    Tracker of its intents' outcomes.  Its repr shows no key."""

    def __init__(self, bot_id: str, user_id: str, *, brokers: Optional[str] = None,
                 topic_intents: Optional[str] = None, topic_fills: Optional[str] = None,
                 topic_rejections: Optional[str] = None,
                 kafka_config: Optional[Mapping[str, Any]] = None, timeout: float = 30.0,
                 signing_key: KeyInput = None) -> None:
        check_ids(bot_id=bot_id, user_id=user_id)  # now rather than at the first send
        self.bot_id = bot_id
        self.user_id = user_id
        self.settings = Settings.make(brokers=brokers, topic_intents=topic_intents,
                                      topic_fills=topic_fills, topic_rejections=topic_rejections,
                                      kafka_config=kafka_config, timeout=timeout,
                                      signing_key=signing_key)
        self.tracker = Tracker()
        self._init_state()

    def _init_state(self) -> None:
        """A subclass's own state, set up at the end of __init__."""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(bot_id={self.bot_id!r}, user_id={self.user_id!r}, "
                f"brokers={self.settings.brokers!r}, "
                f"signed={self.settings.signing_key is not None})")

    @property
    def topic_fills(self) -> str:
        return self.settings.topic_fills

    @property
    def topic_rejections(self) -> str:
        return self.settings.topic_rejections

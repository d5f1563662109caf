# orderbot -- a typed client for trading bots of the order-worker.
#
# Owns: the public names a bot author imports.  The values (types), the
# checks (validate, from the contract's JSON Schema), the wire form (intent)
# and the outcome folding (outcome) need no Kafka; Bot (blocking) and
# AsyncBot (asyncio) add the Kafka client (confluent-kafka), imported on
# first use so the checks work without it.
from typing import Any

from .intent import encode_request, encode_wire, rfc3339, to_wire
from .outcome import Outcome, Tracker, decided_intents, event_from_dict, parse_event
from .signing import SigningKey, load_signing_key, sign
from .types import (BrokerAnswer, CancelRequest, DeliveryError, Event, FieldError, FillEvent,
                    FillType, IntentError, OrderbotError, OrderIntent, OrderType, OutcomeTimeout,
                    RejectionEvent, RejectionReason, Request, Side, Status, TimeInForce)
from .validate import Verdict, canonical_decimal, check, check_bytes, check_ids

__all__ = ["AsyncBot", "Bot", "BotClosed", "BrokerAnswer", "CancelRequest", "DeliveryError",
           "Event", "FieldError", "FillEvent", "FillType", "IntentError", "OrderIntent",
           "OrderType", "OrderbotError", "Outcome", "OutcomeTimeout", "RejectionEvent",
           "RejectionReason", "Request", "Side", "SigningKey", "Status", "TimeInForce",
           "Tracker", "Verdict", "canonical_decimal", "check", "check_bytes", "check_ids",
           "decided_intents", "encode_request", "encode_wire", "event_from_dict",
           "load_signing_key", "parse_event", "rfc3339", "sign", "to_wire"]


def __getattr__(name: str) -> Any:
    # The Kafka clients are imported on first use, so the checks work without them.
    if name == "Bot":
        from .bot import Bot
        return Bot
    if name in ("AsyncBot", "BotClosed"):
        from . import aio
        return getattr(aio, name)
    raise AttributeError(name)

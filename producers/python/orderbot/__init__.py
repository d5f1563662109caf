# orderbot -- a small client library for trading bots of the order-worker.
#
# Owns: the public names a bot author imports.  Why a package: the contract
# checks (intent.py) and the outcome folding (outcome.py) are usable without
# Kafka (tests, replays); bot.py adds the Kafka client (Debian's
# python3-confluent-kafka, so run bots with /usr/bin/python3).
from .intent import (IntentError, build_cancel, build_intent, check_ids, check_intent,
                     decimal_text, encode_intent, now_rfc3339, rfc3339)
from .outcome import Outcome, decided_intents
from .signing import load_signing_key, sign

__all__ = ["Bot", "DeliveryError", "IntentError", "Outcome", "build_cancel", "build_intent",
           "check_ids", "check_intent", "decided_intents", "decimal_text", "encode_intent",
           "load_signing_key", "now_rfc3339", "rfc3339", "sign"]


def __getattr__(name):
    # The Kafka client is imported on first use, so the checks work without it.
    if name in ("Bot", "DeliveryError"):
        from . import bot
        return getattr(bot, name)
    raise AttributeError(name)

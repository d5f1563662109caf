# orderbot/signing.py -- signing intents for a deployment that requires it.
#
# Owns: the one rule a bot and the worker must agree on byte for byte: the
# Kafka header x-signature is "v1=" + hex(HMAC-SHA256(key, the exact bytes
# of the message value)), with the 32-byte key `intentctl bot add` made.  No
# Kafka needed, so the rule is testable alone (tests/test_orderbot.py checks
# it against a vector made by OpenSSL).
import hashlib
import hmac
import os

SIGNATURE_HEADER = "x-signature"


def sign(key, payload):
    """The x-signature header value for payload (bytes) under key (32 bytes):
    "v1=" + the hex HMAC-SHA256 of the exact bytes, as the worker checks."""
    return "v1=" + hmac.new(key, payload, hashlib.sha256).hexdigest()


def load_signing_key(key=None):
    """The bot's signing key as 32 bytes: key (bytes, or 64 hex digits), else
    the file named by $INTENT_SIGNING_KEY_FILE, else $INTENT_SIGNING_KEY;
    None if none is given.  The key is never printed, not even when wrong."""
    source = "signing_key"
    if key is None:
        path = os.environ.get("INTENT_SIGNING_KEY_FILE")
        if path:
            source = "INTENT_SIGNING_KEY_FILE"
            with open(path, encoding="ascii", errors="replace") as f:
                key = f.read()
        else:
            source = "INTENT_SIGNING_KEY"
            key = os.environ.get("INTENT_SIGNING_KEY") or None
    if key is None:
        return None
    if isinstance(key, str):
        try:
            key = bytes.fromhex(key.strip())
        except ValueError:
            key = b""
    if len(key) != 32:
        raise ValueError(f"{source} is not a signing key (32 bytes, or 64 hexadecimal digits)")
    return key

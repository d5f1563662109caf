# orderbot/signing.py -- signing intents for a deployment that requires it.
#
# Owns: the one rule a bot and the worker must agree on byte for byte: the
# Kafka header x-signature is "v1=" + hex(HMAC-SHA256(key, the exact bytes
# of the message value)), with the 32-byte key `intentctl bot add` made; and
# keeping that key out of every log line, exception and repr (SigningKey's
# repr and str say only that a key is there).  No Kafka needed, so the rule
# is testable alone (tests/test_orderbot.py checks it against a vector made
# by OpenSSL).
from __future__ import annotations

import hashlib
import hmac
import os
from typing import Optional, Union

SIGNATURE_HEADER = "x-signature"


class SigningKey:
    """A bot's 32-byte signing key.  Its repr and str never show it."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a signing key is 32 bytes")
        self._key = bytes(key)

    def sign(self, payload: bytes) -> str:
        """The x-signature header value for payload: "v1=" + hex HMAC-SHA256."""
        return "v1=" + hmac.new(self._key, payload, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "SigningKey(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SigningKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(("SigningKey", hashlib.sha256(self._key).digest()))


KeyInput = Union[SigningKey, bytes, str, None]


def sign(key: Union[SigningKey, bytes], payload: bytes) -> str:
    """The x-signature header value for payload (bytes) under key (32 bytes):
    "v1=" + the hex HMAC-SHA256 of the exact bytes, as the worker checks."""
    return (key if isinstance(key, SigningKey) else SigningKey(key)).sign(payload)


def load_signing_key(key: KeyInput = None) -> Optional[SigningKey]:
    """The bot's signing key: key (a SigningKey, 32 bytes, or 64 hex digits),
    else the file named by $INTENT_SIGNING_KEY_FILE, else $INTENT_SIGNING_KEY;
    None if none is given.  The key is never printed, not even when wrong."""
    if isinstance(key, SigningKey):
        return key
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
    raw = b""
    if isinstance(key, str):
        try:
            raw = bytes.fromhex(key.strip())
        except ValueError:
            pass
    else:
        raw = key
    if len(raw) != 32:
        raise ValueError(f"{source} is not a signing key (32 bytes, or 64 hexadecimal digits)")
    return SigningKey(raw)

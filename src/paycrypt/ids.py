"""Random identifiers: the request id of every call and the event id of every audit event."""

from __future__ import annotations

import secrets


def uuid4_text() -> str:
    """A random (version 4) UUID in its text form, as `str(uuid.uuid4())` writes it, at half its
    cost: every request makes two (its request id and its audit event's id), and uuid.UUID's
    constructor is most of uuid4's time."""
    raw = bytearray(secrets.token_bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

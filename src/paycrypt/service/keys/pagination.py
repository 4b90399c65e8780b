"""Opaque NextToken values for the list operations.

A token encodes the position after the last item returned and the operation it belongs to, so a
token from ListKeys is refused by ListAliases instead of silently restarting the listing.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from paycrypt.errors import ValidationError

DEFAULT_MAX_RESULTS = 50


def encode(kind: str, position: Any) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, token: str | None, default: Any) -> Any:
    if token is None:
        return default
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = data["p"]
        # A position is what this operation encodes: the same type as its default, and an
        # integer position a non-negative SQLite integer, so a forged token cannot reach the store.
        if data["k"] == kind and type(position) is type(default) and _in_range(position):
            return position
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    raise ValidationError("NextToken is not valid for this operation.")


def _in_range(position: Any) -> bool:
    return not isinstance(position, int) or 0 <= position < 2**63


def limit(params: dict[str, Any]) -> int:
    return params.get("MaxResults") or DEFAULT_MAX_RESULTS

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
        if data["k"] == kind:
            return data["p"]
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationError("NextToken is not valid for this operation.")


def limit(params: dict[str, Any]) -> int:
    return params.get("MaxResults") or DEFAULT_MAX_RESULTS

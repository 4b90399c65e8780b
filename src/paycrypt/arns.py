"""The ARNs of paycrypt's resources: one spelling of their prefix, one way to build and split them.

A key is `arn:aws:payment-cryptography:<region>:<account>:key/<id>`, an alias
`arn:aws:payment-cryptography:<region>:<account>:alias/<name>`. A shared leaf: the service builds
and resolves them, the authorizer and the audit events read them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

PREFIX = "arn:aws:payment-cryptography:"


class Arn(NamedTuple):
    region: str
    account: str
    resource: str  # "key/<id>", "alias/<name>", …


def build(region: str, account: str, resource: str) -> str:
    return f"{PREFIX}{region}:{account}:{resource}"


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Arn | None:
    """The parts of a paycrypt ARN; None when `text` does not start with the prefix or has fewer
    than six colon-separated fields (the last field, the resource, may itself hold colons).

    Cached: the data plane names the same few keys over and over, and a hit costs a dict lookup."""
    if not text.startswith(PREFIX):
        return None
    parts = text.split(":", 5)
    if len(parts) != 6:
        return None
    return Arn(parts[3], parts[4], parts[5])

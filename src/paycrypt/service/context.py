"""Who is calling, where, and when: what every service function is given besides its input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    account_id: str
    arn: str
    user_id: str


@dataclass(frozen=True)
class Context:
    caller: Caller
    region: str
    now: dt.datetime
    request_id: str
    # Key ARNs of other accounts that this request may use: the authorizer puts here the keys a
    # resource policy shared with the caller and allowed for this call (identifiers resolves them).
    shared: frozenset[str] = frozenset()

    @property
    def account(self) -> str:
        return self.caller.account_id

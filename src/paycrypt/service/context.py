"""Who is calling, where, and when, and the keys the request names: what every service function
is given besides its input."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paycrypt.service.identifiers import Keys


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
    # The keys the request names, resolved once by the request pipeline and kept by the authorizer
    # (service.identifiers); empty when a service function is called directly.
    keys: Keys = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.caller.account_id

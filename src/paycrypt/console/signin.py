"""Signing in: the secret checked against the credentials file, failures rate-limited and every
attempt audited.

The limit: at most `MAX_FAILURES` failed sign-ins per access key id, and `MAX_FAILURES_PER_ADDRESS`
per client address (several people may share one behind a NAT), in any `WINDOW` seconds; past it
every attempt (even with the right secret) is refused until the window has moved on, so guessing a
secret online is hopeless. The server counts in the store (`SharedSigninLimiter`), so the limit
holds for every worker and node on it; `SigninLimiter` counts in this process (tests, and the
rules both follow).

Each attempt is one CloudTrail-shaped `ConsoleLogin` event (CloudTrail's own name for a console
sign-in) in the audit log: who claimed to sign in, from where, and the outcome; a failure names
the access key id claimed, never the secret typed.
"""

from __future__ import annotations

import collections
import datetime as dt
import hmac
import threading
import time
import uuid
from typing import Any

from paycrypt.audit import events
from paycrypt.auth.sigv4 import Credential
from paycrypt.store.base import ClusterTables

MAX_FAILURES = 5
MAX_FAILURES_PER_ADDRESS = 20
WINDOW = 300.0
EVENT_SOURCE = "signin.amazonaws.com"
USER_AGENT = "paycrypt-console"


class Limits:
    """The limit both limiters apply: failures per access key, per address, in a sliding window."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: float = WINDOW,
    ) -> None:
        self.max_failures = max_failures
        self.per_address = per_address
        self.window = window

    def _limit(self, name: str) -> int:
        return self.per_address if name.startswith("ip:") else self.max_failures


class SigninLimiter(Limits):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failures: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> collections.deque[float]:
        found = self._failures.setdefault(name, collections.deque())
        while found and found[0] <= now - self.window:
            found.popleft()
        return found

    def blocked(self, names: tuple[str, ...], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return any(len(self._recent(name, now)) >= self._limit(name) for name in names)

    def failed(self, names: tuple[str, ...], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for name in names:
                self._recent(name, now).append(now)
            if len(self._failures) > 10_000:  # forget the quiet ones, so a flood cannot grow this
                for name in [n for n, q in self._failures.items() if not self._recent(n, now)]:
                    del self._failures[name]


class SharedSigninLimiter(Limits):
    """The same limit, counted in the store's `sign_in_failures` table (migration 0006): a guesser
    spreading attempts over the workers and nodes behind a load balancer gets no more of them."""

    def __init__(self, tables: ClusterTables, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tables = tables

    def blocked(self, names: tuple[str, ...]) -> bool:
        counts = self.tables.sign_in_failures(names, self.window)
        return any(counts.get(name, 0) >= self._limit(name) for name in names)

    def failed(self, names: tuple[str, ...]) -> None:
        self.tables.add_sign_in_failure(names, self.window)


def secret_matches(credential: Credential | None, secret: str) -> bool:
    expected = credential.secret_access_key if credential is not None else "\0" * 40
    return hmac.compare_digest(expected.encode(), secret.encode()) and credential is not None


def login_event(
    credential: Credential | None,
    access_key_id: str,
    region: str,
    source_ip: str,
    outcome: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """The audit event of one sign-in attempt; `outcome` is Success or Failure."""
    if credential is not None:  # a failure for a real access key names its principal, as CloudTrail does
        identity = events.Identity(credential.account_id, credential.arn, credential.user_id, access_key_id)
    else:
        identity = events.Identity(None, None, None, access_key_id[:128])
    event: dict[str, Any] = {
        "eventVersion": events.EVENT_VERSION,
        "userIdentity": events.user_identity(identity),
        "eventTime": events.iso_time(dt.datetime.now(dt.UTC)),
        "eventSource": EVENT_SOURCE,
        "eventName": "ConsoleLogin",
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": USER_AGENT,
    }
    if outcome == "Failure":
        event["errorCode"] = "AccessDenied"
        event["errorMessage"] = reason or "Failed authentication"
    event.update(
        {
            "requestParameters": None,
            "responseElements": {"ConsoleLogin": outcome},
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "resources": [],
            "eventType": "AwsConsoleSignIn",
            "managementEvent": True,
            "recipientAccountId": identity.account_id,
            "eventCategory": "Management",
        }
    )
    return event

"""Request-rate quotas: token buckets per account, region and kind of call.

The guide's quotas (seed-F §5.1, "Quotas for AWS Payment Cryptography"), per account and region:

| kind | default |
|---|---|
| control plane requests, all operations combined | 5 per second |
| data plane requests with a symmetric key, combined | 500 per second |
| data plane requests with an asymmetric key, combined | 20 per second |

A data-plane request counts as asymmetric when any stored key it names is an RSA or ECC key (a
certificate's public key included); otherwise as symmetric. Each bucket holds `burst` tokens
(by default one second's worth, at least one) and refills continuously at `rate` per second; a
request takes one token or is refused with ThrottlingException ("Rate exceeded."), which the AWS
SDKs' standard retry mode retries with backoff.

`Limits.production()` holds the guide's figures; a rate of 0 switches that kind off.

Across nodes and workers: the quotas are the cluster's, and each process takes its share, the
rate and burst divided by the number of live processes sharing the store (`participants`, read
from their heartbeats by jobs/heartbeat.py). With a load balancer spreading an account's requests
evenly, the processes together admit about the quota; the approximation and its limits are in
docs/decisions/jobs-and-rate-quotas-across-nodes.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from paycrypt.errors import Throttling

CONTROL, SYMMETRIC, ASYMMETRIC = "control", "symmetric", "asymmetric"
KINDS = (CONTROL, SYMMETRIC, ASYMMETRIC)
PRODUCTION = {CONTROL: 5.0, SYMMETRIC: 500.0, ASYMMETRIC: 20.0}
MESSAGE = "Rate exceeded."


@dataclass(frozen=True)
class Limits:
    """Requests per second by kind (0: unlimited), and per-account overrides."""

    rates: Mapping[str, float] = field(default_factory=lambda: dict(PRODUCTION))
    burst: Mapping[str, float] = field(default_factory=dict)  # default: max(rate, 1)
    accounts: Mapping[tuple[str, str], float] = field(default_factory=dict)  # (account, kind) → rate

    @classmethod
    def production(cls) -> Limits:
        return cls()

    def rate(self, account: str, kind: str) -> float:
        return self.accounts.get((account, kind), self.rates.get(kind, 0.0))

    def capacity(self, kind: str, rate: float) -> float:
        return self.burst.get(kind, max(rate, 1.0))

    @property
    def active(self) -> bool:
        return any(r > 0 for r in self.rates.values()) or any(r > 0 for r in self.accounts.values())


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def retune(self, rate: float, capacity: float, now: float) -> None:
        """A new share of the rate: what was earned at the old rate is kept, up to the new burst."""
        self.tokens = min(capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.rate = rate
        self.capacity = capacity

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def alone() -> int:
    """The participants of a process that shares its quotas with no other."""
    return 1


class Throttle:
    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.monotonic,
        participants: Callable[[], int] = alone,
        refused: Callable[[str], object] | None = None,
    ) -> None:
        """`participants`: the live processes sharing the quotas, this one included;
        `refused`: called with the kind of each request refused (the metrics' counter)."""
        self.limits = limits
        self._clock = clock
        self._participants = participants
        self._refused = refused
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, account: str, region: str, kind: str) -> None:
        """Spend one request of the account's quota of this kind, or raise ThrottlingException."""
        full = self.limits.rate(account, kind)
        if full <= 0:
            return
        share = max(1, self._participants())
        rate, capacity = full / share, max(self.limits.capacity(kind, full) / share, 1.0)
        slot = (account, region, kind)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(slot)
            if bucket is None:
                bucket = self._buckets[slot] = _Bucket(rate, capacity, now)
            elif bucket.rate != rate:
                bucket.retune(rate, capacity, now)
            if bucket.take(now):
                return
        if self._refused is not None:
            self._refused(kind)
        raise Throttling(MESSAGE)


def parse_rate_option(text: str) -> tuple[str | None, str, float]:
    """`KIND=RATE` or `ACCOUNT:KIND=RATE` (from --rate-limit) → (account or None, kind, rate)."""
    left, sep, value = text.partition("=")
    account, _, kind = left.rpartition(":")
    if not sep or kind not in KINDS or (account and not (len(account) == 12 and account.isdigit())):
        kinds = ", ".join(KINDS)
        raise ValueError(f"expected KIND=RATE or ACCOUNT:KIND=RATE with KIND one of {kinds}: {text!r}")
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"the rate must be a number of requests per second: {text!r}") from None
    if rate < 0:
        raise ValueError(f"the rate cannot be negative: {text!r}")
    return account or None, kind, rate


def limits_from_options(options: list[str], base: Mapping[str, float] | None = None) -> Limits:
    rates = dict(PRODUCTION if base is None else base)
    accounts: dict[tuple[str, str], float] = {}
    for option in options:
        account, kind, rate = parse_rate_option(option)
        if account is None:
            rates[kind] = rate
        else:
            accounts[(account, kind)] = rate
    return Limits(rates=rates, accounts=accounts)

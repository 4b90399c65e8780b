"""Request-rate quotas (issue 8 item 6): token buckets per account, region and kind of call.

The defaults are the guide's quota table (seed-F §5.1: control plane 5/s, data plane 500/s with
symmetric keys, 20/s with asymmetric keys, per account and region).
"""

from __future__ import annotations

import pytest

from paycrypt.auth import throttle
from paycrypt.errors import Throttling
from paycrypt.server import Settings, StartupError, _throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_production_figures_are_the_guides() -> None:
    limits = throttle.Limits.production()
    assert limits.rates == {"control": 5.0, "symmetric": 500.0, "asymmetric": 20.0}


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    quota = throttle.Throttle(throttle.Limits.production(), clock)
    for _ in range(5):
        quota.take("111122223333", "us-east-1", "control")
    with pytest.raises(Throttling) as info:
        quota.take("111122223333", "us-east-1", "control")
    assert info.value.code == "ThrottlingException" and info.value.message == "Rate exceeded."
    # Other accounts, regions and kinds have buckets of their own.
    quota.take("444455556666", "us-east-1", "control")
    quota.take("111122223333", "us-east-2", "control")
    quota.take("111122223333", "us-east-1", "asymmetric")
    clock.now += 0.2  # one token at 5/s
    quota.take("111122223333", "us-east-1", "control")
    with pytest.raises(Throttling):
        quota.take("111122223333", "us-east-1", "control")
    clock.now += 10  # refills to the burst, not beyond
    for _ in range(5):
        quota.take("111122223333", "us-east-1", "control")
    with pytest.raises(Throttling):
        quota.take("111122223333", "us-east-1", "control")


def test_rate_zero_is_unlimited_and_accounts_can_be_overridden() -> None:
    limits = throttle.limits_from_options(["control=0", "444455556666:control=1"])
    quota = throttle.Throttle(limits, FakeClock())
    for _ in range(100):
        quota.take("111122223333", "us-east-1", "control")
    quota.take("444455556666", "us-east-1", "control")
    with pytest.raises(Throttling):
        quota.take("444455556666", "us-east-1", "control")


@pytest.mark.parametrize("option", ["control", "bogus=1", "control=x", "12:control=1", "control=-1"])
def test_bad_rate_options_are_refused(option: str) -> None:
    with pytest.raises(ValueError):
        throttle.parse_rate_option(option)
    with pytest.raises(StartupError, match="--rate-limit"):
        _throttle(Settings(throttling="on", rate_limits=(option,)))


def test_throttling_is_off_on_loopback_by_default_and_on_elsewhere() -> None:
    assert _throttle(Settings(host="127.0.0.1"))[0] is None
    on, line = _throttle(Settings(host="0.0.0.0"))
    assert on is not None and "control 5/s, symmetric 500/s, asymmetric 20/s" in line
    assert _throttle(Settings(host="127.0.0.1", throttling="on"))[0] is not None
    assert _throttle(Settings(host="0.0.0.0", throttling="off"))[0] is None

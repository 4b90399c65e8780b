"""The fuzz suite (issue 13): thousands of generated requests against a `paycrypt serve` process.

Requests shaped from both models (valid, mutated from valid against real keys, broken), and
raw-HTTP abuse, all signed with SigV4 so they reach the service layer. The rule
(tests/fuzz/oracle.py): no 5xx but the connection cap's 503, every error in AWS's shape, an
answer to every well-formed request, no refused request changing the store, the crypto keys
unchanged, and the server alive and without a traceback at the end. PAYCRYPT_FUZZ_SEED varies the
requests; PAYCRYPT_FUZZ_REQUESTS the count (bench/fuzz.py runs the long one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from paycrypt.wire import models
from tests.conftest import free_port
from tests.fuzz import abuse, campaign

pytestmark = pytest.mark.cli

REQUESTS = int(os.environ.get("PAYCRYPT_FUZZ_REQUESTS", 5000))


@pytest.fixture
def target() -> Iterator[campaign.Target]:
    started = campaign.Target.start(free_port())
    yield started
    started.stop()


def test_fuzzed_requests_get_no_5xx_and_change_nothing_they_are_refused(target: campaign.Target) -> None:
    seed = campaign.seed_from_environment()
    tally = campaign.run(target, REQUESTS, seed)
    campaign.finish(target, tally)
    print(f"\nseed {seed}\n{tally.table()}\n{tally.report()}")
    assert tally.failure_count == 0, f"seed {seed}: {tally.report()}"

    # The run reached what it is meant to: every operation of both planes, every kind of abuse,
    # and past validation into the service (successes on many operations, data plane included).
    loaded = models.load()
    operations = set(loaded.control.operation_names) | set(loaded.data.operation_names)
    assert operations <= set(tally.counts), operations - set(tally.counts)
    assert {f"(raw) {kind}" for kind in abuse.KINDS} <= set(tally.counts)
    succeeded = {name for name, counter in tally.counts.items() if counter["200"]}
    assert len(succeeded & operations) >= 20, sorted(succeeded)
    assert succeeded & set(loaded.data.operation_names), sorted(succeeded)

"""The PostgreSQL store through a database outage (issue 15, item 8), on a cluster of this module's
own stopped with `pg_ctl stop -m immediate` (as a crash) and started again: a call fails with
StoreUnavailable within the store's time bound, later calls fail at once without waiting on the
database, nothing half-done is left, and the store recovers by itself when the database returns."""

from __future__ import annotations

import time
from typing import Any

import pytest

from paycrypt.store.base import StoreUnavailable
from paycrypt.store.postgres import PostgresStore
from tests.store.test_behaviour import key

TIMEOUT = 1.0  # the store's bound (--store-timeout)
SLACK = 1.0  # a loaded 2-core CI machine's scheduling


def timed_failure(call: Any, *args: Any) -> float:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        call(*args)
    assert "password" not in str(raised.value)
    return time.monotonic() - started


def test_an_outage_is_bounded_fails_fast_and_recovers(own_pg_cluster: Any) -> None:
    cluster = own_pg_cluster
    store = PostgresStore(cluster.database("outage_store"), timeout=TIMEOUT)
    try:
        before, during = key(1), key(2)
        store.insert_key(before)
        assert store.get_key(before.arn) == before
        cluster.stop("immediate")
        try:
            first = timed_failure(store.get_key, before.arn)  # about 20 ms: the socket is closed
            assert first <= TIMEOUT + SLACK
            assert store.reachability.down
            # known down: every later call fails at once, a transaction as a single statement
            times = [timed_failure(store.get_key, before.arn) for _ in range(20)]
            times.append(timed_failure(store.insert_key, during))
            times.append(timed_failure(store.schema_version))
            assert max(times) < TIMEOUT / 2, times  # no wait on the pool (tens of microseconds each, alone)
        finally:
            cluster.start()
        deadline = time.monotonic() + 10 * TIMEOUT + 10
        while True:
            try:
                found = store.get_key(before.arn)
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover"
                time.sleep(0.1)
        assert found == before  # the acknowledged write survived the crash
        assert store.get_key(during.arn) is None  # the refused insert left nothing
        store.insert_key(during)  # and writes work again, on the same store object
        assert store.get_key(during.arn) == during
        assert not store.reachability.down
    finally:
        store.close()

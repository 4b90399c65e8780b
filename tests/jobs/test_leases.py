"""Background jobs run once among the processes on one store, under a lease (issue 15 item 5):
jobs/leases.py on real stores of both backends.

Two "processes" here are two `Leases` of different node ids, each on a store of its own opened on
one database (on SQLite, two connections to one file: how the workers of one machine share it),
in one event loop; a process that dies is one whose store calls all fail from then on (it renews
nothing and releases nothing, as after SIGKILL). Real processes: tests/api/test_cluster_jobs.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paycrypt.jobs.leases import RENEWALS, SAFETY, Lease, Leases
from paycrypt.jobs.purge import PurgeSweeper
from paycrypt.jobs.replicator import Replicator
from paycrypt.service.keys import lifecycle
from paycrypt.store import factory
from paycrypt.store.base import ClusterTables, Store
from tests.conftest import CVK_ATTRIBUTES as CVK
from tests.service.stored_keys import context as ctx

TERM = 0.8  # seconds: the lease of these tests (production's default is 10)
TAKEOVER = TERM * (1 + 1 / RENEWALS)  # the bound jobs/leases.py promises


class Dying:
    """A process's view of the store's cluster tables that can die: every call fails after `kill`."""

    def __init__(self, tables: ClusterTables) -> None:
        self.tables = tables
        self.dead = False

    def __getattr__(self, name: str) -> Any:
        if self.dead:
            raise ConnectionError("this process is dead")
        return getattr(self.tables, name)


class Counting:
    """A job that counts the units it did, asking `held` before each, as the real jobs do."""

    def __init__(self) -> None:
        self.units = 0
        self.running = False

    async def run(self, held: Any = lambda: True) -> None:
        self.running = True
        try:
            while True:
                if held():
                    self.units += 1
                await asyncio.sleep(0.01)
        finally:
            self.running = False


async def until(condition: Any, seconds: float) -> float:
    """Wait for `condition()`; how long it took (fails after `seconds`)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the bound"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
def other(spec: factory.StoreSpec, store: Store) -> Iterator[Store]:
    """A second store on `store`'s database, as another process opens it."""
    opened = factory.open_store(spec)
    yield opened
    opened.close()


def test_one_process_runs_the_job_and_another_takes_over_when_it_dies(store: Store, other: Store) -> None:
    async def scenario() -> float:
        a_tables, b_tables = Dying(store.cluster), Dying(other.cluster)
        a_job, b_job = Counting(), Counting()
        a = Leases(a_tables, "node-a", 0, TERM).job("purge", a_job)  # type: ignore[arg-type]
        a_task = asyncio.create_task(a.run())
        await until(lambda: a_job.running, 5)
        b = Leases(b_tables, "node-b", 0, TERM).job("purge", b_job)  # type: ignore[arg-type]
        b_task = asyncio.create_task(b.run())
        await asyncio.sleep(TERM * 2)  # several renewals by a, attempts by b
        assert a_job.units > 0 and b_job.units == 0 and not b_job.running
        assert store.cluster.lease_holder("purge") == "node-a/w0"
        a_tables.dead = True  # SIGKILL: a renews nothing from now on
        died = time.monotonic()
        await until(lambda: b_job.running, TAKEOVER + 2)
        took = time.monotonic() - died
        await until(lambda: not a.lease.held(), 0.1)  # a stopped believing it holds the lease first
        stopped = a_job.units
        await asyncio.sleep(0.2)
        assert a_job.units == stopped  # and does no unit after it lost the lease
        assert store.cluster.lease_holder("purge") == "node-b/w0"
        for task in (a_task, b_task):
            task.cancel()
        await asyncio.gather(a_task, b_task, return_exceptions=True)
        return took

    took = asyncio.run(scenario())
    assert took <= TAKEOVER + 1.0, took  # + the scheduling slack of a loaded machine


def test_a_clean_shutdown_hands_the_lease_over_at_once(store: Store, other: Store) -> None:
    async def scenario() -> None:
        a_job, b_job = Counting(), Counting()
        a = Leases(store.cluster, "node-a", 0, 8).job("purge", a_job)  # a term b could not wait out
        a_task = asyncio.create_task(a.run())
        await until(lambda: a_job.running, 5)
        b = Leases(other.cluster, "node-b", 0, 8).job("purge", b_job)
        b_task = asyncio.create_task(b.run())
        await asyncio.sleep(0.2)
        assert not b_job.running
        a_task.cancel()  # the lifespan's shutdown: the job stops and the lease is released
        await asyncio.gather(a_task, return_exceptions=True)
        assert not a_job.running and store.cluster.lease_holder("purge") is None
        await until(lambda: b_job.running, 8 / RENEWALS + 1)  # at b's next attempt, long before 8 s
        b_task.cancel()
        await asyncio.gather(b_task, return_exceptions=True)

    asyncio.run(scenario())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_holder_gives_its_term_up_early_and_keeps_it_through_a_store_outage(store: Store) -> None:
    clock, tables = FakeClock(), Dying(store.cluster)
    lease = Lease(tables, "purge", "node-a/w0", 60, clock)  # type: ignore[arg-type]
    assert not lease.held()
    assert lease.attempt() and lease.held()
    clock.now += 60 * (1 - SAFETY) - 0.01
    assert lease.held()
    clock.now += 0.02  # before the store's term ends, the holder stops
    assert not lease.held()
    assert lease.attempt()  # renewed (the store's term had not run out: the same holder)
    tables.dead = True  # the store cannot be reached: nothing renewed, the term granted still holds
    clock.now += 10
    assert lease.attempt() and lease.held()
    clock.now += 60
    assert not lease.attempt() and not lease.held()
    tables.dead = False
    other = Lease(store.cluster, "purge", "node-b/w0", 60)
    assert not other.attempt()  # node-a's term, on the store's clock, has not run out


def test_a_sweeper_that_loses_its_lease_stops_before_the_next_key(tmp_path: Path) -> None:
    from tests.service.stored_keys import new_service

    svc = new_service(tmp_path / "db")
    c = ctx(svc)
    arns = [
        lifecycle.create_key(svc, c, {"KeyAttributes": CVK, "Exportable": True})["Key"]["KeyArn"]
        for _ in range(5)
    ]
    for arn in arns:
        lifecycle.delete_key(svc, c, {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    svc.clock.advance(dt.timedelta(days=3))
    asked = []

    def held() -> bool:
        asked.append(True)
        return len(asked) <= 2  # the lease runs out after two keys

    PurgeSweeper(svc, 60).sweep(held)
    remaining = [arn for arn in arns if svc.store.get_key(arn) is not None]
    assert len(remaining) == 3 and len(asked) == 3
    PurgeSweeper(svc, 60).sweep()  # the next holder finishes the backlog
    assert [arn for arn in arns if svc.store.get_key(arn) is not None] == []


def test_a_key_restored_while_the_sweep_runs_is_not_purged(tmp_path: Path) -> None:
    """Each key is read again in the transaction that deletes it: one restored meanwhile (here
    between the sweep's list of due keys and its turn; in a cluster, RestoreKey on another node)
    stays."""
    from tests.service.stored_keys import new_service

    svc = new_service(tmp_path / "db")
    c = ctx(svc)
    first, second = (
        lifecycle.create_key(svc, c, {"KeyAttributes": CVK, "Exportable": True})["Key"]["KeyArn"]
        for _ in range(2)
    )
    for arn in (first, second):
        lifecycle.delete_key(svc, c, {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    svc.clock.advance(dt.timedelta(days=3))

    def restore_second() -> bool:
        if svc.store.get_key(second).key_state == "DELETE_PENDING":
            lifecycle.restore_key(svc, ctx(svc), {"KeyIdentifier": second})
        return True

    assert lifecycle.purge_due(svc, svc.clock.now(), restore_second) == [first]
    assert svc.store.get_key(second).key_state != "DELETE_PENDING"


def test_a_replicator_without_its_lease_applies_no_job(tmp_path: Path) -> None:
    from tests.service.stored_keys import new_service

    svc = new_service(tmp_path / "db")
    arn = lifecycle.create_key(
        svc, ctx(svc), {"KeyAttributes": CVK, "Exportable": True, "ReplicationRegions": ["us-west-2"]}
    )["Key"]["KeyArn"]
    replicator = Replicator(svc, clock=svc.clock, interval=0.01)

    async def run_without_lease() -> None:
        task = asyncio.create_task(replicator.run(lambda: False))
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run_without_lease())
    assert svc.store.get_replication_job(arn, "us-west-2") is not None  # still queued
    assert replicator.run_once() == 1  # and applied by one that runs

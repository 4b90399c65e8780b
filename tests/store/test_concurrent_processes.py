"""The store's locking promises hold between processes, on both backends (issue 15 item 2).

`count_keys` / `count_aliases` inside a transaction keep the account's counter row locked until
it ends, so "check, then insert" is one step for every process: several processes, each with its
own store on one database, racing to fill a quota create exactly the quota, and racing to create
one alias name create it once. The service does exactly this (service/keys/lifecycle.py,
aliases.py); tests/api/test_concurrency.py does it again through two servers. And of processes
racing to take one free lease (jobs/leases.py), exactly one takes it.
"""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from paycrypt.store import factory
from paycrypt.store.records import AliasRecord
from tests.store.test_behaviour import ACCOUNT, REGION, key

PROCESSES = 4
QUOTA = 25
SPAWN = multiprocessing.get_context("spawn")
_databases = itertools.count()


def fill_quota(target: str, first: int, barrier: Any, out: Any) -> None:
    store = factory.open_store(factory.parse(target, Path("/nonexistent")))
    created = 0
    barrier.wait()
    for n in range(first, first + QUOTA):
        with store.transaction():
            if store.count_keys(ACCOUNT, REGION) >= QUOTA:
                break
            store.insert_key(key(n))
            created += 1
    store.close()
    out.put(created)


def take_leases(target: str, holder: str, rounds: int, barrier: Any, out: Any) -> None:
    """Each round, at once with the others, try to take a lease no one holds yet."""
    store = factory.open_store(factory.parse(target, Path("/nonexistent")))
    taken = []
    for n in range(rounds):
        barrier.wait()
        taken.append(store.cluster.take_lease(f"race-{n}", holder, 60))
    store.close()
    out.put((holder, taken))


def create_alias_once(target: str, names: list[str], barrier: Any, out: Any) -> None:
    store = factory.open_store(factory.parse(target, Path("/nonexistent")))
    results = []
    for name in names:
        barrier.wait()
        with store.transaction():
            store.count_aliases(ACCOUNT, REGION)  # as CreateAlias does: the counter row first
            if store.get_alias(ACCOUNT, REGION, name) is not None:
                results.append("conflict")
                continue
            store.put_alias(AliasRecord(ACCOUNT, REGION, name, None))
            results.append("created")
    store.close()
    out.put(results)


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = f"sqlite:{tmp_path / 'shared.db'}"
    else:
        target = request.getfixturevalue("pg_cluster").database(f"race_{next(_databases)}")
    factory.open_store(factory.parse(target, tmp_path)).close()  # the schema, made once
    return target


def run(function: Any, argument_lists: list[tuple]) -> list[Any]:
    barrier, out = SPAWN.Barrier(len(argument_lists)), SPAWN.Queue()
    processes = [SPAWN.Process(target=function, args=(*args, barrier, out)) for args in argument_lists]
    for process in processes:
        process.start()
    try:
        return [out.get(timeout=300) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()


def test_processes_racing_to_fill_a_quota_create_exactly_the_quota(target: str, tmp_path: Path) -> None:
    created = run(fill_quota, [(target, n * QUOTA) for n in range(PROCESSES)])
    assert sum(created) == QUOTA, created
    store = factory.open_store(factory.parse(target, tmp_path))
    assert store.count_keys(ACCOUNT, REGION) == QUOTA
    assert len(store.list_keys(ACCOUNT, REGION, None, 0, 1000)) == QUOTA
    store.close()


def test_processes_racing_to_create_one_alias_create_it_once(target: str) -> None:
    names = [f"alias/race-{n}" for n in range(15)]
    results = run(create_alias_once, [(target, names) for _ in range(PROCESSES)])
    for n, outcomes in enumerate(zip(*results, strict=True)):
        assert sorted(outcomes) == ["conflict"] * (PROCESSES - 1) + ["created"], (names[n], outcomes)


def test_racing_processes_take_a_free_lease_once(target: str) -> None:
    rounds = 10
    results = dict(run(take_leases, [(target, f"node-{n}/w0", rounds) for n in range(PROCESSES)]))
    for n in range(rounds):
        takers = [holder for holder, taken in results.items() if taken[n]]
        assert len(takers) == 1, (n, takers)
        store = factory.open_store(factory.parse(target, Path("/nonexistent")))
        try:
            assert store.cluster.lease_holder(f"race-{n}") == takers[0]
        finally:
            store.close()

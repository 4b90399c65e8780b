"""The change follower (jobs/changes.py) and the stores' coherence, on both backends: two services
on one database stand for two nodes (or two workers). A change made through one is refused by the
other at once (the store is read, or its cache checked, on every use: docs/decisions/coherence.md),
and the other forgets the key's unsealed material within a second: on PostgreSQL by NOTIFY (the
follower's poll is set far longer than the wait, so only a notification can explain it), on
SQLite by its poll. A lost listening connection empties the key cache at once and is re-opened.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from paycrypt.clock import ManualClock
from paycrypt.jobs.changes import ChangeFollower
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store import factory
from paycrypt.store.postgres_listen import APPLICATION
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault
from tests.service import stored_keys

_databases = itertools.count()
SOON = 1.0  # seconds: the bound a change is honoured within on another node


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_cluster").database(f"changes_{next(_databases)}")


def two_nodes(target: str, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    """Two services on one store with one master key: node A and node B."""
    master = secrets.token_bytes(32)
    opened = [
        Service(
            factory.open_store(factory.parse(target, tmp_path)),
            KeyCache(MasterKeyVault(master)),
            ManualClock(),
        )
        for _ in range(2)
    ]
    yield opened[0], opened[1]
    for svc in opened:
        svc.store.close()


@pytest.fixture
def nodes(target: str, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    yield from two_nodes(target, tmp_path)


@pytest.fixture
def pg_nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Service, Service]]:
    yield from two_nodes(
        request.getfixturevalue("pg_cluster").database(f"changes_{next(_databases)}"), tmp_path
    )


def cached_key(a: Service, b: Service) -> str:
    """A key made on A, used on B (its material now in B's key cache)."""
    arn = stored_keys.put(a, secrets.token_bytes(16), *stored_keys.CVK)
    record = b.store.get_key(arn)
    assert record is not None
    b.keycache.material(record)
    assert b.keycache.holds(arn)
    return arn


def until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.01)
    return time.monotonic() - started


@dataclass
class Running:
    follower: ChangeFollower
    loop: asyncio.AbstractEventLoop


@pytest.fixture
def follow() -> Iterator[Callable[[Service, float], Running]]:
    """Run a service's follower, as the server's lifespan does, in an event loop of its own."""
    started: list[tuple[Running, asyncio.Task[None], threading.Thread]] = []

    def start(svc: Service, interval: float) -> Running:
        loop = asyncio.new_event_loop()
        follower = ChangeFollower(svc, interval)
        task = loop.create_task(follower.run())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        running = Running(follower, loop)
        started.append((running, task, thread))
        return running

    yield start
    for running, task, thread in started:
        running.loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.3)
        running.loop.call_soon_threadsafe(running.loop.stop)
        thread.join(timeout=10)


def test_a_use_on_b_after_a_change_on_a_sees_the_change_at_once(nodes: tuple[Service, Service]) -> None:
    """No follower runs here: what B refuses, it refuses from the store itself (PostgreSQL) or from
    its cache checked against the database (SQLite's data_version), the moment A's write returned."""
    a, b = nodes
    arn = cached_key(a, b)
    ctx = stored_keys.context(a)
    lifecycle.stop_key_usage(a, ctx, {"KeyIdentifier": arn})
    assert b.store.get_key(arn).enabled is False
    lifecycle.delete_key(a, ctx, {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    assert b.store.get_key(arn).key_state == "DELETE_PENDING"
    a.store.delete_key(arn)  # the purge
    assert b.store.get_key(arn) is None
    a.store.put_resource_policy(arn, stored_keys.ACCOUNT, stored_keys.REGION, "{}")
    assert b.store.has_resource_policies() and b.store.get_resource_policy(arn) == "{}"
    assert a.store.delete_resource_policy(arn)
    assert not b.store.has_resource_policies() and b.store.get_resource_policy(arn) is None


def test_b_forgets_the_material_of_a_key_changed_on_a(nodes: tuple[Service, Service]) -> None:
    a, b = nodes
    follower = ChangeFollower(b)
    kept, stopped, deleted = (cached_key(a, b) for _ in range(3))
    ctx = stored_keys.context(a)
    lifecycle.stop_key_usage(a, ctx, {"KeyIdentifier": stopped})
    a.store.delete_key(deleted)
    assert follower.step() == 2
    assert b.keycache.holds(kept)
    assert not b.keycache.holds(stopped) and not b.keycache.holds(deleted)
    assert follower.step() == 0


def test_a_reseal_on_a_is_read_by_b_at_once_and_its_material_forgotten_within_a_second(
    nodes: tuple[Service, Service], follow: Callable[[Service, float], Running]
) -> None:
    """Master-key rotation on several nodes (issue 16 item 3): a block re-sealed through A (the
    rotation command's own store handle) is the block B's very next read returns (PostgreSQL reads
    the row; SQLite's record cache is emptied by A's change signal), and B's running follower
    forgets what B had unsealed from the old block (NOTIFY on PostgreSQL, the poll on SQLite)."""
    a, b = nodes
    arn = cached_key(a, b)
    old = b.store.get_key(arn).key_block  # in B's record cache now, on SQLite
    follow(b, SOON / 2)
    material = b.keycache.material(b.store.get_key(arn))
    assert a.store.reseal_block("keys", arn, old, a.vault.reseal(a.store.get_key(arn), old))
    new = b.store.get_key(arn).key_block
    assert new != old and new == a.store.get_key(arn).key_block
    until(lambda: not b.keycache.holds(arn), SOON * 2)
    assert b.keycache.material(b.store.get_key(arn)) == material


def test_the_follower_polls_within_a_second(
    nodes: tuple[Service, Service], follow: Callable[[Service, float], Running]
) -> None:
    a, b = nodes
    arn = cached_key(a, b)
    follow(b, 0.5)
    time.sleep(0.2)
    a.store.delete_key(arn)
    assert until(lambda: not b.keycache.holds(arn), SOON) < SOON


def listening(b: Running) -> None:
    until(lambda: b.follower.listening is not None and b.follower.listening.connected.is_set(), 15)  # type: ignore[attr-defined]


def test_postgresql_notifies_b_of_a_change_at_once(
    pg_nodes: tuple[Service, Service], follow: Callable[[Service, float], Running]
) -> None:
    a, b = pg_nodes
    arn = cached_key(a, b)
    running = follow(b, 60.0)  # no poll within the test: only a notification can wake it
    listening(running)
    time.sleep(0.1)  # the connection's own catch-up read done
    a.store.delete_key(arn)
    took = until(lambda: not b.keycache.holds(arn), SOON)
    assert took < SOON


def terminate_listener(a: Service) -> int:
    """pg_terminate_backend on every listening connection of this database; how many."""
    with psycopg.connect(a.store._conninfo, autocommit=True) as db:  # type: ignore[attr-defined]
        found = db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            (APPLICATION,),
        ).fetchall()
    return len(found)


def test_a_lost_listening_connection_empties_the_cache_and_is_reopened(
    pg_nodes: tuple[Service, Service], follow: Callable[[Service, float], Running]
) -> None:
    a, b = pg_nodes
    running = follow(b, 60.0)
    listening(running)
    arn = cached_key(a, b)
    assert terminate_listener(a) == 1
    until(lambda: len(b.keycache) == 0, SOON)  # emptied: a change may be missed while it is down
    assert running.follower.losses == 1
    listening(running)  # re-opened
    b.keycache.material(b.store.get_key(arn))
    time.sleep(0.1)
    a.store.delete_key(arn)
    assert until(lambda: not b.keycache.holds(arn), SOON) < SOON  # notified again


def test_a_gap_of_an_open_transaction_is_waited_for(pg_nodes: tuple[Service, Service]) -> None:
    """A feed number taken by a transaction still open is not skipped: the follower stops before
    it and reads it once it commits."""
    a, b = pg_nodes
    first, second = (stored_keys.store(a, secrets.token_bytes(16), *stored_keys.CVK) for _ in range(2))
    position = b.store.block_changes_head()
    open_writer = factory.open_store(factory.parse(a.store._conninfo, Path()))  # type: ignore[attr-defined]
    try:
        with open_writer.transaction():
            open_writer.update_key(first)  # takes the next number, not yet committed
            a.store.update_key(second)  # commits the one after it
            assert b.store.follow_block_changes(position) == (position, [])
        assert b.store.follow_block_changes(position) == (position + 2, [first.arn, second.arn])
    finally:
        open_writer.close()

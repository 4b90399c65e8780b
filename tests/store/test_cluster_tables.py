"""Leases and heartbeats (`store.base.ClusterTables`, issue 15 items 5 and 6) behave the same on
SQLite and PostgreSQL: a lease is held by one holder at a time, renewed by it, free again when its
term runs out or it is released; a heartbeat counts the processes seen within a window and
says which master keys the process holds until it expires.

Between processes racing for one lease: tests/store/test_concurrent_processes.py."""

from __future__ import annotations

import time

import pytest

from paycrypt.store.base import ClusterTables, Store
from paycrypt.store.records import Holding

TERM = 0.4  # seconds: long enough for a few statements on a loaded machine, short enough to wait out


@pytest.fixture
def tables(store: Store) -> ClusterTables:
    return store.cluster


def test_one_holder_at_a_time_renewing_its_own(tables: ClusterTables) -> None:
    assert tables.lease_holder("purge") is None
    assert tables.take_lease("purge", "node-a/w0", 30)
    assert tables.lease_holder("purge") == "node-a/w0"
    assert not tables.take_lease("purge", "node-b/w0", 30)  # held: refused
    assert tables.take_lease("purge", "node-a/w0", 30)  # the holder renews
    assert tables.lease_holder("purge") == "node-a/w0"
    assert tables.take_lease("replication", "node-b/w0", 30)  # each lease on its own
    assert tables.lease_holder("replication") == "node-b/w0"


def test_a_term_that_runs_out_frees_the_lease(tables: ClusterTables) -> None:
    assert tables.take_lease("purge", "node-a/w0", TERM)
    assert not tables.take_lease("purge", "node-b/w0", TERM)
    time.sleep(TERM + 0.1)
    assert tables.lease_holder("purge") is None
    assert tables.take_lease("purge", "node-b/w0", 30)
    assert tables.lease_holder("purge") == "node-b/w0"
    assert not tables.take_lease("purge", "node-a/w0", 30)  # the old holder does not get it back


def test_renewal_extends_the_term(tables: ClusterTables) -> None:
    assert tables.take_lease("purge", "node-a/w0", TERM)
    for _ in range(3):
        time.sleep(TERM / 2)
        assert tables.take_lease("purge", "node-a/w0", TERM)
    assert not tables.take_lease("purge", "node-b/w0", TERM)  # 1.5 terms after the first take


def test_release_frees_it_for_another_only_by_its_holder(tables: ClusterTables) -> None:
    assert tables.take_lease("purge", "node-a/w0", 30)
    tables.release_lease("purge", "node-b/w0")  # not the holder: nothing happens
    assert tables.lease_holder("purge") == "node-a/w0"
    tables.release_lease("purge", "node-a/w0")
    assert tables.lease_holder("purge") is None
    assert tables.take_lease("purge", "node-b/w0", 30)


def test_heartbeats_count_the_processes_seen_within_the_window(tables: ClusterTables) -> None:
    assert tables.beat("node-a", 0, 30) == 1
    assert tables.beat("node-a", 0, 30) == 1  # the same process again
    assert tables.beat("node-a", 1, 30) == 2  # another worker of the node
    assert tables.beat("node-b", 0, 30) == 3
    tables.leave("node-a", 1)
    assert tables.beat("node-b", 0, 30) == 2
    time.sleep(TERM + 0.1)
    assert tables.beat("node-b", 0, TERM) == 1  # node-a stopped beating a window ago
    assert tables.beat("node-a", 0, TERM) == 2  # and is counted again when it beats


def test_sign_in_failures_are_counted_per_name_within_the_window(tables: ClusterTables) -> None:
    """The console's sign-in limit (console/signin.py SharedSigninLimiter) counts here, so every
    worker and node on the store sees the same counts."""
    names = ("key:AKIDEXAMPLE", "ip:192.0.2.7")
    assert tables.sign_in_failures(names, TERM) == {}
    tables.add_sign_in_failure(names, TERM)
    tables.add_sign_in_failure(names[1:], TERM)
    assert tables.sign_in_failures(names, TERM) == {"key:AKIDEXAMPLE": 1, "ip:192.0.2.7": 2}
    assert tables.sign_in_failures(("key:OTHER",), TERM) == {}
    time.sleep(TERM + 0.1)
    assert tables.sign_in_failures(names, TERM) == {}  # the window has moved on
    tables.add_sign_in_failure(names[:1], TERM)  # and the old rows are removed with the next one
    assert tables.sign_in_failures(names, 3600) == {"key:AKIDEXAMPLE": 1}


def test_the_console_limit_is_kept_in_the_store_not_in_a_limiter(tables: ClusterTables) -> None:
    """Two limiters (two workers' consoles) on one store: failures through either count for both."""
    from paycrypt.console.signin import MAX_FAILURES, SharedSigninLimiter

    one, other = SharedSigninLimiter(tables), SharedSigninLimiter(tables)
    names = ("key:AKIDEXAMPLE", "ip:192.0.2.8")
    for attempt in range(MAX_FAILURES):
        (one if attempt % 2 else other).failed(names)  # spread over two "workers"
    assert one.blocked(names) and other.blocked(names)
    assert not one.blocked(("key:AKIDOTHER", "ip:192.0.2.9"))


def reports(tables: ClusterTables) -> list[tuple[str, int, tuple[Holding, ...]]]:
    return [(p.node_id, p.worker_id, p.holds) for p in tables.live_processes()]


def test_a_beat_reports_the_master_keys_held_until_it_expires(tables: ClusterTables) -> None:
    """jobs/holdings.py reads what each live process's vault holds (version and check value)."""
    held = (Holding(1, "AAAAAAAAAA"), Holding(2, "BBBBBBBBBB"))
    tables.beat("node-a", 0, 30, held)
    tables.beat("node-b", 1, TERM, (Holding(1, "AAAAAAAAAA"),))
    tables.beat("node-c", 0, 30)  # reports nothing
    assert reports(tables) == [
        ("node-a", 0, held),
        ("node-b", 1, (Holding(1, "AAAAAAAAAA"),)),
        ("node-c", 0, ()),
    ]
    first = tables.live_processes()[0]
    assert first.holds_key("BBBBBBBBBB") and not tables.live_processes()[1].holds_key("BBBBBBBBBB")
    time.sleep(TERM + 0.1)
    assert [p.node_id for p in tables.live_processes()] == ["node-a", "node-c"]  # node-b's expired
    tables.beat("node-a", 0, 30, (Holding(2, "BBBBBBBBBB"),))  # a later beat replaces the report
    tables.leave("node-c", 0)
    assert reports(tables) == [("node-a", 0, (Holding(2, "BBBBBBBBBB"),))]
    assert tables.live_processes()[0].last_seen > first.last_seen  # the store's clock, for each beat

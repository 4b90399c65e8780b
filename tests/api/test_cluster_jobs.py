"""Two `paycrypt serve` nodes on one PostgreSQL: the purge sweeper runs on exactly one of them, and
when that one is killed with SIGKILL in the middle of a backlog, the other takes its lease within
the bound and finishes the work, no key purged twice (issue 15 items 5 and 6).

What each node does is read from the store's leases and heartbeat tables and from the nodes' logs
(`purged key ARN` lines, at --log-level info). The backlog is written straight into the store
(keys whose deletion window has passed), so that it is large and due at once.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from paycrypt.jobs.leases import RENEWALS
from paycrypt.server import Settings, StartupError, build_app
from paycrypt.store import factory
from paycrypt.store.base import Store
from tests.api.processes import ServerProcess
from tests.conftest import RunningServer, free_port
from tests.store.test_behaviour import ACCOUNT, REGION, key

LEASE = 2.0  # --lease-seconds of both nodes
TAKEOVER = LEASE * (1 + 1 / RENEWALS)  # the bound jobs/leases.py promises
SLACK = 3.0  # a loaded 2-core machine's scheduling delays
PURGED = re.compile(r"purged key (\S+)")


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.02)


def backlog(store: Store, first: int, count: int) -> list[str]:
    """`count` keys whose deletion window passed a day ago, written in one transaction."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    records = []
    for n in range(first, first + count):
        record = key(n, state="DELETE_PENDING")
        record.delete_pending_timestamp = past
        records.append(record)
    with store.transaction():
        for record in records:
            store.insert_key(record)
    return [record.arn for record in records]


def remaining(url: str, arns: list[str]) -> int:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute("SELECT count(*) FROM keys WHERE arn = ANY(%s)", (arns,)).fetchone()[0]


def live_heartbeats(url: str, within: float) -> int:
    with psycopg.connect(url, autocommit=True) as db:
        return db.execute(
            "SELECT count(*) FROM node_heartbeats"
            " WHERE last_seen >= EXTRACT(EPOCH FROM clock_timestamp())::double precision - %s",
            (within,),
        ).fetchone()[0]


def test_a_server_holds_its_leases_and_counts_itself(server: RunningServer) -> None:
    """Alone on its store, a server takes both leases at start and is its heartbeat's only participant."""
    wait_for(
        lambda: server.parts.leases.held() == {"purge": True, "replication": True}, 10, "both leases held"
    )
    holder = f"{server.settings.node_id}/w{server.settings.worker_id}"
    assert server.parts.leases.holders() == {"purge": holder, "replication": holder}
    wait_for(lambda: server.parts.heartbeat.participants() == 1, 10, "one participant")


def test_a_lease_of_no_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="--lease-seconds must be positive"):
        build_app(Settings(data_dir=tmp_path, lease_seconds=0))


def purged(node: ServerProcess) -> list[str]:
    return PURGED.findall(node.log())


@pytest.mark.cli
def test_the_purge_sweeper_runs_on_one_node_and_moves_when_it_is_killed(
    tmp_path: Path, pg_cluster: Any, processes: list[ServerProcess]
) -> None:
    url = pg_cluster.database(f"cluster_jobs_{uuid.uuid4().hex[:12]}")
    options = (
        "--store",
        url,
        "--lease-seconds",
        str(LEASE),
        "--purge-interval",
        "0.1",
        "--log-level",
        "info",
    )
    a_dir, b_dir = tmp_path / "node-a", tmp_path / "node-b"
    a = ServerProcess(a_dir, free_port(), *options, "--node-id", "node-a")
    processes.append(a)
    a.wait_listening()
    if (a_dir / "master.key").exists():  # the file vault: every node holds the same master key
        b_dir.mkdir(mode=0o700)
        shutil.copy2(a_dir / "master.key", b_dir / "master.key")
    b = ServerProcess(b_dir, free_port(), *options, "--node-id", "node-b")
    processes.append(b)
    b.wait_listening()
    store = factory.open_store(factory.parse(url, tmp_path))
    try:
        wait_for(lambda: store.cluster.lease_holder("purge") == "node-a/w0", 10, "node-a holds the lease")
        wait_for(lambda: live_heartbeats(url, LEASE) == 2, 10, "both nodes beat")

        first = backlog(store, 0, 50)
        # A sweep logs its keys once it has purged them all: wait for the lines, not only the rows.
        wait_for(lambda: len(purged(a)) + len(purged(b)) >= len(first), 30, "the first backlog purged")
        assert remaining(url, first) == 0
        assert sorted(purged(a)) == sorted(first) and purged(b) == []  # one node swept, once each
        assert store.cluster.lease_holder("purge") == "node-a/w0"
        assert "lease purge taken by node-b/w0" not in b.log()

        second = backlog(store, 1000, 600)
        wait_for(lambda: remaining(url, second) < len(second), 30, "node-a begins the second backlog")
        os.kill(a.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert a.process.wait(timeout=10) == -signal.SIGKILL
        left = remaining(url, second)
        assert 0 < left < len(second), "killed mid-backlog"
        wait_for(
            lambda: store.cluster.lease_holder("purge") == "node-b/w0", TAKEOVER + SLACK, "node-b takes over"
        )
        took = time.monotonic() - killed
        wait_for(lambda: remaining(url, second) == 0, 60, "node-b finishes the backlog")
        wait_for(lambda: len(purged(b)) >= left - 1, 10, "node-b logs its sweep")
        by_a, by_b = purged(a), purged(b)
        # node-b purged what node-a left, once each: at most one fewer, for a commit of node-a's
        # that was on its way when it died; node-a's killed sweep logged nothing.
        assert left - 1 <= len(by_b) == len(set(by_b)) <= left
        assert set(by_b) <= set(second) and sorted(by_a) == sorted(first)
        assert store.count_keys(ACCOUNT, REGION) == 0  # the quota counter agrees with the rows
        assert took <= TAKEOVER + SLACK, took

        # The rate-quota share: node-b counts itself alone once node-a's beats stop.
        wait_for(lambda: live_heartbeats(url, LEASE) == 1, LEASE + SLACK, "node-a's heartbeat ages out")
        wait_for(
            lambda: "live paycrypt processes on the store: 1" in b.log(),
            LEASE + SLACK,
            "node-b's share grows",
        )
    finally:
        store.close()

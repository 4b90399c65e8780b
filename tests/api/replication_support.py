"""Helpers for the multi-region replication tests: a server of their own, waits, a test hook."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paycrypt.jobs.replicator import ReplicationFailure
from paycrypt.server import Settings
from tests.conftest import RunningServer, free_port, serving

EAST, WEST, EU, AP = "us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"


def replication_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, **settings: Any
) -> Iterator[RunningServer]:
    """A server whose replicator runs every 20 ms and retries a failure after 50 ms, doubling."""
    data_dir = tmp_path_factory.mktemp(name)
    options = {"purge_interval": 0.05, "replication_interval": 0.02, "replication_retry": 0.05, **settings}
    config = Settings(port=free_port(), data_dir=data_dir, **options)
    with serving(config) as running:
        yield running


def full_snapshot(data_dir: Path) -> tuple[list[tuple], ...]:
    """Every row of the store, replication tables included, to prove a call changed nothing."""
    db = sqlite3.connect(data_dir / "paycrypt.db")
    try:
        return tuple(
            db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in ("keys", "aliases", "tags", "replication_defaults", "replication_jobs")
        )
    finally:
        db.close()


def settled_snapshot(data_dir: Path) -> tuple[list[tuple], ...]:
    """`full_snapshot` once the replicator has no job left (earlier tests may have queued some)."""
    wait_for(lambda: full_snapshot(data_dir)[-1], lambda jobs: not jobs)
    return full_snapshot(data_dir)


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not there after {seconds}s: {value}")
        time.sleep(0.02)


def statuses(key: dict[str, Any]) -> dict[str, str]:
    return {region: entry["Status"] for region, entry in key.get("ReplicationStatus", {}).items()}


def wait_synchronized(control: Any, arn: str, regions: list[str], seconds: float = 10.0) -> dict[str, Any]:
    """The PRK once every one of `regions`, and only they, are SYNCHRONIZED."""
    expected = dict.fromkeys(regions, "SYNCHRONIZED")
    return wait_for(
        lambda: control.get_key(KeyIdentifier=arn)["Key"], lambda k: statuses(k) == expected, seconds
    )


def replica_arn(arn: str, region: str) -> str:
    parts = arn.split(":")
    parts[3] = region
    return ":".join(parts)


class Hook:
    """The replicator's test hook: hold or fail jobs into chosen regions, and record every call."""

    def __init__(self) -> None:
        self.hold: set[str] = set()
        self.fail: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, region: str, action: str) -> bool:
        self.calls.append((region, action))
        if region in self.fail:
            raise ReplicationFailure(self.fail[region])
        return region in self.hold

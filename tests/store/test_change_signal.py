"""The SQLite store's caches across processes (store/sqlite_signal.py): a commit announced by any
process empties every other's caches before their next read; one never announced (its process
killed between commit and token) is caught by the follower's `PRAGMA data_version`; the signal's
file is private. Two stores on one file stand for two processes (each its own connection and map)."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.store.rows import meta
from paycrypt.store.sqlite import SqliteStore
from paycrypt.store.sqlite_signal import SUFFIX
from tests.store.test_sealed_blocks import key


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    first, second = SqliteStore(tmp_path / "paycrypt.db"), SqliteStore(tmp_path / "paycrypt.db")
    yield first, second
    first.close()
    second.close()


def test_an_announced_commit_empties_the_other_process_caches(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    a, b = stores
    record = key("a", "block-a")
    a.insert_key(record)
    assert b.get_key(record.arn).enabled and not b.has_resource_policies()  # cached by B
    a.update_key(dataclasses.replace(record, enabled=False))
    assert b.get_key(record.arn).enabled is False
    a.put_resource_policy(record.arn, "111122223333", "us-east-1", "{}")
    assert b.has_resource_policies() and b.get_resource_policy(record.arn) == "{}"
    a.delete_key(record.arn)
    assert b.get_key(record.arn) is None and not b.has_resource_policies()


def test_a_commit_never_announced_is_caught_by_the_follower(
    stores: tuple[SqliteStore, SqliteStore], tmp_path: Path
) -> None:
    a, b = stores
    record = key("a", "block-a")
    a.insert_key(record)
    assert b.get_key(record.arn).enabled
    # A writer killed after its commit, before its token: a bare connection commits, announces nothing.
    killed = sqlite3.connect(tmp_path / "paycrypt.db", isolation_level=None)
    stopped = dataclasses.replace(record, enabled=False)
    killed.execute("UPDATE keys SET meta = ? WHERE arn = ?", (meta(stopped), record.arn))
    killed.close()
    assert b.get_key(record.arn).enabled  # the cache does not know yet (what the bound is for)
    b.follow_block_changes(b.block_changes_head())  # the change follower's step, every 0.5 s
    assert b.get_key(record.arn).enabled is False


def test_the_signal_file_is_private_and_eight_bytes(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data" / "paycrypt.db")
    signal = tmp_path / "data" / ("paycrypt.db" + SUFFIX)
    assert stat.S_IMODE(signal.stat().st_mode) == 0o600 and signal.stat().st_size == 8
    before = signal.read_bytes()
    store.put_tags(key("a", "").arn, [])
    assert signal.read_bytes() != before  # a commit writes a new token
    store.close()

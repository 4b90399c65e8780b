"""Leases and heartbeats in SQLite: the `store.base.ClusterTables` of `SqliteStore`.

The processes sharing an SQLite file are the workers of one machine (`--workers N`). A lease is
taken in a `BEGIN IMMEDIATE` transaction (the store's): it holds the file's write lock from the
read of the lease to its write, so two workers can never both find it free. Times are this
machine's clock, the same for every worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from paycrypt.store.base import HEARTBEAT_KEPT
from paycrypt.store.records import Holding, LiveProcess, decode_holdings, encode_holdings


class SqliteClusterTables:
    def __init__(self, db: Any, transaction: Callable[[], AbstractContextManager[None]]) -> None:
        self._db = db  # the store's serialized connection; its tables are made by migration 0005
        self._transaction = transaction

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        with self._transaction():
            now = time.time()
            row = self._db.execute("SELECT holder, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            self._db.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) ON CONFLICT (name)"
                " DO UPDATE SET holder = excluded.holder, expires = excluded.expires",
                (name, holder, now + seconds),
            )
            return True

    def release_lease(self, name: str, holder: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def lease_holder(self, name: str) -> str | None:
        row = self._db.execute(
            "SELECT holder FROM leases WHERE name = ? AND expires > ?", (name, time.time())
        ).fetchone()
        return row[0] if row else None

    def beat(self, node_id: str, worker_id: int, within: float, holds: tuple[Holding, ...] = ()) -> int:
        with self._transaction():
            now = time.time()
            self._db.execute(
                "INSERT INTO node_heartbeats (node_id, worker_id, last_seen, expires, master_keys)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id, worker_id) DO UPDATE SET"
                " last_seen = excluded.last_seen, expires = excluded.expires,"
                " master_keys = excluded.master_keys",
                (node_id, worker_id, now, now + within, encode_holdings(holds)),
            )
            self._db.execute("DELETE FROM node_heartbeats WHERE last_seen < ?", (now - HEARTBEAT_KEPT,))
            row = self._db.execute(
                "SELECT COUNT(*) FROM node_heartbeats WHERE last_seen >= ?", (now - within,)
            ).fetchone()
            return int(row[0])

    def live_processes(self) -> list[LiveProcess]:
        found = self._db.execute(
            "SELECT node_id, worker_id, master_keys, last_seen FROM node_heartbeats WHERE expires > ?"
            " ORDER BY node_id, worker_id",
            (time.time(),),
        ).fetchall()
        return [LiveProcess(node, worker, decode_holdings(held), seen) for node, worker, held, seen in found]

    def leave(self, node_id: str, worker_id: int) -> None:
        with self._transaction():
            self._db.execute(
                "DELETE FROM node_heartbeats WHERE node_id = ? AND worker_id = ?", (node_id, worker_id)
            )

    def sign_in_failures(self, names: tuple[str, ...], window: float) -> dict[str, int]:
        since = time.time() - window
        marks = ", ".join("?" for _ in names)
        found = self._db.execute(
            f"SELECT name, COUNT(*) FROM sign_in_failures WHERE name IN ({marks}) AND at > ? GROUP BY name",
            (*names, since),
        ).fetchall()
        return dict(found)

    def add_sign_in_failure(self, names: tuple[str, ...], window: float) -> None:
        with self._transaction():
            now = time.time()
            self._db.execute("DELETE FROM sign_in_failures WHERE at <= ?", (now - window,))
            self._db.executemany(
                "INSERT INTO sign_in_failures (name, at) VALUES (?, ?)", [(n, now) for n in names]
            )

"""Leases and heartbeats in PostgreSQL: the `store.base.ClusterTables` of `PostgresStore`.

A lease is taken by one statement, `INSERT … ON CONFLICT (name) DO UPDATE … WHERE` the lease is
this taker's or its term has run out: PostgreSQL locks the conflicting row while it decides, so of
two nodes taking a free lease at once exactly one gets a row back. Every time is the database
server's clock (`clock_timestamp()`), never a node's: nodes whose clocks disagree still agree on
when a lease ends. Each call commits on its own (`run` outside a transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from paycrypt.store.base import HEARTBEAT_KEPT
from paycrypt.store.records import Holding, LiveProcess, decode_holdings, encode_holdings

Run = Callable[[str, Sequence[Any]], tuple[list[tuple[Any, ...]], int]]

NOW = "EXTRACT(EPOCH FROM clock_timestamp())::double precision"


class PostgresClusterTables:
    def __init__(self, run: Run) -> None:
        self._run = run

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        taken, _ = self._run(
            f"INSERT INTO leases (name, holder, expires) VALUES (%s, %s, {NOW} + %s)"
            " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires"
            f" WHERE leases.holder = EXCLUDED.holder OR leases.expires <= {NOW} RETURNING holder",
            (name, holder, seconds),
        )
        return bool(taken)

    def release_lease(self, name: str, holder: str) -> None:
        self._run("DELETE FROM leases WHERE name = %s AND holder = %s", (name, holder))

    def lease_holder(self, name: str) -> str | None:
        found, _ = self._run(f"SELECT holder FROM leases WHERE name = %s AND expires > {NOW}", (name,))
        return found[0][0] if found else None

    def beat(self, node_id: str, worker_id: int, within: float, holds: tuple[Holding, ...] = ()) -> int:
        self._run(
            "INSERT INTO node_heartbeats (node_id, worker_id, last_seen, expires, master_keys)"
            f" VALUES (%s, %s, {NOW}, {NOW} + %s, %s) ON CONFLICT (node_id, worker_id) DO UPDATE SET"
            " last_seen = EXCLUDED.last_seen, expires = EXCLUDED.expires, master_keys = EXCLUDED.master_keys",
            (node_id, worker_id, within, encode_holdings(holds)),
        )
        self._run(f"DELETE FROM node_heartbeats WHERE last_seen < {NOW} - %s", (HEARTBEAT_KEPT,))
        found, _ = self._run(f"SELECT COUNT(*) FROM node_heartbeats WHERE last_seen >= {NOW} - %s", (within,))
        return int(found[0][0])

    def live_processes(self) -> list[LiveProcess]:
        found, _ = self._run(
            f"SELECT node_id, worker_id, master_keys, last_seen FROM node_heartbeats WHERE expires > {NOW}"
            " ORDER BY node_id, worker_id",
            (),
        )
        return [LiveProcess(node, int(w), decode_holdings(held), seen) for node, w, held, seen in found]

    def leave(self, node_id: str, worker_id: int) -> None:
        self._run("DELETE FROM node_heartbeats WHERE node_id = %s AND worker_id = %s", (node_id, worker_id))

    def sign_in_failures(self, names: tuple[str, ...], window: float) -> dict[str, int]:
        found, _ = self._run(
            "SELECT name, COUNT(*) FROM sign_in_failures"
            f" WHERE name = ANY(%s) AND at > {NOW} - %s GROUP BY name",
            (list(names), window),
        )
        return {name: int(count) for name, count in found}

    def add_sign_in_failure(self, names: tuple[str, ...], window: float) -> None:
        self._run(f"DELETE FROM sign_in_failures WHERE at <= {NOW} - %s", (window,))
        self._run(f"INSERT INTO sign_in_failures (name, at) SELECT unnest(%s::text[]), {NOW}", (list(names),))

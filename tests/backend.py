"""Which store the test servers run on: `pytest --store sqlite` (the default) or `--store postgresql`.

Every server a test starts — in a thread (tests/conftest.py `start_server`) or as a process
(tests/api/processes.py) — gets its store from `store_for(data_dir)`: None (SQLite under the data
directory) or a PostgreSQL database of its own in the session's cluster (tests/pg_cluster.py),
the same database for the same directory, so a restarted server finds its keys. Tests that read
the store's rows behind the server's back use `rows`, which reads either backend.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SQLITE, POSTGRESQL = "sqlite", "postgresql"
BACKEND = SQLITE
CLUSTER: Any = None  # the session's tests.pg_cluster.Cluster, under --store postgresql


def store_for(data_dir: Path) -> str | None:
    if BACKEND == SQLITE:
        return None
    return CLUSTER.database_for(data_dir)


def store_args(data_dir: Path) -> list[str]:
    """`--store URL` for a command (`paycrypt mpa`) on that server's store; none for SQLite."""
    store = store_for(data_dir)
    return [] if store is None else ["--store", store]


def rows(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """A query without parameters on the store of the server whose data directory this is, read
    with a connection of its own."""
    if BACKEND == SQLITE:
        db = sqlite3.connect(f"file:{data_dir / 'paycrypt.db'}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    import psycopg

    with psycopg.connect(CLUSTER.database_for(data_dir), autocommit=True) as db:
        return [tuple(row) for row in db.execute(sql).fetchall()]


def tables(data_dir: Path) -> list[str]:
    """The store's tables (the migration bookkeeping included)."""
    if BACKEND == SQLITE:
        listed = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        listed = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    return [name for (name,) in rows(data_dir, listed)]

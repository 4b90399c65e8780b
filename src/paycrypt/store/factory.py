"""Which store a `--store` value names, and opening it: `sqlite:PATH` or a `postgresql://` URL.

The one place a backend is chosen (server.py and the CLI call it). PostgreSQL's driver is imported
only when a PostgreSQL store is asked for, so the embedded default loads none.

A URL's password never reaches a log line or an error message: `describe` names a store without
it. libpq takes the password from the URL, from PGPASSWORD, or from ~/.pgpass (PGPASSFILE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paycrypt import defaults
from paycrypt.store import migrations
from paycrypt.store.base import Store

DB_NAME = "paycrypt.db"  # the SQLite file under the data directory, the default store
SQLITE = "sqlite:"
POSTGRESQL = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class StoreSpec:
    """A parsed `--store`: the backend (`sqlite` or `postgresql`) and its file or connection URL."""

    backend: str
    target: str

    def describe(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:{self.target}"
        from paycrypt.store import postgres

        return postgres.describe(self.target)


def parse(value: str | None, data_dir: Path) -> StoreSpec:
    """`--store`'s value (None: the SQLite file under `data_dir`); ValueError names a bad one
    without repeating it (it may hold a password)."""
    if value is None:
        return StoreSpec("sqlite", str(data_dir / DB_NAME))
    if value.startswith(SQLITE):
        path = value[len(SQLITE) :]
        if not path:
            raise ValueError("--store sqlite: needs a file path, as in sqlite:/var/lib/paycrypt/paycrypt.db")
        return StoreSpec("sqlite", path)
    if value.startswith(POSTGRESQL):
        return StoreSpec("postgresql", value)
    raise ValueError("--store takes sqlite:PATH or a postgresql:// URL")


def open_store(
    spec: StoreSpec,
    *,
    synchronous: str = "FULL",
    apply_migrations: bool = False,
    timeout: float = defaults.COMMAND_STORE_TIMEOUT,
) -> Store:
    """The store, its schema brought to this code's version: SQLite's always (one process owns
    the file), PostgreSQL's when empty or with `apply_migrations`. Raises migrations.SchemaError
    (a schema newer than the code, an older one not to be upgraded here, an unreachable database).
    `timeout`: how long a PostgreSQL call waits on an unreachable database (store/postgres.py);
    `paycrypt serve` gives its --store-timeout, a command the longer default."""
    if spec.backend == "sqlite":
        from paycrypt.store.sqlite import SqliteStore

        return SqliteStore(Path(spec.target), synchronous)
    from paycrypt.store.postgres import PostgresStore

    return PostgresStore(spec.target, apply_migrations=apply_migrations, timeout=timeout)


def upgrade(spec: StoreSpec, *, force: bool = False) -> tuple[int, int]:
    """Apply the pending migrations (`paycrypt db upgrade`); (version before, version after).

    On PostgreSQL, refused while other paycrypt processes are connected (nodes still running a
    release that may not read the new schema) unless `force`."""
    if spec.backend == "sqlite":
        import sqlite3

        from paycrypt.store.sqlite import SqliteStore
        from paycrypt.store.sqlite import upgrade as upgrade_sqlite

        SqliteStore(Path(spec.target)).close()  # creates the file privately if it is new
        connection = sqlite3.connect(spec.target, isolation_level=None)
        try:
            return upgrade_sqlite(connection)
        finally:
            connection.close()
    from paycrypt.store import postgres

    with _connect(spec) as connection:
        others = postgres.other_connections(connection)
        if others and not force:
            raise migrations.SchemaError(
                f"{others} paycrypt connection(s) from other processes are open on {spec.describe()}: "
                "stop every paycrypt node first (or give --force if they are known to be gone)"
            )
        return postgres.upgrade(connection, apply_migrations=True)


def version(spec: StoreSpec) -> tuple[int, int]:
    """(the database's schema version, this code's)."""
    latest = migrations.latest(spec.backend)
    if spec.backend == "sqlite":
        import sqlite3

        if not Path(spec.target).exists():
            return 0, latest
        connection = sqlite3.connect(f"file:{spec.target}?mode=ro", uri=True)
        try:
            return _read_version(connection), latest
        finally:
            connection.close()
    with _connect(spec) as connection:
        return _read_version(connection), latest


def _connect(spec: StoreSpec) -> Any:
    """A connection of its own (not a node's pool); SchemaError, without the password, if none."""
    import psycopg

    from paycrypt.store import postgres

    try:
        return psycopg.connect(
            spec.target, autocommit=True, application_name="paycrypt-upgrade", connect_timeout=10
        )
    except psycopg.OperationalError as exc:
        raise migrations.SchemaError(
            f"cannot connect to {spec.describe()}: {postgres.without_password(spec.target, str(exc))}"
        ) from None


def _read_version(connection: object) -> int:
    execute = connection.execute  # type: ignore[attr-defined]
    try:
        row = execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    except Exception:  # no schema_version table: a database before versioned migrations, or empty
        return 0
    return row[0] if row else 0

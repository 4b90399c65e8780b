"""The PostgreSQL store: the `store.base` protocols on a database several processes and nodes share.

A pool of connections (psycopg_pool) serves the event loop's thread and the worker threads; a
transaction holds one connection, kept per thread, from BEGIN to COMMIT, and every read or write
made in it by that thread goes through it. Outside a transaction each statement commits alone.

Nothing is cached here: another node may change any row at any moment, so every read is the
database's, and a key deleted or stopped through any node is refused by every node from the moment
its change commits (docs/decisions/coherence.md says why no record cache). What nodes do cache,
unsealed key material, is bound to the block it came from, and every change of a key's record adds
the key to the feed of key changes, announced to listening nodes by NOTIFY at commit
(`listen_changes`, store/postgres_listen.py). Inside a transaction a key
read locks its row (`FOR UPDATE`) and a count locks its account's counter row, so read-then-write
sequences of the service are one step for every process, as SQLite's single write lock makes them.
Locks are taken in one order — key rows, then the counter row, then alias rows — so that purges,
creates and alias changes running at once on several nodes do not deadlock.

A commit is acknowledged after PostgreSQL has flushed its WAL (`synchronous_commit` on, its
default, which this store does not change): an acknowledged write survives a crash of the node or
of the database server.

No wait on the database lasts longer than `timeout` (`--store-timeout`): a call waits at most that
long for a pooled connection, a connection attempt gives up after it, and every statement (BEGIN
and COMMIT too) is under a client-side deadline of that length (store/deadlines.py: a watchdog
shuts down the socket of a connection whose answer is late), which holds even when the server
never answers at all (frozen, or its answers lost). The server ends a statement of its own
before that (`statement_timeout`, three quarters of `timeout`), so a slow statement on a running
server fails alone and keeps its connection; a transaction left open by a node that vanished
releases its locks after `idle_in_transaction_session_timeout`. A call that meets a lost
connection, no connection or no answer raises StoreUnavailable, and from then on calls raise it at
once, without waiting, until the database answers a probe again (store/reachability.py).

A write whose COMMIT got no answer in time has an unknown outcome (the server may have committed
it, or may commit it when it wakes): it raises StoreUnavailable like any other failure, and is
never acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import conninfo as pg_conninfo

from paycrypt import defaults
from paycrypt.store import migrations, rows
from paycrypt.store.base import Listening, StoreUnavailable
from paycrypt.store.deadlines import Deadlines
from paycrypt.store.postgres_cluster import PostgresClusterTables
from paycrypt.store.postgres_mpa import PostgresMpaTables
from paycrypt.store.reachability import Reachability
from paycrypt.store.records import AliasRecord, KeyRecord, MasterKeyRecord, ReplicationJob

BACKEND = "postgresql"  # its folder of migrations (store/migrations/postgresql/)
APPLICATION = "paycrypt"  # application_name of every connection: `paycrypt db upgrade` looks for them
POOL_SIZE = 16
CONNECT_TIMEOUT = 10  # seconds to open the pool at start-up (later waits are the store's `timeout`)
# SQLSTATE classes of a lost connection: 08 connection exception, 57P operator intervention (the
# server shutting down or crashed); a client-side failure (no server answering) carries none.
_LOST = ("08", "57P")
GAP_WAIT = 2.0  # seconds a gap in the feed of key changes is waited for (an open transaction)
PRUNE_BATCH = 5000  # feed rows deleted per statement
MIGRATION_LOCK = 0x7061796372797074  # pg_advisory_xact_lock key: one migration at a time ("paycrypt")
STATEMENT_SHARE = 0.75  # statement_timeout as a share of the store's timeout: the server's cancel comes first
IDLE_IN_TRANSACTION = 5  # idle_in_transaction_session_timeout, in store timeouts (10 s at the default)

_KEY_COLUMNS = "meta, key_block"
_JOB_COLUMNS = "seq, primary_arn, region, action, attempts, next_attempt"


def describe(conninfo: str) -> str:
    """The database as `postgresql://user@host:port/dbname`, without its password, for logs."""
    try:
        parts = pg_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable connection string)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class NoAnswer(psycopg.OperationalError):
    """The database did not answer a statement within the deadline: its connection was shut down.
    No SQLSTATE, as a lost connection's: the database counts as unreachable."""


def execute(
    deadlines: Deadlines, connection: psycopg.Connection[Any], sql: str, params: Sequence[Any] = ()
) -> tuple[list[tuple[Any, ...]], int]:
    """One statement, its answer awaited at most `deadlines.seconds`; (rows, rowcount).

    NoAnswer past the deadline. An answer that came just as the deadline passed is returned, and
    the connection (its socket shut down) closed, so that the pool discards it."""
    armed = deadlines.arm(connection.pgconn.socket)  # OperationalError when already lost
    try:
        found = _fetch(connection.execute(sql, params))
    except psycopg.Error:
        if deadlines.disarm(armed):
            raise NoAnswer(f"no answer from the database within {deadlines.seconds:g} s") from None
        raise
    finally:
        deadlines.disarm(armed)
    if armed.expired:
        connection.close()
    return found


def without_password(conninfo: str, text: str) -> str:
    """`text` with the connection string's password, if any, taken out (error messages)."""
    try:
        password = pg_conninfo.conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        return text
    return text.replace(str(password), "***") if password else text


class PostgresStore:
    def __init__(
        self,
        conninfo: str,
        *,
        apply_migrations: bool = False,
        pool_size: int = POOL_SIZE,
        timeout: float = defaults.STORE_TIMEOUT,
    ) -> None:
        """Open a pool on `conninfo` and bring the schema to this code's version: always on an empty
        database, and on one at an older version only with `apply_migrations` (`paycrypt db
        upgrade`; every node stopped, see docs/deployment.md). Raises migrations.SchemaError.
        `timeout`: the most a call waits on the database before StoreUnavailable (see above)."""
        self.name = describe(conninfo)
        self._conninfo = conninfo  # for the listening connection, which is not the pool's
        self.timeout = timeout
        self._connect_options = {
            "application_name": APPLICATION,
            "connect_timeout": max(2, math.ceil(timeout)),  # libpq reads less than 2 as 2
            "tcp_user_timeout": max(1, round(timeout * 1000)),  # milliseconds
        }
        self._deadlines = Deadlines(timeout)
        self._pool = psycopg_pool.ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, **self._connect_options},
            configure=self._configure,
            timeout=timeout,
            # The pool's own reconnection backs off exponentially (1, 2, 4 … s): given up soon, so
            # that after an outage connections are made on demand, as the probe lets calls through.
            reconnect_timeout=max(timeout, 1.0),
            open=False,
            name="paycrypt-store",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            self._deadlines.close()
            raise migrations.SchemaError(
                f"cannot connect to {self.name} within {CONNECT_TIMEOUT} s: "
                f"{without_password(conninfo, str(exc.__cause__ or exc))}"
            ) from None
        self._local = threading.local()
        self.reachability = Reachability(self.name, self._probe, self._pool.check)
        try:
            with self._pool.connection() as connection:
                upgrade(connection, apply_migrations)
        except BaseException:
            self.close()
            raise
        self.mpa = PostgresMpaTables(self._run)
        self.cluster = PostgresClusterTables(self._run)

    def close(self) -> None:
        self.reachability.close()
        self._pool.close()
        self._deadlines.close()

    def _configure(self, connection: psycopg.Connection[Any]) -> None:
        """Every pooled connection's server-side bounds (see the module's docstring); set by a
        statement, not by the `options` startup parameter, which would replace a user's own."""
        self._execute(
            connection,
            "SELECT set_config('statement_timeout', %s, false),"
            " set_config('idle_in_transaction_session_timeout', %s, false)",
            (
                _milliseconds(self.timeout * STATEMENT_SHARE),
                _milliseconds(self.timeout * IDLE_IN_TRANSACTION),
            ),
        )

    def _execute(
        self, connection: psycopg.Connection[Any], sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[tuple[Any, ...]], int]:
        return execute(self._deadlines, connection, sql, params)

    def schema_version(self) -> int:
        return self._one("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0]

    @contextmanager
    def _connected(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection for one statement or one transaction; StoreUnavailable when the
        database is known to be unreachable, or found so now."""
        self.reachability.check()
        try:
            with self._pool.connection() as connection:
                yield connection
        except psycopg_pool.PoolTimeout:
            raise self.reachability.failed(f"no connection within {self.timeout:g} s") from None
        except psycopg.OperationalError as exc:
            reason = without_password(self._conninfo, str(exc).strip() or type(exc).__name__)
            if exc.sqlstate is None or exc.sqlstate.startswith(_LOST):
                raise self.reachability.failed(reason) from None
            raise StoreUnavailable(f"{self.name}: {reason}") from None  # e.g. a deadlock: retry

    def _probe(self) -> None:
        """A connection of its own (not the pool's) and one statement: raises unless the database answers."""
        options = {**self._connect_options, "application_name": f"{APPLICATION}-probe"}
        with psycopg.connect(self._conninfo, autocommit=True, **options) as connection:
            self._execute(connection, "SELECT 1")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "connection", None) is not None:
            yield  # joins the outer transaction
            return
        with self._connected() as connection:
            # BEGIN and COMMIT as statements, so that each is under the deadline like the others
            self._execute(connection, "BEGIN")
            self._local.connection = connection
            try:
                yield
            except BaseException:
                self._local.connection = None
                self._roll_back(connection)
                raise
            self._local.connection = None
            self._execute(connection, "COMMIT")  # NoAnswer here: the write's outcome is unknown

    def _roll_back(self, connection: psycopg.Connection[Any]) -> None:
        """End a failed transaction; a connection that cannot is closed (the pool discards it),
        and the failure that ended the transaction is the one raised."""
        if connection.closed:
            return
        try:
            self._execute(connection, "ROLLBACK")
        except psycopg.Error:
            connection.close()

    def group_commits(self, loop: asyncio.AbstractEventLoop) -> None:
        """Nothing: each transaction commits on its own connection, durably, before it returns."""

    def settled(self) -> asyncio.Future[None] | None:
        return None

    def _in_transaction(self) -> bool:
        return getattr(self._local, "connection", None) is not None

    def _run(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """One statement on this thread's transaction, or alone; (rows, rowcount)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return self._execute(connection, sql, params)
        with self._connected() as pooled:
            return self._execute(pooled, sql, params)

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        found, _ = self._run(sql, params)
        return found[0] if found else None

    # keys

    def insert_key(self, record: KeyRecord) -> None:
        with self.transaction():
            self._run(
                "INSERT INTO keys (arn, account, region, key_state, delete_pending, meta, key_block)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (record.arn, record.account, record.region, *rows.mutable(record), record.key_block),
            )
            self._count(record.account, record.region, "keys", 1)

    def update_key(self, record: KeyRecord) -> None:
        with self.transaction():
            self._run(
                "UPDATE keys SET key_state = %s, delete_pending = %s, meta = %s WHERE arn = %s",
                (*rows.mutable(record), record.arn),
            )
            self._changed(record.arn)

    def _changed(self, arn: str) -> None:
        """Add the key to the feed of key changes (a trigger announces it at commit: migration 4).
        Stamped with the database's clock, which `follow_block_changes` compares it with."""
        self._run(
            "INSERT INTO block_changes (arn, at) VALUES (%s, EXTRACT(EPOCH FROM clock_timestamp()))", (arn,)
        )

    def get_key(self, arn: str) -> KeyRecord | None:
        lock = " FOR UPDATE" if self._in_transaction() else ""
        row = self._one(f"SELECT {_KEY_COLUMNS} FROM keys WHERE arn = %s{lock}", (arn,))
        return rows.record(row[0], row[1]) if row else None

    def delete_key(self, arn: str) -> None:
        with self.transaction():
            owner, _ = self._run("DELETE FROM keys WHERE arn = %s RETURNING account, region", (arn,))
            for account, region in owner:
                self._count(account, region, "keys", -1)
            self._run("DELETE FROM tags WHERE arn = %s", (arn,))
            self._run("DELETE FROM resource_policies WHERE arn = %s", (arn,))
            self._changed(arn)

    def list_keys(
        self, account: str, region: str, state: str | None, after: int, limit: int
    ) -> list[tuple[int, KeyRecord]]:
        sql = f"SELECT seq, {_KEY_COLUMNS} FROM keys WHERE account = %s AND region = %s AND seq > %s"
        args: list[object] = [account, region, after]
        if state is not None:
            sql += " AND key_state = %s"
            args.append(state)
        sql += " ORDER BY seq LIMIT %s"
        args.append(limit)
        found, _ = self._run(sql, args)
        return [(seq, rows.record(meta, block)) for seq, meta, block in found]

    def count_keys(self, account: str, region: str) -> int:
        return self._counted(account, region)[0]

    def keys_due_for_purge(self, now_epoch: float) -> Iterator[KeyRecord]:
        found, _ = self._run(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE delete_pending IS NOT NULL AND delete_pending <= %s",
            (now_epoch,),
        )
        return (rows.record(meta, block) for meta, block in found)

    # sealed blocks, for master-key rotation (store.base.SealedBlocks)

    def sealed_blocks(self, table: str, after: int, limit: int) -> list[tuple[int, KeyRecord]]:
        rows.sealed_name_column(table)
        found, _ = self._run(
            f"SELECT seq, {_KEY_COLUMNS} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s", (after, limit)
        )
        return [(seq, rows.record(meta, block)) for seq, meta, block in found]

    def count_sealed_blocks(self) -> int:
        return sum(self._one(f"SELECT COUNT(*) FROM {table}")[0] for table in rows.SEALED_NAME)

    def get_sealed(self, table: str, arn: str) -> KeyRecord | None:
        name = rows.sealed_name_column(table)
        row = self._one(f"SELECT {_KEY_COLUMNS} FROM {table} WHERE {name} = %s", (arn,))
        return rows.record(row[0], row[1]) if row else None

    def reseal_block(self, table: str, arn: str, old_block: str, new_block: str) -> bool:
        name = rows.sealed_name_column(table)
        with self.transaction():
            _, updated = self._run(
                f"UPDATE {table} SET key_block = %s WHERE {name} = %s AND key_block = %s",
                (new_block, arn, old_block),
            )
            if updated == 1:
                self._changed(arn)
            return updated == 1

    def block_changes_head(self) -> int:
        return self._one("SELECT COALESCE(MAX(seq), 0) FROM block_changes")[0]

    def follow_block_changes(self, after: int) -> tuple[int, list[str] | None]:
        # This store caches no record. A BIGSERIAL number is taken at insert and becomes visible at
        # commit, so a gap in what is read is either a transaction still open (its change will
        # appear: stop before the gap and read again next time) or one rolled back, or pruned rows
        # (they never will). A gap followed by rows younger than GAP_WAIT is taken as the first;
        # an older one as the second: the caller drops everything it cached, never wrong, only more work.
        found, _ = self._run(
            "SELECT seq, arn, EXTRACT(EPOCH FROM clock_timestamp()) - at FROM block_changes"
            " WHERE seq > %s ORDER BY seq",
            (after,),
        )
        if not found:
            head = self.block_changes_head()
            return (head, None) if head < after else (after, [])
        arns: list[str] = []
        position = after
        for seq, arn, age in found:
            if seq != position + 1:
                if age < GAP_WAIT:
                    return position, arns
                return found[-1][0], None
            arns.append(arn)
            position = seq
        return position, arns

    def prune_block_changes(self, before_epoch: float) -> int:
        # In batches, each a short statement within the store's time bound: after a rotation the
        # feed holds a row per key (a million), which one DELETE could not remove within it.
        # The oldest rows have the lowest numbers: the primary key's index finds them first.
        pruned = 0
        while True:
            _, deleted = self._run(
                "DELETE FROM block_changes WHERE seq IN"
                " (SELECT seq FROM block_changes WHERE at < %s ORDER BY seq LIMIT %s)",
                (before_epoch, PRUNE_BATCH),
            )
            pruned += deleted
            if deleted < PRUNE_BATCH:
                return pruned

    def listen_changes(self, on_change: Callable[[], None], on_lost: Callable[[], None]) -> Listening:
        from paycrypt.store.postgres_listen import ChangeListener

        return ChangeListener(self._conninfo, on_change, on_lost, self._deadlines)

    # master keys (vault/agreement.py)

    def master_keys(self) -> dict[int, str]:
        found, _ = self._run("SELECT version, key_id FROM master_keys")
        return dict(found)  # type: ignore[arg-type]

    def master_key_records(self) -> list[MasterKeyRecord]:
        found, _ = self._run("SELECT version, key_id, vault, admitted FROM master_keys ORDER BY version")
        return [MasterKeyRecord(*row) for row in found]  # type: ignore[arg-type]

    def sealing_version(self) -> int | None:
        found, _ = self._run("SELECT MAX(version) FROM master_keys WHERE admitted")
        return found[0][0]

    def record_master_keys(self, versions: dict[int, str], vault: str = "", admitted: bool = True) -> None:
        with self.transaction():
            for version, key_id in versions.items():
                self._run(
                    "INSERT INTO master_keys (version, key_id, recorded, vault, admitted)"
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (version) DO NOTHING",
                    (version, key_id, time.time(), vault, admitted),
                )

    def admit_master_key(self, version: int) -> None:
        self._run("UPDATE master_keys SET admitted = TRUE WHERE version = %s", (version,))

    def replace_master_keys(self, versions: dict[int, str], vault: str = "") -> None:
        with self.transaction():
            self._run("DELETE FROM master_keys")
            self.record_master_keys(versions, vault)

    def migration_target(self) -> tuple[str, bool] | None:
        found, _ = self._run("SELECT target_key_id, admitted FROM vault_migration")
        return (found[0][0], found[0][1]) if found else None

    def record_migration_target(self, key_id: str, admitted: bool) -> None:
        self._run(
            "INSERT INTO vault_migration (id, target_key_id, admitted) VALUES (1, %s, %s) ON CONFLICT (id)"
            " DO UPDATE SET target_key_id = EXCLUDED.target_key_id, admitted = EXCLUDED.admitted",
            (key_id, admitted),
        )

    # keys and aliases per account and region (quota_counts), the row locked in a transaction

    def _counted(self, account: str, region: str) -> tuple[int, int]:
        if self._in_transaction():  # made if missing, so that there is a row to lock
            row = self._one(
                "INSERT INTO quota_counts (account, region) VALUES (%s, %s) ON CONFLICT (account, region)"
                " DO UPDATE SET keys = quota_counts.keys RETURNING keys, aliases",
                (account, region),
            )
        else:
            row = self._one(
                "SELECT keys, aliases FROM quota_counts WHERE account = %s AND region = %s", (account, region)
            )
        return (row[0], row[1]) if row else (0, 0)

    def _count(self, account: str, region: str, column: str, change: int) -> None:
        self._run(
            f"INSERT INTO quota_counts (account, region, {column}) VALUES (%s, %s, %s)"
            " ON CONFLICT (account, region)"
            f" DO UPDATE SET {column} = quota_counts.{column} + excluded.{column}",
            (account, region, change),
        )

    # aliases: every write locks the account's counter row first (the lock order above)

    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._one(
            "SELECT key_arn FROM aliases WHERE account = %s AND region = %s AND alias_name = %s",
            (account, region, alias_name),
        )
        return AliasRecord(account, region, alias_name, row[0]) if row else None

    def put_alias(self, alias: AliasRecord) -> None:
        with self.transaction():
            self._counted(alias.account, alias.region)
            _, updated = self._run(
                "UPDATE aliases SET key_arn = %s WHERE account = %s AND region = %s AND alias_name = %s",
                (alias.key_arn, alias.account, alias.region, alias.alias_name),
            )
            if updated == 0:
                self._run(
                    "INSERT INTO aliases (account, region, alias_name, key_arn) VALUES (%s, %s, %s, %s)",
                    (alias.account, alias.region, alias.alias_name, alias.key_arn),
                )
                self._count(alias.account, alias.region, "aliases", 1)

    def delete_alias(self, account: str, region: str, alias_name: str) -> None:
        with self.transaction():
            self._counted(account, region)
            _, deleted = self._run(
                "DELETE FROM aliases WHERE account = %s AND region = %s AND alias_name = %s",
                (account, region, alias_name),
            )
            if deleted:
                self._count(account, region, "aliases", -1)

    def list_aliases(
        self, account: str, region: str, key_arn: str | None, after: str, limit: int
    ) -> list[AliasRecord]:
        # COLLATE "C": names in code-point order, as SQLite's (and the pagination tokens) have them
        sql = (
            "SELECT alias_name, key_arn FROM aliases WHERE account = %s AND region = %s"
            ' AND alias_name COLLATE "C" > %s'
        )
        args: list[object] = [account, region, after]
        if key_arn is not None:
            sql += " AND key_arn = %s"
            args.append(key_arn)
        sql += ' ORDER BY alias_name COLLATE "C" LIMIT %s'
        args.append(limit)
        found, _ = self._run(sql, args)
        return [AliasRecord(account, region, name, arn) for name, arn in found]

    def count_aliases(self, account: str, region: str) -> int:
        return self._counted(account, region)[1]

    def unassign_aliases(self, key_arn: str) -> None:
        self._run("UPDATE aliases SET key_arn = NULL WHERE key_arn = %s", (key_arn,))

    # exchange keys: the service CA and the key pairs behind import and export tokens

    def insert_exchange_key(self, kind: str, record: KeyRecord, expires: float | None) -> bool:
        _, inserted = self._run(
            "INSERT INTO exchange_keys (name, account, region, kind, expires, meta, key_block)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
            (record.arn, record.account, record.region, kind, expires, rows.meta(record), record.key_block),
        )
        return inserted == 1

    def get_exchange_key(self, name: str) -> KeyRecord | None:
        row = self._one(f"SELECT {_KEY_COLUMNS} FROM exchange_keys WHERE name = %s", (name,))
        return rows.record(row[0], row[1]) if row else None

    def latest_exchange_key(
        self, account: str, region: str, kind: str, expires_after: float
    ) -> KeyRecord | None:
        row = self._one(
            f"SELECT {_KEY_COLUMNS} FROM exchange_keys WHERE account = %s AND region = %s AND kind = %s"
            " AND expires > %s ORDER BY seq DESC LIMIT 1",
            (account, region, kind, expires_after),
        )
        return rows.record(row[0], row[1]) if row else None

    def purge_exchange_keys(self, now_epoch: float) -> int:
        _, deleted = self._run(
            "DELETE FROM exchange_keys WHERE expires IS NOT NULL AND expires <= %s", (now_epoch,)
        )
        return deleted

    # tags

    def get_tags(self, arn: str) -> list[dict[str, str]]:
        found, _ = self._run("SELECT tag_key, tag_value FROM tags WHERE arn = %s ORDER BY position", (arn,))
        return [{"Key": k, "Value": v} for k, v in found]

    def put_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self.transaction():
            self._run("DELETE FROM tags WHERE arn = %s", (arn,))
            for position, tag in enumerate(tags):
                self._run(
                    "INSERT INTO tags (arn, position, tag_key, tag_value) VALUES (%s, %s, %s, %s)",
                    (arn, position, tag["Key"], tag["Value"]),
                )

    # resource policies

    def get_resource_policy(self, arn: str) -> str | None:
        row = self._one("SELECT policy FROM resource_policies WHERE arn = %s", (arn,))
        return row[0] if row else None

    def put_resource_policy(self, arn: str, account: str, region: str, policy: str) -> None:
        self._run(
            "INSERT INTO resource_policies (arn, account, region, policy) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (arn) DO UPDATE SET policy = excluded.policy",
            (arn, account, region, policy),
        )

    def delete_resource_policy(self, arn: str) -> bool:
        _, deleted = self._run("DELETE FROM resource_policies WHERE arn = %s", (arn,))
        return deleted > 0

    def has_resource_policies(self) -> bool:
        # asked, not remembered: another node may have put the first policy a moment ago
        row = self._one("SELECT EXISTS (SELECT 1 FROM resource_policies)")
        return bool(row and row[0])

    # multi-region replication

    def get_replication_defaults(self, account: str, region: str) -> list[str]:
        row = self._one(
            "SELECT regions FROM replication_defaults WHERE account = %s AND region = %s", (account, region)
        )
        return json.loads(row[0]) if row else []

    def put_replication_defaults(self, account: str, region: str, regions: list[str]) -> None:
        if regions:
            self._run(
                "INSERT INTO replication_defaults (account, region, regions) VALUES (%s, %s, %s)"
                " ON CONFLICT (account, region) DO UPDATE SET regions = excluded.regions",
                (account, region, json.dumps(regions)),
            )
        else:
            self._run(
                "DELETE FROM replication_defaults WHERE account = %s AND region = %s", (account, region)
            )

    def put_replication_job(self, primary_arn: str, region: str, action: str) -> None:
        """Queue a job, due at once, replacing any older job for the same key and region (with a new
        seq, as SQLite's INSERT OR REPLACE gives it: a runner finishing the old one leaves it)."""
        self._run(
            "INSERT INTO replication_jobs (primary_arn, region, action, attempts, next_attempt)"
            " VALUES (%s, %s, %s, 0, 0) ON CONFLICT (primary_arn, region) DO UPDATE SET"
            " seq = nextval(pg_get_serial_sequence('replication_jobs', 'seq')),"
            " action = excluded.action, attempts = 0, next_attempt = 0",
            (primary_arn, region, action),
        )

    def get_replication_job(self, primary_arn: str, region: str) -> ReplicationJob | None:
        row = self._one(
            f"SELECT {_JOB_COLUMNS} FROM replication_jobs WHERE primary_arn = %s AND region = %s",
            (primary_arn, region),
        )
        return ReplicationJob(*row) if row else None

    def due_replication_jobs(self, now_epoch: float, limit: int) -> list[ReplicationJob]:
        found, _ = self._run(
            f"SELECT {_JOB_COLUMNS} FROM replication_jobs WHERE next_attempt <= %s"
            " ORDER BY next_attempt, seq LIMIT %s",
            (now_epoch, limit),
        )
        return [ReplicationJob(*row) for row in found]

    def finish_replication_job(self, seq: int) -> bool:
        _, deleted = self._run("DELETE FROM replication_jobs WHERE seq = %s", (seq,))
        return deleted == 1

    def defer_replication_job(self, seq: int, attempts: int, next_attempt: float) -> None:
        self._run(
            "UPDATE replication_jobs SET attempts = %s, next_attempt = %s WHERE seq = %s",
            (attempts, next_attempt, seq),
        )

    def replication_backlog(self, now_epoch: float) -> tuple[int, int]:
        row = self._one(
            "SELECT count(*) FILTER (WHERE next_attempt <= %s), count(*) FILTER (WHERE next_attempt > %s)"
            " FROM replication_jobs",
            (now_epoch, now_epoch),
        )
        return int(row[0]), int(row[1])


def _fetch(cursor: psycopg.Cursor[Any]) -> tuple[list[tuple[Any, ...]], int]:
    return (cursor.fetchall() if cursor.description is not None else []), cursor.rowcount


def _milliseconds(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


def upgrade(connection: psycopg.Connection[Any], apply_migrations: bool) -> tuple[int, int]:
    """Bring the schema to this code's version in one transaction, one migrating node at a time
    (an advisory lock); (version before, version after). An empty database is always set up; one
    at an older version only with `apply_migrations`, else SchemaError says what to run."""
    with connection.transaction():
        # unbounded: a migration may rewrite a large table, or wait for another node's to finish
        connection.execute("SET LOCAL statement_timeout = 0")
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        connection.execute(migrations.SCHEMA_VERSION_TABLE)
        row = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        before = row[0] if row else 0
        todo = migrations.pending(BACKEND, before)
        if todo and before > 0 and not apply_migrations:
            raise migrations.SchemaError(
                f"the database's schema is at version {before} and this paycrypt needs version "
                f"{todo[-1].version}: stop every paycrypt node on this database, then run "
                "`paycrypt db upgrade --store URL` (a rolling upgrade across a schema change is "
                "not supported: see docs/deployment.md)"
            )
        for migration in todo:
            connection.execute(migration.sql)  # several statements: allowed without parameters
            connection.execute(
                "INSERT INTO schema_version (version, name, applied) VALUES (%s, %s, %s)",
                (migration.version, migration.name, time.time()),
            )
    return before, todo[-1].version if todo else before


def other_connections(connection: psycopg.Connection[Any]) -> int:
    """How many other paycrypt connections are open on this database (nodes still running)."""
    row = connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = %s AND pid <> pg_backend_pid()",
        (APPLICATION,),
    ).fetchone()
    return row[0] if row else 0

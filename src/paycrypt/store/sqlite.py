"""The embedded SQLite store: the default implementation of the `store.base` protocols.

WAL journal with synchronous=FULL: a write is acknowledged only after it is on disk, so every key
whose creation a client saw acknowledged survives a crash or SIGKILL of the server.

Backup (`Snapshots`): SQLite's online backup API copies the database page by page in one step,
inside one read transaction, so the copy is the database as of one instant while the server (in
this process or another) goes on writing: WAL readers do not block writers. A restore runs the
same copy the other way, into this store's connection, in one write transaction.

One connection serves the event loop's thread and the worker threads that run CPU-heavy calls
(the pipeline's executor, wire/pipeline.py). Every statement runs, and is read to its end, under
the store's lock, and a transaction holds that lock from BEGIN to COMMIT: so no thread reads
another's uncommitted writes, and the record caches are filled and emptied under the same lock
as the rows they copy.

Group commit (`group_commits`, which the server turns on at startup): the fsync of a commit costs
milliseconds, and committing each write on its own caps durable writes at one per fsync. So the
transactions the event loop's thread runs in one turn of the loop share one: the first opens a
batch (BEGIN, the lock held by the loop's thread until it commits) and schedules its COMMIT after
the callbacks already queued, the requests that arrived together; each transaction in the batch is
a SAVEPOINT, so a failed one is rolled back alone and fails only its own request. Every request the
loop serves while a batch is open waits for its commit (`settled`) before answering, so nothing is
acknowledged, and nothing written by another is shown, before it is on disk; a failed COMMIT fails
them all. Worker threads' transactions commit on their own, after the batch (they wait for the lock).

Several processes on one file (`--workers`, or servers sharing `--store sqlite:PATH`): every
commit is followed, before the write returns (a batch's: before any of its requests is answered),
by a new token in the store's change signal (shared
memory, store/sqlite_signal.py), and before a record cache answers, the store compares the token
with the one it last saw; a different one empties every cache, which refills from the rows. So a
cache never answers with a record another process changed or deleted in a write that returned
before the read began (docs/decisions/coherence.md). A process killed between its commit and its
token is caught by `PRAGMA data_version` (changed by any other connection's commit), which the
change follower asks every half second.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from paycrypt.lru import Lru
from paycrypt.store import migrations, rows
from paycrypt.store.base import StoreNotEmpty
from paycrypt.store.records import AliasRecord, KeyRecord, MasterKeyRecord, ReplicationJob, Snapshot
from paycrypt.store.sqlite_cluster import SqliteClusterTables
from paycrypt.store.sqlite_mpa import SqliteMpaTables
from paycrypt.store.sqlite_signal import ChangeSignal

RECORD_CACHE_SIZE = 100_000  # parsed key records kept; past it the least recently used goes
_UNKNOWN = object()  # a resource policy not cached (None: known to have none)
BACKEND = "sqlite"  # its folder of migrations (store/migrations/sqlite/)
SNAPSHOT_FILE = "paycrypt.db"


# SQLite's settings of `PRAGMA synchronous`. FULL is the store's promise; the others exist only for
# the test that proves the durability check can see a missing fsync (tests/api/test_durability_trace.py).
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


class _Rows:
    """A statement's result, read to its end while the lock was held."""

    __slots__ = ("_rows", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._rows = cursor.fetchall()
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class _Serialized:
    """The connection, one statement at a time under `lock` (see the module's docstring)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def execute(self, sql: str, parameters: Any = ()) -> _Rows:
        with self._lock:
            return _Rows(self._db.execute(sql, parameters))

    def executemany(self, sql: str, parameters: Any) -> _Rows:
        with self._lock:
            return _Rows(self._db.executemany(sql, parameters))

    def executescript(self, script: str) -> None:
        with self._lock:
            self._db.executescript(script)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def backup_to(self, target: sqlite3.Connection) -> None:
        """Copy the whole database into `target` in one step (one read transaction: one instant)."""
        with self._lock:
            self._db.backup(target)

    def restore_from(self, source: sqlite3.Connection) -> None:
        """Replace the whole database by `source`'s, in one write transaction."""
        with self._lock:
            source.backup(self._db)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return _counts(self._db)


def _counts(db: sqlite3.Connection) -> dict[str, int]:
    """Rows per table (SQLite's own tables aside), by table name."""
    tables = [
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    return {table: db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}


def _read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ValueError(f"the snapshot has no {path.name}")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


class SqliteStore:
    def __init__(self, path: Path, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
        # Only when absent: closing any descriptor of an open database drops every POSIX lock this
        # process holds on it, so another process (`paycrypt mpa`) could then delete the WAL under
        # a live connection and corrupt the database.
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        self._lock = threading.RLock()
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db = _Serialized(connection, self._lock)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        with self._lock:
            upgrade(connection)
        self._depth = 0
        self._loop: asyncio.AbstractEventLoop | None = None  # group commit (see the module's docstring)
        self._loop_thread: int | None = None
        self._batch: asyncio.Future[None] | None = None  # the open batch's commit, on the loop
        # Parsed key records by ARN: the data plane reads the same keys over and over. Writes go
        # through this object (one server process owns the file), so dropping an entry on every
        # write, and everything on a rollback, keeps the cache exact. Callers never mutate records.
        # Bounded LRU: with more keys than entries, the hot keys stay (paycrypt/lru.py).
        self._records: Lru[str, KeyRecord] = Lru(RECORD_CACHE_SIZE)
        # Resource policies by key ARN (None: known to have none), exact for the same reason.
        self._policies: Lru[str, str | None] = Lru(RECORD_CACHE_SIZE)
        self._policy_count = self._count_policies()
        self._data_version = self._db.execute("PRAGMA data_version").fetchone()[0]
        self._signal = ChangeSignal(path)
        self._seen = self._signal.token()
        self.mpa = SqliteMpaTables(self._db)
        self.cluster = SqliteClusterTables(self._db, self.transaction)

    def close(self) -> None:
        if self._batch is not None and threading.get_ident() == self._loop_thread:
            self._commit_batch()
        self._db.close()
        self._signal.close()

    def schema_version(self) -> int:
        return self._db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]

    def group_commits(self, loop: asyncio.AbstractEventLoop) -> None:
        """Transactions run on `loop`'s thread (the caller's) share commits from now on."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def settled(self) -> asyncio.Future[None] | None:
        return self._batch

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outer = self._depth == 0
            grouped = outer and self._grouping()
            if grouped:
                self._join_batch()
                self._db.execute("SAVEPOINT request")
            elif outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if grouped:  # this request's writes only; the batch goes on
                    self._db.execute("ROLLBACK TO request")
                    self._db.execute("RELEASE request")
                elif outer:
                    self._db.execute("ROLLBACK")
                if outer:
                    self._drop_caches()
                raise
            self._depth -= 1
            if grouped:
                self._db.execute("RELEASE request")
            elif outer:
                self._db.execute("COMMIT")
                self._signal.announce()  # not taken as seen: another process's token may be under it

    # the record caches, against other processes' commits

    def _drop_caches(self) -> None:
        """After a rollback (the caches may hold what was rolled back) or another process's commit."""
        self._records.clear()
        self._policies.clear()
        self._policy_count = self._count_policies()

    def _check_caches(self) -> None:
        """Empty the caches if a commit was announced since the last look (call under the lock)."""
        token = self._signal.token()
        if token != self._seen:
            self._seen = token
            self._drop_caches()

    def _check_data_version(self) -> None:
        """Empty the caches if another connection committed since the last look, announced or not."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._drop_caches()

    def _changed(self, arn: str) -> None:
        """Add the key to the feed of key changes (other processes forget what they cached of it)."""
        self._records.pop(arn)
        self._db.execute("INSERT INTO block_changes (arn, at) VALUES (?, ?)", (arn, time.time()))

    def _grouping(self) -> bool:
        """Whether this transaction joins a batch: group commit on, on the loop's thread, the loop
        running (before it starts and after it stops, each transaction commits on its own)."""
        loop = self._loop
        return loop is not None and threading.get_ident() == self._loop_thread and loop.is_running()

    def _join_batch(self) -> None:
        """Open a batch unless one is: BEGIN, the lock kept, the COMMIT queued on the loop."""
        if self._batch is not None:
            return
        assert self._loop is not None
        self._lock.acquire()  # held across the loop's turns until _commit_batch releases it
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                batch = self._loop.create_future()
                self._loop.call_soon(self._commit_batch)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except BaseException:
            self._lock.release()
            raise
        self._batch = batch

    def _commit_batch(self) -> None:
        """COMMIT the open batch (one fsync) and release every request waiting for it."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        try:
            self._db.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._drop_caches()
            with suppress(RuntimeError):  # the loop already closed (the store closed at shutdown)
                if not batch.done():
                    batch.set_exception(exc)
                batch.exception()  # retrieved: a batch nobody waited for is not an unhandled error
        else:
            self._signal.announce()  # before any request of the batch is answered
            with suppress(RuntimeError):
                if not batch.done():
                    batch.set_result(None)
        finally:
            self._lock.release()

    # keys

    def insert_key(self, record: KeyRecord) -> None:
        with self.transaction():
            self._records.pop(record.arn)
            self._db.execute(
                "INSERT INTO keys (arn, account, region, key_state, delete_pending, meta, key_block)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.arn, record.account, record.region, *rows.mutable(record), record.key_block),
            )
            self._count(record.account, record.region, "keys", 1)

    def update_key(self, record: KeyRecord) -> None:
        with self.transaction():
            self._changed(record.arn)
            self._db.execute(
                "UPDATE keys SET key_state = ?, delete_pending = ?, meta = ? WHERE arn = ?",
                (*rows.mutable(record), record.arn),
            )

    def get_key(self, arn: str) -> KeyRecord | None:
        with self._lock:  # the row and its cache entry together (see the module's docstring)
            self._check_caches()
            cached = self._records.get(arn)
            if cached is not None:
                return cached
            row = self._db.execute("SELECT meta, key_block FROM keys WHERE arn = ?", (arn,)).fetchone()
            if row is None:
                return None
            record = rows.record(row[0], row[1])
            if record.key_state == "CREATE_IN_PROGRESS":
                return record  # awaiting multi-party approval, which `paycrypt mpa` (another process) settles
            self._records.put(arn, record)
            return record

    def delete_key(self, arn: str) -> None:
        with self.transaction():
            self._changed(arn)
            owner = self._db.execute("DELETE FROM keys WHERE arn = ? RETURNING account, region", (arn,))
            for account, region in owner:
                self._count(account, region, "keys", -1)
            self._db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
            self.delete_resource_policy(arn)

    def list_keys(
        self, account: str, region: str, state: str | None, after: int, limit: int
    ) -> list[tuple[int, KeyRecord]]:
        sql = "SELECT seq, meta, key_block FROM keys WHERE account = ? AND region = ? AND seq > ?"
        args: list[object] = [account, region, after]
        if state is not None:
            sql += " AND key_state = ?"
            args.append(state)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        found = self._db.execute(sql, args).fetchall()
        return [(seq, rows.record(meta, block)) for seq, meta, block in found]

    def count_keys(self, account: str, region: str) -> int:
        return self._counted(account, region)[0]

    def keys_due_for_purge(self, now_epoch: float) -> Iterator[KeyRecord]:
        found = self._db.execute(
            "SELECT meta, key_block FROM keys WHERE delete_pending IS NOT NULL AND delete_pending <= ?",
            (now_epoch,),
        ).fetchall()
        return (rows.record(meta, block) for meta, block in found)

    # keys and aliases per account and region (quota_counts): a transaction holds the database's
    # one write lock, so a count read in it stays true until it commits

    def _counted(self, account: str, region: str) -> tuple[int, int]:
        row = self._db.execute(
            "SELECT keys, aliases FROM quota_counts WHERE account = ? AND region = ?", (account, region)
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def _count(self, account: str, region: str, column: str, change: int) -> None:
        self._db.execute(
            f"INSERT INTO quota_counts (account, region, {column}) VALUES (?, ?, ?)"
            f" ON CONFLICT (account, region) DO UPDATE SET {column} = {column} + excluded.{column}",
            (account, region, change),
        )

    # sealed blocks, for master-key rotation (store.base.SealedBlocks)

    def sealed_blocks(self, table: str, after: int, limit: int) -> list[tuple[int, KeyRecord]]:
        rows.sealed_name_column(table)
        found = self._db.execute(
            f"SELECT seq, meta, key_block FROM {table} WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [(seq, rows.record(meta, block)) for seq, meta, block in found]

    def count_sealed_blocks(self) -> int:
        return sum(
            self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in rows.SEALED_NAME
        )

    def get_sealed(self, table: str, arn: str) -> KeyRecord | None:
        name = rows.sealed_name_column(table)
        row = self._db.execute(f"SELECT meta, key_block FROM {table} WHERE {name} = ?", (arn,)).fetchone()
        return KeyRecord.from_json(json.loads(row[0]), row[1]) if row else None

    def reseal_block(self, table: str, arn: str, old_block: str, new_block: str) -> bool:
        name = rows.sealed_name_column(table)
        with self.transaction():
            self._records.pop(arn)
            updated = self._db.execute(
                f"UPDATE {table} SET key_block = ? WHERE {name} = ? AND key_block = ?",
                (new_block, arn, old_block),
            )
            swapped = updated.rowcount == 1
            if swapped:
                self._changed(arn)
            return swapped

    def block_changes_head(self) -> int:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'block_changes'").fetchone()
        return row[0] if row else 0

    def follow_block_changes(self, after: int) -> tuple[int, list[str] | None]:
        with self._lock:  # the rows read and the cache entries dropped together
            self._check_data_version()
            head = self.block_changes_head()
            if head == after:
                return after, []
            changes = self._db.execute(
                "SELECT seq, arn FROM block_changes WHERE seq > ? ORDER BY seq", (after,)
            ).fetchall()
            # AUTOINCREMENT leaves no gap (a rolled-back insert rolls its sequence back too): a
            # first row past after + 1, or a head behind us (another database), means pruned.
            if head < after or not changes or changes[0][0] != after + 1:
                self._records.clear()
                return max([head, *(seq for seq, _ in changes[-1:])]), None
            arns = [arn for _, arn in changes]
            for arn in arns:
                self._records.pop(arn)
            return changes[-1][0], arns

    def prune_block_changes(self, before_epoch: float) -> int:
        with self.transaction():
            return self._db.execute("DELETE FROM block_changes WHERE at < ?", (before_epoch,)).rowcount

    # master keys (vault/agreement.py)

    def master_keys(self) -> dict[int, str]:
        return dict(self._db.execute("SELECT version, key_id FROM master_keys").fetchall())

    def master_key_records(self) -> list[MasterKeyRecord]:
        found = self._db.execute(
            "SELECT version, key_id, vault, admitted FROM master_keys ORDER BY version"
        ).fetchall()
        return [MasterKeyRecord(version, key_id, vault, bool(held)) for version, key_id, vault, held in found]

    def sealing_version(self) -> int | None:
        row = self._db.execute("SELECT MAX(version) FROM master_keys WHERE admitted").fetchone()
        return None if row is None else row[0]

    def record_master_keys(self, versions: dict[int, str], vault: str = "", admitted: bool = True) -> None:
        with self.transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO master_keys (version, key_id, recorded, vault, admitted)"
                " VALUES (?, ?, ?, ?, ?)",
                [(version, key_id, time.time(), vault, admitted) for version, key_id in versions.items()],
            )

    def admit_master_key(self, version: int) -> None:
        with self.transaction():
            self._db.execute("UPDATE master_keys SET admitted = 1 WHERE version = ?", (version,))

    def replace_master_keys(self, versions: dict[int, str], vault: str = "") -> None:
        with self.transaction():
            self._db.execute("DELETE FROM master_keys")
            self.record_master_keys(versions, vault)

    def migration_target(self) -> tuple[str, bool] | None:
        row = self._db.execute("SELECT target_key_id, admitted FROM vault_migration").fetchone()
        return None if row is None else (row[0], bool(row[1]))

    def record_migration_target(self, key_id: str, admitted: bool) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO vault_migration (id, target_key_id, admitted) VALUES (1, ?, ?) ON CONFLICT (id)"
                " DO UPDATE SET target_key_id = excluded.target_key_id, admitted = excluded.admitted",
                (key_id, admitted),
            )

    # aliases

    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._db.execute(
            "SELECT key_arn FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
            (account, region, alias_name),
        ).fetchone()
        return AliasRecord(account, region, alias_name, row[0]) if row else None

    def put_alias(self, alias: AliasRecord) -> None:
        with self.transaction():
            updated = self._db.execute(
                "UPDATE aliases SET key_arn = ? WHERE account = ? AND region = ? AND alias_name = ?",
                (alias.key_arn, alias.account, alias.region, alias.alias_name),
            )
            if updated.rowcount == 0:
                self._db.execute(
                    "INSERT INTO aliases (account, region, alias_name, key_arn) VALUES (?, ?, ?, ?)",
                    (alias.account, alias.region, alias.alias_name, alias.key_arn),
                )
                self._count(alias.account, alias.region, "aliases", 1)

    def delete_alias(self, account: str, region: str, alias_name: str) -> None:
        with self.transaction():
            deleted = self._db.execute(
                "DELETE FROM aliases WHERE account = ? AND region = ? AND alias_name = ?",
                (account, region, alias_name),
            )
            if deleted.rowcount:
                self._count(account, region, "aliases", -1)

    def list_aliases(
        self, account: str, region: str, key_arn: str | None, after: str, limit: int
    ) -> list[AliasRecord]:
        sql = "SELECT alias_name, key_arn FROM aliases WHERE account = ? AND region = ? AND alias_name > ?"
        args: list[object] = [account, region, after]
        if key_arn is not None:
            sql += " AND key_arn = ?"
            args.append(key_arn)
        sql += " ORDER BY alias_name LIMIT ?"
        args.append(limit)
        return [AliasRecord(account, region, n, k) for n, k in self._db.execute(sql, args).fetchall()]

    def count_aliases(self, account: str, region: str) -> int:
        return self._counted(account, region)[1]

    def unassign_aliases(self, key_arn: str) -> None:
        with self.transaction():
            self._db.execute("UPDATE aliases SET key_arn = NULL WHERE key_arn = ?", (key_arn,))

    # exchange keys: the service CA and the key pairs behind import and export tokens

    def insert_exchange_key(self, kind: str, record: KeyRecord, expires: float | None) -> bool:
        """Insert unless the name (`record.arn`) exists; whether this call inserted it."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO exchange_keys (name, account, region, kind, expires, meta, key_block)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.arn,
                    record.account,
                    record.region,
                    kind,
                    expires,
                    rows.meta(record),
                    record.key_block,
                ),
            )
            return cursor.rowcount == 1

    def get_exchange_key(self, name: str) -> KeyRecord | None:
        row = self._db.execute("SELECT meta, key_block FROM exchange_keys WHERE name = ?", (name,)).fetchone()
        return rows.record(row[0], row[1]) if row else None

    def latest_exchange_key(
        self, account: str, region: str, kind: str, expires_after: float
    ) -> KeyRecord | None:
        row = self._db.execute(
            "SELECT meta, key_block FROM exchange_keys WHERE account = ? AND region = ? AND kind = ?"
            " AND expires > ? ORDER BY seq DESC LIMIT 1",
            (account, region, kind, expires_after),
        ).fetchone()
        return rows.record(row[0], row[1]) if row else None

    def purge_exchange_keys(self, now_epoch: float) -> int:
        with self.transaction():
            return self._db.execute(
                "DELETE FROM exchange_keys WHERE expires IS NOT NULL AND expires <= ?", (now_epoch,)
            ).rowcount

    # tags

    def get_tags(self, arn: str) -> list[dict[str, str]]:
        found = self._db.execute(
            "SELECT tag_key, tag_value FROM tags WHERE arn = ? ORDER BY position", (arn,)
        ).fetchall()
        return [{"Key": k, "Value": v} for k, v in found]

    def put_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM tags WHERE arn = ?", (arn,))
            self._db.executemany(
                "INSERT INTO tags (arn, position, tag_key, tag_value) VALUES (?, ?, ?, ?)",
                [(arn, i, t["Key"], t["Value"]) for i, t in enumerate(tags)],
            )

    # resource policies

    def get_resource_policy(self, arn: str) -> str | None:
        with self._lock:
            self._check_caches()
            cached = self._policies.get(arn, _UNKNOWN)  # type: ignore[arg-type]
            if cached is not _UNKNOWN:
                return cached
            row = self._db.execute("SELECT policy FROM resource_policies WHERE arn = ?", (arn,)).fetchone()
            policy = row[0] if row else None
            self._policies.put(arn, policy)
            return policy

    def put_resource_policy(self, arn: str, account: str, region: str, policy: str) -> None:
        with self.transaction():
            self._policies.pop(arn)
            known = self._db.execute("SELECT 1 FROM resource_policies WHERE arn = ?", (arn,)).fetchone()
            self._db.execute(
                "INSERT INTO resource_policies (arn, account, region, policy) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (arn) DO UPDATE SET policy = excluded.policy",
                (arn, account, region, policy),
            )
            if known is None:  # counted, not recounted: a COUNT(*) grows with the policies
                self._policy_count += 1

    def delete_resource_policy(self, arn: str) -> bool:
        with self.transaction():
            self._policies.pop(arn)
            deleted = self._db.execute("DELETE FROM resource_policies WHERE arn = ?", (arn,)).rowcount > 0
            if deleted:
                self._policy_count -= 1
            return deleted

    def has_resource_policies(self) -> bool:
        with self._lock:
            self._check_caches()
            return self._policy_count > 0

    def _count_policies(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM resource_policies").fetchone()[0]

    # multi-region replication

    def get_replication_defaults(self, account: str, region: str) -> list[str]:
        row = self._db.execute(
            "SELECT regions FROM replication_defaults WHERE account = ? AND region = ?", (account, region)
        ).fetchone()
        return json.loads(row[0]) if row else []

    def put_replication_defaults(self, account: str, region: str, regions: list[str]) -> None:
        with self.transaction():
            if regions:
                self._db.execute(
                    "INSERT OR REPLACE INTO replication_defaults (account, region, regions) VALUES (?, ?, ?)",
                    (account, region, json.dumps(regions)),
                )
            else:
                self._db.execute(
                    "DELETE FROM replication_defaults WHERE account = ? AND region = ?", (account, region)
                )

    def put_replication_job(self, primary_arn: str, region: str, action: str) -> None:
        """Queue a job, due at once, replacing any older job for the same key and region."""
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO replication_jobs"
                " (primary_arn, region, action, attempts, next_attempt) VALUES (?, ?, ?, 0, 0)",
                (primary_arn, region, action),
            )

    def get_replication_job(self, primary_arn: str, region: str) -> ReplicationJob | None:
        row = self._db.execute(
            "SELECT seq, primary_arn, region, action, attempts, next_attempt FROM replication_jobs"
            " WHERE primary_arn = ? AND region = ?",
            (primary_arn, region),
        ).fetchone()
        return ReplicationJob(*row) if row else None

    def due_replication_jobs(self, now_epoch: float, limit: int) -> list[ReplicationJob]:
        found = self._db.execute(
            "SELECT seq, primary_arn, region, action, attempts, next_attempt FROM replication_jobs"
            " WHERE next_attempt <= ? ORDER BY next_attempt, seq LIMIT ?",
            (now_epoch, limit),
        ).fetchall()
        return [ReplicationJob(*row) for row in found]

    def finish_replication_job(self, seq: int) -> bool:
        """Remove the job if it is still this one (not replaced by a newer change); whether it was."""
        with self.transaction():
            return self._db.execute("DELETE FROM replication_jobs WHERE seq = ?", (seq,)).rowcount == 1

    def defer_replication_job(self, seq: int, attempts: int, next_attempt: float) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE replication_jobs SET attempts = ?, next_attempt = ? WHERE seq = ?",
                (attempts, next_attempt, seq),
            )

    def replication_backlog(self, now_epoch: float) -> tuple[int, int]:
        due, waiting = self._db.execute(
            "SELECT COALESCE(SUM(next_attempt <= ?), 0), COALESCE(SUM(next_attempt > ?), 0)"
            " FROM replication_jobs",
            (now_epoch, now_epoch),
        ).fetchone()
        return int(due), int(waiting)

    # snapshots (backup and restore)

    def write_snapshot(self, directory: Path) -> Snapshot:
        path = directory / SNAPSHOT_FILE
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        target = sqlite3.connect(path)
        try:
            self._db.backup_to(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no WAL beside it
            counts = _counts(target)
        finally:
            target.close()
        return Snapshot(BACKEND, migrations.latest(BACKEND), (SNAPSHOT_FILE,), counts)

    def snapshot_blocks(self, directory: Path, snapshot: Snapshot) -> Iterator[KeyRecord]:
        _check_snapshot(snapshot)
        source = _read_only(directory / SNAPSHOT_FILE)
        try:
            for table in ("keys", "exchange_keys"):
                for meta, block in source.execute(f"SELECT meta, key_block FROM {table} ORDER BY seq"):
                    yield KeyRecord.from_json(json.loads(meta), block)
        finally:
            source.close()

    def restore_snapshot(self, directory: Path, snapshot: Snapshot) -> None:
        _check_snapshot(snapshot)
        source = _read_only(directory / SNAPSHOT_FILE)
        try:
            with self._lock:
                if self._depth:
                    raise RuntimeError("a restore cannot run inside a transaction")
                held = {t: n for t, n in self._db.counts().items() if n and t != "schema_version"}
                if held:
                    raise StoreNotEmpty(
                        "the store is not empty: " + ", ".join(f"{n} {table}" for table, n in held.items())
                    )
                self._db.restore_from(source)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._drop_caches()
                self._signal.announce()
        finally:
            source.close()


def upgrade(db: sqlite3.Connection) -> tuple[int, int]:
    """Apply the pending migrations (store/migrations/sqlite/) in one transaction with their
    version rows; (version before, version after). A database made before versioned migrations
    has no `schema_version`: migration 1 is that schema with IF NOT EXISTS, so it is adopted as it
    is. A database newer than this code is refused (migrations.SchemaError)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(migrations.SCHEMA_VERSION_TABLE)
        before = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        todo = migrations.pending(BACKEND, before)
        for migration in todo:
            for statement in _statements(migration.sql):
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return before, todo[-1].version if todo else before


def _statements(script: str) -> Iterator[str]:
    """The script's statements one by one (`executescript` would commit the transaction first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""


def _check_snapshot(snapshot: Snapshot) -> None:
    if snapshot.backend != BACKEND:
        raise ValueError(f"the snapshot is of a {snapshot.backend} store, this store is {BACKEND}")
    version = migrations.latest(BACKEND)  # the store is opened at the code's schema version
    if snapshot.schema_version != version:
        raise ValueError(
            f"the snapshot is of schema version {snapshot.schema_version}, this store's is {version}"
        )

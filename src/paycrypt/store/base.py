"""The store's interface: protocols that name no backend.

Each protocol is one kind of state the service keeps; `Store` is all of them behind one
transaction. `store/sqlite.py` (with `store/sqlite_mpa.py`) and `store/postgres.py` (with
`store/postgres_mpa.py`) implement them; `store/factory.py` picks one from `--store`.
Nothing here may import a backend or a database driver
(tests/store/test_protocols.py holds that, and that each backend implements every member with
the same signature).

The service reads these protocols only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from paycrypt.store.records import (
    AliasRecord,
    Association,
    Holding,
    KeyRecord,
    LiveProcess,
    MasterKeyRecord,
    ReplicationJob,
    Session,
    Snapshot,
    Team,
)


class Transactions(Protocol):
    def transaction(self) -> AbstractContextManager[None]:
        """Group writes so they commit together, durably, or not at all (nested calls join the
        outer one). Every writer below opens one itself when called outside a transaction."""
        ...

    def group_commits(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on, transactions run on `loop`'s thread may share one commit (and one fsync)
        with the others run before it in the same turn of the loop; each is then durable only
        once `settled()` is done. A backend that commits each on its own does nothing."""
        ...

    def settled(self) -> asyncio.Future[None] | None:
        """The commit of the writes made (or read) so far on the loop's thread, when one is
        pending: a response waits for it before it acknowledges anything; None when nothing is."""
        ...


class KeyTable(Protocol):
    """Keys of the API, by ARN, in creation order per account and region."""

    def insert_key(self, record: KeyRecord) -> None: ...
    def update_key(self, record: KeyRecord) -> None:
        """Store the record's state, timestamps and attributes (never its key block)."""
        ...

    def get_key(self, arn: str) -> KeyRecord | None:
        """Inside a transaction, the row stays locked against other writers until it ends (so a
        read-then-update of a key is one step for every process)."""
        ...

    def delete_key(self, arn: str) -> None:
        """Remove the key with its tags and resource policy."""
        ...

    def list_keys(
        self, account: str, region: str, state: str | None, after: int, limit: int
    ) -> list[tuple[int, KeyRecord]]:
        """Up to `limit` keys after position `after`, each with its position (the next token)."""
        ...

    def count_keys(self, account: str, region: str) -> int:
        """From the account and region's counter row, kept by insert_key and delete_key: the same
        cost at any number of keys. Inside a transaction the row stays locked until it ends, so a
        quota check and the insert it allows are one step for every process."""
        ...

    def keys_due_for_purge(self, now_epoch: float) -> Iterator[KeyRecord]: ...


class AliasTable(Protocol):
    """Aliases per account and region, each naming a key or none."""

    def get_alias(self, account: str, region: str, alias_name: str) -> AliasRecord | None: ...
    def put_alias(self, alias: AliasRecord) -> None: ...
    def delete_alias(self, account: str, region: str, alias_name: str) -> None: ...
    def list_aliases(
        self, account: str, region: str, key_arn: str | None, after: str, limit: int
    ) -> list[AliasRecord]:
        """Up to `limit` aliases named after `after`, in name order (optionally of one key)."""
        ...

    def count_aliases(self, account: str, region: str) -> int:
        """As count_keys, for aliases (the same counter row, kept by put_alias and delete_alias)."""
        ...

    def unassign_aliases(self, key_arn: str) -> None: ...


class ExchangeKeyTable(Protocol):
    """Key pairs outside the key list: the service CA and the pairs behind import and export
    tokens, by name (`record.arn`) and kind, with an expiry."""

    def insert_exchange_key(self, kind: str, record: KeyRecord, expires: float | None) -> bool:
        """Insert unless the name exists; whether this call inserted it."""
        ...

    def get_exchange_key(self, name: str) -> KeyRecord | None: ...
    def latest_exchange_key(
        self, account: str, region: str, kind: str, expires_after: float
    ) -> KeyRecord | None: ...
    def purge_exchange_keys(self, now_epoch: float) -> int: ...


class TagTable(Protocol):
    """Each key's tags, in the order they were given."""

    def get_tags(self, arn: str) -> list[dict[str, str]]: ...
    def put_tags(self, arn: str, tags: list[dict[str, str]]) -> None: ...


class ResourcePolicyTable(Protocol):
    """Resource (key) policies, as JSON text; the authorizer reads them on requests that name keys."""

    def get_resource_policy(self, arn: str) -> str | None: ...
    def put_resource_policy(self, arn: str, account: str, region: str, policy: str) -> None: ...
    def delete_resource_policy(self, arn: str) -> bool: ...
    def has_resource_policies(self) -> bool:
        """Whether any key has a resource policy (kept in memory: the root user's fast path asks it)."""
        ...


class ReplicationTable(Protocol):
    """Multi-region replication: default regions per (account, region), and pending jobs."""

    def get_replication_defaults(self, account: str, region: str) -> list[str]: ...
    def put_replication_defaults(self, account: str, region: str, regions: list[str]) -> None: ...
    def put_replication_job(self, primary_arn: str, region: str, action: str) -> None:
        """Queue a job, due at once, replacing any older job for the same key and region."""
        ...

    def get_replication_job(self, primary_arn: str, region: str) -> ReplicationJob | None: ...
    def due_replication_jobs(self, now_epoch: float, limit: int) -> list[ReplicationJob]: ...
    def finish_replication_job(self, seq: int) -> bool:
        """Remove the job if it is still this one (not replaced by a newer change); whether it was."""
        ...

    def defer_replication_job(self, seq: int, attempts: int, next_attempt: float) -> None: ...
    def replication_backlog(self, now_epoch: float) -> tuple[int, int]:
        """(jobs due at `now_epoch`, jobs waiting for a retry after it): the metrics' backlog."""
        ...


class MpaTables(Protocol):
    """Multi-party approval: teams and members, associations, sessions and votes.

    Row access only, nothing cached (`paycrypt mpa`, another process, writes them too); call the
    writers inside the store's transaction, so a session and the key it protects change together."""

    def put_team(self, team: Team) -> None: ...
    def get_team(self, arn: str) -> Team | None: ...
    def list_teams(self) -> list[Team]: ...
    def set_members(self, arn: str, members: tuple[str, ...], approvals_required: int) -> None: ...
    def delete_team(self, arn: str) -> None: ...
    def teams_in_use(self, arn: str) -> bool:
        """Whether an association or a pending session names the team."""
        ...

    def get_association(self, account: str, region: str, action: str) -> Association | None: ...
    def put_association(self, association: Association) -> None: ...
    def delete_association(self, account: str, region: str, action: str) -> None: ...
    def put_session(self, session: Session) -> None: ...
    def get_session(self, arn: str) -> Session | None: ...
    def list_sessions(self, status: str | None = None) -> list[Session]: ...
    def put_vote(self, session_arn: str, member: str, vote: str, at: float) -> None: ...
    def votes(self, session_arn: str) -> dict[str, str]: ...


HEARTBEAT_KEPT = 3600.0  # seconds unseen before a process's heartbeat row is removed


class ClusterTables(Protocol):
    """What the server processes sharing this store know of each other: leases on the background
    jobs that must run once among them (jobs/leases.py), and a heartbeat per live process, whose
    count divides the request-rate quotas (jobs/heartbeat.py). A process is named by its node id
    and worker id (`holder`: `node/wN`): a node restarted under its name takes back its own lease
    at once, and two live processes must never share a name.

    Each call is one atomic step for every process on the store, committed on its own (never
    inside the store's transaction). Times are the store's clock: PostgreSQL's server, not a
    node's, so nodes whose clocks disagree still agree on when a lease ends; on SQLite, the one
    machine's whose processes share the file."""

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds` from now: done when no one holds it, its
        term has run out, or `holder` already holds it; whether it was."""
        ...

    def release_lease(self, name: str, holder: str) -> None:
        """End the lease now if `holder` holds it (a clean shutdown: another takes it at once)."""
        ...

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease now, or None when its term has run out."""
        ...

    def beat(self, node_id: str, worker_id: int, within: float, holds: tuple[Holding, ...] = ()) -> int:
        """Record that this process is alive now, and live for `within` seconds more, its vault
        holding the master keys `holds` (version and check value, never a key); how many processes
        (node and worker) were seen within the last `within` seconds, this one included. Rows
        unseen for HEARTBEAT_KEPT seconds are removed."""
        ...

    def live_processes(self) -> list[LiveProcess]:
        """Every process whose last beat has not yet expired, with the master keys it held then,
        by node and worker."""
        ...

    def leave(self, node_id: str, worker_id: int) -> None:
        """Remove this process's heartbeat (a clean shutdown: the others' shares grow at once)."""
        ...

    def sign_in_failures(self, names: tuple[str, ...], window: float) -> dict[str, int]:
        """How many failed console sign-ins each name had in the last `window` seconds."""
        ...

    def add_sign_in_failure(self, names: tuple[str, ...], window: float) -> None:
        """Count one failed sign-in against each name now; failures older than `window` go."""
        ...


#: The tables whose rows hold sealed key blocks, each with a `seq` that orders it.
SEALED_TABLES = ("keys", "exchange_keys")


class SealedBlocks(Protocol):
    """Every sealed key block, for master-key rotation: read in order, re-sealed by a compare-and-set
    on the block; and the feed of key changes that running servers follow to drop what they cached
    of a key (this store's record cache, and the key cache above it): a re-sealed block, and any
    change of a key's record (its state, its deletion: `update_key`, `delete_key`) adds the key's
    ARN to it (docs/decisions/coherence.md)."""

    def sealed_blocks(self, table: str, after: int, limit: int) -> list[tuple[int, KeyRecord]]:
        """Up to `limit` rows of `table` (one of SEALED_TABLES) after position `after`, in order."""
        ...

    def count_sealed_blocks(self) -> int: ...
    def get_sealed(self, table: str, arn: str) -> KeyRecord | None:
        """The row as stored now (no cache): what a failed compare-and-set re-reads."""
        ...

    def reseal_block(self, table: str, arn: str, old_block: str, new_block: str) -> bool:
        """Replace the block if it is still `old_block`, and add the change to the feed; whether it was."""
        ...

    def block_changes_head(self) -> int:
        """The feed's position now: a server that starts here has nothing cached to drop."""
        ...

    def follow_block_changes(self, after: int) -> tuple[int, list[str] | None]:
        """The ARNs whose block changed after position `after`, dropped from this store's record
        cache, and the new position; None for the ARNs when the feed no longer reaches back to
        `after` (pruned): the caller then drops everything it cached."""
        ...

    def prune_block_changes(self, before_epoch: float) -> int:
        """Remove changes older than `before_epoch`; how many."""
        ...


class MasterKeyRecords(Protocol):
    """The master keys the store's blocks are sealed under, as (version, check value): never a key.
    Every node sharing the store must hold them (vault/agreement.py checks at start). A version is
    recorded pending (not admitted) by a rotation until every live node holds it, and only then
    admitted: no server seals under a pending version (jobs/holdings.py)."""

    def master_keys(self) -> dict[int, str]:
        """Check value by version, as recorded, pending ones included."""
        ...

    def master_key_records(self) -> list[MasterKeyRecord]:
        """Every recorded version, oldest first."""
        ...

    def sealing_version(self) -> int | None:
        """The newest admitted version: the one servers seal under; None when none is recorded."""
        ...

    def record_master_keys(self, versions: dict[int, str], vault: str = "", admitted: bool = True) -> None:
        """Record each version not yet recorded, held by a vault of kind `vault`; a recorded version
        keeps its check value and state (so that of two nodes starting together on an empty store,
        the second one compares, not overwrites)."""
        ...

    def admit_master_key(self, version: int) -> None:
        """Servers may seal under `version` from now on."""
        ...

    def replace_master_keys(self, versions: dict[int, str], vault: str = "") -> None:
        """The records become exactly `versions`, admitted: after a vault migration, when every
        block is sealed under the new vault, whose versions are numbered on their own."""
        ...

    def migration_target(self) -> tuple[str, bool] | None:
        """The check value of the master key a vault migration moves blocks to, and whether it is
        admitted (servers following it seal under it); None if there has been none."""
        ...

    def record_migration_target(self, key_id: str, admitted: bool) -> None:
        """A vault migration to the master key `key_id`: pending while the command waits for every
        live server to hold it, then admitted. Replaces an earlier migration's."""
        ...


class Store(
    Transactions,
    KeyTable,
    SealedBlocks,
    MasterKeyRecords,
    AliasTable,
    ExchangeKeyTable,
    TagTable,
    ResourcePolicyTable,
    ReplicationTable,
    Protocol,
):
    """Everything the service keeps, behind one transaction."""

    mpa: MpaTables  # on the same database and transaction as the rest
    cluster: ClusterTables  # on the same database, each call a transaction of its own

    def schema_version(self) -> int:
        """The schema version the database is at, read from it now: the readiness probe's question
        (is the store reachable, and is its schema still the one this code opened?)."""
        ...

    def close(self) -> None: ...


#: Every protocol a backend implements: `Store`'s parts, `MpaTables` (its `mpa` attribute),
#: `ClusterTables` (its `cluster` attribute) and `Store` itself.
PROTOCOLS: tuple[type, ...] = (
    *(part for part in Store.__bases__ if part is not Protocol),
    MpaTables,
    ClusterTables,
    Store,
)


@runtime_checkable
class Snapshots(Protocol):
    """Backup and restore (`paycrypt backup`, `paycrypt restore`): a copy of everything the store
    keeps, as of one instant, taken while the store keeps serving; and the same state loaded into
    an empty store.

    A capability, not part of `Store`: a backend offers it when it can (SQLite by its online
    backup API; PostgreSQL by a logical export in one REPEATABLE READ transaction), and the
    commands refuse a store that does not. The files are the backend's own (`Snapshot.backend`
    names it): a snapshot restores onto the backend that took it. Key material in a snapshot is
    only ever the vault-sealed key blocks the store holds.
    """

    def write_snapshot(self, directory: Path) -> Snapshot:
        """Write the copy as new files in `directory` (an empty directory of the caller's)."""
        ...

    def snapshot_blocks(self, directory: Path, snapshot: Snapshot) -> Iterator[KeyRecord]:
        """Every sealed record in the snapshot in `directory` (keys, then exchange keys), read
        from its files without loading them: so a restore can check each block first."""
        ...

    def restore_snapshot(self, directory: Path, snapshot: Snapshot) -> None:
        """Load the snapshot in `directory` into this store, all of it or nothing; StoreNotEmpty
        if this store holds anything, ValueError if the snapshot is another backend's or schema
        version's."""
        ...


class StoreUnavailable(Exception):
    """The database cannot be reached now (down, unreachable, or no connection within the store's
    time bound). Any store method may raise it; the request path answers ServiceUnavailableException
    and the caller retries. The message names the cause, never a password."""


class StoreNotEmpty(Exception):
    """A restore onto a store that already holds state; the message says what it holds."""


class Listening(Protocol):
    def stop(self) -> None: ...


@runtime_checkable
class ChangeNotifications(Protocol):
    """A store that announces additions to its feed of key changes as they commit (PostgreSQL's
    LISTEN/NOTIFY), so a follower need not wait for its next poll. A capability: a store without it
    (SQLite) is polled, and checks its own record cache on every read."""

    def listen_changes(self, on_change: Callable[[], None], on_lost: Callable[[], None]) -> Listening:
        """Call `on_change` (from another thread) whenever changes may have been added, and once
        when listening (re)starts; `on_lost` when the listening connection is lost (it is then
        re-opened until `stop`)."""
        ...


#: Protocols a backend may implement besides `PROTOCOLS`; commands check for them by isinstance.
CAPABILITIES: tuple[type, ...] = (Snapshots, ChangeNotifications)

"""The records the store keeps, whatever the backend. Key material is only ever the vault-sealed
key block."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

UTC = dt.UTC


@dataclass
class KeyRecord:
    arn: str
    account: str
    region: str
    key_id: str
    key_attributes: dict[str, Any]
    key_check_value: str
    key_check_value_algorithm: str
    enabled: bool
    exportable: bool
    key_state: str
    key_origin: str
    create_timestamp: dt.datetime
    key_block: str
    usage_start_timestamp: dt.datetime | None = None
    usage_stop_timestamp: dt.datetime | None = None
    delete_pending_timestamp: dt.datetime | None = None
    derive_key_usage: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _TIMES = ("create_timestamp", "usage_start_timestamp", "usage_stop_timestamp", "delete_pending_timestamp")

    def to_json(self) -> dict[str, Any]:
        """Everything but the key block, with timestamps as epoch seconds, in field order.

        Written out field by field: `dataclasses.asdict` deep-copies every value, which was most of
        the store's CPU in a CreateKey. The dicts inside are the record's own, so the result is
        for serialising at once (store/rows.py), not for keeping."""
        return {
            "arn": self.arn,
            "account": self.account,
            "region": self.region,
            "key_id": self.key_id,
            "key_attributes": self.key_attributes,
            "key_check_value": self.key_check_value,
            "key_check_value_algorithm": self.key_check_value_algorithm,
            "enabled": self.enabled,
            "exportable": self.exportable,
            "key_state": self.key_state,
            "key_origin": self.key_origin,
            "create_timestamp": _epoch(self.create_timestamp),
            "usage_start_timestamp": _epoch(self.usage_start_timestamp),
            "usage_stop_timestamp": _epoch(self.usage_stop_timestamp),
            "delete_pending_timestamp": _epoch(self.delete_pending_timestamp),
            "derive_key_usage": self.derive_key_usage,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], key_block: str) -> KeyRecord:
        data = dict(data)
        for name in cls._TIMES:
            value = data.get(name)
            data[name] = dt.datetime.fromtimestamp(value, UTC) if value is not None else None
        return cls(key_block=key_block, **data)


def _epoch(moment: dt.datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


@dataclass(frozen=True)
class AliasRecord:
    account: str
    region: str
    alias_name: str
    key_arn: str | None


@dataclass(frozen=True)
class ReplicationJob:
    """A pending replication of a primary key to one region (jobs/replicator.py).

    At most one job per (primary key, region): a newer change replaces the older job (new seq),
    since each job brings the region's replica to the primary's state as it is when the job runs.
    `action` is what was asked ('copy', 'sync' or 'delete'); `next_attempt` is epoch seconds on
    the replicator's clock (0 for at once).
    """

    seq: int
    primary_arn: str
    region: str
    action: str
    attempts: int
    next_attempt: float


# Multi-party approval: a team of approvers, an operation's association with a team, and a
# session (one request awaiting the team's votes). The rules are service/approval/mpa.py's.
@dataclass(frozen=True)
class Team:
    arn: str
    account: str
    region: str
    name: str
    approvals_required: int
    created: float
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Association:
    account: str
    region: str
    action: str
    team_arn: str  # the team in force
    state: str  # ACTIVE | UPDATE_PENDING | DELETE_PENDING
    pending_team_arn: str | None = None  # UPDATE_PENDING: the team asked for
    session_arn: str | None = None  # the last session about this association


@dataclass(frozen=True)
class Session:
    arn: str
    team_arn: str
    account: str
    region: str
    action: str
    kind: str  # import | associate | disassociate
    subject: str  # the key ARN (import) or the team ARN asked for (associate)
    status: str  # PENDING | APPROVED | FAILED | CANCELLED
    initiated: float
    finished: float | None = None
    message: str | None = None
    requester: str = ""
    comment: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a store, taken while it served (`store.base.Snapshots`).

    `files` are the names, in the snapshot's directory, of what the backend wrote; `counts` the
    rows of each kind of state in the copy (keys, aliases, tags, resource_policies, …), by the
    backend's names for them, so a restore can show and check what it brings back.
    """

    backend: str
    schema_version: int
    files: tuple[str, ...]
    counts: dict[str, int]


@dataclass(frozen=True, order=True)
class Holding:
    """A master key a process's vault holds: its version and check value (never the key)."""

    version: int
    key_id: str


def encode_holdings(holds: tuple[Holding, ...]) -> str:
    """How a heartbeat row keeps them: "version:check-value" pairs separated by spaces."""
    return " ".join(f"{held.version}:{held.key_id}" for held in sorted(holds))


def decode_holdings(text: str) -> tuple[Holding, ...]:
    pairs = (item.split(":", 1) for item in text.split())
    return tuple(sorted(Holding(int(version), key_id) for version, key_id in pairs))


@dataclass(frozen=True)
class LiveProcess:
    """A server process whose heartbeat has not expired, and the master keys its vault held then."""

    node_id: str
    worker_id: int
    holds: tuple[Holding, ...]
    last_seen: float = 0.0  # its last beat, on the store's clock

    def holds_key(self, key_id: str) -> bool:
        return any(held.key_id == key_id for held in self.holds)


@dataclass(frozen=True)
class MasterKeyRecord:
    """A master key version the store records: its check value, the kind of vault that holds it
    ('' if recorded before the kind was), and whether servers may seal under it yet."""

    version: int
    key_id: str
    vault: str
    admitted: bool

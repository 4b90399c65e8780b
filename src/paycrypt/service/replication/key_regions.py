"""Multi-region key replication: region defaults, per-key regions, and read-only replicas.

A primary region key (PRK) is authoritative; each replica region key (RRK) is a complete copy in
another region of the same account, with the same key identifier and an ARN in its own region.
This module holds the API operations and the rules; the copying itself is asynchronous, done by
the replicator (jobs/replicator.py) from durable jobs in the store, so a restart resumes it.

Rules (seed-A §7.4 and the decisions in docs/decisions/replication.md):

- Every ReplicationRegions list is checked the same way: each region must be one this deployment
  serves (`Service.regions`), none may appear twice, and the key's own region (the region of the
  request) is refused. CreateKey and ImportKey accept an empty list, meaning "replicate nowhere",
  which overrides the region defaults; the other operations need at least one region.
- Only symmetric keys replicate. An explicit ReplicationRegions for any other key class is
  ValidationException; with only region defaults such a key is created unreplicated and reports
  UsingDefaultReplicationRegions false.
- Key-level settings take precedence: explicit ReplicationRegions at creation ignore the region
  defaults, and after AddKeyReplicationRegions or RemoveKeyReplicationRegions a key no longer
  reports UsingDefaultReplicationRegions.
- RRKs are read-only: every mutation of one is ConflictException naming its primary's region.
- Every change of a PRK (start/stop usage, deletion, restore, tags) queues a sync job for each of
  its regions in the same store transaction as the change, and the region shows IN_PROGRESS until
  the replicator has applied it.

Functions that queue jobs must be called inside the store transaction that makes the change, so
the change and its jobs commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paycrypt.errors import Conflict, ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.keys import views
from paycrypt.service.replication import state
from paycrypt.store.records import KeyRecord

SYMMETRIC_KEY = "SYMMETRIC_KEY"
DELETE_PENDING = "DELETE_PENDING"
MEMBER = "ReplicationRegions"

COPY = "copy"
SYNC = "sync"
DELETE = "delete"


# --- new keys (CreateKey, ImportKey) -------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Where a new key replicates, and whether that came from the region defaults."""

    regions: tuple[str, ...]
    using_default: bool


def plan_for_new_key(svc: Service, ctx: Context, requested: list[str] | None, key_class: str) -> Plan | None:
    """Check a new key's ReplicationRegions (None when absent) against the rules; nothing is stored.

    None means the key has no replication settings at all (no request, no region defaults).
    """
    if requested is not None:
        if requested and key_class != SYMMETRIC_KEY:
            raise ValidationError(
                f"{MEMBER}: only symmetric keys can be replicated; this key's KeyClass is {key_class}."
            )
        check_regions(svc, ctx, requested, allow_empty=True)
        return Plan(tuple(requested), using_default=False)
    defaults = [
        region
        for region in svc.store.get_replication_defaults(ctx.account, ctx.region)
        if region in svc.regions and region != ctx.region
    ]
    if not defaults:
        return None
    if key_class != SYMMETRIC_KEY:
        return Plan((), using_default=False)
    return Plan(tuple(defaults), using_default=True)


def start_for_new_key(svc: Service, record: KeyRecord, plan: Plan | None) -> KeyRecord:
    """Record the plan on a just-stored key and queue its copies; the key as it now is.

    Call inside the store transaction that inserted the key.
    """
    if plan is None:
        return record
    statuses = {region: state.status(state.IN_PROGRESS) for region in plan.regions}
    record = state.with_primary(record, statuses, plan.using_default)
    svc.store.update_key(record)
    for region in plan.regions:
        svc.store.put_replication_job(record.arn, region, COPY)
    return record


# --- rules shared with keys.py and tags.py -------------------------------------------------------


def check_writable(record: KeyRecord, operation: str) -> None:
    """RRKs are read-only: every change goes to the PRK, which the replicator copies."""
    if state.is_replica(record):
        region = state.primary_region(record)
        raise Conflict(
            f"{operation} is not allowed on {record.arn}: it is a replica of the primary key in region "
            f"{region}, and replica keys are read-only. Make the change on the primary key in {region}."
        )


def propagate(svc: Service, record: KeyRecord) -> KeyRecord:
    """Queue a sync of a changed PRK to each of its regions; the PRK with those regions IN_PROGRESS.

    Call inside the store transaction that stored the change. A key that is not a PRK is returned
    unchanged.
    """
    targets = [
        region
        for region, current in state.regions(record).items()
        if current["Status"] != state.DELETE_IN_PROGRESS
    ]
    if not targets:
        return record
    for region in targets:
        record = mark(svc, record, region, state.status(state.IN_PROGRESS))
        svc.store.put_replication_job(record.arn, region, SYNC)
    svc.store.update_key(record)
    return record


def purgeable(svc: Service, record: KeyRecord) -> bool:
    """The sweeper purges an RRK only once its PRK is gone; the PRK's purge queues its deletion."""
    return not state.is_replica(record) or svc.store.get_key(state.primary_arn(record)) is None


def on_purged(svc: Service, record: KeyRecord) -> None:
    """A PRK was purged: queue the deletion of its RRKs (inside the purge's transaction)."""
    for region in state.regions(record):
        svc.store.put_replication_job(record.arn, region, DELETE)


def replica_arn(primary_arn: str, region: str) -> str:
    """The ARN of a PRK's replica in `region`: the same account and key identifier."""
    parts = primary_arn.split(":", 5)
    return ":".join((*parts[:3], region, *parts[4:]))


def mark(svc: Service, primary: KeyRecord, region: str, new: dict[str, str]) -> KeyRecord:
    """The PRK with one region's status set; the RRK there, if any, mirrors it at once.

    The PRK is returned, not stored: the caller stores it once it has made all its changes.
    """
    primary = state.with_status(primary, region, new)
    replica = svc.store.get_key(replica_arn(primary.arn, region))
    if replica is not None and state.is_replica(replica) and state.primary_arn(replica) == primary.arn:
        svc.store.update_key(state.with_status(replica, region, new))
    return primary


def check_regions(svc: Service, ctx: Context, requested: list[str], *, allow_empty: bool = False) -> None:
    """Not empty (unless allowed), no region twice, each served here, none the request's own."""
    if not requested and not allow_empty:
        raise ValidationError(f"{MEMBER} must name at least one region.")
    seen: set[str] = set()
    for region in requested:
        if region in seen:
            raise ValidationError(f"{MEMBER} names {region} more than once.")
        seen.add(region)
    for region in requested:
        if region not in svc.regions:
            raise ValidationError(f"{MEMBER}: {region} is not a region this paycrypt deployment serves.")
        if region == ctx.region:
            raise ValidationError(
                f"{MEMBER} cannot include {region}, the region of this request: a key is replicated to "
                "regions other than its own."
            )


# --- AddKeyReplicationRegions, RemoveKeyReplicationRegions ----------------------------------------


def add_key_replication_regions(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    requested = params[MEMBER]
    check_regions(svc, ctx, requested)
    with svc.store.transaction():
        record = _primary_for_change(svc, ctx, params["KeyIdentifier"], "AddKeyReplicationRegions")
        key_class = record.key_attributes["KeyClass"]
        if key_class != SYMMETRIC_KEY:
            raise ValidationError(
                f"{MEMBER}: only symmetric keys can be replicated; this key's KeyClass is {key_class}."
            )
        statuses = state.regions(record)
        for region in requested:
            if statuses.get(region, {}).get("Status") == state.DELETE_IN_PROGRESS:
                raise Conflict(
                    f"Region {region} is being removed from key {record.arn}; add it again once it has "
                    "left ReplicationStatus."
                )
        # A region already replicating is left as it is; a FAILED one is retried at once.
        new = [
            region
            for region in requested
            if region not in statuses or statuses[region]["Status"] == state.FAILED
        ]
        record = state.with_primary(record, statuses, using_default=False)
        for region in new:
            record = mark(svc, record, region, state.status(state.IN_PROGRESS))
            svc.store.put_replication_job(record.arn, region, COPY)
        svc.store.update_key(record)
    return {"Key": views.key(record)}


def remove_key_replication_regions(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    requested = params[MEMBER]
    check_regions(svc, ctx, requested)
    with svc.store.transaction():
        record = _primary_for_change(svc, ctx, params["KeyIdentifier"], "RemoveKeyReplicationRegions")
        statuses = state.regions(record)
        for region in requested:
            if region not in statuses:
                raise ValidationError(f"{MEMBER}: {region} is not a replication region of key {record.arn}.")
        record = state.with_primary(record, statuses, using_default=False)
        for region in requested:
            if statuses[region]["Status"] != state.DELETE_IN_PROGRESS:
                record = mark(svc, record, region, state.status(state.DELETE_IN_PROGRESS))
                svc.store.put_replication_job(record.arn, region, DELETE)
        svc.store.update_key(record)
    return {"Key": views.key(record)}


def _primary_for_change(svc: Service, ctx: Context, identifier: str, operation: str) -> KeyRecord:
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    check_writable(record, operation)
    if record.key_state == DELETE_PENDING:
        raise Conflict(
            f"{operation} is not allowed: key {record.arn} is pending deletion (KeyState DELETE_PENDING)."
        )
    return record


# --- region defaults --------------------------------------------------------------------------------


def enable_default_key_replication_regions(
    svc: Service, ctx: Context, params: dict[str, Any]
) -> dict[str, Any]:
    requested = params[MEMBER]
    check_regions(svc, ctx, requested)
    with svc.store.transaction():
        current = svc.store.get_replication_defaults(ctx.account, ctx.region)
        enabled = current + [region for region in requested if region not in current]
        svc.store.put_replication_defaults(ctx.account, ctx.region, enabled)
    return {"EnabledReplicationRegions": enabled}


def disable_default_key_replication_regions(
    svc: Service, ctx: Context, params: dict[str, Any]
) -> dict[str, Any]:
    """Regions that are not enabled are ignored: the result is the same set either way."""
    requested = params[MEMBER]
    check_regions(svc, ctx, requested)
    with svc.store.transaction():
        current = svc.store.get_replication_defaults(ctx.account, ctx.region)
        enabled = [region for region in current if region not in requested]
        svc.store.put_replication_defaults(ctx.account, ctx.region, enabled)
    return {"EnabledReplicationRegions": enabled}


def get_default_key_replication_regions(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"EnabledReplicationRegions": svc.store.get_replication_defaults(ctx.account, ctx.region)}

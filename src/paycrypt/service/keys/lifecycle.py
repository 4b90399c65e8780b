"""Key lifecycle: CreateKey, GetKey, ListKeys, DeleteKey, RestoreKey, Start/StopKeyUsage, purge.

States: CREATE_COMPLETE (enabled or not) ⇄ DELETE_PENDING → purged. While DELETE_PENDING a key
can be read and restored and nothing else; state conflicts are ConflictException.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from paycrypt.crypto import keygen
from paycrypt.errors import Conflict, ServiceQuotaExceeded
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.keys import pagination, tags, views
from paycrypt.service.replication import key_regions
from paycrypt.service.rules import check_values, combinations
from paycrypt.store.records import KeyRecord

CREATE_COMPLETE = "CREATE_COMPLETE"
DELETE_PENDING = "DELETE_PENDING"
DEFAULT_DELETE_DAYS = 7


def create_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    attributes = params["KeyAttributes"]
    combinations.check_create(attributes, params.get("DeriveKeyUsage"))
    tags.validated(params.get("Tags") or [], svc.quotas.tags_per_key)
    plan = key_regions.plan_for_new_key(svc, ctx, params.get("ReplicationRegions"), attributes["KeyClass"])
    _check_key_quota(svc, ctx)
    # Generated before the transaction: an RSA key takes up to seconds, and the store is locked
    # for the whole of a transaction (store_key checks the quota again inside it).
    material = keygen.generate(attributes["KeyAlgorithm"])
    with svc.store.transaction():
        record = store_key(
            svc,
            ctx,
            NewKey(
                attributes=attributes,
                material=material,
                exportable=params["Exportable"],
                enabled=params.get("Enabled", True),
                origin="AWS_PAYMENT_CRYPTOGRAPHY",
                kcv_algorithm=params.get("KeyCheckValueAlgorithm"),
                derive_key_usage=params.get("DeriveKeyUsage"),
                tags=params.get("Tags") or [],
            ),
        )
        record = key_regions.start_for_new_key(svc, record, plan)
    return {"Key": views.key(record)}


@dataclasses.dataclass(frozen=True)
class NewKey:
    """A key about to be stored, whether generated here (CreateKey) or brought in (ImportKey)."""

    attributes: dict[str, Any]
    material: bytes = dataclasses.field(repr=False)
    exportable: bool
    enabled: bool
    origin: str
    kcv_algorithm: str | None = None
    derive_key_usage: str | None = None
    tags: list[dict[str, str]] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    key_id: str | None = None  # a new identifier unless given (a replica keeps its primary's)


def store_key(svc: Service, ctx: Context, new: NewKey) -> KeyRecord:
    """Seal and store a key with its KCV, tags and timestamps, within the account's key quota.

    The one path by which key material enters the store: CreateKey and ImportKey both use it.
    Attribute rules are the caller's to check first.
    """
    new_tags = tags.validated(new.tags, svc.quotas.tags_per_key)
    kcv, kcv_algorithm = check_values.compute(new.attributes["KeyAlgorithm"], new.kcv_algorithm, new.material)
    key_id = new.key_id or identifiers.new_key_id()
    record = KeyRecord(
        arn=identifiers.key_arn(ctx, key_id),
        account=ctx.account,
        region=ctx.region,
        key_id=key_id,
        key_attributes={
            **new.attributes,
            "KeyModesOfUse": combinations.normalized_modes(new.attributes["KeyModesOfUse"]),
        },
        key_check_value=kcv,
        key_check_value_algorithm=kcv_algorithm,
        enabled=new.enabled,
        exportable=new.exportable,
        key_state=CREATE_COMPLETE,
        key_origin=new.origin,
        create_timestamp=ctx.now,
        usage_start_timestamp=ctx.now if new.enabled else None,
        usage_stop_timestamp=None if new.enabled else ctx.now,
        derive_key_usage=new.derive_key_usage,
        key_block="",
        extra=dict(new.extra),
    )
    record.key_block = svc.vault.seal(record, new.material)
    with svc.store.transaction():
        _check_key_quota(svc, ctx)
        svc.store.insert_key(record)
        if new_tags:
            svc.store.put_tags(record.arn, new_tags)
    return record


def get_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Key": views.key(identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"]))}


def list_keys(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    after = pagination.decode("ListKeys", params.get("NextToken"), 0)
    limit = pagination.limit(params)
    rows = svc.store.list_keys(ctx.account, ctx.region, params.get("KeyState"), after, limit + 1)
    result: dict[str, Any] = {"Keys": [views.summary(record) for _, record in rows[:limit]]}
    if len(rows) > limit:
        result["NextToken"] = pagination.encode("ListKeys", rows[limit - 1][0])
    return result


def delete_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    # Each state change reads the key in the transaction that writes it: the row is locked from the
    # read (store.base.KeyTable.get_key), so changes made at once on two nodes do not undo each other.
    with svc.store.transaction():
        record = _not_pending(svc, ctx, params["KeyIdentifier"], "DeleteKey")
        days = params.get("DeleteKeyInDays", DEFAULT_DELETE_DAYS)
        record = dataclasses.replace(
            record,
            key_state=DELETE_PENDING,
            delete_pending_timestamp=ctx.now + dt.timedelta(days=days),
            enabled=False,
            usage_start_timestamp=None,
            usage_stop_timestamp=record.usage_stop_timestamp if not record.enabled else ctx.now,
        )
        record = _save(svc, record)
    return {"Key": views.key(record)}


def restore_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
        key_regions.check_writable(record, "RestoreKey")
        if record.key_state != DELETE_PENDING:
            raise Conflict(f"Key {record.arn} is not pending deletion (KeyState {record.key_state}).")
        state = CREATE_COMPLETE
        if record.extra.get("MpaStatus", {}).get("Status", "APPROVED") != "APPROVED":
            state = "CREATE_IN_PROGRESS"  # never approved (multi-party approval, service/approval/mpa.py)
        record = dataclasses.replace(record, key_state=state, delete_pending_timestamp=None)
        record = _save(svc, record)
    return {"Key": views.key(record)}


def start_key_usage(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        record = _not_pending(svc, ctx, params["KeyIdentifier"], "StartKeyUsage")
        if not record.enabled:
            record = dataclasses.replace(
                record, enabled=True, usage_start_timestamp=ctx.now, usage_stop_timestamp=None
            )
            record = _save(svc, record)
    return {"Key": views.key(record)}


def stop_key_usage(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        record = _not_pending(svc, ctx, params["KeyIdentifier"], "StopKeyUsage")
        if record.enabled:
            record = dataclasses.replace(
                record, enabled=False, usage_stop_timestamp=ctx.now, usage_start_timestamp=None
            )
            record = _save(svc, record)
    return {"Key": views.key(record)}


def purge_due(svc: Service, now: dt.datetime, proceed: Callable[[], bool] = lambda: True) -> list[str]:
    """Remove every key whose deletion window has passed; its aliases stay, unassigned.

    A replica goes with its primary: the primary's purge queues its deletion (replication).
    `proceed` is asked before each key (the sweeper's lease: jobs/leases.py). Each key is read
    again, locked, in the transaction that deletes it: one restored meanwhile (RestoreKey on
    another node) stays, and one another process purged first is not purged twice.
    """
    purged = []
    for due in svc.store.keys_due_for_purge(now.timestamp()):
        if not proceed():
            break
        with svc.store.transaction():
            record = svc.store.get_key(due.arn)
            if record is None or not _due(record, now) or not key_regions.purgeable(svc, record):
                continue
            svc.store.delete_key(record.arn)
            svc.store.unassign_aliases(record.arn)
            key_regions.on_purged(svc, record)
        svc.keycache.forget(record.arn)
        purged.append(record.arn)
    return purged


def _due(record: KeyRecord, now: dt.datetime) -> bool:
    pending = record.delete_pending_timestamp
    return pending is not None and pending <= now


def _not_pending(svc: Service, ctx: Context, identifier: str, operation: str) -> KeyRecord:
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    key_regions.check_writable(record, operation)
    if record.key_state == DELETE_PENDING:
        raise Conflict(
            f"{operation} is not allowed: key {record.arn} is pending deletion (KeyState DELETE_PENDING)."
        )
    return record


def _save(svc: Service, record: KeyRecord) -> KeyRecord:
    """Store a changed key and, for a primary, queue its sync to every replica, atomically.

    Its clear material leaves the key cache: a key deleted or stopped keeps none in memory, and
    one started or restored is unsealed again on its next use.
    """
    with svc.store.transaction():
        svc.store.update_key(record)
        saved = key_regions.propagate(svc, record)
    svc.keycache.forget(record.arn)
    return saved


def _check_key_quota(svc: Service, ctx: Context) -> None:
    if svc.store.count_keys(ctx.account, ctx.region) >= svc.quotas.keys_per_region:
        raise ServiceQuotaExceeded(
            f"The number of keys in account {ctx.account} and region {ctx.region} would exceed the "
            f"quota of {svc.quotas.keys_per_region}."
        )

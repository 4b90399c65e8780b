"""Key lifecycle: CreateKey, GetKey, ListKeys, DeleteKey, RestoreKey, Start/StopKeyUsage, purge.

States: CREATE_COMPLETE (enabled or not) ⇄ DELETE_PENDING → purged. While DELETE_PENDING a key
can be read and restored and nothing else; state conflicts are ConflictException.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from paycrypt.crypto import keygen
from paycrypt.errors import Conflict, NotImplementedOperation, ServiceQuotaExceeded
from paycrypt.service import identifiers, kcv_rules, key_rules, pagination, tags, views
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.store.records import KeyRecord

CREATE_COMPLETE = "CREATE_COMPLETE"
DELETE_PENDING = "DELETE_PENDING"
DEFAULT_DELETE_DAYS = 7


def create_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    attributes = params["KeyAttributes"]
    derive_key_usage = params.get("DeriveKeyUsage")
    if params.get("ReplicationRegions"):
        raise NotImplementedOperation("CreateKey with ReplicationRegions is not available in this release.")
    key_rules.check_create(attributes, derive_key_usage)
    new_tags = tags.validated(params.get("Tags") or [], svc.quotas.tags_per_key)
    algorithm = attributes["KeyAlgorithm"]
    requested_kcv = kcv_rules.check(algorithm, params.get("KeyCheckValueAlgorithm"))
    _check_key_quota(svc, ctx)
    material = keygen.generate(algorithm)
    kcv, kcv_algorithm = kcv_rules.compute(algorithm, requested_kcv, material)
    enabled = params.get("Enabled", True)
    key_id = identifiers.new_key_id()
    record = KeyRecord(
        arn=identifiers.key_arn(ctx, key_id),
        account=ctx.account,
        region=ctx.region,
        key_id=key_id,
        key_attributes={
            **attributes,
            "KeyModesOfUse": key_rules.normalized_modes(attributes["KeyModesOfUse"]),
        },
        key_check_value=kcv,
        key_check_value_algorithm=kcv_algorithm,
        enabled=enabled,
        exportable=params["Exportable"],
        key_state=CREATE_COMPLETE,
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=ctx.now,
        usage_start_timestamp=ctx.now if enabled else None,
        usage_stop_timestamp=None if enabled else ctx.now,
        derive_key_usage=derive_key_usage,
        key_block="",
    )
    record.key_block = svc.sealer.seal(record, material)
    with svc.store.transaction():
        _check_key_quota(svc, ctx)
        svc.store.insert_key(record)
        if new_tags:
            svc.store.put_tags(record.arn, new_tags)
    return {"Key": views.key(record)}


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
    svc.store.update_key(record)
    return {"Key": views.key(record)}


def restore_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    if record.key_state != DELETE_PENDING:
        raise Conflict(f"Key {record.arn} is not pending deletion (KeyState {record.key_state}).")
    record = dataclasses.replace(record, key_state=CREATE_COMPLETE, delete_pending_timestamp=None)
    svc.store.update_key(record)
    return {"Key": views.key(record)}


def start_key_usage(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = _not_pending(svc, ctx, params["KeyIdentifier"], "StartKeyUsage")
    if not record.enabled:
        record = dataclasses.replace(
            record, enabled=True, usage_start_timestamp=ctx.now, usage_stop_timestamp=None
        )
        svc.store.update_key(record)
    return {"Key": views.key(record)}


def stop_key_usage(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = _not_pending(svc, ctx, params["KeyIdentifier"], "StopKeyUsage")
    if record.enabled:
        record = dataclasses.replace(
            record, enabled=False, usage_stop_timestamp=ctx.now, usage_start_timestamp=None
        )
        svc.store.update_key(record)
    return {"Key": views.key(record)}


def purge_due(svc: Service, now: dt.datetime) -> list[str]:
    """Remove every key whose deletion window has passed; its aliases stay, unassigned."""
    purged = []
    for record in svc.store.keys_due_for_purge(now.timestamp()):
        with svc.store.transaction():
            svc.store.delete_key(record.arn)
            svc.store.unassign_aliases(record.arn)
        svc.sealer.forget(record.arn)
        purged.append(record.arn)
    return purged


def _not_pending(svc: Service, ctx: Context, identifier: str, operation: str) -> KeyRecord:
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    if record.key_state == DELETE_PENDING:
        raise Conflict(
            f"{operation} is not allowed: key {record.arn} is pending deletion (KeyState DELETE_PENDING)."
        )
    return record


def _check_key_quota(svc: Service, ctx: Context) -> None:
    if svc.store.count_keys(ctx.account, ctx.region) >= svc.quotas.keys_per_region:
        raise ServiceQuotaExceeded(
            f"The number of keys in account {ctx.account} and region {ctx.region} would exceed the "
            f"quota of {svc.quotas.keys_per_region}."
        )

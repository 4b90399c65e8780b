"""Aliases: friendly names that point at one key at a time, or at none.

An alias is its own resource: it may be created without a key, it outlives its key's purge
(unassigned, as the guide's alias chapter says), and it may be pointed away from a key that is
pending deletion but never at one.
"""

from __future__ import annotations

from typing import Any

from paycrypt.errors import Conflict, ResourceNotFound, ServiceQuotaExceeded
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.keys import pagination
from paycrypt.store.records import AliasRecord


def create_alias(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    with svc.store.transaction():
        key_arn = _target(svc, ctx, params.get("KeyArn"))
        # Counted first: in a transaction the count holds the account's counter row until commit,
        # so two creates of one name (on any node) are one after the other and the second conflicts.
        aliases = svc.store.count_aliases(ctx.account, ctx.region)
        if svc.store.get_alias(ctx.account, ctx.region, name) is not None:
            raise Conflict(f"Alias {name} already exists.")
        if aliases >= svc.quotas.aliases_per_region:
            raise ServiceQuotaExceeded(
                f"The number of aliases in region {ctx.region} would exceed the quota of "
                f"{svc.quotas.aliases_per_region}."
            )
        alias = AliasRecord(ctx.account, ctx.region, name, key_arn)
        svc.store.put_alias(alias)
    return {"Alias": _view(alias)}


def update_alias(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        alias = _existing(svc, ctx, params["AliasName"])
        alias = AliasRecord(
            ctx.account, ctx.region, alias.alias_name, _target(svc, ctx, params.get("KeyArn"))
        )
        svc.store.put_alias(alias)
    return {"Alias": _view(alias)}


def delete_alias(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        alias = _existing(svc, ctx, params["AliasName"])
        svc.store.delete_alias(ctx.account, ctx.region, alias.alias_name)
    return {}


def get_alias(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Alias": _view(_existing(svc, ctx, params["AliasName"]))}


def list_aliases(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    key_arn = params.get("KeyArn")
    if key_arn is not None:
        identifiers.resolve_resource_arn(svc.store, ctx, key_arn)
    after = pagination.decode("ListAliases", params.get("NextToken"), "")
    limit = pagination.limit(params)
    rows = svc.store.list_aliases(ctx.account, ctx.region, key_arn, after, limit + 1)
    result: dict[str, Any] = {"Aliases": [_view(alias) for alias in rows[:limit]]}
    if len(rows) > limit:
        result["NextToken"] = pagination.encode("ListAliases", rows[limit - 1].alias_name)
    return result


def _existing(svc: Service, ctx: Context, name: str) -> AliasRecord:
    alias = svc.store.get_alias(ctx.account, ctx.region, name)
    if alias is None:
        raise ResourceNotFound(f"Alias {name} was not found.", name)
    return alias


def _target(svc: Service, ctx: Context, key_arn: str | None) -> str | None:
    if key_arn is None:
        return None
    record = identifiers.resolve_resource_arn(svc.store, ctx, key_arn)
    if record.key_state == "DELETE_PENDING":
        raise Conflict(f"Key {record.arn} is pending deletion; an alias cannot be pointed at it.")
    return record.arn


def _view(alias: AliasRecord) -> dict[str, Any]:
    view = {"AliasName": alias.alias_name}
    if alias.key_arn is not None:
        view["KeyArn"] = alias.key_arn
    return view

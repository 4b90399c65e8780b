"""Tags on keys: TagResource, UntagResource, ListTagsForResource, and tags given to CreateKey.

Rules (guide and AWS tag restrictions): at most 50 tags a key (ServiceQuotaExceededException),
unique keys within a request, the `aws:` prefix reserved, an empty list refused (the guide:
"TagResource and UntagResource fail when no tags are specified"), no tagging while the key is
pending deletion (ConflictException). Untagging a key that is not there is not an error.
"""

from __future__ import annotations

from typing import Any

from paycrypt.errors import Conflict, ServiceQuotaExceeded, ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.keys import pagination
from paycrypt.service.replication import key_regions
from paycrypt.store.records import KeyRecord


def validated(new_tags: list[dict[str, str]], quota: int) -> list[dict[str, str]]:
    keys = [tag["Key"] for tag in new_tags]
    if len(set(keys)) != len(keys):
        raise ValidationError("Tags contains the same tag key more than once.")
    reserved = [key for key in keys if key.lower().startswith("aws:")]
    if reserved:
        raise ValidationError(f"Tag keys beginning with 'aws:' are reserved: {reserved[0]}.")
    if len(new_tags) > quota:
        raise ServiceQuotaExceeded(f"A key can have at most {quota} tags.")
    return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in new_tags]


def tag_resource(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if not params["Tags"]:
        raise ValidationError("Tags must contain at least one tag.")
    incoming = validated(params["Tags"], svc.quotas.tags_per_key)
    with svc.store.transaction():
        record = _taggable(svc, ctx, params["ResourceArn"], "TagResource")
        merged = {tag["Key"]: tag["Value"] for tag in svc.store.get_tags(record.arn)}
        merged.update((tag["Key"], tag["Value"]) for tag in incoming)
        if len(merged) > svc.quotas.tags_per_key:
            raise ServiceQuotaExceeded(f"A key can have at most {svc.quotas.tags_per_key} tags.")
        svc.store.put_tags(record.arn, [{"Key": k, "Value": v} for k, v in merged.items()])
        key_regions.propagate(svc, record)
    return {}


def untag_resource(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    if not params["TagKeys"]:
        raise ValidationError("TagKeys must contain at least one tag key.")
    removed = set(params["TagKeys"])
    with svc.store.transaction():
        record = _taggable(svc, ctx, params["ResourceArn"], "UntagResource")
        kept = [tag for tag in svc.store.get_tags(record.arn) if tag["Key"] not in removed]
        svc.store.put_tags(record.arn, kept)
        key_regions.propagate(svc, record)
    return {}


def list_tags_for_resource(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = identifiers.resolve_resource_arn(svc.store, ctx, params["ResourceArn"])
    start = pagination.decode("ListTagsForResource", params.get("NextToken"), 0)
    limit = pagination.limit(params)
    all_tags = svc.store.get_tags(record.arn)
    result: dict[str, Any] = {"Tags": all_tags[start : start + limit]}
    if start + limit < len(all_tags):
        result["NextToken"] = pagination.encode("ListTagsForResource", start + limit)
    return result


def _taggable(svc: Service, ctx: Context, arn: str, operation: str) -> KeyRecord:
    record = identifiers.resolve_resource_arn(svc.store, ctx, arn)
    key_regions.check_writable(record, operation)
    if record.key_state == "DELETE_PENDING":
        raise Conflict(f"Key {record.arn} is pending deletion; its tags cannot be changed.")
    return record

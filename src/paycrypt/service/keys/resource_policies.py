"""Resource-based (key) policies: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

A key has at most one policy, stored as the JSON text given (returned as given). The policy is
checked by `policy.evaluation.parse_policy(text, "resource")`: every statement needs Effect, a
Principal or NotPrincipal, Action or NotAction, Resource or NotResource, and known operators;
anything else is ValidationException naming the element. A policy that opens the key to
everyone (Principal "*" or NotPrincipal, not pinned by an aws:PrincipalAccount, aws:PrincipalArn,
aws:SourceVpce, … condition) is PublicPolicyException (`policy.evaluation.is_public`). The three
operations work on the caller's own keys only (the model: "can't be used across different
accounts"); a key pending deletion cannot get a new policy (ConflictException), as for tags.
The authorizer evaluates the policy on every request that names the key (`auth.authorize`),
except these three operations, which identity policies alone decide, so that no policy can lock
its account out of the key (`authorize.IDENTITY_ONLY`).
Replica keys are read-only, their policy included: Put/DeleteResourcePolicy on a replica is
ConflictException naming the primary's region, and a primary's policy is not replicated.
"""

from __future__ import annotations

from typing import Any

from paycrypt.errors import Conflict, ResourceNotFound, ServiceError, ValidationError
from paycrypt.policy.evaluation import PolicyError, is_public, parse_policy
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.replication import key_regions


class PublicPolicy(ServiceError):
    code = "PublicPolicyException"


def put_resource_policy(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    text = params["Policy"]
    try:
        policy = parse_policy(text, "resource")
    except PolicyError as exc:
        raise ValidationError(f"Policy is not a valid resource-based policy: {exc}.") from None
    if is_public(policy):
        raise PublicPolicy(
            'The policy would make the key public: a statement allows Principal "*" without a condition '
            "that limits it to known accounts or principals."
        )
    with svc.store.transaction():
        record = identifiers.resolve_resource_arn(svc.store, ctx, params["ResourceArn"])
        if record.key_state == "DELETE_PENDING":
            raise Conflict(f"Key {record.arn} is pending deletion; its policy cannot be changed.")
        key_regions.check_writable(record, "PutResourcePolicy")
        svc.store.put_resource_policy(record.arn, record.account, record.region, text)
    return {"ResourceArn": record.arn, "Policy": text}


def get_resource_policy(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = identifiers.resolve_resource_arn(svc.store, ctx, params["ResourceArn"])
    text = svc.store.get_resource_policy(record.arn)
    if text is None:
        raise ResourceNotFound(f"Key {record.arn} has no resource policy.", record.arn)
    return {"ResourceArn": record.arn, "Policy": text}


def delete_resource_policy(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    with svc.store.transaction():
        record = identifiers.resolve_resource_arn(svc.store, ctx, params["ResourceArn"])
        key_regions.check_writable(record, "DeleteResourcePolicy")
        if not svc.store.delete_resource_policy(record.arn):
            raise ResourceNotFound(f"Key {record.arn} has no resource policy.", record.arn)
    return {}

"""Authorization in the request path: who may do this, to which keys, and how often.

`Authorizer.check` runs after SigV4 and the model's validation, before the service function:

1. `policy.describe` lists what the request names (keys, aliases, approval teams, tags, service
   condition keys); each target is resolved against the store into a `ResourceRef` carrying
   the key's current tags, alias names and resource policy.
2. The request-rate quota (`throttle`) is charged: control plane, or data plane symmetric /
   asymmetric by the keys it names.
3. `policy.evaluate` decides with the caller's identity policies and the keys' resource
   policies; a denial is AccessDeniedException with AWS's message (403 on the data plane, 400
   on the control plane, from the models).

Decisions (README "Identity and access"):

- A key that does not exist in the caller's account is evaluated on the ARN (or alias ARN) as
  given, without tags, and the service then answers ResourceNotFoundException: as AWS,
  authorization comes first and is decided on the ARN.
- A key ARN of **another account** is visible only when the operation supports cross-account
  use (every data-plane operation and the control-plane operations the model documents as
  such: `CROSS_ACCOUNT_CONTROL`), the key is in the request's region and its resource policy has
  an Allow statement (for any action) whose Principal names the caller (its ARN, its account, or
  "*") and whose conditions hold for the request. Then it is
  evaluated like any key, both sides counting (identity policy and resource policy must both
  allow), and, if allowed, passed to the service in `Context.shared` so `identifiers` resolves
  it. Otherwise it is invisible: ResourceNotFoundException, as for a key that does not exist,
  so an account cannot probe another's key ARNs. Alias names and alias ARNs never cross
  accounts.
- The root user's fast path: when no key anywhere has a resource policy and throttling is off,
  nothing is resolved (the root user is allowed everything in its own account, and no other
  account's key can be visible): the development default pays about nothing.
"""

from __future__ import annotations

from typing import Any

from paycrypt.auth.credentials import ROOT, Principal
from paycrypt.auth.sigv4 import Credential
from paycrypt.auth.throttle import ASYMMETRIC, CONTROL, SYMMETRIC, Throttle
from paycrypt.errors import AccessDenied, ResourceNotFound
from paycrypt.policy.evaluation import (
    RequestContext,
    RequestShape,
    ResourceRef,
    Target,
    _Scope,
    build_context,
    describe,
    evaluate,
    parse_policy,
)
from paycrypt.service.core import Service
from paycrypt.store.records import KeyRecord

ARN_PREFIX = "arn:aws:payment-cryptography:"
TEAM_ASSOCIATION = "approval-team-association"

#: Control-plane operations the model documents as usable across accounts ("supports cross-account
#: use when the key has a resource-based policy that grants access"); every data-plane operation.
CROSS_ACCOUNT_CONTROL = frozenset(
    {
        "AddKeyReplicationRegions",
        "DeleteKey",
        "ExportKey",
        "GetKey",
        "GetPublicKeyCertificate",
        "ImportKey",
        "ListTagsForResource",
        "RemoveKeyReplicationRegions",
        "RestoreKey",
        "StartKeyUsage",
        "StopKeyUsage",
        "TagResource",
        "UntagResource",
    }
)
_NONE: frozenset[str] = frozenset()
_ASYMMETRIC_PREFIXES = ("RSA", "ECC")


class Authorizer:
    def __init__(self, service: Service, throttle: Throttle | None = None, secure: bool = False) -> None:
        self.service = service
        self.throttle = throttle
        self.secure = secure

    def check(
        self,
        operation: str,
        data_plane: bool,
        params: dict[str, Any],
        credential: Credential,
        region: str,
        source_ip: str | None = None,
    ) -> frozenset[str]:
        """Raise AccessDenied, Throttling or ResourceNotFound, or return the other accounts' key
        ARNs the request may use (for Context.shared)."""
        store = self.service.store
        principal = credential if isinstance(credential, Principal) else None
        root = principal is not None and principal.kind == ROOT
        if root and self.throttle is None and not store.has_resource_policies():
            return _NONE
        shape = describe(operation, params)
        cross = data_plane or operation in CROSS_ACCOUNT_CONTROL
        refs: list[ResourceRef] = []
        records: list[KeyRecord] = []
        for target in shape.targets:
            self._resolve(target, shape, credential, region, cross, params, refs, records)
        if self.throttle is not None:
            self.throttle.take(credential.account_id, region, _kind(data_plane, records))
            if root and not store.has_resource_policies():
                return _NONE
        ctx = build_context(
            shape,
            refs,
            principal_arn=credential.arn,
            principal_account=credential.account_id,
            region=region,
            username=principal.username if principal is not None else None,
            user_id=credential.user_id,
            source_ip=source_ip if source_ip not in (None, "-") else None,
            secure_transport=self.secure,
        )
        shared = [ref for ref in refs if ref.account != credential.account_id and ref.policy is not None]
        for ref in shared:
            if not _shared_with(ref, ctx):
                raise _not_found(ref.arn, ref.member)
        decision = evaluate(principal.policies if principal is not None else (), ctx)
        if not decision.allowed:
            raise AccessDenied(decision.message(credential.arn))
        return frozenset(ref.arn for ref in shared) if shared else _NONE

    # --- resolution ------------------------------------------------------------------------

    def _resolve(
        self,
        target: Target,
        shape: RequestShape,
        credential: Credential,
        region: str,
        cross: bool,
        params: dict[str, Any],
        refs: list[ResourceRef],
        records: list[KeyRecord],
    ) -> None:
        account = credential.account_id
        if target.kind == "key":
            ref, record = self._key(target, credential, region, cross)
            refs.append(ref)
            if record is not None:
                records.append(record)
        elif target.kind == "alias":
            name = target.identifier
            arn = f"{ARN_PREFIX}{region}:{account}:{name}"
            refs.append(ResourceRef(arn, account, aliases=(name,), member=target.member))
            if target.with_key:
                alias = self.service.store.get_alias(account, region, name)
                record = self.service.store.get_key(alias.key_arn) if alias and alias.key_arn else None
                if record is not None:
                    refs.append(self._key_ref(record, target.member, credential))
                    records.append(record)
        elif target.kind == "approval-team":
            if _arn_account(target.identifier, account) != account:  # MPA is never cross-account
                raise ResourceNotFound(f"MPA team {target.identifier} was not found.", target.identifier)
            refs.append(ResourceRef(target.identifier, account, member=target.member))
        elif target.kind == TEAM_ASSOCIATION:
            association = self.service.store.mpa.get_association(account, region, target.identifier)
            if association is not None:
                refs.append(ResourceRef(association.team_arn, account, member=target.member))

    def _key(
        self, target: Target, credential: Credential, region: str, cross: bool
    ) -> tuple[ResourceRef, KeyRecord | None]:
        store = self.service.store
        account = credential.account_id
        identifier = target.identifier
        if identifier.startswith(ARN_PREFIX):
            parts = identifier.split(":", 5)
            if len(parts) != 6:
                return ResourceRef(identifier, account, member=target.member), None
            arn_region, arn_account, resource = parts[3], parts[4], parts[5]
            if arn_account != account:
                return self._foreign(target, credential, region, cross, arn_region, resource)
            if arn_region != region or not resource.startswith(("key/", "alias/")):
                return ResourceRef(identifier, account, member=target.member), None
            if resource.startswith("key/"):
                record = store.get_key(identifier)
                if record is None or record.account != account or record.region != region:
                    return ResourceRef(identifier, account, member=target.member), None
                return self._key_ref(record, target.member, credential), record
            alias_name, alias_arn = resource, identifier
        else:
            alias_name, alias_arn = identifier, f"{ARN_PREFIX}{region}:{account}:{identifier}"
        alias = store.get_alias(account, region, alias_name)
        record = store.get_key(alias.key_arn) if alias is not None and alias.key_arn else None
        if record is None or record.account != account or record.region != region:
            return ResourceRef(alias_arn, account, request_alias=alias_name, member=target.member), None
        return self._key_ref(record, target.member, credential, alias_name, alias_arn), record

    def _foreign(
        self, target: Target, credential: Credential, region: str, cross: bool, arn_region: str, resource: str
    ) -> tuple[ResourceRef, KeyRecord]:
        """A key ARN of another account: a candidate if it has a resource policy, else not found.

        check() then keeps it only if the policy is shared with the caller (`_shared_with`)."""
        identifier = target.identifier
        record = None
        if cross and arn_region == region and resource.startswith("key/"):
            record = self.service.store.get_key(identifier)
        policy = self.service.store.get_resource_policy(identifier) if record is not None else None
        if record is None or record.region != region or policy is None:
            raise _not_found(identifier, target.member)
        return self._key_ref(record, target.member, credential), record

    def _key_ref(
        self,
        record: KeyRecord,
        member: str,
        credential: Credential,
        request_alias: str | None = None,
        alias_arn: str | None = None,
    ) -> ResourceRef:
        """The key with what conditions may test: its tags and alias names are read only if a
        policy that can apply mentions them (the caller's, or the key's own for aliases)."""
        store = self.service.store
        policy = store.get_resource_policy(record.arn)
        tags: dict[str, str] = {}
        if getattr(credential, "reads_tags", True):
            tags = {tag["Key"]: tag["Value"] for tag in store.get_tags(record.arn)}
        aliases: tuple[str, ...] = ()
        if getattr(credential, "reads_aliases", True) or (
            policy is not None and "resourcealiases" in policy.lower()
        ):
            listed = store.list_aliases(record.account, record.region, record.arn, "", 1000)
            aliases = tuple(alias.alias_name for alias in listed)
        return ResourceRef(
            record.arn,
            record.account,
            tags=tags,
            aliases=aliases,
            request_alias=request_alias,
            alias_arn=alias_arn,
            policy=policy,
            member=member,
        )


def _shared_with(ref: ResourceRef, ctx: RequestContext) -> bool:
    """Whether the key's resource policy shares it with the caller: an Allow statement (for any
    action) whose Principal matches the caller and whose conditions hold for this request."""
    try:
        policy = parse_policy(ref.policy or "", "resource")
    except ValueError:
        return False
    scope = _Scope(ctx, ref, resource_side=True)
    return any(
        st.allow and st.principal(ctx) is not None and st.conditions_hold(scope) for st in policy.statements
    )


def _not_found(identifier: str, member: str) -> ResourceNotFound:
    if member == "ResourceArn" or member.endswith(".ResourceArn"):
        return ResourceNotFound(f"Resource {identifier} was not found.", identifier)
    return ResourceNotFound(f"Key {identifier} was not found.", identifier)


def _arn_account(arn: str, default: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else default


def _kind(data_plane: bool, records: list[KeyRecord]) -> str:
    if not data_plane:
        return CONTROL
    for record in records:
        if record.key_attributes.get("KeyAlgorithm", "").startswith(_ASYMMETRIC_PREFIXES):
            return ASYMMETRIC
    return SYMMETRIC

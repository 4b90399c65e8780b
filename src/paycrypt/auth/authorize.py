"""Authorization in the request path: who may do this, to which keys, and how often.

`Authorizer.check` runs after SigV4 and the model's validation, before the service function:

1. `RequestCatalog.describe` (policy) lists what the request names (keys, aliases, approval
   teams, tags, service condition keys); each target is resolved against the store into a
   `ResourceRef` carrying the key's current tags, alias names and resource policy.
2. The request-rate quota (`throttle`) is charged: control plane, or data plane symmetric /
   asymmetric by the keys it names.
3. `policy.evaluate` decides with the caller's identity policies and the keys' resource
   policies; a denial is AccessDeniedException with AWS's message (403 on the data plane, 400
   on the control plane, from the models).

Decisions (docs/decisions/identity-and-access.md):

- A key that does not exist in the caller's account is evaluated on the ARN (or alias ARN) as
  given, without tags, and the service then answers ResourceNotFoundException: as AWS,
  authorization comes first and is decided on the ARN.
- A key ARN of **another account** is usable only when the operation supports cross-account
  use (every data-plane operation and the control-plane operations the model documents as
  such: `CROSS_ACCOUNT_CONTROL`), the key is in the request's region and its resource policy has
  an Allow statement (for any action) whose Principal names the caller (its ARN, its account, or
  "*") and whose conditions hold for the request. Then it is evaluated like any key, both sides
  counting (identity policy and resource policy must both allow), and, if allowed, passed to
  the service in `Context.shared` so `identifiers` resolves it. Otherwise it is evaluated on its
  ARN alone, with no tags and no resource policy, whether or not the key exists: the answer is
  AccessDeniedException ("… because no resource-based policy allows …", or "no identity-based
  policy" when the caller's own policies do not allow the action either), as seed-F §1.7 step 7
  and the guide's resource-based policy page say, and it reveals nothing about the key. Alias
  names and alias ARNs never cross accounts (an alias ARN of another account is not found).
- Put/Get/DeleteResourcePolicy (`IDENTITY_ONLY`) are decided by identity policies alone: the
  key's resource policy is not read for them (the guide's resource-based policy page: resource
  policies do not apply to them, which prevents a policy from locking its account out of it).
- The root user's fast path: when no key anywhere has a resource policy, throttling is off and
  the request names no ARN of another account, nothing is resolved (the root user is allowed
  everything in its own account): the development default pays about nothing.
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
    evaluate,
    parse_policy,
)
from paycrypt.policy.requests import RequestCatalog
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
#: Decided by identity policies alone: a key's resource policy does not apply to the operations
#: that manage it, so it can never lock its own account out (guide, resource-based policies).
IDENTITY_ONLY = frozenset({"PutResourcePolicy", "GetResourcePolicy", "DeleteResourcePolicy"})
_NONE: frozenset[str] = frozenset()
_ASYMMETRIC_PREFIXES = ("RSA", "ECC")


class Authorizer:
    def __init__(
        self,
        service: Service,
        requests: RequestCatalog,
        throttle: Throttle | None = None,
        secure: bool = False,
    ) -> None:
        self.service = service
        self.requests = requests  # what each operation's request names, from the service models
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
        account = credential.account_id
        principal = credential if isinstance(credential, Principal) else None
        root = principal is not None and principal.kind == ROOT
        if (
            root
            and self.throttle is None
            and not store.has_resource_policies()
            and not self.requests.names_other_account(operation, params, ARN_PREFIX, account)
        ):
            return _NONE
        shape = self.requests.describe(operation, params)
        cross = data_plane or operation in CROSS_ACCOUNT_CONTROL
        policies = operation not in IDENTITY_ONLY
        refs: list[ResourceRef] = []
        records: list[KeyRecord] = []
        for target in shape.targets:
            self._resolve(target, shape, credential, region, cross, policies, refs, records)
        foreign = any(ref.account != account for ref in refs)
        if self.throttle is not None:
            self.throttle.take(account, region, _kind(data_plane, records))
            if root and not foreign and not store.has_resource_policies():
                return _NONE

        def context() -> RequestContext:
            return build_context(
                shape,
                refs,
                principal_arn=credential.arn,
                principal_account=account,
                region=region,
                username=principal.username if principal is not None else None,
                user_id=credential.user_id,
                source_ip=source_ip if source_ip not in (None, "-") else None,
                secure_transport=self.secure,
            )

        ctx = context()
        shared: list[str] = []
        unshared = False
        for index, ref in enumerate(refs if foreign else ()):
            if ref.account == account or ref.policy is None:
                continue
            if _shared_with(ref, ctx):
                shared.append(ref.arn)
            else:  # not shared with this caller: as if the key had no policy, or did not exist
                refs[index] = ResourceRef(ref.arn, ref.account, member=ref.member)
                unshared = True
        if unshared:
            ctx = context()
        decision = evaluate(principal.policies if principal is not None else (), ctx)
        if not decision.allowed:
            raise AccessDenied(decision.message(credential.arn))
        return frozenset(shared) if shared else _NONE

    # --- resolution ------------------------------------------------------------------------

    def _resolve(
        self,
        target: Target,
        shape: RequestShape,
        credential: Credential,
        region: str,
        cross: bool,
        policies: bool,
        refs: list[ResourceRef],
        records: list[KeyRecord],
    ) -> None:
        account = credential.account_id
        if target.kind == "key":
            ref, record = self._key(target, credential, region, cross, policies)
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
        self, target: Target, credential: Credential, region: str, cross: bool, policies: bool
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
                return self._key_ref(record, target.member, credential, policies=policies), record
            alias_name, alias_arn = resource, identifier
        else:
            alias_name, alias_arn = identifier, f"{ARN_PREFIX}{region}:{account}:{identifier}"
        alias = store.get_alias(account, region, alias_name)
        record = store.get_key(alias.key_arn) if alias is not None and alias.key_arn else None
        if record is None or record.account != account or record.region != region:
            return ResourceRef(alias_arn, account, request_alias=alias_name, member=target.member), None
        return self._key_ref(record, target.member, credential, alias_name, alias_arn, policies), record

    def _foreign(
        self, target: Target, credential: Credential, region: str, cross: bool, arn_region: str, resource: str
    ) -> tuple[ResourceRef, KeyRecord | None]:
        """A key ARN of another account: a candidate if it has a resource policy (check() keeps it
        only if the policy shares it with the caller, `_shared_with`), else its ARN alone, which
        evaluation denies. An alias ARN of another account is not found."""
        identifier, member = target.identifier, target.member
        if not resource.startswith("key/"):
            raise _not_found(identifier, member)
        arn_account = identifier.split(":", 5)[4]
        record = None
        if cross and arn_region == region:
            record = self.service.store.get_key(identifier)
        policy = self.service.store.get_resource_policy(identifier) if record is not None else None
        if record is None or record.region != region or policy is None:
            return ResourceRef(identifier, arn_account, member=member), None
        return self._key_ref(record, member, credential), record

    def _key_ref(
        self,
        record: KeyRecord,
        member: str,
        credential: Credential,
        request_alias: str | None = None,
        alias_arn: str | None = None,
        policies: bool = True,
    ) -> ResourceRef:
        """The key with what conditions may test: its tags and alias names are read only if a
        policy that can apply mentions them (the caller's, or the key's own for aliases); its
        resource policy unless the operation is decided by identity policies alone."""
        store = self.service.store
        policy = store.get_resource_policy(record.arn) if policies else None
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

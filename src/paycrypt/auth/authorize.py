"""Authorization in the request path: who may do this, to which keys, and how often.

`Authorizer.check` runs after SigV4, the model's validation and the resolution of the keys the
request names (`service.identifiers.resolve_request`), before the service function. It decides on
what was resolved; it reads the store only for what is not a key (approval-team associations) and
for whether any key has a resource policy at all.

1. The pipeline has described the request (`policy.RequestCatalog.describe`: the keys, aliases,
   approval teams, tags and service condition keys it names); each target becomes a `ResourceRef`
   carrying the resolved key's tags, alias names and resource policy (each read only if a policy
   that can apply may test it).
2. The request-rate quota (`throttle`) is charged: control plane, or data plane symmetric /
   asymmetric by the keys it names.
3. `policy.evaluate` decides with the caller's identity policies and the keys' resource
   policies; a denial is AccessDeniedException with AWS's message (403 on the data plane, 400
   on the control plane, from the models).
4. The keys the service may use are handed on: those of the caller's account, and those of
   another account that their resource policy shares with the caller.

Decisions (docs/decisions/identity-and-access.md):

- A key that does not exist in the caller's account is evaluated on the ARN (or alias ARN) as
  given, without tags, and the service then answers ResourceNotFoundException: as AWS,
  authorization comes first and is decided on the ARN.
- A key ARN of **another account** is usable only when the operation supports cross-account
  use (every data-plane operation and the control-plane operations the model documents as
  such: `CROSS_ACCOUNT_CONTROL`), the key is in the request's region and its resource policy has
  an Allow statement (for any action) whose Principal names the caller (its ARN, its account, or
  "*") and whose conditions hold for the request (`policy.shares_with_caller`). Then it is
  evaluated like any key, both sides counting (identity policy and resource policy must both
  allow), and, if allowed, handed on to the service. Otherwise it is evaluated on its ARN alone,
  with no tags and no resource policy, whether or not the key exists: the answer is
  AccessDeniedException ("… because no resource-based policy allows …", or "no identity-based
  policy" when the caller's own policies do not allow the action either), as seed-F §1.7 step 7
  and the guide's resource-based policy page say, and it reveals nothing about the key. Alias
  names and alias ARNs never cross accounts (an alias ARN of another account is not found).
- Put/Get/DeleteResourcePolicy (`IDENTITY_ONLY`) are decided by identity policies alone: the
  key's resource policy is not read for them (the guide's resource-based policy page: resource
  policies do not apply to them, which prevents a policy from locking its account out of it).
- The root user's fast path: when no key anywhere has a resource policy, throttling is off and
  the request names no key of another account, nothing more is read and nothing evaluated (the
  root user is allowed everything in its own account): the development default pays about
  nothing beyond the key read the service needs anyway.
"""

from __future__ import annotations

from paycrypt import arns
from paycrypt.auth.credentials import ROOT, Principal
from paycrypt.auth.sigv4 import Credential
from paycrypt.auth.throttle import ASYMMETRIC, CONTROL, SYMMETRIC, Throttle
from paycrypt.errors import AccessDenied, ResourceNotFound
from paycrypt.policy.evaluation import (
    Requester,
    RequestShape,
    ResourceRef,
    Target,
    build_context,
    evaluate,
    shares_with_caller,
)
from paycrypt.service.identifiers import Keys, ResolvedKey
from paycrypt.store.base import Store
from paycrypt.store.records import KeyRecord

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
_ASYMMETRIC_PREFIXES = ("RSA", "ECC")


class Authorizer:
    def __init__(self, store: Store, throttle: Throttle | None = None, secure: bool = False) -> None:
        self.store = store
        self.throttle = throttle
        self.secure = secure

    def check(
        self,
        shape: RequestShape,
        data_plane: bool,
        credential: Credential,
        region: str,
        keys: Keys,
        source_ip: str | None = None,
    ) -> Keys:
        """Raise AccessDenied, Throttling or ResourceNotFound, or return the keys of `keys` (what
        the pipeline resolved for `shape`, the request as `RequestCatalog.describe` describes it) that
        the service may use."""
        account = credential.account_id
        principal = credential if isinstance(credential, Principal) else None
        root = principal is not None and principal.kind == ROOT
        if root and self.throttle is None and not self.store.has_resource_policies() and _own(keys, account):
            return keys
        cross = data_plane or shape.operation in CROSS_ACCOUNT_CONTROL
        policies = shape.operation not in IDENTITY_ONLY
        named = [
            pair
            for target in shape.targets
            for pair in self._refs(target, keys, credential, region, cross, policies)
        ]
        refs = [ref for ref, _ in named]
        foreign = any(ref.account != account for ref in refs)
        if self.throttle is not None:
            self.throttle.take(account, region, _kind(data_plane, [r for _, r in named if r is not None]))
            if root and not foreign and not self.store.has_resource_policies():
                return keys

        requester = Requester(
            credential.arn,
            account,
            region,
            username=principal.username if principal is not None else None,
            user_id=credential.user_id,
            source_ip=source_ip if source_ip not in (None, "-") else None,
            secure_transport=self.secure,
        )
        ctx = build_context(shape, refs, requester)
        shared: set[str] = set()
        unshared = False
        for index, ref in enumerate(refs if foreign else ()):
            if ref.account == account or ref.policy is None:
                continue
            if shares_with_caller(ref, ctx):
                shared.add(ref.arn)
            else:  # not shared with this caller: as if the key had no policy, or did not exist
                refs[index] = ResourceRef(ref.arn, ref.account, member=ref.member)
                unshared = True
        if unshared:
            ctx = build_context(shape, refs, requester)
        decision = evaluate(principal.policies if principal is not None else (), ctx)
        if not decision.allowed:
            raise AccessDenied(decision.message(credential.arn))
        if not foreign:
            return keys
        return {name: key for name, key in keys.items() if key.account == account or key.arn in shared}

    def _refs(
        self, target: Target, keys: Keys, credential: Credential, region: str, cross: bool, policies: bool
    ) -> list[tuple[ResourceRef, KeyRecord | None]]:
        """The resources one request member names, each with its key record if it is a key."""
        account = credential.account_id
        if target.kind == "key":
            return [_key_ref(keys[target.identifier], target.member, credential, cross, policies)]
        if target.kind == "alias":
            name = target.identifier
            alias = ResourceRef(
                arns.build(region, account, name), account, aliases=(name,), member=target.member
            )
            key = keys.get(name) if target.with_key else None
            if key is None or key.record is None:
                return [(alias, None)]
            return [(alias, None), (_ref(key, target.member, credential), key.record)]
        if target.kind == "approval-team":
            if _arn_account(target.identifier, account) != account:  # MPA is never cross-account
                raise ResourceNotFound(f"MPA team {target.identifier} was not found.", target.identifier)
            return [(ResourceRef(target.identifier, account, member=target.member), None)]
        if target.kind == TEAM_ASSOCIATION:
            association = self.store.mpa.get_association(account, region, target.identifier)
            if association is not None:
                return [(ResourceRef(association.team_arn, account, member=target.member), None)]
        return []


def _key_ref(
    key: ResolvedKey, member: str, credential: Credential, cross: bool, policies: bool
) -> tuple[ResourceRef, KeyRecord | None]:
    """A key a request member names. Another account's key is a candidate only where it may be
    used across accounts and has a resource policy (`check` keeps it only if that policy shares
    it with the caller); else it is its ARN alone, which evaluation denies."""
    if key.account != credential.account_id:
        if key.record is None or not cross or key.policy is None:
            return ResourceRef(key.arn, key.account, member=member), None
        return _ref(key, member, credential), key.record
    if key.record is None:
        return ResourceRef(key.arn, key.account, request_alias=key.alias_name, member=member), None
    return _ref(key, member, credential, key.alias_name, key.alias_arn, policies), key.record


def _ref(
    key: ResolvedKey,
    member: str,
    credential: Credential,
    request_alias: str | None = None,
    alias_arn: str | None = None,
    policies: bool = True,
) -> ResourceRef:
    """The key with what conditions may test: its tags and alias names are read only if a
    policy that can apply mentions them (the caller's, or the key's own for aliases); its
    resource policy unless the operation is decided by identity policies alone."""
    policy = key.policy if policies else None
    tags = key.tags if credential.reads_tags else {}
    aliases: tuple[str, ...] = ()
    if credential.reads_aliases or (policy is not None and "resourcealiases" in policy.lower()):
        aliases = key.aliases
    return ResourceRef(
        key.arn,
        key.account,
        tags=tags,
        aliases=aliases,
        request_alias=request_alias,
        alias_arn=alias_arn,
        policy=policy,
        member=member,
    )


def _own(keys: Keys, account: str) -> bool:
    """Whether every key the request names is of the caller's account (a loop: the hot path)."""
    for key in keys.values():  # noqa: SIM110
        if key.account != account:
            return False
    return True


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

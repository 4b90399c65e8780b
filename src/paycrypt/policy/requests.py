"""What an API request names, for authorisation: its action, resources and condition keys.

A `RequestCatalog` is built from the service models the server loaded (this package reads no
file: the models are passed in, so the policy language stays pure and the models are loaded
once, by the wire layer). `catalog.actions` holds the IAM action of every operation of the
models (`payment-cryptography:<Operation>`, the Service Authorization Reference's names,
seed-F §1.3.2).

`catalog.describe(operation, params)` is pure and table-driven: it lists the members of the
request that name a resource (`catalog.targets`, derived from the models' identifier shapes, so
a member added to a model is covered), the request tags and tag keys (`TAG_MEMBERS`), the
service condition keys the request itself carries (`SERVICE_KEYS`, seed-F §1.5) and the
dependent actions (`DEPENDENT`: CreateKey and ImportKey with Tags also need TagResource, guide
L3500). The caller (the request path) resolves each `Target` into `policy.ResourceRef`s, then
`policy.build_context` assembles the `RequestContext`.

How a caller resolves each target kind:

- ``key``: a key ARN, alias ARN or alias name → one ResourceRef for the *key* (its ARN, account,
  tags, alias names and resource policy); when it was named through an alias, also ``alias_arn``
  and ``request_alias`` (the alias name) on that same ResourceRef. A key that does not exist →
  ResourceRef with the ARN as given (an alias: its alias ARN) and no tags.
- ``alias``: an alias name naming the alias itself (CreateAlias, UpdateAlias, DeleteAlias,
  GetAlias) → a ResourceRef for the alias ARN, ``aliases`` = (its name,). With
  ``with_key`` (GetAlias, UpdateAlias: the SAR lists alias* and key*) also a ResourceRef for the
  key the alias points to now, if any.
- ``approval-team``: an MPA team ARN → a ResourceRef with that ARN.
- ``approval-team-association``: the team associated with the protected operation named by
  ``Action`` (DisassociateMpaTeam, GetMpaTeamAssociation) → its ResourceRef, or none.

An operation with no target (CreateKey, ImportKey, ListKeys, ListAliases, GetParametersFor*,
the default-replication operations) is authorised on resource ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from botocore.model import ServiceModel, Shape

PREFIX = "payment-cryptography:"

# Identifier shapes → target kind. ResourceArn (tagging, resource policies) names a key by ARN.
_KIND_BY_SHAPE = {
    "KeyArnOrKeyAliasType": "key",
    "KeyArn": "key",
    "ResourceArn": "key",
    "AliasName": "alias",
    "MpaTeamArn": "approval-team",
}
# Members of an identifier shape that do not name a resource of the request (a list filter).
_NOT_TARGETS = frozenset({("ListAliases", "KeyArn")})
# Alias targets that also name the alias's current key (SAR: alias* and key*).
_ALIAS_WITH_KEY = frozenset({"GetAlias", "UpdateAlias"})
# Operations whose resource is the approval team associated with the operation named by Action.
_ASSOCIATION = frozenset({"DisassociateMpaTeam", "GetMpaTeamAssociation"})


class TargetSpec(NamedTuple):
    member: str  # dotted path in the request; a union member is one path step
    kind: str  # key | alias | approval-team | approval-team-association
    with_key: bool = False
    steps: tuple[str, ...] = ()  # member split on "."


class Target(NamedTuple):
    """A request member that names a resource, with the identifier it holds."""

    member: str
    identifier: str
    kind: str
    with_key: bool = False


def _identifier_members(shape: Shape, path: tuple[str, ...], seen: frozenset[str]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if shape.type_name == "structure" and shape.name not in seen:
        for name, member in shape.members.items():
            found += _identifier_members(member, (*path, name), seen | {shape.name})
    elif shape.type_name == "string" and shape.name in _KIND_BY_SHAPE:
        found.append((".".join(path), _KIND_BY_SHAPE[shape.name]))
    return found


def _targets_table(services: Iterable[ServiceModel]) -> dict[str, tuple[TargetSpec, ...]]:
    table: dict[str, tuple[TargetSpec, ...]] = {}
    for model in services:
        for op in model.operation_names:
            shape = model.operation_model(op).input_shape
            members = _identifier_members(shape, (), frozenset()) if shape is not None else []
            specs = [
                TargetSpec(path, kind, kind == "alias" and op in _ALIAS_WITH_KEY, tuple(path.split(".")))
                for path, kind in members
                if (op, path) not in _NOT_TARGETS
            ]
            if op in _ASSOCIATION:
                specs.append(TargetSpec("Action", "approval-team-association", False, ("Action",)))
            table[op] = tuple(specs)
    return table


#: Operation → (request member holding a Tag list, or a list of tag keys).
TAG_MEMBERS: dict[str, tuple[str, str]] = {
    "CreateKey": ("Tags", "tags"),
    "ImportKey": ("Tags", "tags"),
    "TagResource": ("Tags", "tags"),
    "UntagResource": ("TagKeys", "keys"),
}

# Service condition keys carried by the request (seed-F §1.5, SAR). Sources:
#   "A.B"          the value at that path
#   "A.*.B"        the value of B under whichever member of union A is set
#   "union:A"      the name of the member of union A that is set
#   "present:A.B"  "true" when that member is present, else "false"
_KEY_IDS = ("WrappingKeyIdentifier", "CertificateAuthorityPublicKeyIdentifier", "PrivateKeyIdentifier")
SERVICE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "CreateKey": (
        ("KeyUsage", "KeyAttributes.KeyUsage"),
        ("KeyAlgorithm", "KeyAttributes.KeyAlgorithm"),
        ("KeyClass", "KeyAttributes.KeyClass"),
        ("DeriveKeyUsage", "DeriveKeyUsage"),
    ),
    "ImportKey": (
        ("ImportKeyMaterial", "union:KeyMaterial"),
        *((name, f"KeyMaterial.*.{name}") for name in _KEY_IDS),
    ),
    "ExportKey": (
        ("ExportKeyMaterial", "union:KeyMaterial"),
        *((name, f"KeyMaterial.*.{name}") for name in (*_KEY_IDS, "SigningKeyIdentifier")),
        ("ExportDukptInitialKey", "present:ExportAttributes.ExportDukptInitialKey"),
    ),
}
#: Service keys whose value is a key identifier: build_context puts the resolved key ARN there.
IDENTIFIER_KEYS = frozenset((*_KEY_IDS, "SigningKeyIdentifier"))

#: Operation → (dependent action, when): CreateKey/ImportKey with Tags also need TagResource.
DEPENDENT: dict[str, tuple[str, str]] = {
    "CreateKey": (PREFIX + "TagResource", "Tags"),
    "ImportKey": (PREFIX + "TagResource", "Tags"),
}


_EMPTY: Mapping[str, str] = MappingProxyType({})


class RequestShape(NamedTuple):
    """What one request names; resolve `targets`, then call `policy.build_context`."""

    operation: str
    action: str
    targets: tuple[Target, ...]
    request_tags: Mapping[str, str] = _EMPTY
    tag_keys: tuple[str, ...] = ()
    service_keys: Mapping[str, str] = _EMPTY  # short names, values as sent
    service_key_members: Mapping[str, str] = _EMPTY  # key → concrete member path
    dependent_actions: tuple[str, ...] = ()


def _get(params: Any, path: str) -> tuple[Any, str] | None:
    """The value at a dotted path (`*` = the union member that is set) and its concrete path."""
    node = params
    concrete: list[str] = []
    for step in path.split("."):
        if not isinstance(node, dict):
            return None
        if step == "*":
            present = [name for name, value in node.items() if value is not None]
            if len(present) != 1:
                return None
            step = present[0]
        node = node.get(step)
        if node is None:
            return None
        concrete.append(step)
    return node, ".".join(concrete)


def _value(params: dict[str, Any], steps: tuple[str, ...]) -> Any:
    node: Any = params
    for step in steps:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node


def _service_keys(operation: str, params: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    values: dict[str, str] = {}
    members: dict[str, str] = {}
    for name, source in SERVICE_KEYS.get(operation, ()):
        if source.startswith("union:"):
            union = params.get(source[6:])
            if isinstance(union, Mapping):
                present = [member for member, value in union.items() if value is not None]
                if len(present) == 1:
                    values[name] = present[0]
        elif source.startswith("present:"):
            values[name] = "true" if _get(params, source[8:]) is not None else "false"
        elif (found := _get(params, source)) is not None and isinstance(found[0], str | bool):
            value = found[0]
            values[name] = ("true" if value else "false") if isinstance(value, bool) else value
            members[name] = found[1]
    return values, members


def _tags(operation: str, params: dict[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    member, form = TAG_MEMBERS.get(operation, ("", ""))
    raw = params.get(member) if member else None
    if not isinstance(raw, list):
        return {}, ()
    if form == "keys":
        keys = tuple(k for k in raw if isinstance(k, str))
        return {}, keys
    tags = {
        t["Key"]: t.get("Value", "") for t in raw if isinstance(t, Mapping) and isinstance(t.get("Key"), str)
    }
    return tags, tuple(tags)


_EXTRAS = frozenset(TAG_MEMBERS) | frozenset(SERVICE_KEYS) | frozenset(DEPENDENT)


class RequestCatalog:
    """The operations of the service models, indexed once for describing requests.

    Built by the server from the models it loaded (tests build their own); immutable after."""

    def __init__(self, services: Iterable[ServiceModel]) -> None:
        #: Operation → the request members that name a resource, in model order.
        self.targets: Mapping[str, tuple[TargetSpec, ...]] = MappingProxyType(_targets_table(services))
        #: Every IAM action of the service, one per operation of the models (47 with botocore 1.44.8).
        self.actions: tuple[str, ...] = tuple(sorted(PREFIX + op for op in self.targets))

    def names_other_account(self, operation: str, params: dict[str, Any], prefix: str, account: str) -> bool:
        """Whether a member that names a resource holds an ARN starting with `prefix` whose account
        is not `account`: the authorizer's fast path asks it without building a RequestShape."""
        for spec in self.targets.get(operation, ()):
            value = _value(params, spec.steps)
            if isinstance(value, str) and value.startswith(prefix) and value.split(":", 5)[4:5] != [account]:
                return True
        return False

    def describe(self, operation: str, params: dict[str, Any]) -> RequestShape:
        """The action, resources, tags and service condition keys one request names.

        Raises KeyError for an operation of none of the models."""
        targets: list[Target] = []
        for spec in self.targets[operation]:
            value = _value(params, spec.steps)
            if isinstance(value, str):
                targets.append(Target(spec.member, value, spec.kind, spec.with_key))
        if operation not in _EXTRAS:
            return RequestShape(operation, PREFIX + operation, tuple(targets))
        tags, tag_keys = _tags(operation, params)
        service_keys, members = _service_keys(operation, params)
        dependent: tuple[str, ...] = ()
        if operation in DEPENDENT:
            action, member = DEPENDENT[operation]
            if params.get(member):
                dependent = (action,)
        return RequestShape(
            operation=operation,
            action=PREFIX + operation,
            targets=tuple(targets),
            request_tags=tags,
            tag_keys=tag_keys,
            service_keys=service_keys,
            service_key_members=members,
            dependent_actions=dependent,
        )

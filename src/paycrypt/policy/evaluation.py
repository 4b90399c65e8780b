"""IAM policy evaluation: may this principal perform this action on these resources?

Pure (no store, no I/O): the request path resolves what a request names (see
`paycrypt.policy.requests`), builds a `RequestContext` and calls `evaluate`. The rules are
AWS IAM's ("Policy evaluation logic" and "IAM JSON policy element reference", IAM User Guide) as
seed-F §1.7 summarises them, with the choices the guide leaves open made as follows.

Decision
- Explicit deny in any policy wins; otherwise an allow is needed; otherwise implicit deny.
- Same account (the resource's account is the principal's): an Allow in an identity policy, or
  an Allow in the resource's policy whose Principal names the caller *directly* (its user/role
  ARN, an assumed-role session of that role, or "*"), is enough. A resource-policy statement
  naming only the account (`"111122223333"` or `arn:aws:iam::111122223333:root`) trusts the
  account and delegates to its identity policies, so on its own it grants nothing (as IAM does
  for every resource type except role trust policies and KMS keys).
- Cross account: the identity policy must allow AND the resource policy must allow the
  principal (by account, ARN or "*"). No resource policy → implicit deny.
- The account root user (`arn:aws:iam::<account>:root`) needs no identity policy: it is
  allowed everything in its own account, and in another account what that account's resource
  policy grants it; explicit denies in resource policies still apply.

Resources (seed-F §7.3 items 3 and 4)
- Every resource a request names is evaluated on its own, with its own tags, aliases, account
  and resource policy; the request is allowed only if it is allowed on every one. The decision
  reported is the first explicit deny, else the first implicit deny.
- A key named through an alias (seed-F §7.3 item 3, the digest's recommendation): the key is
  evaluated once with both its key ARN and the alias ARN as names. A Resource element matches
  if it matches either name (so an Allow or a Deny on `alias/x` or on `key/…` applies);
  NotResource applies only if it matches neither (an exclusion of either name exempts the key).
  `payment-cryptography:RequestAlias` is the alias name used; `ResourceAliases` the key's
  current alias names. So P-3 (allow on the key ARN) allows calls through any alias of the key.
- An operation that names no resource (CreateKey, ListKeys, …) is authorised on resource `*`:
  only `"Resource": "*"` (or a NotResource list) matches it, as strict SAR semantics require.
- Dependent actions: CreateKey/ImportKey with Tags also need `payment-cryptography:TagResource`
  (guide L3500: "must cover all keys in the account and Region"), evaluated on the resource
  `arn:aws:payment-cryptography:<region>:<account>:key/*` with the request's tags, so a grant
  on `…:key/*` (any region pattern) covers it and a grant on one key does not.
- `aws:ResourceTag/*` is not available to resource (key) policies (guide L3747); there it
  counts as missing.

Actions match case-insensitively with `*`/`?`; the guide's invalid names
(`payment-cryptography:Decrypt`, `VerifyCardData`) are valid syntax that match nothing.
Resource patterns match case-sensitively, per ARN part (see policy.conditions). Condition
semantics and policy variables: see `paycrypt.policy.conditions`.

Interface (for the request path)
    shape = catalog.describe(operation, params)          # pure, table-driven (policy.requests)
    refs = [...]                                          # resolve shape.targets against the store
    ctx = build_context(shape, refs, Requester(principal_arn, principal_account, region,
                                               username=..., source_ip=..., secure_transport=...))
    decision = evaluate(identity_policies, ctx)           # Decision(effect, action, resource, ...)
    if not decision.allowed: raise AccessDenied(decision.message(principal_arn))
Each ResourceRef carries its own account and resource policy (rather than one
`resource_policy`/`resource_account` argument), because one request may name several keys;
`parse_policy(text, "resource")` validates a PutResourcePolicy document (PolicyError, a
ValueError, names the element at fault) and `is_public` decides PublicPolicyException;
`shares_with_caller` says whether another account's key is shared with the caller at all.

Speed: `parse_policy` compiles a document once (cached by text, and by content for parsed
documents, so a dict changed after use is compiled again); each compiled policy indexes its
statements by action as actions are first asked about, so an evaluation visits only statements
that name the action.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from paycrypt.policy.conditions import Clause, PolicyError, Value, compile_conditions
from paycrypt.policy.conditions import Pattern as _Pattern
from paycrypt.policy.requests import (
    IDENTIFIER_KEYS,
    PREFIX,
    RequestCatalog,
    RequestShape,
    Target,
)

__all__ = [
    "Decision",
    "Effect",
    "Policy",
    "PolicyError",
    "RequestCatalog",
    "RequestContext",
    "RequestShape",
    "Requester",
    "ResourceRef",
    "Target",
    "build_context",
    "evaluate",
    "is_public",
    "parse_policy",
    "shares_with_caller",
]

_ARN_ACCOUNT = re.compile(r"^arn:[^:]+:(?:iam|sts)::(\d{12}):")
_ACCOUNT = re.compile(r"^\d{12}$")
_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")
_STATEMENT_KEYS = frozenset(
    (
        *("Sid", "Effect", "Principal", "NotPrincipal"),
        *("Action", "NotAction", "Resource", "NotResource", "Condition"),
    )
)
VERSIONS = ("2012-10-17", "2008-10-17")


class Effect(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class Decision(NamedTuple):
    """The outcome; `allowed` says it all, the rest names what decided it for messages."""

    effect: Effect
    action: str
    resource: str = "*"
    statement_id: str | None = None  # the Sid of the deciding statement, if it has one
    policy_type: str | None = None  # "identity" | "resource" | None (no statement decided)
    reason: str = ""  # for an implicit deny: which side failed

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def message(self, principal_arn: str) -> str:
        """AWS's AccessDeniedException message for this decision."""
        target = "" if self.resource == "*" else f" on resource: {self.resource}"
        head = f"User: {principal_arn} is not authorized to perform: {self.action}{target}"
        if self.effect is Effect.EXPLICIT_DENY:
            kind = "a resource" if self.policy_type == "resource" else "an identity"
            return f"{head} with an explicit deny in {kind}-based policy"
        side = "resource" if self.reason == "resource" else "identity"
        return f"{head} because no {side}-based policy allows the {self.action} action"


# RequestContext and ResourceRef are built on every request: slotted, not frozen (a frozen
# dataclass's __init__ costs about five times as much). Treat them as immutable.


@dataclass(slots=True)
class ResourceRef:
    """One resource a request names, with what its conditions may test."""

    arn: str
    account: str
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # alias names associated with the key: ResourceAliases
    request_alias: str | None = None  # the alias name the request used for it: RequestAlias
    alias_arn: str | None = None  # that alias's ARN: a second name of the resource
    policy: Policy | Mapping[str, Any] | str | None = None  # the resource (key) policy
    member: str = ""  # the request member that named it
    _tags_lower: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lowered: dict[str, str] = {}
        for key, value in self.tags.items():
            lowered.setdefault(key.lower(), value)
        self._tags_lower = lowered


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(kw_only=True, slots=True)
class RequestContext:
    """Everything a decision depends on (the request context of IAM)."""

    action: str  # "payment-cryptography:CreateKey"
    principal_arn: str
    principal_account: str
    region: str
    resources: tuple[ResourceRef, ...] = ()  # none: the action is authorised on "*"
    username: str | None = None  # aws:username (IAM users only)
    user_id: str | None = None  # aws:userid
    request_tags: Mapping[str, str] = field(default_factory=dict)  # aws:RequestTag/*
    tag_keys: tuple[str, ...] = ()  # aws:TagKeys
    source_ip: str | None = None
    current_time: dt.datetime = field(default_factory=_now)
    secure_transport: bool = False
    service_keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)  # payment-cryptography:*
    dependent_actions: tuple[str, ...] = ()  # also required (TagResource for CreateKey with Tags)
    _keys: dict[str, Value] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys: dict[str, Value] = {
            "aws:principalaccount": self.principal_account,
            "aws:principalarn": _principal_arn_key(self.principal_arn, self.principal_account),
            "aws:requestedregion": self.region,
            "aws:securetransport": "true" if self.secure_transport else "false",
        }
        for name, value in (
            ("aws:username", self.username),
            ("aws:userid", self.user_id),
            ("aws:sourceip", self.source_ip),
        ):
            if value is not None:
                keys[name] = value
        if self.tag_keys:
            keys["aws:tagkeys"] = tuple(self.tag_keys)
        for tag, value in self.request_tags.items():
            keys.setdefault("aws:requesttag/" + tag.lower(), value)
        for name, value in self.service_keys.items():
            full = name if ":" in name else PREFIX + name
            keys[full.lower()] = value if isinstance(value, str) else tuple(value)
        self._keys = keys


def _principal_arn_key(arn: str, account: str) -> str:
    """aws:PrincipalArn: an assumed-role session is known by its role's ARN (IAM's rule)."""
    if arn.startswith("arn:aws:sts::") and ":assumed-role/" in arn:
        parts = arn.split(":", 5)[5].split("/")
        if len(parts) == 3:
            return f"arn:aws:iam::{account}:role/{parts[1]}"
    return arn


def _time_key(moment: dt.datetime, key: str) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    if key == "aws:epochtime":
        return str(int(moment.timestamp()))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Scope:
    """Context-key lookup for one resource, from one side (identity or resource policy)."""

    __slots__ = ("ctx", "keys", "ref", "resource_side")

    def __init__(self, ctx: RequestContext, ref: ResourceRef | None, resource_side: bool) -> None:
        self.ctx = ctx
        self.keys = ctx._keys
        self.ref = ref
        self.resource_side = resource_side

    def __call__(self, key: str) -> Value:
        value = self.keys.get(key)
        if value is not None:
            return value
        if key in ("aws:currenttime", "aws:epochtime"):
            return _time_key(self.ctx.current_time, key)
        ref = self.ref
        if ref is None:
            return None
        if key.startswith("aws:resourcetag/"):
            return None if self.resource_side else ref._tags_lower.get(key[16:])
        if key == "payment-cryptography:requestalias":
            return ref.request_alias
        if key == "payment-cryptography:resourcealiases":
            return ref.aliases or None
        if key == "aws:resourceaccount":
            return ref.account
        return None


# ---------------------------------------------------------------------------------------------
# Compiled policies


class _Principals:
    """A Principal/NotPrincipal element: who a resource-policy statement is about."""

    __slots__ = ("accounts", "anyone", "arns", "roles")

    def __init__(self, element: Any, where: str) -> None:
        self.anyone = False
        self.accounts: set[str] = set()
        self.arns: set[str] = set()
        self.roles: set[tuple[str, str]] = set()  # (account, role name) for session matching
        if element == "*":
            self.anyone = True
            return
        if not isinstance(element, Mapping) or not element:
            raise PolicyError(f'{where}: Principal must be "*" or an object such as {{"AWS": ...}}')
        for kind, values in element.items():
            if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
                raise PolicyError(f"{where}: unknown principal type {kind}")
            for value in _strings(values, f"{where}.{kind}"):
                if kind != "AWS":
                    continue  # no service or federated principals call paycrypt: they never match
                self._add(value, where)

    def _add(self, value: str, where: str) -> None:
        if value == "*":
            self.anyone = True
        elif _ACCOUNT.match(value):
            self.accounts.add(value)
        elif (found := _ARN_ACCOUNT.match(value)) is not None:
            resource = value.split(":", 5)[5]
            if resource == "root":
                self.accounts.add(found.group(1))
            else:
                self.arns.add(value)
                if resource.startswith("role/"):
                    self.roles.add((found.group(1), resource.rsplit("/", 1)[1]))
        else:
            raise PolicyError(f"{where}: invalid AWS principal {value!r}")

    def match(self, ctx: RequestContext) -> str | None:
        """'direct' (named by ARN or "*"), 'account' (its account is trusted) or None."""
        if self.anyone or ctx.principal_arn in self.arns:
            return "direct"
        if self.roles and ctx.principal_arn.startswith("arn:aws:sts::"):
            parts = ctx.principal_arn.split(":", 5)[5].split("/")
            role = (ctx.principal_account, parts[1]) if len(parts) == 3 else None
            if parts[0] == "assumed-role" and role in self.roles:
                return "direct"
        if ctx.principal_account in self.accounts:
            return "account"
        return None


class _Statement:
    __slots__ = (
        "actions",
        "allow",
        "conditions",
        "not_action",
        "not_principal",
        "not_resource",
        "principals",
        "resources",
        "sid",
    )

    def __init__(self, raw: Any, index: int, kind: str, variables: bool) -> None:
        where = f"Statement[{index}]"
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where} must be an object")
        unknown = set(raw) - _STATEMENT_KEYS
        if unknown:
            raise PolicyError(f"{where}: unknown element {sorted(unknown)[0]}")
        sid = raw.get("Sid")
        if sid is not None and not isinstance(sid, str):
            raise PolicyError(f"{where}.Sid must be a string")
        self.sid: str | None = sid
        effect = raw.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"{where}.Effect must be Allow or Deny")
        self.allow = effect == "Allow"
        self.not_action, actions = _one_of(raw, "Action", "NotAction", where)
        self.actions = tuple(_action_pattern(a, where) for a in _strings(actions, f"{where}.Action"))
        self.not_resource, resources = _one_of(raw, "Resource", "NotResource", where)
        self.resources = tuple(
            _resource_pattern(r, where, variables) for r in _strings(resources, f"{where}.Resource")
        )
        has_principal = "Principal" in raw or "NotPrincipal" in raw
        if kind == "identity" and has_principal:
            raise PolicyError(f"{where}: an identity-based policy cannot have a Principal")
        self.principals: _Principals | None = None
        self.not_principal = False
        if kind == "resource":
            self.not_principal, element = _one_of(raw, "Principal", "NotPrincipal", where)
            self.principals = _Principals(element, f"{where}.Principal")
        condition = raw.get("Condition")
        self.conditions: tuple[Clause, ...] = (
            compile_conditions(condition, where, variables) if condition is not None else ()
        )

    def names_action(self, action: str) -> bool:
        hit = any(p.matches(action) for p in self.actions)
        return hit != self.not_action

    def names_resource(self, ref: ResourceRef | None, wildcard: str, get: _Scope) -> bool:
        if ref is None:
            names: tuple[str, ...] = (wildcard,)
        elif ref.alias_arn is None:
            names = (ref.arn,)
        else:
            names = (ref.arn, ref.alias_arn)
        for pattern in self.resources:
            for name in names:
                if pattern.matches(name, get):
                    return not self.not_resource
        return self.not_resource

    def principal(self, ctx: RequestContext) -> str | None:
        assert self.principals is not None
        found = self.principals.match(ctx)
        if self.not_principal:
            return None if found else "direct"
        return found

    def conditions_hold(self, get: _Scope) -> bool:  # a loop: no generator on the hot path
        for clause in self.conditions:  # noqa: SIM110
            if not clause.holds(get):
                return False
        return True


def _one_of(raw: Mapping[str, Any], name: str, negated: str, where: str) -> tuple[bool, Any]:
    if (name in raw) == (negated in raw):
        raise PolicyError(f"{where} must have exactly one of {name} and {negated}")
    return (False, raw[name]) if name in raw else (True, raw[negated])


def _strings(value: Any, where: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{where} must be a non-empty string or list of non-empty strings")
    return values


def _action_pattern(text: str, where: str) -> _Pattern:
    if text != "*" and not _ACTION.match(text):
        raise PolicyError(f"{where}: invalid action {text!r} (expected service:Action)")
    return _Pattern(text, arn=False, ignore_case=True)


def _resource_pattern(text: str, where: str, variables: bool) -> _Pattern:
    if text != "*" and not (text.startswith("arn:") and text.count(":") >= 5):
        raise PolicyError(f"{where}: resource {text!r} must be * or an ARN")
    return _Pattern(text, arn=True, variables=variables)


class Policy:
    """A validated, compiled policy document."""

    __slots__ = ("_by_action", "id", "kind", "statements", "version")

    def __init__(self, document: Mapping[str, Any], kind: str = "identity") -> None:
        if kind not in ("identity", "resource"):
            raise ValueError(f"unknown policy kind {kind}")
        if not isinstance(document, Mapping):
            raise PolicyError("The policy must be a JSON object")
        unknown = set(document) - {"Version", "Id", "Statement"}
        if unknown:
            raise PolicyError(f"Unknown policy element {sorted(unknown)[0]}")
        version = document.get("Version")
        if version is not None and version not in VERSIONS:
            raise PolicyError("Version must be 2012-10-17 or 2008-10-17")
        policy_id = document.get("Id")
        if policy_id is not None and not isinstance(policy_id, str):
            raise PolicyError("Id must be a string")
        raw = document.get("Statement")
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise PolicyError("The policy must have a Statement (an object or a non-empty list)")
        variables = version == "2012-10-17"
        self.kind = kind
        self.version = version
        self.id = policy_id
        self.statements = tuple(_Statement(s, i, kind, variables) for i, s in enumerate(raw))
        # Filled on first use of each action (the service's actions are a few dozen).
        self._by_action: dict[str, tuple[_Statement, ...]] = {}

    def for_action(self, action: str) -> tuple[_Statement, ...]:
        """The statements whose Action/NotAction covers the action (any case)."""
        key = action.lower()
        found = self._by_action.get(key)
        if found is None:
            found = tuple(s for s in self.statements if s.names_action(action))
            if len(self._by_action) < 1024:  # bounded whatever names reach it
                self._by_action[key] = found
        return found


@functools.lru_cache(maxsize=1024)
def _parse_text(text: str, kind: str) -> Policy:
    return Policy(_load_json(text), kind)


def _load_json(text: str) -> Any:
    """The document, or PolicyError saying why the text is not JSON that a policy can be.

    Beyond syntax, Python's decoder fails in ways a policy author can cause: integers longer than
    4,300 digits (ValueError), nesting deeper than its stack (RecursionError), and the NaN and
    Infinity literals it accepts although RFC 8259 has none.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except PolicyError:
        raise
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"The policy is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise PolicyError("The policy is not valid JSON: it is nested too deeply") from None
    except ValueError:
        raise PolicyError("The policy is not valid JSON: it holds a number too long to read") from None


def _refuse_constant(name: str) -> Any:
    raise PolicyError(f"The policy is not valid JSON: {name} is not a JSON value")


# Compiled parsed documents, by their content: `repr` of the dicts, lists, strings, numbers and
# booleans a policy is made of is exact (a tuple is not a list, 1 is not True, as to the compiler)
# and, unlike `id`, cannot name another document once this one is collected.
# Bounded, least recently used out first (an OrderedDict: policy imports nothing of paycrypt's
# leaves, so not paycrypt.lru).
_BY_CONTENT: OrderedDict[tuple[str, str], Policy] = OrderedDict()
_BY_CONTENT_ENTRIES = 4096


def parse_policy(document: Policy | Mapping[str, Any] | str, kind: str = "identity") -> Policy:
    """Validate and compile a policy (JSON text or a parsed document); raises PolicyError.

    kind: "identity" (no Principal allowed) or "resource" (Principal or NotPrincipal required).
    Compiled policies are cached: by text, and by content for parsed documents."""
    if isinstance(document, Policy):
        if document.kind != kind:
            raise PolicyError(f"expected a {kind}-based policy")
        return document
    if isinstance(document, str):
        return _parse_text(document, kind)
    slot = (repr(document), kind)
    policy = _BY_CONTENT.get(slot)
    if policy is None:
        policy = Policy(document, kind)
        _BY_CONTENT[slot] = policy
        if len(_BY_CONTENT) > _BY_CONTENT_ENTRIES:
            with contextlib.suppress(KeyError):  # another thread emptied it meanwhile
                _BY_CONTENT.popitem(last=False)
    else:
        with contextlib.suppress(KeyError):
            _BY_CONTENT.move_to_end(slot)
    return policy


# ---------------------------------------------------------------------------------------------
# Evaluation


def _wildcard_arn(ctx: RequestContext) -> str:
    return f"arn:aws:payment-cryptography:{ctx.region}:{ctx.principal_account}:key/*"


def _evaluate_one(
    action: str,
    identity: Sequence[Policy],
    ref: ResourceRef | None,
    ctx: RequestContext,
    wildcard: str,
) -> Decision:
    """The decision for one action on one resource (None: the action's resource is `wildcard`)."""
    name = ref.arn if ref is not None else wildcard
    account = ref.account if ref is not None else ctx.principal_account
    get = _Scope(ctx, ref, resource_side=False)
    identity_allow: _Statement | None = None
    for policy in identity:
        for st in policy.for_action(action):
            if st.allow and identity_allow is not None:
                continue
            if st.names_resource(ref, wildcard, get) and st.conditions_hold(get):
                if not st.allow:
                    return Decision(Effect.EXPLICIT_DENY, action, name, st.sid, "identity")
                identity_allow = st
    resource_allow: _Statement | None = None
    direct = False
    resource_policy = ref.policy if ref is not None else None
    if resource_policy is not None:
        policy = parse_policy(resource_policy, "resource")
        rget = _Scope(ctx, ref, resource_side=True)
        for st in policy.for_action(action):
            if st.allow and resource_allow is not None and direct:
                continue
            via = st.principal(ctx)
            if via is None or not st.names_resource(ref, wildcard, rget) or not st.conditions_hold(rget):
                continue
            if not st.allow:
                return Decision(Effect.EXPLICIT_DENY, action, name, st.sid, "resource")
            if resource_allow is None or (via == "direct" and not direct):
                resource_allow, direct = st, via == "direct"
    root = ctx.principal_arn == f"arn:aws:iam::{ctx.principal_account}:root"
    if account == ctx.principal_account:
        if identity_allow is not None:
            return Decision(Effect.ALLOW, action, name, identity_allow.sid, "identity")
        if resource_allow is not None and direct:
            return Decision(Effect.ALLOW, action, name, resource_allow.sid, "resource")
        if root:
            return Decision(Effect.ALLOW, action, name, None, None, "root")
        return Decision(Effect.IMPLICIT_DENY, action, name, reason="identity")
    if identity_allow is None and not root:
        return Decision(Effect.IMPLICIT_DENY, action, name, reason="identity")
    if resource_allow is None:
        return Decision(Effect.IMPLICIT_DENY, action, name, reason="resource")
    return Decision(Effect.ALLOW, action, name, resource_allow.sid, "resource")


def evaluate(identity_policies: Iterable[Policy | Mapping[str, Any] | str], ctx: RequestContext) -> Decision:
    """Decide ctx.action (and its dependent actions) on every resource in ctx.resources.

    identity_policies: the caller's identity-based policies (compiled, dicts or JSON text).
    Resource policies travel on each ResourceRef. Returns the first explicit deny, else the
    first implicit deny, else an allow (naming the statement that allowed the main action)."""
    identity = [parse_policy(p, "identity") for p in identity_policies]
    wildcard = "*"
    verdict: Decision | None = None
    first_implicit: Decision | None = None
    for ref in ctx.resources or (None,):
        decision = _evaluate_one(ctx.action, identity, ref, ctx, wildcard)
        if decision.effect is Effect.EXPLICIT_DENY:
            return decision
        if decision.effect is Effect.IMPLICIT_DENY:
            first_implicit = first_implicit or decision
        elif verdict is None:
            verdict = decision
    for action in ctx.dependent_actions:
        decision = _evaluate_one(action, identity, None, ctx, _wildcard_arn(ctx))
        if decision.effect is Effect.EXPLICIT_DENY:
            return decision
        if decision.effect is Effect.IMPLICIT_DENY:
            first_implicit = first_implicit or decision
    if first_implicit is not None:
        return first_implicit
    assert verdict is not None
    return verdict


def shares_with_caller(ref: ResourceRef, ctx: RequestContext) -> bool:
    """Whether the resource's own policy shares it with the caller: an Allow statement, for any
    action, whose Principal matches the caller and whose conditions hold for this request. This is
    what makes another account's key usable at all (then `evaluate` decides the action on it); a
    missing or unreadable policy shares nothing."""
    try:
        policy = parse_policy(ref.policy or "", "resource")
    except ValueError:
        return False
    scope = _Scope(ctx, ref, resource_side=True)
    return any(
        st.allow and st.principal(ctx) is not None and st.conditions_hold(scope) for st in policy.statements
    )


@dataclass(frozen=True)
class Requester:
    """Who asks, where and how: what a decision depends on beyond the request's members."""

    principal_arn: str
    principal_account: str
    region: str
    username: str | None = None  # aws:username (IAM users only)
    user_id: str | None = None  # aws:userid
    source_ip: str | None = None
    secure_transport: bool = False
    current_time: dt.datetime | None = None  # None: now


def build_context(
    shape: RequestShape, resources: Sequence[ResourceRef], requester: Requester
) -> RequestContext:
    """The RequestContext for a described request and the resources its targets resolved to.

    Service keys that hold a key identifier (WrappingKeyIdentifier, …) take the ARN of the key
    the same member resolved to, so policies can name keys by ARN whatever the caller sent."""
    service_keys: Mapping[str, str] = shape.service_keys
    if shape.service_key_members.keys() & IDENTIFIER_KEYS:
        by_member = {ref.member: ref.arn for ref in resources if ref.member}
        service_keys = dict(service_keys)
        for name, member in shape.service_key_members.items():
            if name in IDENTIFIER_KEYS and member in by_member:
                service_keys[name] = by_member[member]
    extra = {"current_time": requester.current_time} if requester.current_time is not None else {}
    return RequestContext(
        action=shape.action,
        principal_arn=requester.principal_arn,
        principal_account=requester.principal_account,
        region=requester.region,
        resources=tuple(resources),
        username=requester.username,
        user_id=requester.user_id,
        request_tags=shape.request_tags,
        tag_keys=shape.tag_keys,
        source_ip=requester.source_ip,
        secure_transport=requester.secure_transport,
        service_keys=service_keys,
        dependent_actions=shape.dependent_actions,
        **extra,
    )


# ---------------------------------------------------------------------------------------------
# Public policies (PutResourcePolicy's PublicPolicyException)

# Keys that pin a statement to known principals or sources when tested with fixed values.
_RESTRICTING_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceowner",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceip",
        "aws:userid",
        "aws:username",
    }
)
_RESTRICTING_KINDS = frozenset({"str", "stri", "like", "arn", "ip"})


def _restricting(clause: Clause) -> bool:
    if clause.key not in _RESTRICTING_KEYS or clause.kind not in _RESTRICTING_KINDS:
        return False
    if clause.negated or clause.if_exists or clause.qualifier:
        return False
    if clause.kind == "ip":
        return all(net.prefixlen > 0 for net in clause.compare)
    texts = [p.exact or "*" for p in clause.compare] if clause.kind in ("like", "arn") else clause.compare
    return all("*" not in t and "?" not in t and "${" not in t for t in texts)


def is_public(resource_policy: Policy | Mapping[str, Any] | str) -> bool:
    """Does the policy allow anyone (Principal "*" / {"AWS": "*"} or NotPrincipal) without a
    condition pinning the caller to fixed accounts, principals or sources (aws:PrincipalAccount,
    aws:PrincipalArn, aws:SourceAccount, aws:SourceVpce, a CIDR other than 0.0.0.0/0, …)?"""
    policy = parse_policy(resource_policy, "resource")
    for st in policy.statements:
        if not st.allow or st.principals is None:
            continue
        open_to_all = st.principals.anyone if not st.not_principal else True
        if open_to_all and not any(_restricting(c) for c in st.conditions):
            return True
    return False

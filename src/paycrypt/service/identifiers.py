"""Key identifiers, resolved against the store once per request.

A request names a key by key ARN, alias ARN or alias name. The request pipeline resolves every key
a request names (as `RequestCatalog.describe` lists them) once, before authorization (`resolve_request`):
each identifier becomes a `ResolvedKey` — the stored key, the alias it was named through, and,
read from the store only if asked and then only once, its tags, alias names and resource policy.
The authorizer decides on these and hands on the ones the request may use; the service function
receives them in `Context.keys`, and `resolve_key` / `resolve_resource_arn` return them. They
resolve from the store only an identifier the pipeline did not (a service function called
directly, or a key named by something other than a request member).

What an identifier resolves to (as on AWS, where a key is visible only at its own regional
endpoint):

- a key ARN, alias ARN or alias name of the caller's account and region: the key, if it exists;
- an ARN of another region: nothing (ResourceNotFoundException);
- a key ARN of another account in the caller's region: the key and its resource policy, for the
  authorizer to decide; the service sees it only if the authorizer found it shared with the
  caller (any other is AccessDeniedException there, `auth.authorize`, whether or not it exists).
  When resolving without the pipeline, nothing;
- an alias ARN of another account: ResourceNotFoundException at once (aliases never cross
  accounts);
- a `ResourceArn` member names a key by its key ARN only.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from paycrypt import arns
from paycrypt.errors import ResourceNotFound
from paycrypt.policy.requests import Target
from paycrypt.store.base import Store
from paycrypt.store.records import KeyRecord

if TYPE_CHECKING:
    from paycrypt.service.context import Context

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 16
_ID_SPACE = len(ID_ALPHABET) ** ID_LENGTH
ALIAS_LIST_LIMIT = 1000  # alias names read for `ResolvedKey.aliases` (ResourceAliases)
_UNREAD = object()


def new_key_id() -> str:
    """16 characters drawn uniformly from the 36: one draw of a number below 36**16, written in base
    36 (16 `secrets.choice` calls cost about 65 µs of a CreateKey; this about 3)."""
    number = secrets.randbelow(_ID_SPACE)
    characters = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(ID_ALPHABET))
        characters.append(ID_ALPHABET[digit])
    return "".join(characters)


def key_arn(ctx: Context, key_id: str) -> str:
    return arns.build(ctx.region, ctx.account, f"key/{key_id}")


def alias_arn(ctx: Context, alias_name: str) -> str:
    return arns.build(ctx.region, ctx.account, alias_name)


class ResolvedKey:
    """One key identifier of a request, as the store holds it now.

    `record` is the key, or None when there is none the caller may see. `arn` is the key's ARN;
    without a key, the name the identifier gave (the ARN as sent, or the alias's ARN). `account`
    is the account that name belongs to. `alias_name` and `alias_arn` are set when the key was
    named through an alias. Tags, alias names and the resource policy are read on first use:
    most requests need none of them (the authorizer asks only for what a policy can test)."""

    __slots__ = (
        "_aliases",
        "_policy",
        "_store",
        "_tags",
        "account",
        "alias_arn",
        "alias_name",
        "arn",
        "record",
    )

    def __init__(
        self,
        store: Store,
        arn: str,
        account: str,
        record: KeyRecord | None = None,
        alias_name: str | None = None,
        alias_arn: str | None = None,
    ) -> None:
        self._store = store
        self.arn = arn
        self.account = account
        self.record = record
        self.alias_name = alias_name
        self.alias_arn = alias_arn
        self._tags: object = _UNREAD
        self._aliases: object = _UNREAD
        self._policy: object = _UNREAD

    @property
    def tags(self) -> dict[str, str]:
        """The key's tags (aws:ResourceTag/*)."""
        if self._tags is _UNREAD:
            listed = self._store.get_tags(self.arn) if self.record is not None else []
            self._tags = {tag["Key"]: tag["Value"] for tag in listed}
        return self._tags  # type: ignore[return-value]

    @property
    def aliases(self) -> tuple[str, ...]:
        """The names of the aliases that point at the key (payment-cryptography:ResourceAliases)."""
        if self._aliases is _UNREAD:
            record = self.record
            listed = (
                self._store.list_aliases(record.account, record.region, record.arn, "", ALIAS_LIST_LIMIT)
                if record is not None
                else []
            )
            self._aliases = tuple(alias.alias_name for alias in listed)
        return self._aliases  # type: ignore[return-value]

    @property
    def policy(self) -> str | None:
        """The key's resource policy, as JSON text, or None."""
        if self._policy is _UNREAD:
            self._policy = self._store.get_resource_policy(self.arn) if self.record is not None else None
        return self._policy  # type: ignore[return-value]

    def __repr__(self) -> str:
        found = "found" if self.record is not None else "not found"
        return f"ResolvedKey({self.arn!r}, {self.account!r}, {found}, alias={self.alias_name!r})"


#: Identifier (as the request gave it) → what it resolved to.
Keys = Mapping[str, ResolvedKey]


def resolve_request(store: Store, account: str, region: str, named: Iterable[Target]) -> Keys:
    """Resolve every key a request names (`RequestCatalog.describe`'s targets: key identifiers, and the
    alias of GetAlias and UpdateAlias, `with_key`, which names a key too), each identifier once.

    Raises ResourceNotFound for an alias ARN of another account."""
    found: dict[str, ResolvedKey] = {}
    for target in named:
        if (target.kind == "key" or target.with_key) and target.identifier not in found:
            found[target.identifier] = resolve(store, account, region, target.identifier, target.member)
    return found


def resolve(
    store: Store, account: str, region: str, identifier: str, member: str = "", foreign: bool = True
) -> ResolvedKey:
    """What one key identifier names, for a caller of `account` in `region` (see the module's
    docstring). `foreign=False` resolves another account's key ARN to nothing without reading it."""
    if not identifier.startswith(arns.PREFIX):
        return _through_alias(store, account, region, identifier, arns.build(region, account, identifier))
    arn = arns.parse(identifier)
    if arn is None:
        return ResolvedKey(store, identifier, account)
    if arn.account != account:
        if not foreign:
            return ResolvedKey(store, identifier, arn.account)
        if not arn.resource.startswith("key/"):
            raise _not_found(identifier, member)
        record = store.get_key(identifier) if arn.region == region else None
        if record is None or record.region != region:
            return ResolvedKey(store, identifier, arn.account)
        return ResolvedKey(store, identifier, arn.account, record)
    if arn.region != region:
        return ResolvedKey(store, identifier, account)
    if arn.resource.startswith("key/"):
        record = _owned(store.get_key(identifier), account, region)
        return ResolvedKey(store, identifier, account, record)
    if arn.resource.startswith("alias/"):
        return _through_alias(store, account, region, arn.resource, identifier)
    return ResolvedKey(store, identifier, account)


def _through_alias(store: Store, account: str, region: str, name: str, arn: str) -> ResolvedKey:
    alias = store.get_alias(account, region, name)
    record = store.get_key(alias.key_arn) if alias is not None and alias.key_arn else None
    record = _owned(record, account, region)
    if record is None:
        return ResolvedKey(store, arn, account, alias_name=name, alias_arn=arn)
    return ResolvedKey(store, record.arn, account, record, alias_name=name, alias_arn=arn)


def _owned(record: KeyRecord | None, account: str, region: str) -> KeyRecord | None:
    if record is None or record.account != account or record.region != region:
        return None
    return record


def _not_found(identifier: str, member: str) -> ResourceNotFound:
    if member == "ResourceArn" or member.endswith(".ResourceArn"):
        return ResourceNotFound(f"Resource {identifier} was not found.", identifier)
    return ResourceNotFound(f"Key {identifier} was not found.", identifier)


# --- for service functions ---------------------------------------------------------------------


def resolved(store: Store, ctx: Context, identifier: str) -> ResolvedKey:
    """The pipeline's resolution of `identifier`, or, if it made none, one made now (which never
    reaches another account's key: only the authorizer can allow that)."""
    found = ctx.keys.get(identifier)
    if found is not None:
        return found
    return resolve(store, ctx.account, ctx.region, identifier, foreign=False)


def resolve_key(store: Store, ctx: Context, identifier: str) -> KeyRecord:
    record = resolved(store, ctx, identifier).record
    if record is None:
        raise _not_found(identifier, "")
    return record


def resolve_resource_arn(store: Store, ctx: Context, arn: str) -> KeyRecord:
    """ResourceArn members name a key by its ARN only."""
    found = resolved(store, ctx, arn)
    if found.record is None or found.alias_name is not None:
        raise _not_found(arn, "ResourceArn")
    return found.record

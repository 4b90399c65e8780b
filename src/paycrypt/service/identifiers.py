"""Key and alias identifiers: ARNs, alias names, and resolving either to a stored key.

A key identifier may be a key ARN, an alias ARN or an alias name. An ARN of another account or
region than the caller's resolves to nothing (ResourceNotFoundException), as on AWS, where such
a key is simply not visible to the caller's regional endpoint, with one exception: a key ARN of
another account in the caller's region that the authorizer allowed for this request through the
key's resource policy (`Context.shared`). Alias names and alias ARNs stay per account. (A key
ARN of another account that the authorizer did not allow never gets here: it is
AccessDeniedException there, `auth.authorize`.)
"""

from __future__ import annotations

import secrets
import string

from paycrypt.errors import ResourceNotFound
from paycrypt.service.context import Context
from paycrypt.store.base import Store
from paycrypt.store.records import KeyRecord

ARN_PREFIX = "arn:aws:payment-cryptography:"
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 16


def new_key_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def key_arn(ctx: Context, key_id: str) -> str:
    return f"{ARN_PREFIX}{ctx.region}:{ctx.account}:key/{key_id}"


def alias_arn(ctx: Context, alias_name: str) -> str:
    return f"{ARN_PREFIX}{ctx.region}:{ctx.account}:{alias_name}"


def _split_arn(ctx: Context, arn: str) -> str | None:
    """The resource part ('key/…' or 'alias/…') of an ARN in the caller's account and region."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[3] != ctx.region or parts[4] != ctx.account:
        return None
    return parts[5]


def resolve_key(store: Store, ctx: Context, identifier: str) -> KeyRecord:
    record = _lookup(store, ctx, identifier)
    if record is None:
        raise ResourceNotFound(f"Key {identifier} was not found.", identifier)
    return record


def _lookup(store: Store, ctx: Context, identifier: str) -> KeyRecord | None:
    if identifier.startswith(ARN_PREFIX):
        resource = _split_arn(ctx, identifier)
        if resource is None:
            return _shared(store, ctx, identifier)
        if resource.startswith("key/"):
            return _owned(store.get_key(identifier), ctx)
        identifier = resource
    alias = store.get_alias(ctx.account, ctx.region, identifier)
    if alias is None or alias.key_arn is None:
        return None
    return _owned(store.get_key(alias.key_arn), ctx)


def _owned(record: KeyRecord | None, ctx: Context) -> KeyRecord | None:
    if record is None or record.account != ctx.account or record.region != ctx.region:
        return None
    return record


def _shared(store: Store, ctx: Context, arn: str) -> KeyRecord | None:
    """A key of another account that the authorizer allowed for this request (Context.shared)."""
    if arn not in ctx.shared:
        return None
    record = store.get_key(arn)
    return record if record is not None and record.region == ctx.region else None


def resolve_resource_arn(store: Store, ctx: Context, arn: str) -> KeyRecord:
    """ResourceArn members name a key by its ARN only."""
    resource = _split_arn(ctx, arn)
    if resource is None:
        record = _shared(store, ctx, arn)
    else:
        record = _owned(store.get_key(arn), ctx) if resource.startswith("key/") else None
    if record is None:
        raise ResourceNotFound(f"Resource {arn} was not found.", arn)
    return record

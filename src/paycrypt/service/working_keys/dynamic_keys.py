"""Dynamic keys: a WrappedKey turned into a working key for one request, never stored.

The data-plane operations that take a `WrappedKey` (EncryptData, DecryptData, ReEncryptData,
TranslatePinData, GeneratePinData, VerifyPinData) call

    resolve(svc, ctx, wrapped_key, operation, member, role, key_identifier)

where `wrapped_key` is the API's WrappedKey structure, (operation, member, role) is the row of
`key_usage.RULES` the working key must fit (the same row a stored key would be checked
against), and `key_identifier` is the value of the operation's `role` member, i.e. the stored
key the operation names: **the shared contract's six arguments plus this seventh**, because a
WrappedKey does not name the key that unwraps it (the API model: "When a WrappedKeyBlock is
provided, this value [KeyIdentifier] will be the identifier to the key wrapping key").

- `Tr31KeyBlock`: the named key is a KEK (TR31_K0/K1, TDES or AES, Unwrap or Decrypt: the
  rules row ("WrappedKey", "Tr31KeyBlock", "KEK")); the block is verified and opened under it
  (version D under an AES KEK, A/B/C under a TDES one; the KEK at least as strong as the key),
  and the header gives the working key's attributes (`key_blocks`). The exportability letter
  is irrelevant to a key used once and is ignored.
- `DiffieHellmanSymmetricKey`: the named key is a TR31_K3 ECC key pair (row ("WrappedKey",
  "DiffieHellmanSymmetricKey", "K3")); ECDH with the partner certificate (chained to the named
  CA) and the KDF give the working key. Its KeyUsage is the K3 key's DeriveKeyUsage when it has
  one (fixed at creation, so such a K3 key derives one kind of key and is refused for any
  other); a K3 key without one (DeriveKeyUsage is optional in the model, and AWS's ECDH PIN
  samples create theirs without it) gives the usage the operation's row needs. Its algorithm is
  the request's KeyAlgorithm, which the curve must be at least as strong as (the guide's
  matrix), and its modes every mode that usage allows in the key-attribute table.

The working key's attributes are then checked against the operation's row with
`key_usage.check_attributes`, and its KCV is computed with `WrappedKey.KeyCheckValueAlgorithm`
(default ANSI_X9_24 for TDES, CMAC for AES). `WorkingKey.arn` is the named stored key (the KEK
or the K3 key), which is what the guide's dynamic-key examples return as KeyArn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paycrypt.errors import ValidationError
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import ecdh_agreement, key_blocks
from paycrypt.service.rules import check_values, combinations, key_usage

PSEUDO_OPERATION = "WrappedKey"  # the rules-table operation for the stored key a WrappedKey names


@dataclass(frozen=True)
class WorkingKey:
    material: bytes = field(repr=False)
    attributes: dict[str, Any]  # KeyAttributes shape: KeyUsage, KeyAlgorithm, KeyClass, KeyModesOfUse
    key_check_value: str  # KCV of the working key, in WrappedKey.KeyCheckValueAlgorithm or the default
    arn: str  # ARN of the stored key named by the operation (the KEK, or the K3 key)


def resolve(
    svc: Service,
    ctx: Context,
    wrapped_key: dict[str, Any],
    operation: str,
    member: str,
    role: str,
    key_identifier: str,
) -> WorkingKey:
    """Unwrap or derive the working key of `wrapped_key` with the stored key `key_identifier`."""
    name, value = unions.member(wrapped_key["WrappedKeyMaterial"])
    build = unions.handler(operation, "WrappedKeyMaterial", name, _BUILDERS)
    named = _Named(key_identifier, key_usage.RULES[operation, member, role])
    material, attributes, arn = build(svc, ctx, value, named)
    key_usage.check_attributes(operation, member, role, attributes, f"The key in WrappedKeyMaterial.{name}")
    kcv, _ = check_values.compute(
        attributes["KeyAlgorithm"], wrapped_key.get("KeyCheckValueAlgorithm"), material
    )
    return WorkingKey(material, attributes, kcv, arn)


@dataclass(frozen=True)
class _Named:
    """What the operation says of its working key: the stored key it names (the KEK or the K3
    key) and the rules row the working key must fit."""

    key_identifier: str
    row: key_usage.KeyRule


def _from_tr31(svc: Service, ctx: Context, block: str, named: _Named) -> tuple[bytes, dict[str, Any], str]:
    """The block's own header gives the attributes; the row is checked against them afterwards."""
    kek = identifiers.resolve_key(svc.store, ctx, named.key_identifier)
    key_usage.check_key(PSEUDO_OPERATION, "Tr31KeyBlock", kek, "KEK")
    opened = key_blocks.unwrap(
        svc.keycache.material(kek),
        kek.key_attributes["KeyAlgorithm"],
        block,
        "WrappedKeyMaterial.Tr31KeyBlock",
    )
    return opened.material, opened.attributes, kek.arn


def _from_ecdh(
    svc: Service, ctx: Context, params: dict[str, Any], named: _Named
) -> tuple[bytes, dict[str, Any], str]:
    path = "WrappedKeyMaterial.DiffieHellmanSymmetricKey"
    terms = ecdh_agreement.Terms.of(
        params, named.key_identifier, params["KeyAlgorithm"], params["SharedInformation"]
    )
    place = ecdh_agreement.Place(PSEUDO_OPERATION, "DiffieHellmanSymmetricKey", "K3", path)
    agreement = ecdh_agreement.derive(svc, ctx, terms, place)
    ecdh_agreement.check_curve(agreement, agreement.algorithm, path)
    return agreement.key, derived_attributes(agreement, named.row, path), agreement.private_key.arn


def derived_attributes(
    agreement: ecdh_agreement.Agreement, row: key_usage.KeyRule, path: str
) -> dict[str, Any]:
    """The attributes of a key agreed with a K3 key pair: its DeriveKeyUsage, or without one the
    usage the operation's row needs (every WrappedKey row names exactly one); widest modes."""
    usage = agreement.private_key.derive_key_usage or min(row.usages)
    rule = combinations.RULES[usage]
    if agreement.algorithm not in rule.algorithms:
        raise ValidationError(
            f"{path}.KeyAlgorithm {agreement.algorithm} is not valid for the derived KeyUsage {usage}."
        )
    modes = frozenset().union(*(s for s in rule.modes if "NoRestrictions" not in s))
    return {
        "KeyUsage": usage,
        "KeyAlgorithm": agreement.algorithm,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": combinations.normalized_modes({mode: True for mode in modes}),
    }


_BUILDERS = {"Tr31KeyBlock": _from_tr31, "DiffieHellmanSymmetricKey": _from_ecdh}

"""As2805KeyCryptogram on ImportKey and ExportKey: AS 2805.6 variant key cryptograms (issue 7).

A working key travels as TDES-CBC (IV 0) under KEK ⊕ the variant's mask (`crypto.as2805`), as
plain uppercase hex with no key-scheme prefix (the model's WrappedKeyCryptogram pattern is
`[0-9A-F]+`; the guide's 33-character `H…` value would not pass it). Decisions:

- One table, `VARIANT_KEY_USAGES`, maps each As2805KeyVariant to the one KeyUsage it carries, as
  the guide's mapping table lists them: 00 ↔ TR31_K0, 28 ↔ TR31_P0, 24 ↔ TR31_M0, 22 ↔ TR31_D0.
  It is one-to-one in both directions: import stores the variant's usage, and export refuses a key
  of any other usage (e.g. a D0 key with variant 28, or an M1/M3 MAC key with variant 24 — the
  peer would receive it as an M0 key, a usage the key did not have here).
- TDES keys only (TDES_2KEY, TDES_3KEY), as all AS 2805 cryptography is TDES; the KEK is a
  TR31_K0 TDES key (Wrap/Encrypt to export, Unwrap/Decrypt to import, or NoRestrictions:
  `key_usage.RULES`), at least as strong as the key (a TDES_2KEY KEK cannot carry a TDES_3KEY
  key).
- Import: the attributes are the variant's usage, the request's KeyAlgorithm and KeyModesOfUse
  (checked by CreateKey's rules, `combinations.check_create`) and Exportable; KeyOrigin EXTERNAL;
  the cryptogram's length must be the KeyAlgorithm's. A cryptogram carries no integrity check,
  so a wrong KEK, wrong variant or damaged cryptogram imports a different key: the response's
  KeyCheckValue (the imported key's) is what the caller compares with the sender's.
- Export: the key must be exportable (and not received as TR-31 exportability E, "key blocks
  only"); the response carries the exported key's KCV, not the KEK's as the guide's example
  shows (an erratum), and WrappingKeyArn is the KEK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from paycrypt.crypto import as2805
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import key_blocks
from paycrypt.service.rules import combinations, key_usage

MEMBER = "As2805KeyCryptogram"
ROLE = "WrappingKeyIdentifier"
PATH = f"KeyMaterial.{MEMBER}"

# As2805KeyVariant → the KeyUsage a key sent with that variant has (the guide's mapping table).
VARIANT_KEY_USAGES: Mapping[str, str] = MappingProxyType(
    {
        "TERMINAL_MAJOR_KEY_VARIANT_00": "TR31_K0_KEY_ENCRYPTION_KEY",
        "PIN_ENCRYPTION_KEY_VARIANT_28": "TR31_P0_PIN_ENCRYPTION_KEY",
        "MESSAGE_AUTHENTICATION_KEY_VARIANT_24": "TR31_M0_ISO_16609_MAC_KEY",
        "DATA_ENCRYPTION_KEY_VARIANT_22": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    }
)


@dataclass(frozen=True)
class Received:
    attributes: dict[str, Any]
    material: bytes = field(repr=False)
    exportable: bool


def _variant_usage(variant: str) -> str:
    usage = VARIANT_KEY_USAGES.get(variant)
    if usage is None:  # the wire layer checks the enum; kept for direct callers
        raise ValidationError(f"{PATH}.As2805KeyVariant must be one of {', '.join(VARIANT_KEY_USAGES)}.")
    return usage


def _require_tdes(algorithm: str, what: str) -> None:
    if algorithm not in combinations.TDES:
        raise ValidationError(
            f"{what} is {algorithm}; AS2805 key cryptograms carry TDES_2KEY or TDES_3KEY keys."
        )


def _kek(svc: Service, ctx: Context, operation: str, identifier: str, protected_algorithm: str) -> Any:
    kek = identifiers.resolve_key(svc.store, ctx, identifier)
    key_usage.check_key(operation, MEMBER, kek, ROLE)
    wrapping_algorithm = kek.key_attributes["KeyAlgorithm"]
    key_blocks.check_strength(wrapping_algorithm, protected_algorithm, f"{PATH}: the wrapping key")
    return kek


def receive(svc: Service, ctx: Context, value: dict[str, Any]) -> Received:
    """ImportKey: check the request, open the cryptogram under the KEK ⊕ variant, say what the key is."""
    variant = value["As2805KeyVariant"]
    algorithm = value["KeyAlgorithm"]
    _require_tdes(algorithm, f"{PATH}.KeyAlgorithm")
    attributes = {
        "KeyUsage": _variant_usage(variant),
        "KeyClass": "SYMMETRIC_KEY",
        "KeyAlgorithm": algorithm,
        "KeyModesOfUse": value["KeyModesOfUse"],
    }
    try:
        combinations.check_create(attributes, None)
    except ValidationError as exc:
        raise ValidationError(f"{PATH}: As2805KeyVariant {variant} gives {exc.message}") from None
    kek = _kek(svc, ctx, "ImportKey", value[ROLE], algorithm)
    try:
        key = as2805.unwrap_key_cryptogram(svc.keycache.material(kek), value["WrappedKeyCryptogram"], variant)
    except ValueError as exc:
        raise ValidationError(f"{PATH}.WrappedKeyCryptogram: {exc}.") from None
    combinations.check_material_length(algorithm, len(key), f"{PATH}.WrappedKeyCryptogram")
    return Received(attributes, key, value["Exportable"])


def send(
    svc: Service, ctx: Context, value: dict[str, Any], attributes: dict[str, Any], material: bytes, label: str
) -> dict[str, Any]:
    """ExportKey: the key (`attributes`, `material`) as a cryptogram under the KEK ⊕ variant.

    Returns the WrappedKey members but the KCV, which the caller adds (the exported key's)."""
    variant = value["As2805KeyVariant"]
    usage = _variant_usage(variant)
    if attributes["KeyUsage"] != usage:
        raise ValidationError(
            f"{label} has KeyUsage {attributes['KeyUsage']}; As2805KeyVariant {variant} carries "
            f"{usage} keys only."
        )
    _require_tdes(attributes["KeyAlgorithm"], f"{label} KeyAlgorithm")
    kek = _kek(svc, ctx, "ExportKey", value[ROLE], attributes["KeyAlgorithm"])
    try:
        cryptogram = as2805.wrap_key_cryptogram(svc.keycache.material(kek), material, variant)
    except ValueError as exc:
        raise ValidationError(f"{PATH}: {exc}.") from None
    return {
        "WrappingKeyArn": kek.arn,
        "WrappedKeyMaterialFormat": "KEY_CRYPTOGRAM",
        "KeyMaterial": cryptogram,
    }

"""GeneratePinData and VerifyPinData: Visa PVV and IBM 3624 over ISO 9564-1 PIN blocks.

Two keys take part in each call: the PIN verification key (PVK: TR31_V2 for Visa, TR31_V1 for
IBM 3624, TDES) computes the PVV, natural PIN or offset, and the PIN encryption key protects the
PIN block on its way out (GeneratePinData) or in (both operations). The incoming PIN block is
under a stored PEK (TR31_P0), under a dynamic PEK (EncryptionWrappedKey: a TR-31 block under the
KEK that EncryptionKeyIdentifier names, or a key agreed by ECDH with the K3 key pair it names,
`service.dynamic_keys`), or under a DUKPT PIN key that VerifyPinData derives from a stored BDK
(TR31_B0) and the terminal's KSN (DukptAttributes, `service.dukpt_keys`). Which key each member
accepts is in `key_usage.RULES` (a dynamic PEK is checked against the same row as a stored
one); which PEK algorithm each PinBlockFormat needs is `FORMAT_ALGORITHM` below.

Decisions (docs/decisions/issuer.md):
- All four PinBlockFormat values are served, though the model's documentation lists fewer:
  ISO_FORMAT_0, 1 and 3 with a TDES PIN key, ISO_FORMAT_4 with an AES one; anything else is
  ValidationException naming PinBlockFormat.
- PrimaryAccountNumber (optional in the model) is required by the formats that bind the PIN to
  the PAN (0, 3, 4) and by the Visa PVV, whose input it is.
- PinDataLength (default 4) is the length of a PIN generated here; with PinOffset it must equal
  the offset's length; with a member that reads the PIN from EncryptedPinBlock it must equal
  that PIN's length (ValidationException otherwise). On VerifyPinData with VisaPin a PIN of
  another length is a wrong PIN (INVALID_PIN).
- VisaPinVerificationValue and Ibm3624PinOffset return the incoming EncryptedPinBlock unchanged
  (same PEK, same PIN); Ibm3624NaturalPin returns an all-zero PinOffset, the offset of the
  natural PIN.
- A PIN block that does not decode under the key, PAN and format is ValidationException with
  AWS's message, which deliberately does not say which rule failed.
- Random PINs come from `secrets` (crypto.pinblock.random_pin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from paycrypt.crypto import ibm3624, pinblock, visa_pvv
from paycrypt.crypto.primitives import CipherKey, Key, constant_time_equal
from paycrypt.errors import ValidationError, VerificationFailed
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage
from paycrypt.service.working_keys import dukpt_keys, dynamic_keys
from paycrypt.store.records import KeyRecord

T = TypeVar("T")

DEFAULT_PIN_LENGTH = 4
INVALID_PIN_BLOCK = (
    "Pin block provided is invalid. Please check your input to ensure all field values are correct."
)

# PinBlockFormat -> the algorithm family of the PIN key that may protect it (ISO 9564-1: formats
# 0, 1 and 3 are 8-byte TDES blocks; format 4 is the 16-byte AES block).
FORMAT_ALGORITHM: dict[str, str] = {
    "ISO_FORMAT_0": "TDES",
    "ISO_FORMAT_1": "TDES",
    "ISO_FORMAT_3": "TDES",
    "ISO_FORMAT_4": "AES",
}
# Formats whose PIN field is bound to the PAN.
FORMATS_WITH_PAN = frozenset({"ISO_FORMAT_0", "ISO_FORMAT_3", "ISO_FORMAT_4"})


# NamedTuples, not frozen dataclasses: built on every call, and a frozen dataclass's __init__
# costs three times as much (object.__setattr__ per field).
class PinKey(NamedTuple):
    """The key a PIN block is under: a stored PEK, a dynamic PEK, or a DUKPT PIN key."""

    material: Key  # a stored key's comes with its cached cipher contexts
    family: str  # "TDES" or "AES"
    arn: str
    key_check_value: str
    label: str  # how errors name it

    def __repr__(self) -> str:  # never the material
        return f"PinKey({self.family}, {self.arn!r})"


class PinBlocks(NamedTuple):
    """Everything a member needs to read or write the request's PIN blocks."""

    key: PinKey
    pin_block_format: str
    pan: str | None

    def encrypt(self, pin: str) -> str:
        try:
            return pinblock.encrypt_pin(self.key.material, self.pin_block_format, pin, self.pan)
        except ValueError as exc:  # a PIN generated here always encodes
            raise invalid("PinBlockFormat", f"the PIN block cannot be built: {exc}") from None

    def decrypt(self, encrypted_pin_block: str, path: str) -> str:
        size = 32 if self.key.family == "AES" else 16
        if len(encrypted_pin_block) != size:
            raise invalid(
                path,
                f"it must be {size} hexadecimal characters for {self.pin_block_format} "
                f"under {_article(self.key.family)} {self.key.family} key",
            )
        try:
            return pinblock.decrypt_pin(
                self.key.material, self.pin_block_format, encrypted_pin_block, self.pan
            )
        except ValueError:
            raise ValidationError(INVALID_PIN_BLOCK) from None


def _pin_blocks(params: dict[str, Any], key: PinKey) -> PinBlocks:
    fmt = params["PinBlockFormat"]
    needed = FORMAT_ALGORITHM.get(fmt)
    if needed is None:
        raise invalid("PinBlockFormat", f"{fmt} is not supported")
    if needed != key.family:
        raise invalid(
            "PinBlockFormat",
            f"{fmt} needs {_article(needed)} {needed} PIN key and {key.label} is {key.family} "
            "(ISO_FORMAT_4 is the AES format; ISO_FORMAT_0, ISO_FORMAT_1 and ISO_FORMAT_3 are the TDES ones)",
        )
    pan = params.get("PrimaryAccountNumber")
    if pan is None and fmt in FORMATS_WITH_PAN:
        raise invalid("PrimaryAccountNumber", f"it is required with PinBlockFormat {fmt}")
    return PinBlocks(key, fmt, pan)


def _article(word: str) -> str:
    """The indefinite article before an algorithm family: "an AES", "a TDES"."""
    return "an" if word[:1] in "AEIOU" else "a"


def _family(algorithm: str) -> str:
    return "AES" if algorithm.startswith("AES") else "TDES"


def _pin_key(svc: Service, ctx: Context, params: dict[str, Any], op: str, member: str) -> PinKey:
    """The key named by EncryptionKeyIdentifier, or the dynamic key EncryptionWrappedKey carries
    (a TR-31 block under that KEK, or an ECDH-derived key with that K3 key pair), checked against
    the same (operation, member, "EncryptionKeyIdentifier") row as a stored PEK."""
    role = "EncryptionKeyIdentifier"
    wrapped = params.get("EncryptionWrappedKey")
    if wrapped is not None:
        working = dynamic_keys.resolve(svc, ctx, wrapped, op, member, role, params[role])
        family = _family(working.attributes["KeyAlgorithm"])
        label = "the key in EncryptionWrappedKey"
        return PinKey(working.material, family, working.arn, working.key_check_value, label)
    record = identifiers.resolve_key(svc.store, ctx, params[role])
    key_usage.check_key(op, member, record, role)
    return PinKey(
        svc.keycache.cipher_key(record),
        _family(record.key_attributes["KeyAlgorithm"]),
        record.arn,
        record.key_check_value,
        f"key {record.arn}",
    )


def _dukpt_pin_key(svc: Service, ctx: Context, params: dict[str, Any], op: str) -> PinKey:
    """The PIN key a terminal used for the KSN given, derived from the stored BDK (X9.24-1/-3)."""
    if params.get("EncryptionWrappedKey") is not None:
        raise invalid("EncryptionWrappedKey", "it cannot be used together with DukptAttributes")
    dukpt = params["DukptAttributes"]
    record = identifiers.resolve_key(svc.store, ctx, params["EncryptionKeyIdentifier"])
    key_usage.check_key(op, "DukptAttributes", record, "EncryptionKeyIdentifier")
    derived = dukpt_keys.working_key(
        svc,
        record,
        dukpt["KeySerialNumber"],
        dukpt_keys.Purpose.PIN,
        None,
        dukpt["DukptDerivationType"],
        ksn_path="DukptAttributes.KeySerialNumber",
        type_path="DukptAttributes.DukptDerivationType",
    )
    label = f"the DUKPT PIN key ({dukpt['DukptDerivationType']})"
    return PinKey(derived.key, derived.family, record.arn, record.key_check_value, label)


def _pvk(
    svc: Service, ctx: Context, identifier: str, op: str, member: str, role: str
) -> tuple[KeyRecord, CipherKey]:
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    key_usage.check_key(op, member, record, role)
    return record, svc.keycache.cipher_key(record)


def _pin_length(params: dict[str, Any]) -> int:
    return params.get("PinDataLength") or DEFAULT_PIN_LENGTH


def _require_pan(blocks: PinBlocks, member: str) -> str:
    if blocks.pan is None:
        raise invalid("PrimaryAccountNumber", f"it is required with {member}")
    return blocks.pan


def _check_length_matches(params: dict[str, Any], length: int, what: str) -> None:
    given = params.get("PinDataLength")
    if given is not None and given != length:
        raise invalid("PinDataLength", f"{given} does not match the length of {what}")


def _ibm(pvk: CipherKey, attrs: dict[str, Any]) -> tuple[CipherKey, str, str, str]:
    return (
        pvk,
        attrs["DecimalizationTable"],
        attrs["PinValidationData"],
        attrs["PinValidationDataPadCharacter"],
    )


def _ibm_call(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    except ValueError as exc:
        raise invalid("GenerationAttributes", f"the IBM 3624 inputs cannot be used: {exc}") from None


# --- GeneratePinData members: (PVK, attributes, PIN blocks, request) -> (EncryptedPinBlock, PinData)

Generated = tuple[str, dict[str, str]]


def _visa_pin(pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]) -> Generated:
    pan = _require_pan(blocks, "VisaPin")
    pin = pinblock.random_pin(_pin_length(params))
    pvv = visa_pvv.generate_pvv(pvk, pan, attrs["PinVerificationKeyIndex"], pin)
    return blocks.encrypt(pin), {"VerificationValue": pvv}


def _visa_pvv(pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]) -> Generated:
    pan = _require_pan(blocks, "VisaPinVerificationValue")
    block = attrs["EncryptedPinBlock"]
    pin = blocks.decrypt(block, "GenerationAttributes.VisaPinVerificationValue.EncryptedPinBlock")
    _check_length_matches(params, len(pin), "the PIN in EncryptedPinBlock")
    pvv = visa_pvv.generate_pvv(pvk, pan, attrs["PinVerificationKeyIndex"], pin)
    return block.upper(), {"VerificationValue": pvv}


def _ibm_offset(
    pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]
) -> Generated:
    block = attrs["EncryptedPinBlock"]
    pin = blocks.decrypt(block, "GenerationAttributes.Ibm3624PinOffset.EncryptedPinBlock")
    _check_length_matches(params, len(pin), "the PIN in EncryptedPinBlock")
    offset = _ibm_call(ibm3624.pin_offset, *_ibm(pvk, attrs), pin)
    return block.upper(), {"PinOffset": offset}


def _ibm_natural(
    pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]
) -> Generated:
    length = _pin_length(params)
    pin = _ibm_call(ibm3624.natural_pin, *_ibm(pvk, attrs), length)
    return blocks.encrypt(pin), {"PinOffset": "0" * length}


def _ibm_random(
    pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]
) -> Generated:
    pin = pinblock.random_pin(_pin_length(params))
    offset = _ibm_call(ibm3624.pin_offset, *_ibm(pvk, attrs), pin)
    return blocks.encrypt(pin), {"PinOffset": offset}


def _ibm_from_offset(
    pvk: CipherKey, attrs: dict[str, Any], blocks: PinBlocks, params: dict[str, Any]
) -> Generated:
    offset = attrs["PinOffset"]
    _check_length_matches(params, len(offset), "GenerationAttributes.Ibm3624PinFromOffset.PinOffset")
    pin = _ibm_call(ibm3624.pin_from_offset, *_ibm(pvk, attrs), offset)
    return blocks.encrypt(pin), {"PinOffset": offset}


GENERATE: dict[str, Callable[[CipherKey, dict[str, Any], PinBlocks, dict[str, Any]], Generated]] = {
    "VisaPin": _visa_pin,
    "VisaPinVerificationValue": _visa_pvv,
    "Ibm3624PinOffset": _ibm_offset,
    "Ibm3624NaturalPin": _ibm_natural,
    "Ibm3624RandomPin": _ibm_random,
    "Ibm3624PinFromOffset": _ibm_from_offset,
}


def generate_pin_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "GeneratePinData"
    name, attrs = unions.member(params["GenerationAttributes"])
    generate = unions.handler(op, "GenerationAttributes", name, GENERATE)
    pvk_record, pvk = _pvk(svc, ctx, params["GenerationKeyIdentifier"], op, name, "GenerationKeyIdentifier")
    pek = _pin_key(svc, ctx, params, op, name)
    blocks = _pin_blocks(params, pek)
    encrypted_pin_block, pin_data = generate(pvk, attrs, blocks, params)
    return {
        "GenerationKeyArn": pvk_record.arn,
        "GenerationKeyCheckValue": pvk_record.key_check_value,
        "EncryptionKeyArn": pek.arn,
        "EncryptionKeyCheckValue": pek.key_check_value,
        "EncryptedPinBlock": encrypted_pin_block,
        "PinData": pin_data,
    }


# --- VerifyPinData members: inputs checked before any key is touched, then
# (PVK, attributes, clear PIN, request) -> matches?


def _check_visa(attrs: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("PrimaryAccountNumber") is None:
        raise invalid("PrimaryAccountNumber", "it is required with VisaPin")
    if len(attrs["VerificationValue"]) != visa_pvv.PVV_LENGTH:
        raise invalid(
            "VerificationAttributes.VisaPin.VerificationValue",
            f"a Visa PVV has {visa_pvv.PVV_LENGTH} digits",
        )


def _check_ibm(attrs: dict[str, Any], params: dict[str, Any]) -> None:
    # The digits compared are the offset's (crypto.ibm3624.verify_offset): PinDataLength must agree.
    _check_length_matches(params, len(attrs["PinOffset"]), "VerificationAttributes.Ibm3624Pin.PinOffset")


def _verify_visa(pvk: CipherKey, attrs: dict[str, Any], pin: str, pan: str, params: dict[str, Any]) -> bool:
    length = params.get("PinDataLength")
    expected = visa_pvv.generate_pvv(pvk, pan, attrs["PinVerificationKeyIndex"], pin)
    same = constant_time_equal(expected, attrs["VerificationValue"])
    return same and (length is None or length == len(pin))


def _verify_ibm(pvk: CipherKey, attrs: dict[str, Any], pin: str, pan: str, params: dict[str, Any]) -> bool:
    return _ibm_call(ibm3624.verify_offset, *_ibm(pvk, attrs), pin, attrs["PinOffset"])


Check = Callable[[dict[str, Any], dict[str, Any]], None]
Verify = Callable[[CipherKey, dict[str, Any], str, str, dict[str, Any]], bool]

VERIFY: dict[str, tuple[Check, Verify]] = {
    "VisaPin": (_check_visa, _verify_visa),
    "Ibm3624Pin": (_check_ibm, _verify_ibm),
}


def verify_pin_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "VerifyPinData"
    name, attrs = unions.member(params["VerificationAttributes"])
    check, verify = unions.handler(op, "VerificationAttributes", name, VERIFY)
    check(attrs, params)
    pvk_record, pvk = _pvk(
        svc, ctx, params["VerificationKeyIdentifier"], op, name, "VerificationKeyIdentifier"
    )
    if params.get("DukptAttributes") is not None:
        key = _dukpt_pin_key(svc, ctx, params, op)
    else:
        key = _pin_key(svc, ctx, params, op, name)
    blocks = _pin_blocks(params, key)
    pin = blocks.decrypt(params["EncryptedPinBlock"], "EncryptedPinBlock")
    if not verify(pvk, attrs, pin, params.get("PrimaryAccountNumber", ""), params):
        raise VerificationFailed("Pin block verification failed.", "INVALID_PIN")
    return {
        "VerificationKeyArn": pvk_record.arn,
        "VerificationKeyCheckValue": pvk_record.key_check_value,
        "EncryptionKeyArn": key.arn,
        "EncryptionKeyCheckValue": key.key_check_value,
    }

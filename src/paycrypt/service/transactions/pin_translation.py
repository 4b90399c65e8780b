"""TranslatePinData: a PIN block from one key and format to another, the PIN never leaving here.

Each side of the translation has a PIN key and a PIN block format. The incoming key is one of
(exactly one source per side; two sources on one side are ValidationException):

- a stored PEK (TR31_P0) named by IncomingKeyIdentifier;
- a DUKPT PIN key derived from a stored BDK (TR31_B0) and IncomingDukptAttributes
  (`service.dukpt_keys`, shared with the MAC and data operations);
- an AS 2805.6.4 session PIN key (KPE) derived from a stored terminal PIN key (KPP, TR31_P0
  TDES) with the STAN and amount of IncomingAs2805Attributes (`crypto.as2805`);
- a dynamic PEK in IncomingWrappedKey: a TR-31 block opened under the KEK that
  IncomingKeyIdentifier names, or a key agreed by ECDH with the K3 key pair it names
  (`service.dynamic_keys`; the working key is checked against this operation's row).

The outgoing key is a stored PEK, a DUKPT PIN key (OutgoingDukptAttributes) or a dynamic key
(OutgoingWrappedKey); the API has no outgoing AS2805 member. Which stored keys each source
accepts is `key_usage.RULES` under ("TranslatePinData", source member or "", role).

Decisions (docs/decisions/pin-translation-and-as2805.md):
- ISO formats 0, 1 and 3 and As2805Format0 are 8-byte TDES blocks; ISO format 4 is the 16-byte
  AES block. A format whose cipher differs from the key's (a TDES PEK, TDES DUKPT or KPE with
  IsoFormat4; an AES key with formats 0/1/3) is ValidationException naming the attributes.
- As2805Format0 is laid out as ISO 9564 format 0 (the AS 2805.3 PIN block AWS's model names
  without defining; nothing public says it differs).
- A PAN-bound block (formats 0, 3, 4, As2805Format0) cannot become format 1 (the model's rule),
  and the incoming and outgoing PrimaryAccountNumber must be the same (the guide's PCI rule).
- Format 4 out is ISO 9564-1:2017 (PAN field M ‖ full PAN), as GeneratePinData and psec build
  it. Format 4 in is read the ISO way and, if that does not decode, with the "legacy PAN"
  field the AWS model says its translation uses (12 rightmost digits without the check
  digit): a block built either way translates. A wrong field decodes by chance with
  probability ~2^-40 (control nibble, length, decimal digits and A-fill must all hold).
- A block that does not decode is ValidationException with AWS's "Pin block provided is
  invalid" message (not which rule failed: that would be an oracle).
- The response names the outgoing key: its ARN and KCV (for DUKPT the BDK's, for a dynamic key
  the ARN of the stored key named and the working key's KCV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from paycrypt.crypto import as2805, pinblock
from paycrypt.crypto.primitives import Key
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage
from paycrypt.service.working_keys import dukpt_keys, dynamic_keys

OP = "TranslatePinData"
INVALID_PIN_BLOCK = (
    "Pin block provided is invalid. Please check your input to ensure all field values are correct."
)


@dataclass(frozen=True)
class PinFormat:
    iso: str  # the crypto.pinblock format that lays the block out
    family: str  # the cipher of the block: "TDES" (8 bytes) or "AES" (16 bytes)
    binds_pan: bool


# TranslationIsoFormats member -> block layout.
FORMATS: dict[str, PinFormat] = {
    "IsoFormat0": PinFormat("ISO_FORMAT_0", "TDES", True),
    "IsoFormat1": PinFormat("ISO_FORMAT_1", "TDES", False),
    "IsoFormat3": PinFormat("ISO_FORMAT_3", "TDES", True),
    "IsoFormat4": PinFormat("ISO_FORMAT_4", "AES", True),
    "As2805Format0": PinFormat("ISO_FORMAT_0", "TDES", True),
}


class PinKey(NamedTuple):
    """The key one side's PIN block is under, whatever it was derived or unwrapped from (a
    NamedTuple: built twice per call, three times cheaper than a frozen dataclass)."""

    material: Key  # a stored PEK's comes with its cached cipher contexts
    family: str  # "TDES" or "AES"
    arn: str
    key_check_value: str

    def __repr__(self) -> str:  # never the material
        return f"PinKey({self.family}, {self.arn!r})"


@dataclass(frozen=True)
class Side:
    """The member names of one side of the translation."""

    name: str  # "Incoming" or "Outgoing"
    role: str  # the member naming the stored key
    attributes: str  # the TranslationIsoFormats member
    dukpt: str  # the member deriving the PIN key from a stored BDK
    wrapped: str  # the member carrying a dynamic PIN key
    sources: tuple[str, ...]  # every member saying how the PIN key comes from the stored key


INCOMING = Side(
    "Incoming",
    "IncomingKeyIdentifier",
    "IncomingTranslationAttributes",
    "IncomingDukptAttributes",
    "IncomingWrappedKey",
    ("IncomingDukptAttributes", "IncomingWrappedKey", "IncomingAs2805Attributes"),
)
OUTGOING = Side(
    "Outgoing",
    "OutgoingKeyIdentifier",
    "OutgoingTranslationAttributes",
    "OutgoingDukptAttributes",
    "OutgoingWrappedKey",
    ("OutgoingDukptAttributes", "OutgoingWrappedKey"),
)


def translate_pin_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    in_name, in_attrs = unions.member(params["IncomingTranslationAttributes"])
    out_name, out_attrs = unions.member(params["OutgoingTranslationAttributes"])
    in_format = unions.handler(OP, "IncomingTranslationAttributes", in_name, FORMATS)
    out_format = unions.handler(OP, "OutgoingTranslationAttributes", out_name, FORMATS)
    in_pan, out_pan = in_attrs.get("PrimaryAccountNumber"), out_attrs.get("PrimaryAccountNumber")
    if in_format.binds_pan and not out_format.binds_pan:
        raise ValidationError(
            f"IncomingTranslationAttributes.{in_name} binds the PIN to the PAN; it cannot be translated "
            f"to OutgoingTranslationAttributes.{out_name}, which does not."
        )
    if in_pan is not None and out_pan is not None and in_pan != out_pan:
        raise ValidationError(
            "The incoming and outgoing PrimaryAccountNumber must be the same: "
            "a PIN cannot be translated from one PAN to another."
        )
    incoming = _pin_key(svc, ctx, params, INCOMING)
    outgoing = _pin_key(svc, ctx, params, OUTGOING)
    _check_family(INCOMING, in_name, in_format, incoming)
    _check_family(OUTGOING, out_name, out_format, outgoing)
    pin = _decrypt(incoming, in_format, params["EncryptedPinBlock"], in_pan)
    try:
        pin_block = pinblock.encrypt_pin(outgoing.material, out_format.iso, pin, out_pan)
    except ValueError as exc:  # a PIN read from a valid block always encodes
        raise ValidationError(f"The outgoing PIN block cannot be built: {exc}.") from None
    return {"PinBlock": pin_block, "KeyArn": outgoing.arn, "KeyCheckValue": outgoing.key_check_value}


# --- keys ---------------------------------------------------------------------------------------


def _source(params: dict[str, Any], side: Side) -> str:
    """The one source member the side gives, or "" for a stored PEK."""
    given = [member for member in side.sources if params.get(member) is not None]
    if len(given) > 1:
        raise ValidationError(f"{' and '.join(given)} cannot be used together.")
    return given[0] if given else ""


def _pin_key(svc: Service, ctx: Context, params: dict[str, Any], side: Side) -> PinKey:
    member = _source(params, side)
    if member == side.wrapped:
        return _wrapped_key(svc, ctx, params, side)
    record = identifiers.resolve_key(svc.store, ctx, params[side.role])
    key_usage.check_key(OP, member, record, side.role)
    if member == side.dukpt:
        attrs = params[member]
        derived = dukpt_keys.working_key(
            svc,
            record,
            attrs["KeySerialNumber"],
            dukpt_keys.Purpose.PIN,
            attrs.get("DukptKeyVariant"),
            attrs.get("DukptKeyDerivationType"),
            ksn_path=f"{member}.KeySerialNumber",
            type_path=f"{member}.DukptKeyDerivationType",
        )
        return PinKey(derived.key, derived.family, record.arn, record.key_check_value)
    key = svc.keycache.cipher_key(record)
    if member == "IncomingAs2805Attributes":
        return PinKey(_session_pin_key(key.key, params[member]), "TDES", record.arn, record.key_check_value)
    return PinKey(key, _family(record.key_attributes["KeyAlgorithm"]), record.arn, record.key_check_value)


def _session_pin_key(kpp: bytes, attrs: dict[str, str]) -> bytes:
    """KPE = OWF(KPP, STAN ‖ amount), AS 2805.6.4 as AWS computes it (crypto.as2805)."""
    try:
        return as2805.session_pin_key(kpp, attrs["SystemTraceAuditNumber"], attrs["TransactionAmount"])
    except ValueError as exc:
        raise invalid("IncomingAs2805Attributes", str(exc)) from None


def _wrapped_key(svc: Service, ctx: Context, params: dict[str, Any], side: Side) -> PinKey:
    """A dynamic PEK: a TR-31 block opened under the KEK the side's key identifier names, or a key
    agreed by ECDH with the K3 key pair it names (PIN selection in, PIN reveal out)."""
    working = dynamic_keys.resolve(
        svc, ctx, params[side.wrapped], OP, side.wrapped, side.role, params[side.role]
    )
    family = _family(working.attributes["KeyAlgorithm"])
    return PinKey(working.material, family, working.arn, working.key_check_value)


def _family(algorithm: str) -> str:
    return "AES" if algorithm.startswith("AES") else "TDES"


def _check_family(side: Side, name: str, fmt: PinFormat, key: PinKey) -> None:
    if fmt.family != key.family:
        raise ValidationError(
            f"{side.attributes}.{name} is a {fmt.family} PIN block format but the {side.name.lower()} "
            f"PIN key is {key.family} (IsoFormat4 is the AES format; IsoFormat0, IsoFormat1, "
            "IsoFormat3 and As2805Format0 are the TDES ones)."
        )


# --- PIN blocks ---------------------------------------------------------------------------------


def _decrypt(key: PinKey, fmt: PinFormat, encrypted_pin_block: str, pan: str | None) -> str:
    size = 32 if key.family == "AES" else 16
    if len(encrypted_pin_block) != size:
        raise invalid("EncryptedPinBlock", f"must be {size} hexadecimal characters under a {key.family} key")
    try:
        return pinblock.decrypt_pin(key.material, fmt.iso, encrypted_pin_block, pan)
    except ValueError:
        pass
    if fmt.iso == "ISO_FORMAT_4" and pan is not None:
        try:
            block = bytes.fromhex(encrypted_pin_block)
            return pinblock.decipher_format4(key.material, block, pan, legacy_pan=True)
        except ValueError:
            pass
    raise ValidationError(INVALID_PIN_BLOCK)

"""EMV issuer operations: VerifyAuthRequestCryptogram, GenerateAuthRequestCryptogram and
GenerateMacEmvPinChange.

The cryptography is `crypto.emv_keys` (ICC master key by option A/B, one AC key per
SessionKeyDerivation member), `crypto.emv_cryptogram` (ARQC, ARPC methods 1 and 2) and
`crypto.emv_pin_change` (PIN change per DerivationMethodAttributes member); this module resolves
the keys, checks them against `key_usage.RULES`, and maps the API members to those functions.

Decisions (docs/decisions/emv.md):
- TransactionData is MACed as sent. Data that is not a multiple of 8 bytes is zero-padded
  (ISO/IEC 9797-1 padding method 1), so the guide's own unpadded and padded CVN10 examples give the
  same ARQC; aligned data is never extended. Odd-length hex is refused (ValidationException).
- The ARPC is computed with the key that made the ARQC (the session key, or the ICC master key
  for Visa and Amex), except for the `Mastercard` member, whose cards (M/Chip with the Mastercard
  session key, CVN 16/17) compute the ARPC with the ICC master key.
- GenerateMacEmvPinChange: PinBlockFormat applies to the new and the current PIN block; both are
  under TDES PEKs (the API's PIN blocks are 16 hex digits). A block that does not decode is
  ValidationException "Pin block provided is invalid", as VerifyPinData answers it on AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.crypto import emv_cryptogram, emv_keys, emv_pin_change, pinblock
from paycrypt.crypto.primitives import CipherKey
from paycrypt.errors import ValidationError, VerificationFailed
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.rules import key_usage
from paycrypt.store.records import KeyRecord

ARQC_FAILED = "Auth request cryptogram verification failed."
PIN_BLOCK_INVALID = (
    "Pin block provided is invalid. Please check your input to ensure all field values are correct."
)

# SessionKeyDerivation member -> AC key from (ICC master key, ATC, UN): the crypto's table, so
# every member of the API union is served.
SESSION_MEMBERS: dict[str, Callable[[bytes, str | None, str | None], bytes]] = emv_keys.AC_SESSION_KEYS
# Members whose ARPC is computed with the ICC master key rather than the AC session key.
ARPC_WITH_ICC_MASTER_KEY = frozenset({"Mastercard"})


# Members the crypto modules name at the start of their messages -> the fieldList path (the
# wire layer reports model constraints the same way; these are the checks beyond the model).
FIELD_PATHS = {
    "TransactionData": "/TransactionData",
    "AuthRequestCryptogram": "/AuthRequestCryptogram",
    "ProprietaryAuthenticationData": "/AuthResponseAttributes/ArpcMethod2/ProprietaryAuthenticationData",
    "MessageData": "/MessageData",
}


def _invalid(exc: ValueError) -> ValidationError:
    """A crypto input error as the caller's error; crypto messages name the member, never a value."""
    message = f"{str(exc).rstrip('.')}."
    path = FIELD_PATHS.get(message.split(" ", 1)[0])
    return ValidationError(message, [{"path": path, "message": message}] if path else None)


def _keys(
    svc: Service, record: KeyRecord, params: dict[str, Any], member: str, attrs: dict[str, Any]
) -> tuple[CipherKey, CipherKey]:
    """(AC key, ARPC key) for the member's derivation inputs.

    The IMK's contexts are the key cache's; the card's keys get theirs for this request, shared by
    the ARQC and the ARPC when one key makes both."""
    imk = svc.keycache.cipher_key(record)
    try:
        icc_mk = emv_keys.derive_icc_master_key(
            imk, attrs["PrimaryAccountNumber"], attrs["PanSequenceNumber"], params["MajorKeyDerivationMode"]
        )
        ac_key = CipherKey(
            SESSION_MEMBERS[member](
                icc_mk, attrs.get("ApplicationTransactionCounter"), attrs.get("UnpredictableNumber")
            )
        )
    except ValueError as exc:
        raise _invalid(exc) from None
    return ac_key, CipherKey(icc_mk) if member in ARPC_WITH_ICC_MASTER_KEY else ac_key


def _arpc_method1(key: CipherKey, arqc: str, attrs: dict[str, Any]) -> str:
    return emv_cryptogram.arpc_method1(key, arqc, attrs["AuthResponseCode"])


def _arpc_method2(key: CipherKey, arqc: str, attrs: dict[str, Any]) -> str:
    return emv_cryptogram.arpc_method2(
        key, arqc, attrs["CardStatusUpdate"], attrs.get("ProprietaryAuthenticationData", "")
    )


# CryptogramAuthResponse member -> ARPC (AuthResponseValue) from (ARPC key, ARQC, attributes).
ARPC_METHODS: dict[str, Callable[[CipherKey, str, dict[str, Any]], str]] = {
    "ArpcMethod1": _arpc_method1,
    "ArpcMethod2": _arpc_method2,
}


def _resolve(svc: Service, ctx: Context, op: str, member: str, identifier: str, role: str) -> KeyRecord:
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    key_usage.check_key(op, member, record, role)
    return record


def verify_auth_request_cryptogram(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "VerifyAuthRequestCryptogram"
    member, attrs = unions.member(params["SessionKeyDerivationAttributes"])
    unions.handler(op, "SessionKeyDerivationAttributes", member, SESSION_MEMBERS)
    response = params.get("AuthResponseAttributes")
    arpc, arpc_attrs = None, {}
    if response:
        arpc_name, arpc_attrs = unions.member(response)
        arpc = unions.handler(op, "AuthResponseAttributes", arpc_name, ARPC_METHODS)
    record = _resolve(svc, ctx, op, member, params["KeyIdentifier"], "KeyIdentifier")
    ac_key, arpc_key = _keys(svc, record, params, member, attrs)
    arqc = params["AuthRequestCryptogram"]
    try:
        # The ARPC depends only on the ARQC given, so its inputs are checked before the verdict:
        # a malformed request is a ValidationException whether or not the ARQC matches.
        response_value = None if arpc is None else arpc(arpc_key, arqc, arpc_attrs)
        verified = emv_cryptogram.verify_arqc(ac_key, params["TransactionData"], arqc)
    except ValueError as exc:
        raise _invalid(exc) from None
    if not verified:
        raise VerificationFailed(ARQC_FAILED, "INVALID_AUTH_REQUEST_CRYPTOGRAM")
    out = {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}
    if response_value is not None:
        out["AuthResponseValue"] = response_value
    return out


def generate_auth_request_cryptogram(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "GenerateAuthRequestCryptogram"
    member, attrs = unions.member(params["SessionKeyDerivationAttributes"])
    unions.handler(op, "SessionKeyDerivationAttributes", member, SESSION_MEMBERS)
    record = _resolve(svc, ctx, op, member, params["KeyIdentifier"], "KeyIdentifier")
    ac_key, _ = _keys(svc, record, params, member, attrs)
    try:
        arqc = emv_cryptogram.generate_arqc(ac_key, params["TransactionData"])
    except ValueError as exc:
        raise _invalid(exc) from None
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value, "AuthRequestCryptogram": arqc}


# --- GenerateMacEmvPinChange ----------------------------------------------------------------------

PIN_CHANGE = "GenerateMacEmvPinChange"


def _clear_pin(svc: Service, record: KeyRecord, fmt: str, block: str, pan: str) -> str:
    try:
        return pinblock.decrypt_pin(svc.keycache.material(record), fmt, block, pan)
    except ValueError:
        raise ValidationError(PIN_BLOCK_INVALID) from None


def generate_mac_emv_pin_change(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    member, attrs = unions.member(params["DerivationMethodAttributes"])
    scheme = unions.handler(PIN_CHANGE, "DerivationMethodAttributes", member, emv_pin_change.SCHEMES)

    def key(source: dict[str, Any], role: str) -> KeyRecord:
        """The key named by the input member `role`, checked against its row for this member."""
        return _resolve(svc, ctx, PIN_CHANGE, member, source[role], role)

    pek = key(params, "NewPinPekIdentifier")
    smi = key(params, "SecureMessagingIntegrityKeyIdentifier")
    smc = key(params, "SecureMessagingConfidentialityKeyIdentifier")
    imk_ac = current_pek = None
    if scheme.vis_block:  # Visa and Amex: the VIS PIN block is bound to the IMK-AC's card key
        imk_ac = key(attrs, "AuthorizationRequestKeyIdentifier")
        if attrs.get("CurrentPinAttributes"):
            current_pek = key(attrs["CurrentPinAttributes"], "CurrentPinPekIdentifier")

    pan, fmt = attrs["PrimaryAccountNumber"], params["PinBlockFormat"]
    new_pin = _clear_pin(svc, pek, fmt, params["NewEncryptedPinBlock"], pan)
    current_pin = None
    if current_pek is not None:
        current_pin = _clear_pin(
            svc, current_pek, fmt, attrs["CurrentPinAttributes"]["CurrentEncryptedPinBlock"], pan
        )
    try:
        result = emv_pin_change.generate_mac_emv_pin_change(
            member,
            emv_pin_change.IssuerKeys(
                smi=svc.keycache.material(smi),
                smc=svc.keycache.material(smc),
                ac=None if imk_ac is None else svc.keycache.material(imk_ac),
            ),
            emv_pin_change.Card(
                pan,
                attrs["PanSequenceNumber"],
                attrs["MajorKeyDerivationMode"],
                application_cryptogram=attrs.get("ApplicationCryptogram"),
                application_transaction_counter=attrs.get("ApplicationTransactionCounter"),
            ),
            emv_pin_change.PinChange(new_pin, params["MessageData"], current_pin),
            _requested_encipherment(attrs),
        )
    except ValueError as exc:
        raise _invalid(exc) from None

    out: dict[str, Any] = {
        "NewPinPekArn": pek.arn,
        "NewPinPekKeyCheckValue": pek.key_check_value,
        "SecureMessagingIntegrityKeyArn": smi.arn,
        "SecureMessagingIntegrityKeyCheckValue": smi.key_check_value,
        "SecureMessagingConfidentialityKeyArn": smc.arn,
        "SecureMessagingConfidentialityKeyCheckValue": smc.key_check_value,
        "Mac": result.mac,
        "EncryptedPinBlock": result.encrypted_pin_block,
    }
    if imk_ac is not None:
        outputs = {
            "AuthorizationRequestKeyArn": imk_ac.arn,
            "AuthorizationRequestKeyCheckValue": imk_ac.key_check_value,
        }
        if current_pek is not None:
            outputs["CurrentPinPekArn"] = current_pek.arn
            outputs["CurrentPinPekKeyCheckValue"] = current_pek.key_check_value
        out["VisaAmexDerivationOutputs"] = outputs
    return out


def _requested_encipherment(attrs: dict[str, Any]) -> emv_pin_change.Encipherment | None:
    """EmvCommon's Mode, PinBlockPaddingType and PinBlockLengthPosition, when all three are given."""
    requested = (attrs.get("Mode"), attrs.get("PinBlockPaddingType"), attrs.get("PinBlockLengthPosition"))
    return None if None in requested else emv_pin_change.Encipherment(*requested)

"""GenerateCardValidationData and VerifyCardValidationData.

Each union member maps to one function computing the value from the key and the inputs; verify
recomputes and compares in constant time, so the two operations cannot drift apart.

Members and the algorithm each one runs (sources in the crypto modules' docstrings):
- CardVerificationValue1 / 2: Visa CVV (iCVV with service code 999, CVV2 with 000), CVK C0.
- AmexCardSecurityCodeVersion1 / 2: Amex CSC (v2 also serves iCSC and 3-D Secure AEVV), CVK C0.
- DynamicCardVerificationCode: Mastercard CVC3, issuer master key E4 (derived per card).
- DynamicCardVerificationValue: Visa dCVV, issuer master key E6 (derived per card).
- CardHolderVerificationValue and DiscoverDynamicCardVerificationCode (verify only): no public
  algorithm exists; `crypto.card_dynamic` documents the construction used, issuer master key E6.

ValidationDataLength (3–5, default 3) sets the digits generated; verify compares the digits given
(for CVC3 the rightmost ones, as the guide tells callers to truncate on the left).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.crypto import amex_csc, card_dynamic, cvv, mastercard_cvc3, visa_dcvv
from paycrypt.crypto.primitives import CipherKey, constant_time_equal
from paycrypt.errors import VerificationFailed
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage
from paycrypt.store.records import KeyRecord

# (the key with its cached cipher contexts, PAN, the member's attributes, digits) -> the value
Compute = Callable[[CipherKey, str, dict[str, Any], int], str]

DEFAULT_LENGTH = 3


def _members(function: Callable[..., str], *names: str) -> Compute:
    """A Compute calling ``function(material, pan, <the named members' values, in order>, length)``."""

    def compute(key: CipherKey, pan: str, attrs: dict[str, Any], length: int) -> str:
        return function(key.key, pan, *(attrs[name] for name in names), length)

    return compute


# Visa CVV, iCVV and CVV2 take the key with its contexts (crypto.cvv enciphers with them).
def _cvv1(key: CipherKey, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], attrs["ServiceCode"], length)


def _cvv2(key: CipherKey, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], "000", length)


_PSN, _UN, _ATC = "PanSequenceNumber", "UnpredictableNumber", "ApplicationTransactionCounter"

GENERATE: dict[str, Compute] = {
    "CardVerificationValue1": _cvv1,
    "CardVerificationValue2": _cvv2,
    "AmexCardSecurityCodeVersion1": _members(amex_csc.csc_v1, "CardExpiryDate"),
    "AmexCardSecurityCodeVersion2": _members(amex_csc.csc_v2, "CardExpiryDate", "ServiceCode"),
    "DynamicCardVerificationCode": _members(mastercard_cvc3.generate_cvc3, _PSN, "TrackData", _UN, _ATC),
    "DynamicCardVerificationValue": _members(
        visa_dcvv.generate_dcvv, _PSN, "CardExpiryDate", "ServiceCode", _ATC
    ),
    "CardHolderVerificationValue": _members(
        card_dynamic.generate_cardholder_verification_value, _PSN, _UN, _ATC
    ),
}

# Verify runs the same functions; Discover's dynamic code is the one member only verify has.
VERIFY: dict[str, Compute] = {
    **GENERATE,
    "DiscoverDynamicCardVerificationCode": _members(
        card_dynamic.discover_dynamic_cvc, "CardExpiryDate", _UN, _ATC
    ),
}


def _run(compute: Compute, path: str, key: CipherKey, pan: str, attrs: dict[str, Any], length: int) -> str:
    """Compute a value; an input the algorithm cannot take is the caller's error, never a 500.

    The crypto modules' messages name the field ("PAN", "ATC", ...) but never quote its value.
    """
    try:
        return compute(key, pan, attrs, length)
    except ValueError as exc:
        raise invalid("PrimaryAccountNumber" if "PAN" in str(exc) else path, str(exc)) from None


def _resolve(
    svc: Service, ctx: Context, op: str, union: str, params: dict[str, Any], table: dict[str, Compute]
) -> tuple[KeyRecord, Compute, str, dict[str, Any], CipherKey]:
    """The request's key record (checked for this member), its Compute, member path, inputs and key."""
    name, attrs = unions.member(params[union])
    compute = unions.handler(op, union, name, table)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    key_usage.check_key(op, name, record)
    return record, compute, f"{union}.{name}", attrs, svc.keycache.cipher_key(record)


def generate_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "GenerateCardValidationData"
    record, compute, path, attrs, material = _resolve(svc, ctx, op, "GenerationAttributes", params, GENERATE)
    length = params.get("ValidationDataLength") or DEFAULT_LENGTH
    value = _run(compute, path, material, params["PrimaryAccountNumber"], attrs, length)
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value, "ValidationData": value}


def verify_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "VerifyCardValidationData"
    record, compute, path, attrs, material = _resolve(svc, ctx, op, "VerificationAttributes", params, VERIFY)
    given = params["ValidationData"]
    expected = _run(compute, path, material, params["PrimaryAccountNumber"], attrs, len(given))
    if not constant_time_equal(expected, given):
        raise VerificationFailed("Card validation data verification failed.", "INVALID_VALIDATION_DATA")
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}

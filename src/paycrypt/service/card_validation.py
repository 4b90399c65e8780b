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
from paycrypt.crypto.primitives import constant_time_equal
from paycrypt.errors import VerificationFailed
from paycrypt.service import identifiers, unions, usage_rules
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid

Compute = Callable[[bytes, str, dict[str, Any], int], str]

DEFAULT_LENGTH = 3


def _cvv1(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], attrs["ServiceCode"], length)


def _cvv2(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], "000", length)


def _amex_v1(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return amex_csc.csc_v1(key, pan, attrs["CardExpiryDate"], length)


def _amex_v2(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return amex_csc.csc_v2(key, pan, attrs["CardExpiryDate"], attrs["ServiceCode"], length)


def _cvc3(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return mastercard_cvc3.generate_cvc3(
        key,
        pan,
        attrs["PanSequenceNumber"],
        attrs["TrackData"],
        attrs["UnpredictableNumber"],
        attrs["ApplicationTransactionCounter"],
        length,
    )


def _dcvv(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return visa_dcvv.generate_dcvv(
        key,
        pan,
        attrs["PanSequenceNumber"],
        attrs["CardExpiryDate"],
        attrs["ServiceCode"],
        attrs["ApplicationTransactionCounter"],
        length,
    )


def _chvv(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return card_dynamic.generate_cardholder_verification_value(
        key,
        pan,
        attrs["PanSequenceNumber"],
        attrs["UnpredictableNumber"],
        attrs["ApplicationTransactionCounter"],
        length,
    )


def _discover(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return card_dynamic.discover_dynamic_cvc(
        key,
        pan,
        attrs["CardExpiryDate"],
        attrs["UnpredictableNumber"],
        attrs["ApplicationTransactionCounter"],
        length,
    )


GENERATE: dict[str, Compute] = {
    "CardVerificationValue1": _cvv1,
    "CardVerificationValue2": _cvv2,
    "AmexCardSecurityCodeVersion1": _amex_v1,
    "AmexCardSecurityCodeVersion2": _amex_v2,
    "DynamicCardVerificationCode": _cvc3,
    "DynamicCardVerificationValue": _dcvv,
    "CardHolderVerificationValue": _chvv,
}

# Verify runs the same functions; Discover's dynamic code is the one member only verify has.
VERIFY: dict[str, Compute] = {**GENERATE, "DiscoverDynamicCardVerificationCode": _discover}


def _run(compute: Compute, path: str, key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    """Compute a value; an input the algorithm cannot take is the caller's error, never a 500.

    The crypto modules' messages name the field ("PAN", "ATC", ...) but never quote its value.
    """
    try:
        return compute(key, pan, attrs, length)
    except ValueError as exc:
        raise invalid("PrimaryAccountNumber" if "PAN" in str(exc) else path, str(exc)) from None


def generate_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "GenerateCardValidationData"
    name, attrs = unions.member(params["GenerationAttributes"])
    compute = unions.handler(op, "GenerationAttributes", name, GENERATE)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    usage_rules.check_key(op, name, record)
    length = params.get("ValidationDataLength") or DEFAULT_LENGTH
    material = svc.sealer.material(record)
    path = f"GenerationAttributes.{name}"
    value = _run(compute, path, material, params["PrimaryAccountNumber"], attrs, length)
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value, "ValidationData": value}


def verify_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "VerifyCardValidationData"
    name, attrs = unions.member(params["VerificationAttributes"])
    compute = unions.handler(op, "VerificationAttributes", name, VERIFY)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    usage_rules.check_key(op, name, record)
    given = params["ValidationData"]
    material = svc.sealer.material(record)
    path = f"VerificationAttributes.{name}"
    expected = _run(compute, path, material, params["PrimaryAccountNumber"], attrs, len(given))
    if not constant_time_equal(expected, given):
        raise VerificationFailed("Card validation data verification failed.", "INVALID_VALIDATION_DATA")
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}

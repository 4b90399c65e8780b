"""GenerateCardValidationData and VerifyCardValidationData.

Each union member maps to one function computing the value from the key and the inputs; verify
recomputes and compares in constant time, so the two operations cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.crypto import cvv
from paycrypt.crypto.primitives import constant_time_equal
from paycrypt.errors import VerificationFailed
from paycrypt.service import identifiers, unions, usage_rules
from paycrypt.service.context import Context
from paycrypt.service.core import Service

Compute = Callable[[bytes, str, dict[str, Any], int], str]

DEFAULT_LENGTH = 3


def _cvv1(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], attrs["ServiceCode"], length)


def _cvv2(key: bytes, pan: str, attrs: dict[str, Any], length: int) -> str:
    return cvv.cvv(key, pan, attrs["CardExpiryDate"], "000", length)


COMPUTE: dict[str, Compute] = {
    "CardVerificationValue1": _cvv1,
    "CardVerificationValue2": _cvv2,
}


def generate_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "GenerateCardValidationData"
    name, attrs = unions.member(params["GenerationAttributes"])
    compute = unions.handler(op, "GenerationAttributes", name, COMPUTE)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    usage_rules.check_key(op, name, record)
    length = params.get("ValidationDataLength") or DEFAULT_LENGTH
    value = compute(svc.sealer.material(record), params["PrimaryAccountNumber"], attrs, length)
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value, "ValidationData": value}


def verify_card_validation_data(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    op = "VerifyCardValidationData"
    name, attrs = unions.member(params["VerificationAttributes"])
    compute = unions.handler(op, "VerificationAttributes", name, COMPUTE)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    usage_rules.check_key(op, name, record)
    given = params["ValidationData"]
    expected = compute(svc.sealer.material(record), params["PrimaryAccountNumber"], attrs, len(given))
    if not constant_time_equal(expected, given):
        raise VerificationFailed("Card validation data verification failed.", "INVALID_VALIDATION_DATA")
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}

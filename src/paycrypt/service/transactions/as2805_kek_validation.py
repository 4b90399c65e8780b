"""GenerateAs2805KekValidation: the AS 2805.6 node-to-node KEK validation, both legs.

Request mode (KekValidationRequest, on the node that sends with KEK(s)): draw a random key RN as
long as DeriveKeyAlgorithm (TDES_2KEY 16, TDES_3KEY 24 bytes), capped by RandomKeyMaxLength, and
return RandomKeySend = RN under KEK ⊕ request mask and RandomKeyReceive = ~RN under KEK ⊕
response mask: the value the partner's answer must equal (the caller compares; the API has no
verify operation). Response mode (KekValidationResponse, on the node holding KEK(r)): decrypt
the partner's RandomKeySend, complement it and return it under the response mask as
RandomKeyReceive, echoing RandomKeySend. The masks and ciphers are `crypto.as2805`'s.

Decisions (docs/decisions/pin-translation-and-as2805.md):
- The KEK is a TR31_K0 TDES_2KEY or TDES_3KEY key. Request mode only encrypts, so its KEK needs
  Encrypt or Wrap; response mode decrypts the partner's value, so its KEK needs Decrypt or
  Unwrap (NoRestrictions passes both). A KEK(r) imported for unwrapping can answer, and a
  KEK(s) created for wrapping can ask; anything else is ValidationException.
- DeriveKeyAlgorithm other than TDES_2KEY/TDES_3KEY (AS 2805 is TDES only) is
  ValidationException naming it. RandomKeyMaxLength caps RN's length and never extends it.
- RN comes from `secrets` with odd parity; the response echoes RandomKeySend in upper case.
- Not limited to a region: AWS offers AS2805 in ap-southeast-2, paycrypt in every region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paycrypt.crypto import as2805
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage

OP = "GenerateAs2805KekValidation"

Mode = Callable[[bytes, str, dict[str, Any]], tuple[str, str]]


def _request(kek: bytes, mask: str, attrs: dict[str, Any]) -> tuple[str, str]:
    path = "KekValidationType.KekValidationRequest"
    try:
        length = as2805.random_key_length(attrs["DeriveKeyAlgorithm"], attrs.get("RandomKeyMaxLength"))
    except ValueError as exc:
        raise invalid(f"{path}.DeriveKeyAlgorithm", str(exc)) from None
    return as2805.kek_validation_request(kek, mask, as2805.generate_random_key(length))


def _response(kek: bytes, mask: str, attrs: dict[str, Any]) -> tuple[str, str]:
    send = attrs["RandomKeySend"]
    try:
        receive = as2805.kek_validation_response(kek, mask, send)
    except ValueError as exc:
        raise invalid("KekValidationType.KekValidationResponse.RandomKeySend", str(exc)) from None
    return send.upper(), receive


MODES: dict[str, Mode] = {"KekValidationRequest": _request, "KekValidationResponse": _response}


def generate_as2805_kek_validation(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, attrs = unions.member(params["KekValidationType"])
    mode = unions.handler(OP, "KekValidationType", name, MODES)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    key_usage.check_key(OP, name, record)
    send, receive = mode(svc.keycache.material(record), params["RandomKeySendVariantMask"], attrs)
    return {
        "KeyArn": record.arn,
        "KeyCheckValue": record.key_check_value,
        "RandomKeySend": send,
        "RandomKeyReceive": receive,
    }

"""GenerateMac and VerifyMac with every MacAttributes member.

Each member maps to one function that computes the member's full MAC (the untruncated tag)
from the key and the message; generate keeps the leftmost MacLength bytes, verify compares
the leftmost len(Mac) bytes in constant time. The two operations share the tag functions, so
they cannot drift apart.

    Algorithm=ISO9797_ALGORITHM1   TR31_M1 TDES key, CBC-MAC, 8 bytes       crypto.mac
    Algorithm=ISO9797_ALGORITHM3   TR31_M3 TDES key, retail MAC, 8 bytes    crypto.mac
    Algorithm=CMAC                 TR31_M6 TDES (8) or AES (16 bytes)       crypto.mac
    Algorithm=HMAC, HMAC_SHAnnn    TR31_M7 HMAC key, digest length          crypto.mac
    Algorithm=AS2805_4_1           TR31_M0 TDES key, 8 bytes, default 4     crypto.as2805
    EmvMac                         TR31_E2 IMK-SMI, 8 bytes                 crypto.emv_mac
    DukptIso9797Algorithm1         TR31_B0 BDK, TDES (8) or AES (16 bytes)  dukpt_keys + crypto.mac
    DukptIso9797Algorithm3         TR31_B0 BDK, TDES MAC key, 8 bytes       dukpt_keys + crypto.mac
    DukptCmac                      TR31_B0 BDK, TDES (8) or AES (16 bytes)  dukpt_keys + crypto.mac

Which key each member takes is in `key_usage.RULES`; the Algorithm member is keyed there by
its value ("Algorithm=CMAC"), because each algorithm takes its own TR-31 key usage, and
HMAC_SHAnnn rows list only the HMAC key of that hash (`Algorithm=HMAC` takes the key's own).

MacLength (4–32 in the pinned model): generate returns the leftmost MacLength bytes, and a
MacLength longer than the member's tag is refused, naming MacLength; without it, the full tag
(AS2805_4_1: its leftmost 4 bytes, as AWS's AS2805 examples show). Verify compares the
leftmost len(Mac) bytes; a MacLength given with a Mac of another length, a Mac shorter than 4
bytes or longer than the tag is ValidationException; a mismatch is VerificationFailedException
with Reason INVALID_MAC (HTTP 400).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paycrypt.crypto import as2805, emv_mac, mac
from paycrypt.crypto.primitives import constant_time_equal
from paycrypt.errors import VerificationFailed
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.service.rules import key_usage
from paycrypt.service.working_keys import dukpt_keys
from paycrypt.store.records import KeyRecord

MIN_MAC_BYTES = mac.MIN_MAC_BYTES
AS2805_DEFAULT_BYTES = as2805.DEFAULT_MAC_LENGTH


@dataclass(frozen=True)
class MacRequest:
    """What a tag function needs: the key, the member's value and where it sits in the input."""

    svc: Service
    record: KeyRecord
    value: Any  # the union member's value: an algorithm name or an attributes structure
    message: bytes = field(repr=False)
    path: str  # e.g. "GenerationAttributes.DukptCmac"


Tag = Callable[[MacRequest], bytes]


def _algorithm(request: MacRequest) -> bytes:
    algorithm = request.value
    key = request.svc.keycache.material(request.record)
    if algorithm == "AS2805_4_1":
        full = as2805.generate_mac(key, request.message.hex(), as2805.MAC_BLOCK)
        return bytes.fromhex(full)
    try:
        return mac.generate(algorithm, key, request.record.key_attributes["KeyAlgorithm"], request.message)
    except ValueError as exc:  # the rules table admits only keys that can run the algorithm
        raise invalid(request.path, str(exc)) from None


def _emv(request: MacRequest) -> bytes:
    attrs = request.value
    derivation_name, derivation_value = unions.member(attrs["SessionKeyDerivationValue"])
    try:
        tag = emv_mac.generate_emv_mac(
            request.svc.keycache.material(request.record),
            attrs["MajorKeyDerivationMode"],
            attrs["PrimaryAccountNumber"],
            attrs["PanSequenceNumber"],
            attrs["SessionKeyDerivationMode"],
            request.message.hex(),
            derivation_value if derivation_name == "ApplicationCryptogram" else None,
            derivation_value if derivation_name == "ApplicationTransactionCounter" else None,
        )
    except ValueError as exc:  # names the EmvMac member at fault (e.g. which derivation value)
        raise invalid(request.path, str(exc)) from None
    return bytes.fromhex(tag)


def _dukpt(algorithm: str, member: str) -> Tag:
    def tag(request: MacRequest) -> bytes:
        attrs = request.value
        key = dukpt_keys.working_key(
            request.svc,
            request.record,
            attrs["KeySerialNumber"],
            dukpt_keys.Purpose.MAC,
            attrs["DukptKeyVariant"],
            attrs.get("DukptDerivationType"),
            ksn_path=f"{request.path}.KeySerialNumber",
            type_path=f"{request.path}.DukptDerivationType",
        )
        if algorithm == "ISO9797_ALGORITHM3" and key.family != "TDES":
            raise invalid(
                f"{request.path}.DukptDerivationType",
                f"{member} is the TDES retail MAC, whose final step needs a second key; with an AES "
                f"BDK give DukptDerivationType TDES_2KEY or TDES_3KEY (the derived key is {key.key_type})",
            )
        return mac.generate(algorithm, key.key, key.key_type, request.message)

    return tag


TAGS: dict[str, Tag] = {
    "Algorithm": _algorithm,
    "EmvMac": _emv,
    "DukptIso9797Algorithm1": _dukpt("ISO9797_ALGORITHM1", "DukptIso9797Algorithm1"),
    "DukptIso9797Algorithm3": _dukpt("ISO9797_ALGORITHM3", "DukptIso9797Algorithm3"),
    "DukptCmac": _dukpt("CMAC", "DukptCmac"),
}


def rule_member(name: str, value: Any) -> str:
    """The usage-rules member: the union member, or "Algorithm=<value>" for the Algorithm member."""
    return f"Algorithm={value}" if name == "Algorithm" else name


def _tag(
    svc: Service, ctx: Context, op: str, params: dict[str, Any], union: str
) -> tuple[KeyRecord, str, bytes]:
    name, value = unions.member(params[union])
    compute = unions.handler(op, union, name, TAGS)
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    key_usage.check_key(op, rule_member(name, value), record)
    message = bytes.fromhex(params["MessageData"])
    tag = compute(MacRequest(svc, record, value, message, f"{union}.{name}"))
    return record, rule_member(name, value), tag


def generate_mac(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record, member, tag = _tag(svc, ctx, "GenerateMac", params, "GenerationAttributes")
    length = params.get("MacLength")
    if length is None:
        length = AS2805_DEFAULT_BYTES if member == "Algorithm=AS2805_4_1" else len(tag)
    elif length > len(tag):
        raise invalid("MacLength", f"the {member} MAC is {len(tag)} bytes; MacLength may not exceed it")
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value, "Mac": tag[:length].hex().upper()}


def verify_mac(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    given = bytes.fromhex(params["Mac"])
    length = params.get("MacLength")
    if length is not None and length != len(given):
        raise invalid("MacLength", f"MacLength is {length} bytes but Mac is {len(given)} bytes")
    if len(given) < MIN_MAC_BYTES:
        raise invalid("Mac", f"a MAC must be at least {MIN_MAC_BYTES} bytes ({2 * MIN_MAC_BYTES} hex)")
    record, member, tag = _tag(svc, ctx, "VerifyMac", params, "VerificationAttributes")
    if len(given) > len(tag):
        raise invalid("Mac", f"the {member} MAC is {len(tag)} bytes; Mac is longer")
    if not constant_time_equal(tag[: len(given)], given):
        raise VerificationFailed("MAC verification failed.", "INVALID_MAC")
    return {"KeyArn": record.arn, "KeyCheckValue": record.key_check_value}

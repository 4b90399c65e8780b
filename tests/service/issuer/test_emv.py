"""EMV service functions called directly: rules rows, decisions, error mapping.

Sources: the AWS guide's Visa CVN10 / CVN18 known answers (IMK 0123456789ABCDEFFEDCBA9876543210,
KCV 08D7B4; corrected data per seed-C §4.7 and seed-D Appendix C, the canonical CVN10 data is
guide L4675 and its unpadded form guide L4669); pyemv 1.5.0 (cvn.MasterCardCVN16) as the
independent oracle for the Mastercard ARPC key.
"""

from __future__ import annotations

import secrets

import pyemv.cvn
import pytest

from paycrypt.errors import ResourceNotFound, ValidationError, VerificationFailed
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.issuer import emv
from paycrypt.service.keys import lifecycle
from paycrypt.service.rules import key_usage
from paycrypt.wire import models
from tests import emv_terminal

DATA_MODEL = models.load().data
IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN, PSN = "9137631040001422", "01"
CVN10_DATA = "00000000170000000000000008400080008000084016051700000000093800000B03011203000000"
CVN10_UNPADDED = CVN10_DATA[:74]  # guide L4669: the same data before ISO 9797-1 method-1 padding
E0 = {
    "KeyUsage": "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS",
    "KeyAlgorithm": "TDES_2KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"DeriveKey": True},
}


def _store(svc: Service, ctx: Context, material: bytes, attributes: dict = E0) -> str:
    new = lifecycle.NewKey(
        attributes=attributes, material=material, exportable=True, enabled=True, origin="EXTERNAL"
    )
    return lifecycle.store_key(svc, ctx, new).arn


def _verify(arn: str, data: str = CVN10_DATA, arqc: str = "D791093C8A921769", **extra) -> dict:
    return {
        "KeyIdentifier": arn,
        "TransactionData": data,
        "AuthRequestCryptogram": arqc,
        "MajorKeyDerivationMode": "EMV_OPTION_A",
        "SessionKeyDerivationAttributes": {"Visa": {"PrimaryAccountNumber": PAN, "PanSequenceNumber": PSN}},
        **extra,
    }


def _union_members(shape: str) -> set[str]:
    return set(DATA_MODEL.shape_for(shape).members)


def test_every_union_member_has_its_rules_rows() -> None:
    """The key-usage table covers every member the model defines, for every key role."""
    for op in ("VerifyAuthRequestCryptogram", "GenerateAuthRequestCryptogram"):
        for member in _union_members("SessionKeyDerivation"):
            assert (op, member, "KeyIdentifier") in key_usage.RULES
    assert _union_members("SessionKeyDerivation") == set(emv.SESSION_MEMBERS)
    for member in _union_members("DerivationMethodAttributes"):
        roles = {
            "NewPinPekIdentifier",
            "SecureMessagingIntegrityKeyIdentifier",
            "SecureMessagingConfidentialityKeyIdentifier",
        }
        if member in ("Visa", "Amex"):
            roles |= {"AuthorizationRequestKeyIdentifier", "CurrentPinPekIdentifier"}
        for role in roles:
            assert ("GenerateMacEmvPinChange", member, role) in key_usage.RULES


def test_guide_cvn10_known_answer_and_generate(svc, ctx) -> None:
    arn = _store(svc, ctx, IMK)
    out = emv.verify_auth_request_cryptogram(svc, ctx, _verify(arn))
    assert out == {"KeyArn": arn, "KeyCheckValue": "08D7B4"}
    params = _verify(arn)
    del params["AuthRequestCryptogram"]
    generated = emv.generate_auth_request_cryptogram(svc, ctx, params)
    assert generated["AuthRequestCryptogram"] == "D791093C8A921769"


def test_unaligned_transaction_data_is_zero_padded(svc, ctx) -> None:
    """Decision: the guide's unpadded CVN10 data (37 bytes) gives the same ARQC as its method-1
    padded form (40 bytes); aligned data is never extended (the CVN18 known answer)."""
    arn = _store(svc, ctx, IMK)
    assert len(CVN10_UNPADDED) == 74
    emv.verify_auth_request_cryptogram(svc, ctx, _verify(arn, CVN10_UNPADDED))
    # Method-2 padding on top of aligned data is a different message: it must not verify.
    with pytest.raises(VerificationFailed) as info:
        emv.verify_auth_request_cryptogram(svc, ctx, _verify(arn, CVN10_DATA + "8000000000000000"))
    assert info.value.fields == {"Reason": "INVALID_AUTH_REQUEST_CRYPTOGRAM"}


@pytest.mark.parametrize(
    ("overrides", "member"),
    [
        ({"TransactionData": CVN10_DATA[:-1]}, "TransactionData"),
        (
            {
                "AuthResponseAttributes": {
                    "ArpcMethod2": {"CardStatusUpdate": "12345678", "ProprietaryAuthenticationData": "123"}
                }
            },
            "ProprietaryAuthenticationData",
        ),
    ],
)
def test_odd_hex_is_a_validation_error_naming_the_member(svc, ctx, overrides: dict, member: str) -> None:
    arn = _store(svc, ctx, IMK)
    with pytest.raises(ValidationError, match=member) as info:
        emv.verify_auth_request_cryptogram(svc, ctx, {**_verify(arn), **overrides})
    assert PAN not in info.value.message


def test_bad_arpc_input_wins_over_a_failed_verdict(svc, ctx) -> None:
    """A malformed ARPC input is reported as such even when the ARQC does not match."""
    arn = _store(svc, ctx, IMK)
    bad = {"ArpcMethod2": {"CardStatusUpdate": "12345678", "ProprietaryAuthenticationData": "1"}}
    with pytest.raises(ValidationError):
        emv.verify_auth_request_cryptogram(
            svc, ctx, _verify(arn, arqc="0000000000000000", AuthResponseAttributes=bad)
        )


def test_mastercard_arpc_uses_the_icc_master_key(svc, ctx) -> None:
    """M/Chip (CVN 16/17, Mastercard session key): ARPC method 1 under MK-AC, as pyemv computes it."""
    imk = secrets.token_bytes(16)
    arn = _store(svc, ctx, imk)
    pan, atc, un = "5413123456784808", bytes.fromhex("000B"), bytes.fromhex("1234ABCD")
    card = pyemv.cvn.MasterCardCVN16(imk, imk, imk, pan, "00")
    tags = emv_terminal.mchip_cdol1(un, atc)
    arqc = card.generate_ac(*tags).hex().upper()
    data = b"".join(tags)
    padded = emv_terminal.method2_padded(data)  # M/Chip: the caller pads with method 2
    out = emv.verify_auth_request_cryptogram(
        svc,
        ctx,
        {
            "KeyIdentifier": arn,
            "TransactionData": padded.hex(),
            "AuthRequestCryptogram": arqc,
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "SessionKeyDerivationAttributes": {
                "Mastercard": {
                    "PrimaryAccountNumber": pan,
                    "PanSequenceNumber": "00",
                    "ApplicationTransactionCounter": atc.hex(),
                    "UnpredictableNumber": un.hex(),
                }
            },
            "AuthResponseAttributes": {"ArpcMethod1": {"AuthResponseCode": "3030"}},
        },
    )
    assert out["AuthResponseValue"] == card.generate_arpc(bytes.fromhex(arqc), b"00").hex().upper()


def test_unknown_key_is_not_found(svc, ctx) -> None:
    with pytest.raises(ResourceNotFound):
        emv.verify_auth_request_cryptogram(svc, ctx, _verify("alias/none"))


def test_wrong_algorithm_is_refused_naming_it(svc, ctx) -> None:
    arn = _store(svc, ctx, secrets.token_bytes(24), {**E0, "KeyAlgorithm": "TDES_3KEY"})
    with pytest.raises(ValidationError, match="KeyAlgorithm"):
        emv.verify_auth_request_cryptogram(svc, ctx, _verify(arn))

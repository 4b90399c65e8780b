"""GenerateMac / VerifyMac service functions: every MacAttributes member against published values.

Sources: ANSI X9.19 retail MAC example (key 0123456789ABCDEF FEDCBA9876543210, "Now is the time
for all " → A1C72E74EA3FA9B6); psec.mac as the independent oracle for ISO 9797-1 algorithm 1;
NIST SP 800-38B D.1 / RFC 4493 and D.5 CMAC examples; RFC 4231 HMAC test cases 2 and 5; ANSI
X9.24-1:2009 Annex A.4 (TDES DUKPT MAC request/response at counter 1); ANSI X9.24-3-2017
supplement (AES DUKPT MAC keys at counter 1); pyemv for the EMV secure-messaging MAC.
"""

from __future__ import annotations

import hashlib
import hmac

import psec.mac
import pyemv
import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from paycrypt.errors import NotImplementedOperation, ValidationError, VerificationFailed
from paycrypt.service.transactions import macs
from tests.service.stored_keys import DERIVE, GEN_VERIFY, context, put

NOW = b"Now is the time for all ".hex()
X919_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
DUKPT_MESSAGE = b"4012345678909D987".hex()
TDES_BDK = X919_KEY
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")


def generate(svc, key: str, message: str, attributes: dict, length: int | None = None) -> str:
    params = {"KeyIdentifier": key, "MessageData": message, "GenerationAttributes": attributes}
    if length is not None:
        params["MacLength"] = length
    out = macs.generate_mac(svc, context(svc), params)
    assert out["KeyArn"] == key
    return out["Mac"]


def verify(svc, key: str, message: str, attributes: dict, mac: str, length: int | None = None) -> dict:
    params = {"KeyIdentifier": key, "MessageData": message, "VerificationAttributes": attributes, "Mac": mac}
    if length is not None:
        params["MacLength"] = length
    return macs.verify_mac(svc, context(svc), params)


def test_iso9797_algorithm3_x919_example(svc) -> None:
    key = put(svc, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    attrs = {"Algorithm": "ISO9797_ALGORITHM3"}
    assert generate(svc, key, NOW, attrs) == "A1C72E74EA3FA9B6"
    assert verify(svc, key, NOW, attrs, "A1C72E74EA3FA9B6")["KeyCheckValue"] == "08D7B4"
    assert verify(svc, key, NOW, attrs, "a1c72e74")  # leftmost bytes, any case
    with pytest.raises(VerificationFailed) as info:
        verify(svc, key, NOW, attrs, "A1C72E74EA3FA9B7")
    assert info.value.fields == {"Reason": "INVALID_MAC"}


def test_iso9797_algorithm1_pads_with_method_1(svc) -> None:
    key = put(svc, X919_KEY, "TR31_M1_ISO_9797_1_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    for message in (NOW, NOW[:-6], "00"):
        expected = psec.mac.generate_cbc_mac(X919_KEY, bytes.fromhex(message), padding=1).hex().upper()
        assert generate(svc, key, message, {"Algorithm": "ISO9797_ALGORITHM1"}) == expected


def test_cmac_sp800_38b(svc) -> None:
    aes = put(
        svc,
        bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        GEN_VERIFY,
    )
    message = "6bc1bee22e409f96e93d7e117393172a"
    assert generate(svc, aes, message, {"Algorithm": "CMAC"}) == "070A16B46B4D4144F79BDD9DD04A287C"
    assert generate(svc, aes, message, {"Algorithm": "CMAC"}, 4) == "070A16B4"
    tdes = put(
        svc,
        bytes.fromhex("4cf15134a2850dd58a3d10ba80570d38"),
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "TDES_2KEY",
        GEN_VERIFY,
    )
    assert generate(svc, tdes, "6bc1bee22e409f96", {"Algorithm": "CMAC"}) == "4FF2AB813C53CE83"


def test_hmac_rfc4231(svc) -> None:
    key = put(svc, b"Jefe", "TR31_M7_HMAC_KEY", "HMAC_SHA256", GEN_VERIFY)
    message = b"what do ya want for nothing?".hex()
    tag = "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843"
    assert generate(svc, key, message, {"Algorithm": "HMAC"}) == tag
    assert generate(svc, key, message, {"Algorithm": "HMAC_SHA256"}) == tag
    verify(svc, key, message, {"Algorithm": "HMAC_SHA256"}, tag)
    truncating = put(svc, bytes([0x0C] * 20), "TR31_M7_HMAC_KEY", "HMAC_SHA256", GEN_VERIFY)
    test_case_5 = b"Test With Truncation".hex()
    assert (
        generate(svc, truncating, test_case_5, {"Algorithm": "HMAC"}, 16)
        == "A3B6167473100EE06E0C796C2955552B"
    )
    verify(svc, truncating, test_case_5, {"Algorithm": "HMAC"}, "A3B6167473100EE06E0C796C2955552B", 16)


def test_hmac_algorithm_must_name_the_keys_hash(svc) -> None:
    key = put(svc, b"Jefe", "TR31_M7_HMAC_KEY", "HMAC_SHA256", GEN_VERIFY)
    with pytest.raises(ValidationError, match=r"KeyAlgorithm HMAC_SHA256.*requires HMAC_SHA384"):
        generate(svc, key, "00", {"Algorithm": "HMAC_SHA384"})


def test_as2805_4_1_is_retail_mac_zero_padded_leftmost_4_bytes(svc) -> None:
    """Issue 7's definition, with psec's retail MAC (padding method 1) as the oracle."""
    key = put(svc, X919_KEY, "TR31_M0_ISO_16609_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    message = "73D8BA54D3852951DAEA41"
    full = (
        psec.mac.generate_retail_mac(X919_KEY[:8], X919_KEY[8:], bytes.fromhex(message), padding=1)
        .hex()
        .upper()
    )
    assert generate(svc, key, message, {"Algorithm": "AS2805_4_1"}) == full[:8]
    assert generate(svc, key, message, {"Algorithm": "AS2805_4_1"}, 8) == full
    verify(svc, key, message, {"Algorithm": "AS2805_4_1"}, full[:8])


def test_dukpt_tdes_x9_24_1_annex_a(svc) -> None:
    bdk = put(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    ksn = "FFFF9876543210E00001"
    request = {"DukptIso9797Algorithm3": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST"}}
    response = {"DukptIso9797Algorithm3": {"KeySerialNumber": ksn, "DukptKeyVariant": "RESPONSE"}}
    assert generate(svc, bdk, DUKPT_MESSAGE, request) == "9CCC78173FC4FB64"
    assert generate(svc, bdk, DUKPT_MESSAGE, response) == "20364223C1FF00FA"
    verify(svc, bdk, DUKPT_MESSAGE, request, "9CCC78173FC4FB64")
    with pytest.raises(VerificationFailed):
        verify(svc, bdk, DUKPT_MESSAGE, response, "9CCC78173FC4FB64")


def test_dukpt_aes_cmac_x9_24_3(svc) -> None:
    """The X9.24-3 supplement's MAC generation key at counter 1, run through CMAC by `cryptography`."""
    bdk = put(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    attrs = {"DukptCmac": {"KeySerialNumber": "123456789012345600000001", "DukptKeyVariant": "REQUEST"}}
    c = cmac.CMAC(algorithms.AES(bytes.fromhex("A2DC23DE6FDE0824A2BC321E08E4B8B7")))
    c.update(bytes.fromhex(DUKPT_MESSAGE))
    assert generate(svc, bdk, DUKPT_MESSAGE, attrs) == c.finalize().hex().upper()


def test_dukpt_iso9797_with_an_aes_bdk(svc) -> None:
    """Algorithm 1 runs as the AES CBC-MAC under an AES working key (docs/decisions/refusals.md, D5);
    algorithm 3, the retail MAC, needs a TDES derivation type."""
    bdk = put(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    member = {"KeySerialNumber": "123456789012345600000001", "DukptKeyVariant": "BIDIRECTIONAL"}
    assert len(generate(svc, bdk, DUKPT_MESSAGE, {"DukptIso9797Algorithm1": member})) == 32
    with pytest.raises(ValidationError) as info:
        generate(svc, bdk, DUKPT_MESSAGE, {"DukptIso9797Algorithm3": member})
    assert "GenerationAttributes.DukptIso9797Algorithm3.DukptDerivationType" in info.value.message
    for name in ("DukptIso9797Algorithm1", "DukptIso9797Algorithm3"):
        mac = generate(svc, bdk, DUKPT_MESSAGE, {name: {**member, "DukptDerivationType": "TDES_2KEY"}})
        assert len(mac) == 16


@pytest.mark.parametrize(
    ("ksn", "fragment"),
    [
        ("FFFF9876543210E00000", "counter is 0"),
        ("FFFF9876543210E007FF", "more than 10 one-bits"),
        ("123456789012345600000001", "20-hex"),
        ("9876543210E00000", "counter is 0"),  # 16 hex, read F-padded
    ],
)
def test_bad_ksn_names_key_serial_number(svc, ksn: str, fragment: str) -> None:
    bdk = put(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    with pytest.raises(ValidationError) as info:
        generate(svc, bdk, "00", {"DukptCmac": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST"}})
    assert "GenerationAttributes.DukptCmac.KeySerialNumber" in info.value.message
    assert fragment in info.value.message
    assert info.value.field_list[0]["path"] == "/GenerationAttributes/DukptCmac/KeySerialNumber"


def test_emv_mac_against_pyemv(svc) -> None:
    """EMV_COMMON_SESSION_KEY with the AC, VISA with the ATC, EMV2000 with the ATC (pyemv)."""
    imk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    key = put(svc, imk, "TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", DERIVE)
    pan, psn, ac, atc = "5413330089600010", "00", "1234567890ABCDEF", "0102"
    message = "8424000008" + "0102" + "1234567890ABCDEF"
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, pan, psn)
    base = {"MajorKeyDerivationMode": "EMV_OPTION_A", "PrimaryAccountNumber": pan, "PanSequenceNumber": psn}
    cases = [
        (
            "EMV_COMMON_SESSION_KEY",
            {"ApplicationCryptogram": ac},
            pyemv.kd.derive_common_sk(icc_mk, bytes.fromhex(ac)),
        ),
        (
            "VISA",
            {"ApplicationTransactionCounter": atc},
            pyemv.kd.derive_visa_sm_sk(icc_mk, bytes.fromhex(atc)),
        ),
        (
            "EMV2000",
            {"ApplicationTransactionCounter": atc},
            pyemv.kd.derive_emv2000_tree_sk(icc_mk, bytes.fromhex(atc), height=8, branch_factor=4),
        ),
    ]
    for mode, value, session_key in cases:
        attrs = {"EmvMac": {**base, "SessionKeyDerivationMode": mode, "SessionKeyDerivationValue": value}}
        expected = pyemv.sm.generate_command_mac(session_key, bytes.fromhex(message)).hex().upper()
        assert generate(svc, key, message, attrs) == expected, mode
        verify(svc, key, message, attrs, expected[:8])


def test_emv_mac_atc_only_modes_refuse_an_application_cryptogram(svc) -> None:
    key = put(svc, X919_KEY, "TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", DERIVE)
    attrs = {
        "EmvMac": {
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": "5413330089600010",
            "PanSequenceNumber": "00",
            "SessionKeyDerivationMode": "VISA",
            "SessionKeyDerivationValue": {"ApplicationCryptogram": "1234567890ABCDEF"},
        }
    }
    with pytest.raises(ValidationError, match=r"GenerationAttributes\.EmvMac.*ApplicationTransactionCounter"):
        generate(svc, key, "00", attrs)


def test_mac_length_rules(svc) -> None:
    key = put(svc, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    attrs = {"Algorithm": "ISO9797_ALGORITHM3"}
    with pytest.raises(ValidationError, match="MacLength"):
        generate(svc, key, NOW, attrs, 9)
    with pytest.raises(ValidationError, match="MacLength"):
        verify(svc, key, NOW, attrs, "A1C72E74", 8)
    with pytest.raises(ValidationError, match="Invalid Mac"):
        verify(svc, key, NOW, attrs, "A1C72E74EA3FA9B600")
    with pytest.raises(ValidationError, match="Invalid Mac"):
        verify(svc, key, NOW, attrs, "A1C7")


def test_key_usage_is_the_algorithms_own(svc) -> None:
    m1 = put(svc, X919_KEY, "TR31_M1_ISO_9797_1_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    with pytest.raises(ValidationError, match="requires TR31_M3_ISO_9797_3_MAC_KEY"):
        generate(svc, m1, NOW, {"Algorithm": "ISO9797_ALGORITHM3"})
    generate_only = put(svc, X919_KEY, "TR31_M1_ISO_9797_1_MAC_KEY", "TDES_2KEY", {"Generate": True})
    mac = generate(svc, generate_only, NOW, {"Algorithm": "ISO9797_ALGORITHM1"})
    with pytest.raises(ValidationError, match="KeyModesOfUse"):
        verify(svc, generate_only, NOW, {"Algorithm": "ISO9797_ALGORITHM1"}, mac)


def test_unknown_member_is_not_implemented(svc) -> None:
    key = put(svc, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GEN_VERIFY)
    with pytest.raises(NotImplementedOperation):
        generate(svc, key, NOW, {"SomethingNew": {}})


def test_hmac_oracle_matches_stdlib() -> None:
    """Sanity of the RFC 4231 expectation above, with the standard library."""
    assert (
        hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha256).hexdigest().startswith("5bdcc146")
    )

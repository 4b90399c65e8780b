"""GenerateMac / VerifyMac end to end through boto3, against a terminal written from the standards.

Known keys are stored with `put_known_key`. Every expected MAC is computed by
tests/api/mac_data_terminal.py (plain `cryptography`), by pyemv (EMV secure messaging), or is a
published value: ANSI X9.19 (retail MAC A1C72E74EA3FA9B6), RFC 4231 (HMAC test case 1), NIST SP
800-38B D.1 (AES CMAC), ANSI X9.24-1:2009 Annex A (BDK 0123456789ABCDEFFEDCBA9876543210, KSN
FFFF9876543210E00001… ), ANSI X9.24-3-2017 supplement (BDK FEDCBA9876543210F1F1F1F1F1F1F1F1,
KSN 1234567890123456 00000001…).
"""

from __future__ import annotations

import json
import secrets

import pyemv
import pytest
from cryptography.hazmat.primitives.ciphers import modes

from tests.api import mac_data_terminal as terminal
from tests.api import rawhttp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_known_key_via_api, put_known_key

GV = {"Generate": True, "Verify": True}
DERIVE = {"DeriveKey": True}
X919_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TDES_BDK = X919_KEY
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
TDES_KSNS = ["FFFF9876543210E00001", "FFFF9876543210E00002", "FFFF9876543210E00003", "FFFF9876543210E003FF"]
AES_KSNS = ["123456789012345600000001", "123456789012345600000002", "12345678901234560000FFFF"]


def _generate(data, key: str, message: bytes, attributes: dict, **extra) -> str:
    out = data.generate_mac(
        KeyIdentifier=key, MessageData=message.hex(), GenerationAttributes=attributes, **extra
    )
    assert out["KeyArn"] == key
    return out["Mac"]


def _verify(data, key: str, message: bytes, attributes: dict, mac: str, **extra) -> dict:
    return data.verify_mac(
        KeyIdentifier=key, MessageData=message.hex(), VerificationAttributes=attributes, Mac=mac, **extra
    )


def _bad_mac(mac: str) -> str:
    return mac[:-1] + ("0" if mac[-1] != "0" else "1")


def _rejected(data, key: str, message: bytes, attributes: dict, mac: str) -> None:
    response = expect_error(
        data.verify_mac,
        "VerificationFailedException",
        400,
        KeyIdentifier=key,
        MessageData=message.hex(),
        VerificationAttributes=attributes,
        Mac=mac,
    )
    assert response["Reason"] == "INVALID_MAC"


def test_x919_retail_mac_known_answer(server, data) -> None:
    key = put_known_key(server, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GV)
    message = b"Now is the time for all "
    attrs = {"Algorithm": "ISO9797_ALGORITHM3"}
    assert _generate(data, key["KeyArn"], message, attrs) == "A1C72E74EA3FA9B6"
    assert _verify(data, key["KeyArn"], message, attrs, "A1C72E74EA3FA9B6")["KeyCheckValue"] == "08D7B4"
    _rejected(data, key["KeyArn"], message, attrs, "A1C72E74EA3FA9B7")


@pytest.mark.parametrize("length", [1, 8, 11, 34, 64])
def test_iso9797_terminal_both_ways(server, data, length: int) -> None:
    """A terminal's MACs (algorithms 1 and 3, TDES 2- and 3-key) verify, and paycrypt's verify at it."""
    message = secrets.token_bytes(length)
    for algorithm, usage, function in (
        ("ISO9797_ALGORITHM1", "TR31_M1_ISO_9797_1_MAC_KEY", terminal.cbc_mac),
        ("ISO9797_ALGORITHM3", "TR31_M3_ISO_9797_3_MAC_KEY", terminal.retail_mac),
    ):
        for key_algorithm, size in (("TDES_2KEY", 16), ("TDES_3KEY", 24)):
            material = secrets.token_bytes(size)
            key = put_known_key(server, material, usage, key_algorithm, GV)["KeyArn"]
            theirs = function(material, terminal.pad1(message)).hex().upper()
            _verify(data, key, message, {"Algorithm": algorithm}, theirs)
            _verify(data, key, message, {"Algorithm": algorithm}, theirs[:8], MacLength=4)
            assert _generate(data, key, message, {"Algorithm": algorithm}) == theirs
            _rejected(data, key, message, {"Algorithm": algorithm}, _bad_mac(theirs))


def test_cmac_terminal_and_sp800_38b(server, data) -> None:
    nist = put_known_key(
        server,
        bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c"),
        "TR31_M6_ISO_9797_5_CMAC_KEY",
        "AES_128",
        GV,
    )["KeyArn"]
    block = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert _generate(data, nist, block, {"Algorithm": "CMAC"}) == "070A16B46B4D4144F79BDD9DD04A287C"
    message = secrets.token_bytes(37)
    for key_algorithm, size, family in (
        ("TDES_2KEY", 16, "TDES"),
        ("AES_192", 24, "AES"),
        ("AES_256", 32, "AES"),
    ):
        material = secrets.token_bytes(size)
        key = put_known_key(server, material, "TR31_M6_ISO_9797_5_CMAC_KEY", key_algorithm, GV)["KeyArn"]
        theirs = terminal.cmac(material, message, family).hex().upper()
        _verify(data, key, message, {"Algorithm": "CMAC"}, theirs)
        assert _generate(data, key, message, {"Algorithm": "CMAC"}, MacLength=6) == theirs[:12]


def test_hmac_rfc4231_every_hash(server, data) -> None:
    """RFC 4231 test case 1 (key 0x0b × 20, "Hi There") under each HMAC key algorithm."""
    expected = {
        "HMAC_SHA224": "896FB1128ABBDF196832107CD49DF33F47B4B1169912BA4F53684B22",
        "HMAC_SHA256": "B0344C61D8DB38535CA8AFCEAF0BF12B881DC200C9833DA726E9376C2E32CFF7",
        "HMAC_SHA384": "AFD03944D84895626B0825F4AB46907F15F9DADBE4101EC682AA034C7CEBC59C"
        "FAEA9EA9076EDE7F4AF152E8B2FA9CB6",
        "HMAC_SHA512": "87AA7CDEA5EF619D4FF0B4241A1D6CB02379F4E2CE4EC2787AD0B30545E17CDE"
        "DAA833B7D6B8A702038B274EAEA3F4E4BE9D914EEB61F1702E696C203A126854",
    }
    for algorithm, tag in expected.items():
        key = put_known_key(server, bytes([0x0B] * 20), "TR31_M7_HMAC_KEY", algorithm, GV)["KeyArn"]
        assert _generate(data, key, b"Hi There", {"Algorithm": "HMAC"}) == tag
        assert _generate(data, key, b"Hi There", {"Algorithm": algorithm}) == tag
        _verify(data, key, b"Hi There", {"Algorithm": algorithm}, tag.lower())
        _rejected(data, key, b"Hi There", {"Algorithm": "HMAC"}, _bad_mac(tag))


def test_seed_d_m4_spa2_aav_hmac(server, control, data) -> None:
    """Seed-D M4 (guide L6496–6613), corrected: an HMAC_SHA256 key made by CreateKey."""
    created = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "HMAC_SHA256",
            "KeyUsage": "TR31_M7_HMAC_KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": GV,
        },
        Tags=[{"Key": "KEY_PURPOSE", "Value": "SPA2_AAV"}, {"Key": "CARD_BIN", "Value": "12345678"}],
    )["Key"]
    assert created["KeyCheckValueAlgorithm"] == "HMAC"
    arn = created["KeyArn"]
    message = "2226400099919520FFFFd8b448be65694fe7b42f836bad396e9d"
    out = data.generate_mac(
        KeyIdentifier=arn, MessageData=message, GenerationAttributes={"Algorithm": "HMAC"}
    )
    assert out["KeyCheckValue"] == created["KeyCheckValue"]
    mac = out["Mac"]
    assert len(mac) == 64 and mac == mac.upper()
    material = server.parts.service.keycache.material(server.parts.service.store.get_key(arn))
    assert mac == terminal.hmac(material, bytes.fromhex(message), "sha256").hex().upper()
    data.verify_mac(
        KeyIdentifier=arn, MessageData=message, Mac=mac, VerificationAttributes={"Algorithm": "HMAC"}
    )
    data.verify_mac(
        KeyIdentifier=arn,
        MessageData=message.upper(),
        Mac=mac.lower(),
        VerificationAttributes={"Algorithm": "HMAC"},
    )
    _rejected(data, arn, bytes.fromhex(message), {"Algorithm": "HMAC"}, _bad_mac(mac))


def test_as2805_4_1_peer_both_ways(server, data) -> None:
    """Issue 7's definition computed by the peer: retail MAC, zero padding, leftmost 4 bytes."""
    material = secrets.token_bytes(16)
    key = put_known_key(server, material, "TR31_M0_ISO_16609_MAC_KEY", "TDES_2KEY", GV)["KeyArn"]
    attrs = {"Algorithm": "AS2805_4_1"}
    for message in (bytes.fromhex("73D8BA54D3852951DAEA41"), secrets.token_bytes(40)):
        theirs = terminal.retail_mac(material, terminal.pad1(message)).hex().upper()
        _verify(data, key, message, attrs, theirs[:8])
        assert _generate(data, key, message, attrs) == theirs[:8]
        assert _generate(data, key, message, attrs, MacLength=8) == theirs
        _rejected(data, key, message, attrs, _bad_mac(theirs[:8]))


@pytest.mark.parametrize("ksn", TDES_KSNS)
def test_tdes_dukpt_terminal(server, data, ksn: str) -> None:
    """The terminal MACs its request with its DUKPT key; paycrypt verifies and MACs the response."""
    bdk = put_known_key(server, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)["KeyArn"]
    raw = bytes.fromhex(ksn)
    message = secrets.token_bytes(29)
    for member, function in (
        ("DukptIso9797Algorithm1", terminal.cbc_mac),
        ("DukptIso9797Algorithm3", terminal.retail_mac),
        ("DukptCmac", lambda k, m: terminal.cmac(k, m, "TDES")),
    ):
        for direction in ("REQUEST", "RESPONSE", "BIDIRECTIONAL"):
            key = terminal.tdes_terminal_key(TDES_BDK, raw, "MAC", direction)
            padded = message if member == "DukptCmac" else terminal.pad1(message)
            theirs = function(key, padded).hex().upper()
            attrs = {member: {"KeySerialNumber": ksn, "DukptKeyVariant": direction}}
            _verify(data, bdk, message, attrs, theirs)
            assert _generate(data, bdk, message, attrs) == theirs
    x924 = {
        "DukptIso9797Algorithm3": {"KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "REQUEST"}
    }
    assert _generate(data, bdk, b"4012345678909D987", x924) == "9CCC78173FC4FB64"  # X9.24-1 Annex A


@pytest.mark.parametrize("ksn", AES_KSNS)
def test_aes_dukpt_terminal(server, data, ksn: str) -> None:
    bdk = put_known_key(server, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)["KeyArn"]
    raw = bytes.fromhex(ksn)
    message = secrets.token_bytes(45)
    for direction in ("REQUEST", "RESPONSE", "BIDIRECTIONAL"):
        key = terminal.aes_terminal_key(AES_BDK, raw, "MAC", direction)
        theirs = terminal.cmac(key, message, "AES").hex().upper()
        attrs = {"DukptCmac": {"KeySerialNumber": ksn, "DukptKeyVariant": direction}}
        _verify(data, bdk, message, attrs, theirs)
        assert _generate(data, bdk, message, attrs) == theirs
        tdes_key = terminal.aes_terminal_key(AES_BDK, raw, "MAC", direction, "TDES_2KEY")
        retail = terminal.retail_mac(tdes_key, terminal.pad1(message)).hex().upper()
        member = {"KeySerialNumber": ksn, "DukptKeyVariant": direction, "DukptDerivationType": "TDES_2KEY"}
        _verify(data, bdk, message, {"DukptIso9797Algorithm3": member}, retail)


def _union_pay_sk(icc_mk: bytes, atc: bytes) -> bytes:
    """PBOC/UICS process key: SK_L = TDES(MK)[00×6 ‖ ATC], SK_R = TDES(MK)[00×6 ‖ ¬ATC]."""
    left = terminal.tdes(icc_mk, bytes(6) + atc, modes.ECB())
    right = terminal.tdes(icc_mk, bytes(6) + bytes(b ^ 0xFF for b in atc), modes.ECB())
    return left + right


def test_emv_mac_every_session_key_mode(server, data) -> None:
    """EmvMac for an issuer script: pyemv's ICC master key, session keys and script MAC (ISO 9797-1
    algorithm 3, padding method 2). AMEX is computed as VISA and UNION_PAY from the PBOC
    definition above: neither has an independent published vector
    (docs/decisions/macs-and-data-encryption.md)."""
    imk = secrets.token_bytes(16)
    key = put_known_key(server, imk, "TR31_E2_EMV_MKEY_INTEGRITY", "TDES_2KEY", DERIVE)["KeyArn"]
    pan, psn, atc, ac = "5413330089600010", "03", bytes.fromhex("00A1"), bytes.fromhex("8BB5AD3E1F0A2C77")
    message = bytes.fromhex("8424000008") + atc + ac
    for option, derive in (
        ("EMV_OPTION_A", pyemv.kd.derive_icc_mk_a),
        ("EMV_OPTION_B", pyemv.kd.derive_icc_mk_b),
    ):
        icc_mk = derive(imk, pan, psn)
        cases = [
            ("EMV_COMMON_SESSION_KEY", "ApplicationCryptogram", ac, pyemv.kd.derive_common_sk(icc_mk, ac)),
            (
                "EMV_COMMON_SESSION_KEY",
                "ApplicationTransactionCounter",
                atc,
                pyemv.kd.derive_common_sk(icc_mk, atc + bytes(6)),
            ),
            ("MASTERCARD_SESSION_KEY", "ApplicationCryptogram", ac, pyemv.kd.derive_common_sk(icc_mk, ac)),
            (
                "MASTERCARD_SESSION_KEY",
                "ApplicationTransactionCounter",
                atc,
                pyemv.kd.derive_common_sk(icc_mk, atc + bytes(6)),
            ),
            ("VISA", "ApplicationTransactionCounter", atc, pyemv.kd.derive_visa_sm_sk(icc_mk, atc)),
            ("AMEX", "ApplicationTransactionCounter", atc, pyemv.kd.derive_visa_sm_sk(icc_mk, atc)),
            ("EMV2000", "ApplicationTransactionCounter", atc, pyemv.kd.derive_emv2000_tree_sk(icc_mk, atc)),
            ("UNION_PAY", "ApplicationTransactionCounter", atc, _union_pay_sk(icc_mk, atc)),
        ]
        for mode, value_name, value, session_key in cases:
            attrs = {
                "EmvMac": {
                    "MajorKeyDerivationMode": option,
                    "PrimaryAccountNumber": pan,
                    "PanSequenceNumber": psn,
                    "SessionKeyDerivationMode": mode,
                    "SessionKeyDerivationValue": {value_name: value.hex().upper()},
                }
            }
            expected = pyemv.sm.generate_command_mac(session_key, message).hex().upper()
            assert _generate(data, key, message, attrs) == expected, (option, mode, value_name)
            _verify(data, key, message, attrs, expected[:8], MacLength=4)
            _rejected(data, key, message, attrs, _bad_mac(expected))


def _expect_validation(data, fragment: str, **kwargs) -> None:
    call = data.verify_mac if "Mac" in kwargs else data.generate_mac
    response = expect_error(call, "ValidationException", 400, **kwargs)
    assert fragment in response["Error"]["Message"], response["Error"]["Message"]


def test_bad_input(server, data) -> None:
    """Each bad request: ValidationException (400) naming the member, and the store unchanged."""
    m3 = put_known_key(server, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GV)["KeyArn"]
    bdk = put_known_key(server, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)["KeyArn"]
    hmac256 = put_known_key(server, bytes(32), "TR31_M7_HMAC_KEY", "HMAC_SHA256", GV)["KeyArn"]
    before = db_snapshot(server.data_dir)
    alg3 = {"Algorithm": "ISO9797_ALGORITHM3"}
    _expect_validation(data, "MessageData", KeyIdentifier=m3, MessageData="ABC", GenerationAttributes=alg3)
    _expect_validation(
        data, "Mac", KeyIdentifier=m3, MessageData="00", Mac="ABCDE", VerificationAttributes=alg3
    )
    _expect_validation(
        data, "MacLength", KeyIdentifier=m3, MessageData="00", GenerationAttributes=alg3, MacLength=12
    )
    _expect_validation(
        data, "MacLength", KeyIdentifier=m3, MessageData="00", GenerationAttributes=alg3, MacLength=33
    )
    _expect_validation(
        data,
        "MacLength",
        KeyIdentifier=m3,
        MessageData="00",
        Mac="A1C72E74",
        VerificationAttributes=alg3,
        MacLength=8,
    )
    _expect_validation(
        data,
        "TR31_M1_ISO_9797_1_MAC_KEY",
        KeyIdentifier=m3,
        MessageData="00",
        GenerationAttributes={"Algorithm": "ISO9797_ALGORITHM1"},
    )
    _expect_validation(
        data,
        "HMAC_SHA512",
        KeyIdentifier=hmac256,
        MessageData="00",
        GenerationAttributes={"Algorithm": "HMAC_SHA512"},
    )
    for ksn, fragment in (
        ("FFFF9876543210E0000", "KeySerialNumber"),  # 19 hex: the model's pattern
        ("FFFF9876543210E00000", "KeySerialNumber"),  # counter 0
        ("FFFF9876543210E007FF", "KeySerialNumber"),  # 11 one-bits
        ("9876543210E00000", "KeySerialNumber"),  # 16 hex, read F-padded: counter 0
        ("123456789012345600000001", "KeySerialNumber"),  # an AES KSN for a TDES BDK
    ):
        _expect_validation(
            data,
            fragment,
            KeyIdentifier=bdk,
            MessageData="00",
            GenerationAttributes={"DukptCmac": {"KeySerialNumber": ksn, "DukptKeyVariant": "REQUEST"}},
        )
    _expect_validation(
        data,
        "DukptDerivationType",
        KeyIdentifier=bdk,
        MessageData="00",
        GenerationAttributes={
            "DukptCmac": {
                "KeySerialNumber": TDES_KSNS[0],
                "DukptKeyVariant": "REQUEST",
                "DukptDerivationType": "AES_128",
            }
        },
    )
    _expect_validation(
        data,
        "DukptKeyVariant",
        KeyIdentifier=bdk,
        MessageData="00",
        GenerationAttributes={"DukptCmac": {"KeySerialNumber": TDES_KSNS[0]}},
    )
    _expect_validation(
        data, "GenerationAttributes", KeyIdentifier=m3, MessageData="00", GenerationAttributes={}
    )
    expect_error(
        data.generate_mac,
        "ResourceNotFoundException",
        404,
        KeyIdentifier="alias/none",
        MessageData="00",
        GenerationAttributes=alg3,
    )
    assert db_snapshot(server.data_dir) == before


def test_known_answers_with_keys_imported_through_import_key(control, data) -> None:
    """The same published values with the keys brought in by boto3 ImportKey (TR-31 under a KEK)."""
    m3 = import_known_key_via_api(control, X919_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GV)
    assert m3["KeyCheckValue"] == "08D7B4"
    assert _generate(
        data, m3["KeyArn"], b"Now is the time for all ", {"Algorithm": "ISO9797_ALGORITHM3"}
    ) == ("A1C72E74EA3FA9B6")
    bdk = import_known_key_via_api(control, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    x924 = {
        "DukptIso9797Algorithm3": {"KeySerialNumber": "FFFF9876543210E00001", "DukptKeyVariant": "RESPONSE"}
    }
    assert _generate(data, bdk["KeyArn"], b"4012345678909D987", x924) == "20364223C1FF00FA"  # X9.24-1 A.4
    hmac = import_known_key_via_api(control, bytes([0x0B] * 32), "TR31_M7_HMAC_KEY", "HMAC_SHA256", GV)
    expected = terminal.hmac(bytes([0x0B] * 32), b"Hi There", "sha256").hex().upper()
    assert _generate(data, hmac["KeyArn"], b"Hi There", {"Algorithm": "HMAC_SHA256"}) == expected


GUIDE_MESSAGE = bytes.fromhex("3b313038383439303031303733393431353d32343038323236303030373030303f33")
GUIDE_VERIFY_MESSAGE = bytes.fromhex("3b343038383439303031303733393431353d32343038323236303030373030303f33")


def test_guide_mac_scenarios_m1_to_m6(server, data) -> None:
    """Seed-C §4.8 M1–M6 with known keys (the guide's keys are not published, so its values cannot
    be reproduced) and its defects corrected: M4's `Direction` is DukptKeyVariant (required), M5
    verifies the MAC of its own message, M6 uses the same BDK as M4."""
    hmac_material = secrets.token_bytes(32)
    hmac_key = put_known_key(server, hmac_material, "TR31_M7_HMAC_KEY", "HMAC_SHA256", GV)["KeyArn"]
    m1 = _generate(data, hmac_key, GUIDE_MESSAGE, {"Algorithm": "HMAC"})
    assert m1 == terminal.hmac(hmac_material, GUIDE_MESSAGE, "sha256").hex().upper() and len(m1) == 64
    retail_material = secrets.token_bytes(16)
    retail = put_known_key(server, retail_material, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", GV)["KeyArn"]
    m2 = _generate(data, retail, GUIDE_MESSAGE, {"Algorithm": "ISO9797_ALGORITHM3"})
    assert (
        m2 == terminal.retail_mac(retail_material, terminal.pad1(GUIDE_MESSAGE)).hex().upper()
    )  # 34 → 40 bytes
    cmac_material = secrets.token_bytes(16)
    cmac_key = put_known_key(server, cmac_material, "TR31_M6_ISO_9797_5_CMAC_KEY", "AES_128", GV)["KeyArn"]
    m3 = _generate(data, cmac_key, GUIDE_MESSAGE, {"Algorithm": "CMAC"})
    assert m3 == terminal.cmac(cmac_material, GUIDE_MESSAGE, "AES").hex().upper() and len(m3) == 32
    bdk = put_known_key(server, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)["KeyArn"]
    m4_attrs = {
        "DukptCmac": {"KeySerialNumber": "932A6E954ABB32DD00000001", "DukptKeyVariant": "BIDIRECTIONAL"}
    }
    m4 = _generate(data, bdk, GUIDE_MESSAGE, m4_attrs)
    key = terminal.aes_terminal_key(
        AES_BDK, bytes.fromhex("932A6E954ABB32DD00000001"), "MAC", "BIDIRECTIONAL"
    )
    assert m4 == terminal.cmac(key, GUIDE_MESSAGE, "AES").hex().upper()
    m5 = terminal.hmac(hmac_material, GUIDE_VERIFY_MESSAGE, "sha256").hex().upper()
    assert (
        _verify(data, hmac_key, GUIDE_VERIFY_MESSAGE, {"Algorithm": "HMAC_SHA256"}, m5)["KeyArn"] == hmac_key
    )
    _rejected(
        data, hmac_key, GUIDE_VERIFY_MESSAGE, {"Algorithm": "HMAC_SHA256"}, m1
    )  # the guide's M5 as printed
    m6 = terminal.cmac(key, GUIDE_VERIFY_MESSAGE, "AES").hex().upper()
    _verify(data, bdk, GUIDE_VERIFY_MESSAGE, m4_attrs, m6)
    body = {
        "KeyIdentifier": bdk,
        "MessageData": GUIDE_MESSAGE.hex(),
        "GenerationAttributes": {
            "DukptCmac": {"KeySerialNumber": "932A6E954ABB32DD00000001", "Direction": "BIDIRECTIONAL"}
        },
    }
    status, _, raw = rawhttp.send(
        server.endpoint, "/mac/generate", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    assert status == 400 and json.loads(raw)["message"]
    assert "DukptKeyVariant" in json.loads(raw)["message"]  # M4 as printed: the member is required

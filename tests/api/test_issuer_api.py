"""Issuer functions through boto3: the seed-D scenarios end to end, known answers from published
vectors on known keys, and bad input.

Scenarios (seed-D §1, with the normalized requests of seed-D §2–3 and the corrections of §7):
G1 PIN + PVV, G2 CVV, G3 CVV2, G4 iCVV, V3 Visa CAVV v7, V4 Visa dCVV, M1 Mastercard DCVC3,
A1 Amex CSC1, A2 CSC2, A3 iCSC, A4 3-D Secure AEVV. Each generates, verifies, and verifies a
wrong value for VerificationFailedException with its Reason.

Known answers, each run twice (the `load` fixture): with the key stored through the service's own
path and with the key imported through boto3 ImportKey (tests/api/known_keys.py):
- Visa PVV: psec.pin.generate_visa_pvv docstring (PVK 0123456789ABCDEFFEDCBA9876543210, PVKI 3,
  PIN 4524, PAN 1122334455667788 -> 4021).
- IBM 3624: psec.pin docstring (same PVK, table 1234567890123456, validation data
  1122334455667788 -> natural PIN 4524) and the published worked example (PIN key
  0123456789ABCDEF, table 0123456789012345, card 1234567890123445 -> natural PIN 9046, PIN 1234
  has offset 2298), as in tests/crypto/test_ibm3624.py.
- ISO 9564 format 4: psec.pinblock.decipher_pinblock_iso_4 docstring (AES key 00112233…EEFF,
  PAN 1234567890123456, block E4BE5B623AF7E006AC319E5B93544564 holds PIN 1234).
- TDES DUKPT: ANSI X9.24-1:2009 A.4.2 (BDK 0123456789ABCDEFFEDCBA9876543210, KSN
  FFFF9876543210E00001, PIN 1234, PAN 4012345678909 -> block 1B9C1845EB993A7A).
- Mastercard CVC3: pyemv.cvv.generate_cvc3 docstring (IMK 01234567899876543210012345678998, PAN
  5123456789012345, PSN 00, track 2 5123456789012345D35121010000000000000F, UN 00000899, ATC
  005E -> 29488).
Format 0 blocks under a known PEK are computed with psec (ISO 0 encoding, TDES-ECB), an oracle
independent of paycrypt.
"""

from __future__ import annotations

import secrets
from typing import Any

import psec.des
import psec.pin
import psec.pinblock
import psec.tr31
import pytest

from paycrypt.crypto import card_dynamic
from tests import kx_partner as kp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_known_key_via_api, import_partner_ca, put_known_key

# Every heavy call these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

GEN_VERIFY = {"Generate": True, "Verify": True}
PEK_MODES = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
TEST_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # KCV 08D7B4
PEK_KEY = bytes.fromhex("89ABCDEF01234567FEDCBA9876543210")
SEED_PAN = "171234567890123"  # fails Luhn; the guide uses it, so it must be accepted
AMEX_PAN = "344131234567848"
TAGS = [{"Key": "CARD_BIN", "Value": "12345678"}]


def create(control, usage: str, algorithm: str, modes: dict[str, bool], purpose: str | None = None) -> str:
    tags = TAGS + ([{"Key": "KEY_PURPOSE", "Value": purpose}] if purpose else [])
    key = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": algorithm,
            "KeyUsage": usage,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": modes,
        },
        Tags=tags,
    )["Key"]
    assert key["KeyAttributes"]["KeyModesOfUse"] == {
        **dict.fromkeys(
            (
                "Encrypt",
                "Decrypt",
                "Wrap",
                "Unwrap",
                "Generate",
                "Sign",
                "Verify",
                "DeriveKey",
                "NoRestrictions",
            ),
            False,
        ),
        **modes,
    }
    return key["KeyArn"]


def known(server, material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> str:
    return put_known_key(server, material, usage, algorithm, modes)["KeyArn"]


@pytest.fixture(params=["stored", "ImportKey"])
def load(request, server, control):
    """Known-answer tests run twice: with the key put through the service's store path, and with
    the key imported through boto3 ImportKey (a TR-31 block under an RSA or ECDH-agreed KEK)."""

    def load_key(material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> dict[str, str]:
        if request.param == "stored":
            return put_known_key(server, material, usage, algorithm, modes)
        key = import_known_key_via_api(control, material, usage, algorithm, modes)
        return {"KeyArn": key["KeyArn"], "KeyCheckValue": key["KeyCheckValue"]}

    return load_key


def iso0_under(pek: bytes, pin: str, pan: str) -> str:
    return psec.des.encrypt_tdes_ecb(pek, psec.pinblock.encode_pinblock_iso_0(pin, pan)).hex().upper()


def other(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


# --- Card validation scenarios -------------------------------------------------------------------


def card_round_trip(
    data, key: str, pan: str, member: str, attrs: dict[str, str], length: int | None = None
) -> str:
    extra: dict[str, Any] = {} if length is None else {"ValidationDataLength": length}
    generated = data.generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=pan, GenerationAttributes={member: attrs}, **extra
    )
    value = generated["ValidationData"]
    assert generated["KeyArn"] == key and len(value) == (length or 3) and value.isdigit()
    verified = data.verify_card_validation_data(
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        VerificationAttributes={member: attrs},
        ValidationData=value,
    )
    assert set(verified) - {"ResponseMetadata"} == {"KeyArn", "KeyCheckValue"}
    assert verified["KeyCheckValue"] == generated["KeyCheckValue"]
    response = expect_error(
        data.verify_card_validation_data,
        "VerificationFailedException",
        400,
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        VerificationAttributes={member: attrs},
        ValidationData=other(value),
    )
    assert response["Reason"] == "INVALID_VALIDATION_DATA"
    assert response["Error"]["Message"] == "Card validation data verification failed."
    return value


@pytest.mark.parametrize(
    ("scenario", "member", "attrs"),
    [
        ("G2 CVV", "CardVerificationValue1", {"CardExpiryDate": "1127", "ServiceCode": "121"}),
        ("G3 CVV2", "CardVerificationValue2", {"CardExpiryDate": "1127"}),
        ("G4 iCVV", "CardVerificationValue1", {"CardExpiryDate": "1127", "ServiceCode": "999"}),
        ("V3 CAVV v7", "CardVerificationValue1", {"CardExpiryDate": "9431", "ServiceCode": "431"}),
    ],
)
def test_seed_visa_card_values(control, data, scenario: str, member: str, attrs: dict[str, str]) -> None:
    key = create(control, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY, scenario.split()[1])
    card_round_trip(data, key, SEED_PAN, member, attrs)


@pytest.mark.parametrize(
    ("scenario", "member", "attrs", "length"),
    [
        ("A1 CSC1", "AmexCardSecurityCodeVersion1", {"CardExpiryDate": "1224"}, 4),
        ("A2 CSC2", "AmexCardSecurityCodeVersion2", {"CardExpiryDate": "2412", "ServiceCode": "000"}, 4),
        ("A3 iCSC", "AmexCardSecurityCodeVersion2", {"CardExpiryDate": "1224", "ServiceCode": "702"}, 4),
        ("A4 AEVV", "AmexCardSecurityCodeVersion2", {"CardExpiryDate": "1234", "ServiceCode": "543"}, 3),
    ],
)
def test_seed_amex_values(
    control, data, scenario: str, member: str, attrs: dict[str, str], length: int
) -> None:
    """Amex CSC is not independently verified (no public specification or vector): round trips."""
    key = create(control, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY, scenario.split()[1])
    card_round_trip(data, key, AMEX_PAN, member, attrs, length)


def test_amex_lengths_are_disjoint_slices(load, data) -> None:
    """CSC 5, 4 and 3 come from one enciphered block (crypto.amex_csc); all three verify."""
    key = load(TEST_KEY, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    attrs = {"CardExpiryDate": "2412", "ServiceCode": "000"}
    for length in (3, 4, 5):
        card_round_trip(data, key, AMEX_PAN, "AmexCardSecurityCodeVersion2", attrs, length)


def test_amex_csc2_service_code_counts_in_every_length(load, data) -> None:
    """Decision (docs/decisions/issuer.md): CSC version 2 enciphers the service code for the 3-,
    4- and 5-digit codes alike, so a CSC2 generated with one service code does not verify with
    another. AWS's cvv-csc sample generates a 4-digit CSC2 with ServiceCode 999 and verifies it
    with 000 (its PAN and expiry are used here); that pair is VerificationFailedException. The
    guide's iCSC (999 contact, 702 contactless, 4 digits in its example) would be one value if it
    did not."""
    key = load(TEST_KEY, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    pan, expiry = "343412341234123", "0930"
    member = "AmexCardSecurityCodeVersion2"

    def generate(service_code: str, length: int) -> str:
        return data.generate_card_validation_data(
            KeyIdentifier=key,
            PrimaryAccountNumber=pan,
            GenerationAttributes={member: {"CardExpiryDate": expiry, "ServiceCode": service_code}},
            ValidationDataLength=length,
        )["ValidationData"]

    sample = generate("999", 4)
    data.verify_card_validation_data(
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        VerificationAttributes={member: {"CardExpiryDate": expiry, "ServiceCode": "999"}},
        ValidationData=sample,
    )
    response = expect_error(
        data.verify_card_validation_data,
        "VerificationFailedException",
        400,
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        VerificationAttributes={member: {"CardExpiryDate": expiry, "ServiceCode": "000"}},
        ValidationData=sample,
    )
    assert response["Reason"] == "INVALID_VALIDATION_DATA"
    for length in (3, 4, 5):
        values = {code: generate(code, length) for code in ("000", "999", "702")}
        assert len(set(values.values())) == 3, (length, values)


def test_seed_v4_dcvv_corrected(control, data) -> None:
    """V4 with the API shape (seed-D §7 A10): DynamicCardVerificationValue takes PanSequenceNumber,
    CardExpiryDate, ServiceCode and ATC (no TrackData), under an E6 key with DeriveKey. The
    seed's expiry and service code were lost to truncation; 1127/101 stand in for them."""
    key = create(control, "TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", {"DeriveKey": True}, "DCVV")
    attrs = {
        "ApplicationTransactionCounter": "01",
        "PanSequenceNumber": "00",
        "CardExpiryDate": "1127",
        "ServiceCode": "101",
    }
    card_round_trip(data, key, "5111112627662122", "DynamicCardVerificationValue", attrs, 5)
    # The seed's own key (E4, Generate/Verify) cannot be created, and an E4 master key is refused.
    expect_error(
        control.create_key,
        "ValidationException",
        400,
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "TDES_2KEY",
            "KeyUsage": "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": GEN_VERIFY,
        },
    )
    e4 = create(control, "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS", "TDES_2KEY", {"DeriveKey": True})
    response = expect_error(
        data.generate_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=e4,
        PrimaryAccountNumber="5111112627662122",
        GenerationAttributes={"DynamicCardVerificationValue": attrs},
    )
    assert "TR31_E6_EMV_MKEY_OTHER" in response["Error"]["Message"]


def test_seed_m1_dcvc3(load, control, data) -> None:
    """M1 on the seed's key (KCV 08D7B4, the classic test key), E4 with DeriveKey. The seed's
    track data, UN and PSN were cut off; the request completes them. Generate with ATC 0000, then
    verify; the separate verify with ATC 000B uses the same inputs."""
    key = load(TEST_KEY, "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS", "TDES_2KEY", {"DeriveKey": True})
    assert key["KeyCheckValue"] == "08D7B4"
    attrs = {
        "ApplicationTransactionCounter": "0000",
        "PanSequenceNumber": "00",
        "UnpredictableNumber": "00000899",
        "TrackData": "5241060000000069D13052010000000000000F",
    }
    card_round_trip(data, key["KeyArn"], "5413123456784808", "DynamicCardVerificationCode", attrs)
    card_round_trip(
        data,
        key["KeyArn"],
        "5413123456784808",
        "DynamicCardVerificationCode",
        {**attrs, "ApplicationTransactionCounter": "000B"},
    )
    # The seed's data calls name its E0 ARQC key; the key table needs E4, so that key is refused.
    e0 = load(TEST_KEY, "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS", "TDES_2KEY", {"DeriveKey": True})
    response = expect_error(
        data.generate_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=e0["KeyArn"],
        PrimaryAccountNumber="5413123456784808",
        GenerationAttributes={"DynamicCardVerificationCode": attrs},
    )
    assert "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS" in response["Error"]["Message"]


def test_published_cvc3_end_to_end(load, data) -> None:
    imk = load(
        bytes.fromhex("01234567899876543210012345678998"),
        "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS",
        "TDES_2KEY",
        {"DeriveKey": True},
    )["KeyArn"]
    attrs = {
        "PanSequenceNumber": "00",
        "TrackData": "5123456789012345D35121010000000000000F",
        "UnpredictableNumber": "00000899",
        "ApplicationTransactionCounter": "005E",
    }
    for length, expected in ((5, "29488"), (3, "488")):
        assert (
            data.generate_card_validation_data(
                KeyIdentifier=imk,
                PrimaryAccountNumber="5123456789012345",
                GenerationAttributes={"DynamicCardVerificationCode": attrs},
                ValidationDataLength=length,
            )["ValidationData"]
            == expected
        )
    data.verify_card_validation_data(
        KeyIdentifier=imk,
        PrimaryAccountNumber="5123456789012345",
        VerificationAttributes={"DynamicCardVerificationCode": attrs},
        ValidationData="488",
    )


def test_cardholder_verification_value_and_discover(server, control, data) -> None:
    """Not independently verified (no public definition; crypto.card_dynamic): CHVV round trips on
    an E6 key; Discover's code (verify only) accepts the value of that construction on the key."""
    key = create(control, "TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", {"DeriveKey": True})
    chvv = {
        "UnpredictableNumber": "1234ABCD",
        "PanSequenceNumber": "01",
        "ApplicationTransactionCounter": "000B",
    }
    card_round_trip(data, key, "4761739001010010", "CardHolderVerificationValue", chvv, 4)
    material = server.parts.service.keycache.material(server.parts.service.store.get_key(key))
    expected = card_dynamic.discover_dynamic_cvc(material, "6011000990139424", "2512", "00000899", "0001")
    discover = {
        "CardExpiryDate": "2512",
        "UnpredictableNumber": "00000899",
        "ApplicationTransactionCounter": "0001",
    }
    params = {
        "KeyIdentifier": key,
        "PrimaryAccountNumber": "6011000990139424",
        "VerificationAttributes": {"DiscoverDynamicCardVerificationCode": discover},
    }
    data.verify_card_validation_data(**params, ValidationData=expected)
    response = expect_error(
        data.verify_card_validation_data,
        "VerificationFailedException",
        400,
        **params,
        ValidationData=other(expected),
    )
    assert response["Reason"] == "INVALID_VALIDATION_DATA"


# --- PIN scenarios ------------------------------------------------------------------------------


def generate_pin(data, pvk: str, pek: str, member: str, attrs: dict, fmt: str, **extra) -> dict:
    return data.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=pek,
        GenerationAttributes={member: attrs},
        PinBlockFormat=fmt,
        **extra,
    )


def verify_pin(data, pvk: str, pek: str, member: str, attrs: dict, fmt: str, block: str, **extra) -> dict:
    return data.verify_pin_data(
        VerificationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=pek,
        VerificationAttributes={member: attrs},
        PinBlockFormat=fmt,
        EncryptedPinBlock=block,
        **extra,
    )


def verify_pin_fails(
    data, pvk: str, pek: str, member: str, attrs: dict, fmt: str, block: str, **extra
) -> dict:
    """The error response of a VerifyPinData that must fail verification (400)."""
    return expect_error(
        verify_pin, "VerificationFailedException", 400, data, pvk, pek, member, attrs, fmt, block, **extra
    )


def generate_pin_invalid(data, pvk: str, pek: str, member: str, attrs: dict, fmt: str, **extra) -> dict:
    """The error response of a GeneratePinData that must be refused as invalid (400)."""
    return expect_error(generate_pin, "ValidationException", 400, data, pvk, pek, member, attrs, fmt, **extra)


@pytest.mark.parametrize(
    ("pek_algorithm", "fmt"), [("AES_128", "ISO_FORMAT_4"), ("TDES_2KEY", "ISO_FORMAT_0")]
)
def test_seed_g1_pin_and_pvv(server, control, data, pek_algorithm: str, fmt: str) -> None:
    """G1 corrected (seed-D §7 A7): an AES_128 PEK writes ISO_FORMAT_4 blocks (32 hex); a TDES PEK
    (for interchange) writes the seed's ISO_FORMAT_0 (16 hex)."""
    pek = create(control, "TR31_P0_PIN_ENCRYPTION_KEY", pek_algorithm, PEK_MODES)
    pvk = create(control, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    out = generate_pin(
        data, pvk, pek, "VisaPin", {"PinVerificationKeyIndex": 1}, fmt, PrimaryAccountNumber=SEED_PAN
    )
    keys = {k: control.get_key(KeyIdentifier=k)["Key"]["KeyCheckValue"] for k in (pvk, pek)}
    assert out["GenerationKeyArn"] == pvk and out["GenerationKeyCheckValue"] == keys[pvk]
    assert out["EncryptionKeyArn"] == pek and out["EncryptionKeyCheckValue"] == keys[pek]
    assert len(out["EncryptedPinBlock"]) == (32 if fmt == "ISO_FORMAT_4" else 16)
    pvv = out["PinData"]["VerificationValue"]
    assert len(pvv) == 4 and pvv.isdigit()
    attrs = {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}
    ok = verify_pin(
        data, pvk, pek, "VisaPin", attrs, fmt, out["EncryptedPinBlock"], PrimaryAccountNumber=SEED_PAN
    )
    assert {k: ok[k] for k in ok if k != "ResponseMetadata"} == {
        "VerificationKeyArn": pvk,
        "VerificationKeyCheckValue": keys[pvk],
        "EncryptionKeyArn": pek,
        "EncryptionKeyCheckValue": keys[pek],
    }
    response = verify_pin_fails(
        data,
        pvk,
        pek,
        "VisaPin",
        {"PinVerificationKeyIndex": 1, "VerificationValue": other(pvv)},
        fmt,
        out["EncryptedPinBlock"],
        PrimaryAccountNumber=SEED_PAN,
    )
    assert response["Reason"] == "INVALID_PIN"
    assert response["Error"]["Message"] == "Pin block verification failed."


def test_seed_g1_as_printed_is_refused(server, control, data) -> None:
    """The seed's G1 request pairs an AES_128 PEK with ISO_FORMAT_0 (an 8-byte TDES block); paycrypt
    refuses it (seed-D §7 A7 option a) and changes nothing."""
    pek = create(control, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", PEK_MODES)
    pvk = create(control, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    before = db_snapshot(server.data_dir)
    response = generate_pin_invalid(
        data,
        pvk,
        pek,
        "VisaPin",
        {"PinVerificationKeyIndex": 1},
        "ISO_FORMAT_0",
        PrimaryAccountNumber=SEED_PAN,
    )
    assert "PinBlockFormat" in response["Error"]["Message"] and "AES" in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


def test_seed_ibm3624_random_pin(control, data) -> None:
    """Seed-C P5 completed: table 9876543210654321, pad D, validation data 171234567890123."""
    pvk = create(control, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    pek = create(control, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)
    base = {
        "DecimalizationTable": "9876543210654321",
        "PinValidationDataPadCharacter": "D",
        "PinValidationData": SEED_PAN,
    }
    out = generate_pin(
        data, pvk, pek, "Ibm3624RandomPin", base, "ISO_FORMAT_0", PrimaryAccountNumber=SEED_PAN
    )
    offset = out["PinData"]["PinOffset"]
    verify_pin(
        data,
        pvk,
        pek,
        "Ibm3624Pin",
        {**base, "PinOffset": offset},
        "ISO_FORMAT_0",
        out["EncryptedPinBlock"],
        PrimaryAccountNumber=SEED_PAN,
    )
    response = verify_pin_fails(
        data,
        pvk,
        pek,
        "Ibm3624Pin",
        {**base, "PinOffset": other(offset)},
        "ISO_FORMAT_0",
        out["EncryptedPinBlock"],
        PrimaryAccountNumber=SEED_PAN,
    )
    assert response["Reason"] == "INVALID_PIN"


# --- Known answers on known keys -------------------------------------------------------------------


def test_published_pvv_end_to_end(load, data) -> None:
    pvk = load(TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    pek = load(PEK_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    pan = "1122334455667788"
    block = iso0_under(PEK_KEY, "4524", pan)
    out = generate_pin(
        data,
        pvk,
        pek,
        "VisaPinVerificationValue",
        {"EncryptedPinBlock": block, "PinVerificationKeyIndex": 3},
        "ISO_FORMAT_0",
        PrimaryAccountNumber=pan,
    )
    assert out["PinData"] == {"VerificationValue": "4021"} and out["EncryptedPinBlock"] == block
    assert out["GenerationKeyCheckValue"] == "08D7B4"
    attrs = {"PinVerificationKeyIndex": 3, "VerificationValue": "4021"}
    verify_pin(data, pvk, pek, "VisaPin", attrs, "ISO_FORMAT_0", block, PrimaryAccountNumber=pan)
    response = verify_pin_fails(
        data,
        pvk,
        pek,
        "VisaPin",
        {**attrs, "VerificationValue": "4022"},
        "ISO_FORMAT_0",
        block,
        PrimaryAccountNumber=pan,
    )
    assert response["Reason"] == "INVALID_PIN"


def test_published_ibm3624_natural_pin_end_to_end(load, data) -> None:
    """Natural PIN 4524 (psec docstring): the ISO 0 block is deterministic, so the whole
    EncryptedPinBlock is a known answer; the offset of a natural PIN is 0000."""
    pvk = load(TEST_KEY, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    pek = load(PEK_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    pan = "1122334455667788"
    base = {
        "DecimalizationTable": "1234567890123456",
        "PinValidationDataPadCharacter": "F",
        "PinValidationData": pan,
    }
    out = generate_pin(data, pvk, pek, "Ibm3624NaturalPin", base, "ISO_FORMAT_0", PrimaryAccountNumber=pan)
    assert out["EncryptedPinBlock"] == iso0_under(PEK_KEY, "4524", pan)
    assert out["PinData"] == {"PinOffset": "0000"}
    out = generate_pin(
        data,
        pvk,
        pek,
        "Ibm3624PinFromOffset",
        {**base, "PinOffset": "1111"},
        "ISO_FORMAT_0",
        PrimaryAccountNumber=pan,
    )
    assert out["EncryptedPinBlock"] == iso0_under(PEK_KEY, "5635", pan)


IBM_EXAMPLE = {
    "DecimalizationTable": "0123456789012345",
    "PinValidationDataPadCharacter": "F",
    "PinValidationData": "1234567890123445",
}
IBM_EXAMPLE_KEY = bytes.fromhex("0123456789ABCDEF") * 2  # the single-DES example key as K1 = K2


def test_published_ibm3624_offset_and_format4_block(load, data) -> None:
    pvk = load(IBM_EXAMPLE_KEY, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    tdes_pek = load(PEK_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    block = iso0_under(PEK_KEY, "1234", "1234567890123445")
    out = generate_pin(
        data,
        pvk,
        tdes_pek,
        "Ibm3624PinOffset",
        {**IBM_EXAMPLE, "EncryptedPinBlock": block},
        "ISO_FORMAT_0",
        PrimaryAccountNumber="1234567890123445",
    )
    assert out["PinData"] == {"PinOffset": "2298"}
    aes_pek = load(
        bytes.fromhex("00112233445566778899AABBCCDDEEFF"),
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "AES_128",
        PEK_MODES,
    )["KeyArn"]
    attrs = {**IBM_EXAMPLE, "PinOffset": "2298"}
    published = "E4BE5B623AF7E006AC319E5B93544564"  # PIN 1234 for PAN 1234567890123456
    verify_pin(
        data,
        pvk,
        aes_pek,
        "Ibm3624Pin",
        attrs,
        "ISO_FORMAT_4",
        published,
        PrimaryAccountNumber="1234567890123456",
    )
    response = verify_pin_fails(
        data,
        pvk,
        aes_pek,
        "Ibm3624Pin",
        {**attrs, "PinOffset": "2299"},
        "ISO_FORMAT_4",
        published,
        PrimaryAccountNumber="1234567890123456",
    )
    assert response["Reason"] == "INVALID_PIN"


def test_published_dukpt_pin_block_end_to_end(load, data) -> None:
    bdk = load(TEST_KEY, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True})
    pvk = load(IBM_EXAMPLE_KEY, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    visa = load(TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    dukpt = {"KeySerialNumber": "FFFF9876543210E00001", "DukptDerivationType": "TDES_2KEY"}
    pan = "4012345678909"
    out = verify_pin(
        data,
        pvk,
        bdk["KeyArn"],
        "Ibm3624Pin",
        {**IBM_EXAMPLE, "PinOffset": "2298"},  # PIN 1234 on the worked example's card
        "ISO_FORMAT_0",
        "1B9C1845EB993A7A",
        PrimaryAccountNumber=pan,
        DukptAttributes=dukpt,
    )
    assert out["EncryptionKeyArn"] == bdk["KeyArn"] and out["EncryptionKeyCheckValue"] == "08D7B4"
    pvv = psec.pin.generate_visa_pvv(TEST_KEY, "1", "1234", pan)
    attrs = {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}
    verify_pin(
        data,
        visa,
        bdk["KeyArn"],
        "VisaPin",
        attrs,
        "ISO_FORMAT_0",
        "1B9C1845EB993A7A",
        PrimaryAccountNumber=pan,
        DukptAttributes=dukpt,
    )
    response = verify_pin_fails(
        data,
        visa,
        bdk["KeyArn"],
        "VisaPin",
        {**attrs, "VerificationValue": other(pvv)},
        "ISO_FORMAT_0",
        "1B9C1845EB993A7A",
        PrimaryAccountNumber=pan,
        DukptAttributes=dukpt,
    )
    assert response["Reason"] == "INVALID_PIN"


# --- Dynamic keys and imported keys ------------------------------------------------------------------

TDES_KBPK = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
# Published third-party TR-31 version B block (seed-B §5.2, psec's tests): TR31_P0, TDES, mode E,
# key 3F419E1CB7079442AA37474C2EFBF8B8 under the KBPK above.
B_BLOCK = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
B_BLOCK_KEY = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")


def test_wrapped_pek_through_boto3(load, data) -> None:
    """GeneratePinData with EncryptionWrappedKey: the PIN comes out under the key inside a published
    TR-31 block, and the response names the KEK with the working key's KCV."""
    kek = load(TDES_KBPK, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    pvk = load(TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    out = data.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=kek,
        EncryptionWrappedKey={"WrappedKeyMaterial": {"Tr31KeyBlock": B_BLOCK}},
        GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
        PinBlockFormat="ISO_FORMAT_0",
        PrimaryAccountNumber=SEED_PAN,
    )
    assert out["EncryptionKeyArn"] == kek
    assert out["EncryptionKeyCheckValue"] == psec.des.generate_kcv(B_BLOCK_KEY, 3).hex().upper()
    clear = psec.des.decrypt_tdes_ecb(B_BLOCK_KEY, bytes.fromhex(out["EncryptedPinBlock"]))
    pin = psec.pinblock.decode_pinblock_iso_0(clear, SEED_PAN)
    assert out["PinData"]["VerificationValue"] == psec.pin.generate_visa_pvv(TEST_KEY, "1", pin[:4], SEED_PAN)


def visa_pin_verify_both_ways(
    data, pvk: str, kek: str, wrapped: dict, fmt: str, block: str, pvv: str
) -> dict:
    """VerifyPinData VisaPin under a dynamic PEK: the right PVV verifies, a changed one fails with
    INVALID_PIN (400). Returns the successful response."""
    params = {
        "VerificationKeyIdentifier": pvk,
        "EncryptionKeyIdentifier": kek,
        "EncryptionWrappedKey": wrapped,
        "PinBlockFormat": fmt,
        "EncryptedPinBlock": block,
        "PrimaryAccountNumber": SEED_PAN,
    }
    attrs = {"PinVerificationKeyIndex": 1, "VerificationValue": pvv}
    ok = data.verify_pin_data(**params, VerificationAttributes={"VisaPin": attrs})
    response = expect_error(
        data.verify_pin_data,
        "VerificationFailedException",
        400,
        **params,
        VerificationAttributes={"VisaPin": {**attrs, "VerificationValue": other(pvv)}},
    )
    assert response["Reason"] == "INVALID_PIN"
    return ok


def test_verify_pin_wrapped_tr31_pek_through_boto3(load, data) -> None:
    """VerifyPinData with EncryptionWrappedKey Tr31KeyBlock: a PEK with mode B (psec.tr31, an
    implementation independent of paycrypt's) under a known KEK reads a format 0 block psec made;
    the PVV is psec's (Visa PVV, PVKI 1)."""
    kek = load(TDES_KBPK, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    pvk = load(TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    pek = secrets.token_bytes(16)
    wrapped = {"WrappedKeyMaterial": {"Tr31KeyBlock": psec.tr31.wrap(TDES_KBPK, "B0000P0TB00N0000", pek)}}
    pin = "4524"
    pvv = psec.pin.generate_visa_pvv(TEST_KEY, "1", pin, SEED_PAN)
    ok = visa_pin_verify_both_ways(
        data, pvk, kek, wrapped, "ISO_FORMAT_0", iso0_under(pek, pin, SEED_PAN), pvv
    )
    assert ok["VerificationKeyArn"] == pvk and ok["EncryptionKeyArn"] == kek
    assert ok["EncryptionKeyCheckValue"] == psec.des.generate_kcv(pek, 3).hex().upper()


def test_verify_pin_wrapped_ecdh_pek_through_boto3(load, control, data) -> None:
    """VerifyPinData with EncryptionWrappedKey DiffieHellmanSymmetricKey: the partner (tests/kx_partner.py,
    plain `cryptography`) agrees an AES_128 PEK with a P-256 K3 key pair by ECDH + NIST SP 800-56A
    KDF and writes a format 4 block (psec) under it. Its CA chain goes in through ImportKey: the root
    as RootCertificatePublicKey, the issuing CA as TrustedCertificatePublicKey under it."""
    pvk = load(TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    root = kp.ca("ECC_NIST_P256", "PIN partner root")
    issuing = kp.leaf(root, "ECC_NIST_P256", "PIN partner issuing CA", is_ca=True)
    root_arn = import_partner_ca(control, "RootCertificatePublicKey", root)
    issuing_arn = import_partner_ca(control, "TrustedCertificatePublicKey", issuing, root_arn)
    partner = kp.leaf(issuing, "ECC_NIST_P256", "PIN partner HSM")
    k3 = control.create_key(
        Exportable=False,
        DeriveKeyUsage="TR31_P0_PIN_ENCRYPTION_KEY",
        KeyAttributes={
            "KeyAlgorithm": "ECC_NIST_P256",
            "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"DeriveKey": True},
        },
    )["Key"]["KeyArn"]
    service_certificate = kp.load_b64(control.get_public_key_certificate(KeyIdentifier=k3)["KeyCertificate"])
    shared = secrets.token_hex(8).upper()
    pek = kp.ecdh_key(partner.key, service_certificate, algorithm="AES_128", shared_information=shared)
    wrapped = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": issuing_arn,
                "PublicKeyCertificate": partner.b64,
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": shared,
            }
        }
    }
    pin = "4524"
    pvv = psec.pin.generate_visa_pvv(TEST_KEY, "1", pin, SEED_PAN)
    block = psec.pinblock.encipher_pinblock_iso_4(pek, pin, SEED_PAN).hex().upper()
    ok = visa_pin_verify_both_ways(data, pvk, k3, wrapped, "ISO_FORMAT_4", block, pvv)
    assert ok["VerificationKeyArn"] == pvk and ok["EncryptionKeyArn"] == k3
    assert ok["EncryptionKeyCheckValue"] == kp.kcv_aes(pek)


# --- Bad input: ValidationException (400), never a 500, and nothing stored ---------------------------


@pytest.fixture
def pin_keys(control) -> tuple[str, str]:
    return (
        create(control, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY),
        create(control, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES),
    )


VISA_ATTRS = {"PinVerificationKeyIndex": 1, "VerificationValue": "1234"}


@pytest.mark.parametrize(
    ("case", "changes", "code", "status", "mentions"),
    [
        (
            "garbage block",
            {"EncryptedPinBlock": "0123456789ABCDEF"},
            "ValidationException",
            400,
            "Pin block provided is invalid",
        ),
        (
            "odd-length block",
            {"EncryptedPinBlock": "0123456789ABCDEF0"},
            "ValidationException",
            400,
            "EncryptedPinBlock",
        ),
        ("AES-size block", {"EncryptedPinBlock": "00" * 16}, "ValidationException", 400, "EncryptedPinBlock"),
        ("no PAN", {"PrimaryAccountNumber": None}, "ValidationException", 400, "PrimaryAccountNumber"),
        (
            "PAN not numeric",
            {"PrimaryAccountNumber": "41111111111111AB"},
            "ValidationException",
            400,
            "PrimaryAccountNumber",
        ),
        (
            "PAN too short",
            {"PrimaryAccountNumber": "41111111111"},
            "ValidationException",
            400,
            "PrimaryAccountNumber",
        ),
        ("PIN length 13", {"PinDataLength": 13}, "ValidationException", 400, "PinDataLength"),
        (
            "PVV not numeric",
            {"VerificationAttributes": {"VisaPin": {**VISA_ATTRS, "VerificationValue": "12a4"}}},
            "ValidationException",
            400,
            "VerificationValue",
        ),
        (
            "PVV of 5 digits",
            {"VerificationAttributes": {"VisaPin": {**VISA_ATTRS, "VerificationValue": "12345"}}},
            "ValidationException",
            400,
            "VerificationValue",
        ),
        (
            "PVKI 7",
            {"VerificationAttributes": {"VisaPin": {**VISA_ATTRS, "PinVerificationKeyIndex": 7}}},
            "ValidationException",
            400,
            "PinVerificationKeyIndex",
        ),
        (
            "format 4 with TDES PEK",
            {"PinBlockFormat": "ISO_FORMAT_4", "EncryptedPinBlock": "00" * 16},
            "ValidationException",
            400,
            "PinBlockFormat",
        ),
        ("unknown format", {"PinBlockFormat": "ISO_FORMAT_2"}, "ValidationException", 400, "PinBlockFormat"),
        (
            "DUKPT under a PEK",
            {
                "DukptAttributes": {
                    "KeySerialNumber": "FFFF9876543210E00001",
                    "DukptDerivationType": "TDES_2KEY",
                }
            },
            "ValidationException",
            400,
            "TR31_B0_BASE_DERIVATION_KEY",
        ),
        (
            "wrapped key named by a PEK",
            {"EncryptionWrappedKey": {"WrappedKeyMaterial": {"Tr31KeyBlock": "D0112P0TE00E0000" + "0" * 96}}},
            "ValidationException",
            400,
            "TR31_K0_KEY_ENCRYPTION_KEY",
        ),
        (
            "wrapped key block that does not open",
            {
                "EncryptionKeyIdentifier": "KEK",
                "EncryptionWrappedKey": {
                    "WrappedKeyMaterial": {"Tr31KeyBlock": "B0080P0TE00E0000" + "0" * 64}
                },
            },
            "ValidationException",
            400,
            "Tr31KeyBlock",
        ),
        (
            "unknown PEK",
            {"EncryptionKeyIdentifier": "alias/no-such-pek"},
            "ResourceNotFoundException",
            404,
            None,
        ),
    ],
)
def test_verify_pin_bad_input(
    server, data, pin_keys, case: str, changes: dict, code: str, status: int, mentions: str | None
) -> None:
    pvk, pek = pin_keys
    if changes.get("EncryptionKeyIdentifier") == "KEK":
        kek = known(server, TDES_KBPK, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)
        changes = {**changes, "EncryptionKeyIdentifier": kek}
    params: dict[str, Any] = {
        "VerificationKeyIdentifier": pvk,
        "EncryptionKeyIdentifier": pek,
        "VerificationAttributes": {"VisaPin": VISA_ATTRS},
        "PinBlockFormat": "ISO_FORMAT_0",
        "EncryptedPinBlock": iso0_under(bytes(16), "1234", SEED_PAN),
        "PrimaryAccountNumber": SEED_PAN,
        **changes,
    }
    params = {k: v for k, v in params.items() if v is not None}
    before = db_snapshot(server.data_dir)
    response = expect_error(data.verify_pin_data, code, status, **params)
    if mentions:
        assert mentions in response["Error"]["Message"], response["Error"]["Message"]
    assert SEED_PAN not in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


def test_pin_key_state_and_usage(server, control, data, pin_keys) -> None:
    pvk, pek = pin_keys
    cvk = create(control, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)

    def refused(encryption_key: str) -> str:
        """The message of a Visa PIN generation refused as invalid (400)."""
        response = generate_pin_invalid(
            data,
            pvk,
            encryption_key,
            "VisaPin",
            {"PinVerificationKeyIndex": 1},
            "ISO_FORMAT_0",
            PrimaryAccountNumber=SEED_PAN,
        )
        return response["Error"]["Message"]

    assert "TR31_C0_CARD_VERIFICATION_KEY" in refused(cvk)
    control.stop_key_usage(KeyIdentifier=pvk)
    assert "disabled" in refused(pek)
    control.delete_key(KeyIdentifier=pek)
    control.start_key_usage(KeyIdentifier=pvk)
    assert "DELETE_PENDING" in refused(pek)


def test_dukpt_bad_ksn(server, data) -> None:
    bdk = known(server, TEST_KEY, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True})
    pvk = known(server, TEST_KEY, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    before = db_snapshot(server.data_dir)
    for ksn, derivation, member in (
        ("9876543210E00000", "TDES_2KEY", "KeySerialNumber"),  # 16 hex, read F-padded: counter 0
        ("FFFF9876543210E00000", "TDES_2KEY", "KeySerialNumber"),
        ("FFFF9876543210E00001", "AES_256", "DukptDerivationType"),
    ):
        response = expect_error(
            verify_pin,
            "ValidationException",
            400,
            data,
            pvk,
            bdk,
            "VisaPin",
            VISA_ATTRS,
            "ISO_FORMAT_0",
            "1B9C1845EB993A7A",
            PrimaryAccountNumber="4012345678909",
            DukptAttributes={"KeySerialNumber": ksn, "DukptDerivationType": derivation},
        )
        assert member in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


@pytest.mark.parametrize(
    ("member", "attrs", "pan", "mentions"),
    [
        ("AmexCardSecurityCodeVersion1", {"CardExpiryDate": "1224"}, SEED_PAN, "34 or 37"),
        (
            "DynamicCardVerificationCode",
            {
                "UnpredictableNumber": "0899",
                "PanSequenceNumber": "0",
                "ApplicationTransactionCounter": "0001",
                "TrackData": "AB",
            },
            "5413123456784808",
            "PanSequenceNumber",
        ),
        (
            "CardHolderVerificationValue",
            {
                "UnpredictableNumber": "XYZ1",
                "PanSequenceNumber": "00",
                "ApplicationTransactionCounter": "0001",
            },
            "5413123456784808",
            "UnpredictableNumber",
        ),
    ],
)
def test_card_bad_input(server, control, data, member: str, attrs: dict, pan: str, mentions: str) -> None:
    usage = "TR31_C0_CARD_VERIFICATION_KEY" if member.startswith("Amex") else "TR31_E6_EMV_MKEY_OTHER"
    modes = GEN_VERIFY if member.startswith("Amex") else {"DeriveKey": True}
    key = create(control, usage, "TDES_2KEY", modes)
    before = db_snapshot(server.data_dir)
    response = expect_error(
        data.generate_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        GenerationAttributes={member: attrs},
    )
    assert mentions in response["Error"]["Message"] and pan not in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before

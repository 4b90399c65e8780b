"""The CreateKey rules table (seed-B §12 with the decisions of docs/decisions/keys.md) and the KCV
rules table."""

from __future__ import annotations

import itertools

import pytest

from paycrypt.errors import ValidationError
from paycrypt.service.rules import check_values, combinations

SYMMETRIC_USAGES = [u for u, r in combinations.RULES.items() if r.key_class == "SYMMETRIC_KEY"]


def attrs(usage: str, algorithm: str, modes: set[str], key_class: str | None = None) -> dict:
    return {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": key_class or combinations.RULES[usage].key_class,
        "KeyModesOfUse": {m: True for m in modes},
    }


@pytest.mark.parametrize(
    ("usage", "algorithm", "modes"),
    [
        ("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate", "Verify"}),
        ("TR31_C0_CARD_VERIFICATION_KEY", "AES_256", {"NoRestrictions"}),
        ("TR31_B0_BASE_DERIVATION_KEY", "AES_128", {"DeriveKey"}),
        ("TR31_K0_KEY_ENCRYPTION_KEY", "TDES_3KEY", {"Encrypt", "Wrap"}),
        ("TR31_M7_HMAC_KEY", "HMAC_SHA224", {"Generate"}),
        ("TR31_M0_ISO_16609_MAC_KEY", "TDES_2KEY", {"Verify"}),
        ("TR31_P1_PIN_GENERATION_KEY", "TDES_2KEY", {"Encrypt", "Decrypt", "Wrap", "Unwrap"}),
        ("TR31_P1_PIN_GENERATION_KEY", "AES_128", {"Generate", "Verify"}),
        ("TR31_E5_EMV_MKEY_CARD_PERSONALIZATION", "TDES_2KEY", {"DeriveKey"}),
        ("TR31_K2_TR34_ASYMMETRIC_KEY", "RSA_2048", {"Decrypt", "Unwrap"}),
        ("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", "RSA_4096", {"Sign"}),
        ("TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "ECC_NIST_P521", {"DeriveKey"}),
    ],
)
def test_valid_combinations(usage: str, algorithm: str, modes: set[str]) -> None:
    combinations.check_create(attrs(usage, algorithm, modes), None)


@pytest.mark.parametrize(
    ("attributes", "derive", "names"),
    [
        (attrs("TR31_M7_HMAC_KEY", "AES_128", {"Generate"}), None, "KeyAlgorithm"),
        (attrs("TR31_M1_ISO_9797_1_MAC_KEY", "AES_128", {"Generate"}), None, "KeyAlgorithm"),
        (attrs("TR31_C0_CARD_VERIFICATION_KEY", "HMAC_SHA256", {"Generate"}), None, "KeyAlgorithm"),
        (attrs("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Encrypt"}), None, "KeyModesOfUse"),
        (attrs("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", set()), None, "KeyModesOfUse"),
        (
            attrs("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate", "NoRestrictions"}),
            None,
            "KeyModesOfUse",
        ),
        (attrs("TR31_K2_TR34_ASYMMETRIC_KEY", "RSA_2048", {"DeriveKey"}), None, "KeyModesOfUse"),
        (
            attrs("TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", "ECC_NIST_P256", {"NoRestrictions"}),
            None,
            "KeyModesOfUse",
        ),
        (attrs("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate"}, "PRIVATE_KEY"), None, "KeyClass"),
        (
            attrs("TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", {"Encrypt"}, "PUBLIC_KEY"),
            None,
            "KeyClass",
        ),
        (
            attrs("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate"}),
            "TR31_C0_CARD_VERIFICATION_KEY",
            "DeriveKeyUsage",
        ),
    ],
)
def test_invalid_combinations_name_the_attribute(attributes: dict, derive: str | None, names: str) -> None:
    with pytest.raises(ValidationError) as info:
        combinations.check_create(attributes, derive)
    assert names in info.value.message


def test_every_symmetric_usage_rejects_every_asymmetric_algorithm() -> None:
    for usage, algorithm in itertools.product(SYMMETRIC_USAGES, sorted(combinations.ASYMMETRIC)):
        with pytest.raises(ValidationError):
            combinations.check_create(attrs(usage, algorithm, {"NoRestrictions"}), None)


def test_normalized_modes_has_all_nine() -> None:
    assert combinations.normalized_modes({"Generate": True}) == {
        m: m == "Generate" for m in combinations.MODES
    }


@pytest.mark.parametrize(
    ("algorithm", "requested", "expected"),
    [
        ("TDES_2KEY", None, "ANSI_X9_24"),
        ("TDES_3KEY", "CMAC", "CMAC"),
        ("AES_192", None, "CMAC"),
        ("HMAC_SHA384", None, "HMAC"),
        ("RSA_3072", None, "SHA_1"),
        ("ECC_NIST_P384", None, "SHA_1"),
        # A method the family does not define: the family's default is used (docs/decisions/keys.md).
        ("AES_128", "ANSI_X9_24", "CMAC"),
        ("TDES_2KEY", "HMAC", "ANSI_X9_24"),
        ("TDES_3KEY", "SHA_1", "ANSI_X9_24"),
        ("HMAC_SHA256", "CMAC", "HMAC"),
        ("RSA_2048", "CMAC", "SHA_1"),
        ("ECC_NIST_P256", "ANSI_X9_24", "SHA_1"),
    ],
)
def test_kcv_algorithm_choice(algorithm: str, requested: str | None, expected: str) -> None:
    assert check_values.resolve(algorithm, requested) == expected


@pytest.mark.parametrize(
    ("algorithm", "length", "fragment"),
    [
        ("HMAC_SHA256", 4, "HMAC key of 4 bytes (32 bits)"),
        ("HMAC_SHA512", 8, "HMAC key of 8 bytes (64 bits)"),
        ("HMAC_SHA224", 15, "HMAC key of 15 bytes (120 bits)"),
        ("TDES_3KEY", 16, "does not carry a TDES_3KEY key (24 bytes"),
        ("AES_256", 16, "does not carry a AES_256 key (32 bytes"),
    ],
)
def test_material_length_refused(algorithm: str, length: int, fragment: str) -> None:
    """Guide, cryptographic primitives: HMAC keys of at least 128 bits; TDES/AES the named length."""
    with pytest.raises(ValidationError) as info:
        combinations.check_material_length(
            algorithm, length, "KeyMaterial.KeyCryptogram.WrappedKeyCryptogram"
        )
    assert fragment in info.value.message
    assert info.value.message.startswith("KeyMaterial.KeyCryptogram.WrappedKeyCryptogram")


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [("HMAC_SHA256", 16), ("HMAC_SHA224", 28), ("HMAC_SHA512", 200), ("TDES_2KEY", 16), ("AES_192", 24)],
)
def test_material_length_accepted(algorithm: str, length: int) -> None:
    combinations.check_material_length(algorithm, length, "x")

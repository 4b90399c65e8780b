"""KeyCheckValueAlgorithm through boto3 for every key family (issue 12, items 1 and 2).

Decision (docs/decisions/keys.md): a KeyCheckValueAlgorithm the key's family defines is computed; any other
is accepted and the family's own method is computed instead, and the answer's
KeyCheckValueAlgorithm names the method actually used. AWS's samples send ANSI_X9_24 and CMAC on
RSA and ECC root-certificate imports (samples-for-payment-cryptography-service, tr34 and rsa
import apps) and ANSI_X9_24 on an AES_128 key cryptogram import whose KCV they compare with the AES
CMAC KCV (import_raw_key_into_apc_with_rsa_wrap.py); X9.24-1:2017 (PCI PIN requirement 15-1)
allows AES the CMAC method only.

Expected values are computed independently of paycrypt (tests/kx_partner.py: `cryptography` and
hmac) and, for the known keys, are the published ones: TDES 0123456789ABCDEFFEDCBA9876543210 →
X9.24 08D7B4 and TDES-CMAC 0A8245; AES 2B7E151628AED2A6ABF7158809CF4F3C (RFC 4493 key) → CMAC
7AD386; HMAC-SHA256 key 000102…1F → D38B42 (seed-B §4).
"""

from __future__ import annotations

import psec
import pytest

from tests import kx_partner as kp
from tests.api.known_keys import import_known_key_via_api, import_partner_ca, known_aes256_kek

# Every RSA key generation and certificate check these calls make runs off the event loop
# (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
ALL_KCV_ALGORITHMS = ("ANSI_X9_24", "CMAC", "HMAC", "SHA_1")

KNOWN_TDES = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
KNOWN_AES = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
KNOWN_HMAC = bytes(range(32))


def _root_import(control, party: kp.Party, algorithm: str, kcv_algorithm: str) -> dict:
    return control.import_key(
        KeyMaterial={"RootCertificatePublicKey": kp.ca_certificate_member(party, algorithm)},
        KeyCheckValueAlgorithm=kcv_algorithm,
    )["Key"]


# --- item 1: asymmetric keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "kcv_algorithm"),
    [
        ("RSA_2048", "ANSI_X9_24"),
        ("RSA_4096", "CMAC"),
        ("ECC_NIST_P256", "ANSI_X9_24"),
        ("ECC_NIST_P521", "HMAC"),
    ],
)
def test_root_certificate_import_accepts_any_kcv_algorithm(
    control, algorithm: str, kcv_algorithm: str
) -> None:
    """The issue's call (RSA_2048 root with ANSI_X9_24) and its siblings: SHA_1 of the SPKI is
    computed and named, whatever was asked."""
    root = kp.ca(algorithm, f"KCV root {algorithm}")
    key = _root_import(control, root, algorithm, kcv_algorithm)
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (
        kp.kcv_public_key(root.certificate),
        "SHA_1",
    )
    assert control.get_key(KeyIdentifier=key["KeyArn"])["Key"]["KeyCheckValueAlgorithm"] == "SHA_1"


def test_trusted_certificate_import_accepts_ansi_x9_24(control) -> None:
    root = kp.ca("ECC_NIST_P256", "KCV trusted root")
    root_arn = import_partner_ca(control, "RootCertificatePublicKey", root)
    leaf = kp.leaf(root, "ECC_NIST_P256", name="KCV trusted leaf")
    key = control.import_key(
        KeyMaterial={
            "TrustedCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": S0,
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "ECC_NIST_P256",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": leaf.b64,
                "CertificateAuthorityPublicKeyIdentifier": root_arn,
            }
        },
        KeyCheckValueAlgorithm="ANSI_X9_24",
    )["Key"]
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (
        kp.kcv_public_key(leaf.certificate),
        "SHA_1",
    )


@pytest.mark.parametrize(
    ("algorithm", "usage", "modes", "extra"),
    [
        ("RSA_2048", S0, {"Sign": True}, {}),
        (
            "ECC_NIST_P256",
            "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            {"DeriveKey": True},
            {"DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY"},
        ),
    ],
)
@pytest.mark.parametrize("kcv_algorithm", ALL_KCV_ALGORITHMS)
def test_create_key_pair_accepts_any_kcv_algorithm(
    control, algorithm: str, usage: str, modes: dict, extra: dict, kcv_algorithm: str
) -> None:
    """CreateKey of RSA/ECC pairs: the KCV is over the pair's public key, recomputed from the
    certificate GetPublicKeyCertificate returns."""
    key = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": algorithm,
            "KeyUsage": usage,
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": modes,
        },
        KeyCheckValueAlgorithm=kcv_algorithm,
        **extra,
    )["Key"]
    certificate = kp.load_b64(
        control.get_public_key_certificate(KeyIdentifier=key["KeyArn"])["KeyCertificate"]
    )
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (kp.kcv_public_key(certificate), "SHA_1")


# --- item 2: symmetric keys, every requested algorithm -------------------------------------------

# (key algorithm, material, usage, modes) → for each requested algorithm, (KCV, algorithm answered)
_SYMMETRIC = {
    "TDES_2KEY": (KNOWN_TDES, "TR31_C0_CARD_VERIFICATION_KEY", {"Generate": True, "Verify": True}),
    "AES_128": (
        KNOWN_AES,
        "TR31_K0_KEY_ENCRYPTION_KEY",
        {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    ),
    "HMAC_SHA256": (KNOWN_HMAC, "TR31_M7_HMAC_KEY", {"Generate": True, "Verify": True}),
}
_EXPECTED = {
    ("TDES_2KEY", "ANSI_X9_24"): ("08D7B4", "ANSI_X9_24"),
    ("TDES_2KEY", "CMAC"): ("0A8245", "CMAC"),
    ("TDES_2KEY", "HMAC"): ("08D7B4", "ANSI_X9_24"),
    ("TDES_2KEY", "SHA_1"): ("08D7B4", "ANSI_X9_24"),
    ("AES_128", "ANSI_X9_24"): ("7AD386", "CMAC"),
    ("AES_128", "CMAC"): ("7AD386", "CMAC"),
    ("AES_128", "HMAC"): ("7AD386", "CMAC"),
    ("AES_128", "SHA_1"): ("7AD386", "CMAC"),
    ("HMAC_SHA256", "ANSI_X9_24"): ("D38B42", "HMAC"),
    ("HMAC_SHA256", "CMAC"): ("D38B42", "HMAC"),
    ("HMAC_SHA256", "HMAC"): ("D38B42", "HMAC"),
    ("HMAC_SHA256", "SHA_1"): ("D38B42", "HMAC"),
}


@pytest.mark.parametrize(("algorithm", "kcv_algorithm"), sorted(_EXPECTED))
def test_import_symmetric_key_with_each_kcv_algorithm(control, algorithm: str, kcv_algorithm: str) -> None:
    material, usage, modes = _SYMMETRIC[algorithm]
    key = import_known_key_via_api(
        control, material, usage, algorithm, modes, key_check_value_algorithm=kcv_algorithm
    )
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == _EXPECTED[(algorithm, kcv_algorithm)]


def test_published_values_agree_with_the_independent_computation() -> None:
    """The table's published values are what kx_partner computes (guards the table itself)."""
    assert kp.kcv_tdes(KNOWN_TDES) == "08D7B4" and kp.kcv_tdes_cmac(KNOWN_TDES) == "0A8245"
    assert kp.kcv_aes(KNOWN_AES) == "7AD386" and kp.kcv_hmac(KNOWN_HMAC, "sha256") == "D38B42"


@pytest.mark.parametrize(
    ("algorithm", "usage", "modes", "kcv_algorithm", "answered"),
    [
        (
            "TDES_3KEY",
            "TR31_C0_CARD_VERIFICATION_KEY",
            {"Generate": True, "Verify": True},
            "HMAC",
            "ANSI_X9_24",
        ),
        (
            "AES_256",
            "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            {"Wrap": True, "Unwrap": True, "Encrypt": True, "Decrypt": True},
            "ANSI_X9_24",
            "CMAC",
        ),
        ("HMAC_SHA512", "TR31_M7_HMAC_KEY", {"Generate": True}, "CMAC", "HMAC"),
    ],
)
def test_create_symmetric_key_answers_the_method_used(
    server, control, algorithm: str, usage: str, modes: dict, kcv_algorithm: str, answered: str
) -> None:
    """CreateKey: the KCV of the generated material (read back from the store) by the method named."""
    key = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": algorithm,
            "KeyUsage": usage,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": modes,
        },
        KeyCheckValueAlgorithm=kcv_algorithm,
    )["Key"]
    service = server.parts.service
    material = service.keycache.material(service.store.get_key(key["KeyArn"]))
    expected = {
        "ANSI_X9_24": kp.kcv_tdes,
        "CMAC": kp.kcv_aes,
        "HMAC": lambda k: kp.kcv_hmac(k, "sha512"),
    }[answered](material)
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (expected, answered)


def test_export_ipek_with_a_method_the_key_does_not_define(control) -> None:
    """ExportAttributes.KeyCheckValueAlgorithm follows the same rule: ANSI_X9_24 asked for an AES
    IK gets its CMAC KCV, named CMAC. BDK and IK: ANSI X9.24-3-2017 AES DUKPT test vector (BDK
    FEDCBA9876543210F1F1F1F1F1F1F1F1, IK ID 123456789012345600000001 → IK 1273671E…)."""
    kek_arn, kek = known_aes256_kek(control)
    bdk = import_known_key_via_api(
        control,
        bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1"),
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        {"DeriveKey": True},
        exportable=False,
    )
    wrapped = control.export_key(
        ExportKeyIdentifier=bdk["KeyArn"],
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
        ExportAttributes={
            "ExportDukptInitialKey": {"KeySerialNumber": "123456789012345600000001"},
            "KeyCheckValueAlgorithm": "ANSI_X9_24",
        },
    )["WrappedKey"]
    ik = psec.tr31.unwrap(kek, wrapped["KeyMaterial"])[1]
    assert ik.hex().upper() == "1273671EA26AC29AFA4D1084127652A1"
    assert (wrapped["KeyCheckValue"], wrapped["KeyCheckValueAlgorithm"]) == (kp.kcv_aes(ik), "CMAC")

"""Key check values.

Sources: TDES 0123456789ABCDEFFEDCBA9876543210 -> 08D7B4 is the widely published X9.24 KCV (also
seed-A §8.2); AES-CMAC of zero block under the RFC 4493 / NIST SP 800-38B example key
2B7E1516... -> 7AD386 (RFC 4493 gives AES-CMAC(K, empty) as bb1d6929..., and SP 800-38B's
example keys are used here with the zero block, cross-checked by seed-B §4); HMAC values are
checked against Python's hmac module (an independent implementation).
"""

import hashlib
import hmac as std_hmac

import pytest

from paycrypt.crypto import kcv


def test_ansi_x9_24_two_key() -> None:
    assert kcv.ansi_x9_24(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")).hex().upper() == "08D7B4"


def test_ansi_x9_24_three_key() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567")
    assert kcv.ansi_x9_24(key).hex().upper() == "3FD539"


def test_aes_cmac() -> None:
    assert kcv.aes_cmac(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")).hex().upper() == "7AD386"
    key256 = bytes.fromhex("603DEB1015CA71BE2B73AEF0857D77811F352C073B6108D72D9810A30914DFF4")
    assert kcv.aes_cmac(key256).hex().upper() == "1A0B2D"


def test_hmac_sha256_seed_vector() -> None:
    assert kcv.hmac(bytes(range(32)), "sha256").hex().upper() == "D38B42"


@pytest.mark.parametrize("name", ["sha224", "sha256", "sha384", "sha512"])
def test_hmac_matches_stdlib(name: str) -> None:
    key = bytes(range(64))
    assert kcv.hmac(key, name) == std_hmac.new(key, b"", name).digest()[:3]


def test_sha1_public_key() -> None:
    assert kcv.sha1_public_key(b"spki") == hashlib.sha1(b"spki").digest()[:4]


def test_tdes_cmac_kcv() -> None:
    """TDES-CMAC of the zero block: 0A8245 for the X9.24 test key (value from digest seed-B §4,
    computed there independently of paycrypt)."""
    assert kcv.tdes_cmac(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")).hex().upper() == "0A8245"


def test_sha1_kcv_is_over_the_real_subject_public_key_info() -> None:
    """The asymmetric KCV hashes the key's DER SubjectPublicKeyInfo, recomputed here with
    cryptography's own serialization (the service path goes through keygen.public_key_der)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from paycrypt.service.rules import check_values

    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    value, name = check_values.compute("ECC_NIST_P256", None, pkcs8)
    assert name == "SHA_1"
    assert value == hashlib.sha1(spki).hexdigest()[:8].upper()

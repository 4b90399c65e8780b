"""ECDH key agreement and the NIST_SP800 / ANSI_X963 KDFs.

Sources:
- Z: NIST CAVS 14.1 KAS ECC CDH primitive test vectors (KAS_ECC_CDH_PrimitiveTest.txt), P-256 COUNT 0.
- ANSI X9.63 KDF: NIST CAVS ansx963_2001.rsp, [SHA-256] [SharedInfo length = 128]
  [key data length = 1024] COUNT 0; the first 32 bytes are the AES_256-length output.
- The one-step concatenation KDF (SP 800-56C Rev. 2 §4.1, hash option) and X9.63 are also recomputed
  here from their definitions with hashlib, an oracle independent of `cryptography`'s KDF classes.
- The partner side of every agreement is plain `cryptography` (`exchange` + `ConcatKDFHash` /
  `X963KDF`), as AWS's ECDH sample computes it.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from paycrypt.crypto import ecdh
from paycrypt.crypto.ecdh import EcdhError

CURVES = {"P256": ec.SECP256R1, "P384": ec.SECP384R1, "P521": ec.SECP521R1}
HASHLIB = {"SHA_256": "sha256", "SHA_384": "sha384", "SHA_512": "sha512"}
CRYPTOGRAPHY_HASH = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}


def test_cavs_p256_shared_secret() -> None:
    d = int("7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534", 16)
    peer = ec.EllipticCurvePublicNumbers(
        int("700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287", 16),
        int("db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac", 16),
        ec.SECP256R1(),
    ).public_key()
    private = ec.derive_private_key(d, ec.SECP256R1())
    assert (
        ecdh.shared_secret(private, peer).hex()
        == "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b"
    )


def test_cavs_x963_kdf() -> None:
    z = bytes.fromhex("22518b10e70f2a3f243810ae3254139efbee04aa57c7af7d")
    derived = ecdh.kdf(
        z,
        key_algorithm="AES_256",
        kdf_name="ANSI_X963",
        hash_algorithm="SHA_256",
        shared_information="75eef81aa3041e33b80971203d2c0c52",
    )
    assert derived.hex() == "c498af77161cc59f2962b9a713e2b215152d139766ce34a776df11866a69bf2e"


def _reference_kdf(kdf_name: str, hash_name: str, z: bytes, info: bytes, length: int) -> bytes:
    """SP 800-56C one-step: H(counter ‖ Z ‖ info); X9.63: H(Z ‖ counter ‖ info); counter from 1, 32 bits."""
    out = b""
    for counter in itertools.count(1):
        c = counter.to_bytes(4, "big")
        data = c + z + info if kdf_name == "NIST_SP800" else z + c + info
        out += hashlib.new(HASHLIB[hash_name], data).digest()
        if len(out) >= length:
            return out[:length]
    raise AssertionError


@pytest.mark.parametrize("kdf_name", list(ecdh.KDFS))
@pytest.mark.parametrize("hash_name", list(ecdh.KDF_HASHES))
@pytest.mark.parametrize("key_algorithm", list(ecdh.DERIVED_KEY_LENGTHS))
def test_kdf_matches_definition(kdf_name: str, hash_name: str, key_algorithm: str) -> None:
    z = bytes(range(66))
    info = "1234567890"  # the guide's SharedInformation for ECDH import (seed-B §8)
    derived = ecdh.kdf(
        z, key_algorithm=key_algorithm, kdf_name=kdf_name, hash_algorithm=hash_name, shared_information=info
    )
    length = ecdh.DERIVED_KEY_LENGTHS[key_algorithm]
    assert derived == _reference_kdf(kdf_name, hash_name, z, bytes.fromhex(info), length)


def test_derived_key_lengths_follow_the_model() -> None:
    """seed-B §8: TDES_2KEY 16, TDES_3KEY 24, AES_128 16, AES_192 24, AES_256 32 bytes."""
    expected = {"TDES_2KEY": 16, "TDES_3KEY": 24, "AES_128": 16, "AES_192": 24, "AES_256": 32}
    assert {k: ecdh.DERIVED_KEY_LENGTHS[k] for k in expected} == expected


def _certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner")])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("curve", list(CURVES))
@pytest.mark.parametrize("kdf_name", list(ecdh.KDFS))
@pytest.mark.parametrize("hash_name", list(ecdh.KDF_HASHES))
def test_partner_computed_with_plain_cryptography(curve: str, kdf_name: str, hash_name: str) -> None:
    ours, partner = ec.generate_private_key(CURVES[curve]()), ec.generate_private_key(CURVES[curve]())
    info = "ADEF567890"  # the guide's SharedInformation for ECDH export (seed-B §8)
    derived = ecdh.derive_key(
        ours,
        _certificate(partner),
        key_algorithm="AES_256",
        kdf_name=kdf_name,
        hash_algorithm=hash_name,
        shared_information=info,
    )
    z = partner.exchange(ec.ECDH(), ours.public_key())
    partner_kdf = {"NIST_SP800": ConcatKDFHash, "ANSI_X963": X963KDF}[kdf_name]
    assert derived == partner_kdf(CRYPTOGRAPHY_HASH[hash_name](), 32, bytes.fromhex(info)).derive(z)


@settings(max_examples=20, deadline=None)
@given(
    key_algorithm=st.sampled_from(list(ecdh.DERIVED_KEY_LENGTHS)),
    info=st.binary(min_size=1, max_size=64),
    kdf_name=st.sampled_from(list(ecdh.KDFS)),
)
def test_property_both_sides_agree(key_algorithm: str, info: bytes, kdf_name: str) -> None:
    a, b = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    args = dict(
        key_algorithm=key_algorithm,
        kdf_name=kdf_name,
        hash_algorithm="SHA_256",
        shared_information=info.hex(),
    )
    assert ecdh.derive_key(a, b.public_key(), **args) == ecdh.derive_key(b, a.public_key(), **args)


def test_every_input_changes_the_key() -> None:
    a, b, c = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    base = dict(
        key_algorithm="AES_128", kdf_name="NIST_SP800", hash_algorithm="SHA_256", shared_information="AB"
    )
    reference = ecdh.derive_key(a, b.public_key(), **base)
    variants = [
        ecdh.derive_key(a, c.public_key(), **base),
        ecdh.derive_key(a, b.public_key(), **{**base, "kdf_name": "ANSI_X963"}),
        ecdh.derive_key(a, b.public_key(), **{**base, "hash_algorithm": "SHA_384"}),
        ecdh.derive_key(a, b.public_key(), **{**base, "shared_information": "AC"}),
    ]
    assert all(v != reference for v in variants)


def test_curve_mismatch_rejected() -> None:
    with pytest.raises(EcdhError, match="different curves"):
        ecdh.shared_secret(
            ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP384R1()).public_key()
        )


def test_non_ecc_keys_rejected() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(EcdhError, match="ECC"):
        ecdh.shared_secret(ec.generate_private_key(ec.SECP256R1()), rsa_key.public_key())  # type: ignore[arg-type]
    with pytest.raises(EcdhError, match="ECC"):
        ecdh.shared_secret(rsa_key, ec.generate_private_key(ec.SECP256R1()).public_key())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("key_algorithm", "RSA_2048", "DeriveKeyAlgorithm"),
        ("kdf_name", "HKDF", "KeyDerivationFunction"),
        ("hash_algorithm", "SHA_1", "KeyDerivationHashAlgorithm"),
        ("shared_information", "XYZ1", "hexadecimal"),
        ("shared_information", "", "empty"),
    ],
)
def test_bad_parameters_rejected(field: str, value: str, message: str) -> None:
    args = dict(
        key_algorithm="AES_128", kdf_name="NIST_SP800", hash_algorithm="SHA_256", shared_information="AB"
    )
    args[field] = value
    with pytest.raises(EcdhError, match=message):
        ecdh.kdf(bytes(32), **args)

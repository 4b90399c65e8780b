"""RSA-OAEP key cryptograms (KeyCryptogram import and export).

Interop: OpenSSL's `pkeyutl` (an independent implementation) encrypts what paycrypt unwraps and
decrypts what paycrypt wraps, with `rsa_padding_mode:oaep` and `rsa_oaep_md` / `rsa_mgf1_md` set to
the spec's hash (seed-B §9: "PKCS#1 v2.2 OAEP (with SHA 256 or SHA 512)", MGF1 with the same hash,
empty label, as AWS's RSA import sample does). `cryptography`'s own OAEP is a second oracle in the
property test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from paycrypt.crypto import key_cryptogram as kc
from paycrypt.crypto.key_cryptogram import KeyCryptogramError

OPENSSL_MD = {"RSA_OAEP_SHA_256": "sha256", "RSA_OAEP_SHA_512": "sha512"}
TDES_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


@pytest.fixture(scope="module", params=[2048, 3072, 4096])
def rsa_key(request) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=request.param)


def _openssl(tmp_path: Path, key: rsa.RSAPrivateKey, spec: str, data: bytes, decrypt: bool) -> bytes:
    if decrypt:
        key_file = tmp_path / "private.pem"
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_args = ["-inkey", str(key_file)]
    else:
        key_file = tmp_path / "public.pem"
        key_file.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        key_args = ["-pubin", "-inkey", str(key_file)]
    md = OPENSSL_MD[spec]
    result = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-decrypt" if decrypt else "-encrypt",
            *key_args,
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            f"rsa_oaep_md:{md}",
            "-pkeyopt",
            f"rsa_mgf1_md:{md}",
        ],
        input=data,
        capture_output=True,
        check=True,
    )
    return result.stdout


needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


@needs_openssl
@pytest.mark.parametrize("spec", list(kc.WRAPPING_SPECS))
def test_openssl_wraps_paycrypt_unwraps(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, spec: str) -> None:
    cryptogram = _openssl(tmp_path, rsa_key, spec, TDES_KEY, decrypt=False)
    assert kc.unwrap(rsa_key, cryptogram, spec) == TDES_KEY


@needs_openssl
@pytest.mark.parametrize("spec", list(kc.WRAPPING_SPECS))
def test_paycrypt_wraps_openssl_unwraps(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, spec: str) -> None:
    key = bytes(range(24))
    cryptogram = kc.wrap(rsa_key.public_key(), key, spec)
    assert len(cryptogram) == rsa_key.key_size // 8
    assert _openssl(tmp_path, rsa_key, spec, cryptogram, decrypt=True) == key


@needs_openssl
def test_openssl_default_mgf1_follows_oaep_hash(tmp_path: Path) -> None:
    """`rsa_oaep_md:sha256` alone (the guide's command line) gives MGF1-SHA-256 in OpenSSL."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = tmp_path / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    cryptogram = subprocess.run(
        [
            *("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(public)),
            *("-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"),
        ],
        input=TDES_KEY,
        capture_output=True,
        check=True,
    ).stdout
    assert kc.unwrap(key, cryptogram) == TDES_KEY


@settings(max_examples=25, deadline=None)
@given(key=st.binary(min_size=1, max_size=32), spec=st.sampled_from(list(kc.WRAPPING_SPECS)))
def test_property_matches_cryptography_oaep(key: bytes, spec: str) -> None:
    private = _shared_key()
    digest = kc.WRAPPING_SPECS[spec]
    oaep = padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None)
    assert private.decrypt(kc.wrap(private.public_key(), key, spec), oaep) == key
    assert kc.unwrap(private, private.public_key().encrypt(key, oaep), spec) == key


_SHARED: list[rsa.RSAPrivateKey] = []


def _shared_key() -> rsa.RSAPrivateKey:
    if not _SHARED:
        _SHARED.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _SHARED[0]


def test_default_spec_is_sha256() -> None:
    """seed-B §9 [DECIDE]: RSA_OAEP_SHA_256 when WrappingSpec is omitted."""
    private = _shared_key()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert private.decrypt(kc.wrap(private.public_key(), TDES_KEY), oaep) == TDES_KEY


def test_spec_mismatch_rejected() -> None:
    private = _shared_key()
    cryptogram = kc.wrap(private.public_key(), TDES_KEY, "RSA_OAEP_SHA_512")
    with pytest.raises(KeyCryptogramError, match="does not decrypt"):
        kc.unwrap(private, cryptogram, "RSA_OAEP_SHA_256")


def test_wrong_key_and_tampering_rejected() -> None:
    private = _shared_key()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cryptogram = kc.wrap(private.public_key(), TDES_KEY)
    with pytest.raises(KeyCryptogramError) as caught:
        kc.unwrap(other, cryptogram)
    assert TDES_KEY.hex() not in str(caught.value).lower()
    tampered = bytearray(cryptogram)
    tampered[100] ^= 0x01
    with pytest.raises(KeyCryptogramError):
        kc.unwrap(private, bytes(tampered))
    with pytest.raises(KeyCryptogramError, match="length"):
        kc.unwrap(private, cryptogram[:-1])


def test_bad_inputs_rejected() -> None:
    private = _shared_key()
    with pytest.raises(KeyCryptogramError, match="WrappingSpec"):
        kc.wrap(private.public_key(), TDES_KEY, "RSA_OAEP_SHA_1")
    with pytest.raises(KeyCryptogramError, match="empty"):
        kc.wrap(private.public_key(), b"")
    with pytest.raises(KeyCryptogramError, match="too long"):
        kc.wrap(private.public_key(), bytes(127), "RSA_OAEP_SHA_512")  # 256 - 2*64 - 2 = 126 fits
    with pytest.raises(KeyCryptogramError, match="RSA"):
        kc.wrap(ec.generate_private_key(ec.SECP256R1()).public_key(), TDES_KEY)  # type: ignore[arg-type]

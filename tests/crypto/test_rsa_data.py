"""RSA data encryption: PKCS1 v1.5, OAEP SHA-1/256/512 and raw RSA.

Oracles: `openssl pkeyutl` decrypts what paycrypt encrypts and paycrypt decrypts what OpenSSL
encrypts, for every padding; raw RSA is checked against OpenSSL's `rsa_padding_mode:none` both
ways. The maximum plaintext lengths are the AWS Payment Cryptography user guide's table
(user-guide.txt L3985–3996, in hex characters).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from paycrypt.crypto import rsa_data

OPENSSL = shutil.which("openssl")
PADDINGS = ["PKCS1", "OAEP_SHA1", "OAEP_SHA256", "OAEP_SHA512"]
_OPENSSL_OPTIONS = {
    "PKCS1": ["rsa_padding_mode:pkcs1"],
    "OAEP_SHA1": ["rsa_padding_mode:oaep", "rsa_oaep_md:sha1", "rsa_mgf1_md:sha1"],
    "OAEP_SHA256": ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"],
    "OAEP_SHA512": ["rsa_padding_mode:oaep", "rsa_oaep_md:sha512", "rsa_mgf1_md:sha512"],
    None: ["rsa_padding_mode:none"],
}


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_files(private_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("rsa")
    private_path, public_path = directory / "private.pem", directory / "public.pem"
    private_path.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_path.write_bytes(
        private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def _pkeyutl(operation: str, key_path: Path, padding: str | None, data: bytes, public: bool) -> bytes:
    args = [OPENSSL, "pkeyutl", operation, "-inkey", str(key_path)]
    if public:
        args.append("-pubin")
    for option in _OPENSSL_OPTIONS[padding]:
        args += ["-pkeyopt", option]
    result = subprocess.run(args, input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
@pytest.mark.parametrize("padding", PADDINGS)
def test_openssl_decrypts_paycrypt(
    padding: str, private_key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]
) -> None:
    plaintext = b"1234123412341234"
    ciphertext = rsa_data.encrypt(private_key.public_key(), plaintext, padding)
    assert len(ciphertext) == 256
    assert _pkeyutl("-decrypt", key_files[0], padding, ciphertext, public=False) == plaintext


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
@pytest.mark.parametrize("padding", PADDINGS)
def test_paycrypt_decrypts_openssl(
    padding: str, private_key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]
) -> None:
    plaintext = b"card data 4012345678909"
    ciphertext = _pkeyutl("-encrypt", key_files[1], padding, plaintext, public=True)
    assert rsa_data.decrypt(private_key, ciphertext, padding) == plaintext


@pytest.mark.skipif(OPENSSL is None, reason="openssl binary not found")
def test_raw_rsa_both_ways(private_key: rsa.RSAPrivateKey, key_files: tuple[Path, Path]) -> None:
    block = b"\x00\x02" + bytes(range(1, 255))  # 256 bytes; a leading zero keeps it below the modulus
    ciphertext = rsa_data.encrypt(private_key.public_key(), block, None)
    assert ciphertext == _pkeyutl("-encrypt", key_files[1], None, block, public=True)
    assert _pkeyutl("-decrypt", key_files[0], None, ciphertext, public=False) == block
    assert rsa_data.decrypt(private_key, ciphertext, None) == block


def test_der_keys_accepted(private_key: rsa.RSAPrivateKey) -> None:
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ciphertext = rsa_data.encrypt(public_der, b"hello", "OAEP_SHA256")
    assert rsa_data.decrypt(private_der, ciphertext, "OAEP_SHA256") == b"hello"


@pytest.mark.parametrize(
    ("padding", "hex_2048", "hex_3072", "hex_4096"),
    [
        ("OAEP_SHA1", 428, 684, 940),
        ("OAEP_SHA256", 380, 636, 892),
        ("OAEP_SHA512", 252, 508, 764),
        ("PKCS1", 488, 744, 1000),
    ],
)
def test_max_plaintext_matches_guide_table(padding: str, hex_2048: int, hex_3072: int, hex_4096: int) -> None:
    """The guide's figures are hex characters: two per byte."""
    assert [rsa_data.max_plaintext_length(padding, bits) * 2 for bits in (2048, 3072, 4096)] == [
        hex_2048,
        hex_3072,
        hex_4096,
    ]


def test_max_plaintext_without_padding_is_the_modulus() -> None:
    assert [rsa_data.max_plaintext_length(None, bits) for bits in (2048, 3072, 4096)] == [256, 384, 512]


@pytest.mark.parametrize("padding", PADDINGS)
def test_plaintext_limit_enforced(padding: str, private_key: rsa.RSAPrivateKey) -> None:
    limit = rsa_data.max_plaintext_length(padding, 2048)
    public = private_key.public_key()
    assert rsa_data.decrypt(private_key, rsa_data.encrypt(public, bytes(limit), padding), padding) == bytes(
        limit
    )
    with pytest.raises(ValueError, match=f"longer than {limit} bytes"):
        rsa_data.encrypt(public, bytes(limit + 1), padding)


def test_raw_rsa_input_rules(private_key: rsa.RSAPrivateKey) -> None:
    public = private_key.public_key()
    with pytest.raises(ValueError, match="exactly 256 bytes"):
        rsa_data.encrypt(public, bytes(255), None)
    with pytest.raises(ValueError, match="less than the modulus"):
        rsa_data.encrypt(public, b"\xff" * 256, None)
    with pytest.raises(ValueError, match="ciphertext must be 256 bytes"):
        rsa_data.decrypt(private_key, bytes(100), None)


def test_decrypt_failures_are_opaque(private_key: rsa.RSAPrivateKey) -> None:
    ciphertext = rsa_data.encrypt(private_key.public_key(), b"secret", "OAEP_SHA256")
    with pytest.raises(ValueError, match=r"^RSA decryption failed$"):
        rsa_data.decrypt(private_key, ciphertext, "OAEP_SHA512")


def test_unknown_padding_and_wrong_key_type(private_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="PaddingType"):
        rsa_data.encrypt(private_key.public_key(), b"x", "OAEP_MD5")
    with pytest.raises(ValueError, match="public key"):
        rsa_data.encrypt(private_key, b"x", "PKCS1")  # type: ignore[arg-type]

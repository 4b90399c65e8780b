"""RSA data encryption for EncryptData / DecryptData with Asymmetric attributes (RFC 8017).

PaddingType selects RSAES-PKCS1-v1_5 (PKCS1) or RSAES-OAEP with SHA-1/256/512 (OAEP_SHA*; MGF1
uses the same hash and the label is empty, seed-C A-ENC-7). No PaddingType means raw RSA (RSAEP /
RSADP, RFC 8017 §5.1): the caller has padded the data itself, so the input must be exactly the
modulus length and, as an integer, less than the modulus.

Plaintext limits follow the guide's table (L3985–3996, given in hex characters):

    OAEP     k − 2·hLen − 2 bytes   (the RFC 8017 limit; e.g. 214 bytes = 428 hex for RSA-2048)
    PKCS1    k − 12 bytes           (the guide's 488/744/1000 hex; one byte under RFC 8017's k − 11,
                                     kept so that paycrypt refuses what AWS refuses)
    none     exactly k bytes        (the guide's "None" row repeats the PKCS1 figures, but raw RSA
                                     is defined on k-byte inputs only; seed-C A-ENC-1)

Keys come as `cryptography` RSA key objects or as DER (SubjectPublicKeyInfo for public keys,
PKCS#8 or PKCS#1 for private keys). Decryption failures raise ValueError without saying why, so
the error cannot serve as a padding oracle.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa

PublicKey = rsa.RSAPublicKey | bytes
PrivateKey = rsa.RSAPrivateKey | bytes

# PaddingType -> OAEP hash (None for PKCS1 v1.5); the absence of a PaddingType is raw RSA
_OAEP_HASHES: dict[str, type[hashes.HashAlgorithm] | None] = {
    "PKCS1": None,
    "OAEP_SHA1": hashes.SHA1,
    "OAEP_SHA256": hashes.SHA256,
    "OAEP_SHA512": hashes.SHA512,
}
_PKCS1_OVERHEAD = 12  # the guide's figure; RFC 8017 needs 11


def max_plaintext_length(padding: str | None, modulus_bits: int) -> int:
    """The longest plaintext, in bytes, EncryptData accepts for this padding and key size."""
    k = (modulus_bits + 7) // 8
    if padding is None:
        return k
    oaep_hash = _padding_hash(padding)
    if oaep_hash is None:
        return k - _PKCS1_OVERHEAD
    return k - 2 * oaep_hash.digest_size - 2


def encrypt(public_key: PublicKey, plaintext: bytes, padding: str | None) -> bytes:
    """Encrypt under the public key; OAEP and PKCS1 output is randomised, raw RSA is not."""
    key = _public(public_key)
    k = _modulus_bytes(key)
    if padding is None:
        return _raw(plaintext, k, key.public_numbers().n, key.public_numbers().e)
    limit = max_plaintext_length(padding, key.key_size)
    if not plaintext:
        raise ValueError("plaintext must not be empty")
    if len(plaintext) > limit:
        raise ValueError(
            f"plaintext is longer than {limit} bytes, the most {padding} allows with RSA-{key.key_size}"
        )
    return key.encrypt(plaintext, _padding(padding))


def decrypt(private_key: PrivateKey, ciphertext: bytes, padding: str | None) -> bytes:
    """Decrypt with the private key; raw RSA returns all k bytes, leading zeros included."""
    key = _private(private_key)
    k = _modulus_bytes(key)
    if len(ciphertext) != k:
        raise ValueError(f"ciphertext must be {k} bytes, the modulus length of RSA-{key.key_size}")
    if padding is None:
        return _raw_private(ciphertext, key, k)
    scheme = _padding(padding)
    try:
        return key.decrypt(ciphertext, scheme)
    except ValueError:
        raise ValueError("RSA decryption failed") from None


def _raw(data: bytes, k: int, n: int, exponent: int) -> bytes:
    value = _raw_input(data, k, n)
    return pow(value, exponent, n).to_bytes(k, "big")


def _raw_private(data: bytes, key: rsa.RSAPrivateKey, k: int) -> bytes:
    """RSADP with the CRT (RFC 8017 §5.1.2, case 2.b)."""
    numbers = key.private_numbers()
    value = _raw_input(data, k, numbers.public_numbers.n)
    m1 = pow(value, numbers.dmp1, numbers.p)
    m2 = pow(value, numbers.dmq1, numbers.q)
    h = numbers.iqmp * (m1 - m2) % numbers.p
    return (m2 + h * numbers.q).to_bytes(k, "big")


def _raw_input(data: bytes, k: int, n: int) -> int:
    if len(data) != k:
        raise ValueError(f"without padding the data must be exactly {k} bytes, the modulus length")
    value = int.from_bytes(data, "big")
    if value >= n:
        raise ValueError("without padding the data, as an integer, must be less than the modulus")
    return value


def _padding(padding: str) -> asym_padding.AsymmetricPadding:
    oaep_hash = _padding_hash(padding)
    if oaep_hash is None:
        return asym_padding.PKCS1v15()
    return asym_padding.OAEP(mgf=asym_padding.MGF1(oaep_hash()), algorithm=oaep_hash(), label=None)


def _padding_hash(padding: str) -> type[hashes.HashAlgorithm] | None:
    try:
        return _OAEP_HASHES[padding]
    except KeyError:
        raise ValueError(f"unsupported RSA PaddingType {padding}") from None


def _modulus_bytes(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> int:
    return (key.key_size + 7) // 8


def _public(key: PublicKey) -> rsa.RSAPublicKey:
    if isinstance(key, bytes):
        key = serialization.load_der_public_key(key)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("data encryption needs an RSA public key")
    return key


def _private(key: PrivateKey) -> rsa.RSAPrivateKey:
    if isinstance(key, bytes):
        key = _load_private_der(key)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("data decryption needs an RSA private key")
    return key


def _load_private_der(der: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        raise ValueError("private key is not a DER RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("data decryption needs an RSA private key")
    return key

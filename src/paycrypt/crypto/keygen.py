"""Fresh key material from `secrets` (symmetric) and OpenSSL's CSPRNG (RSA, ECC).

TDES keys carry odd parity and distinct components, so a two-key TDES key never collapses to
single DES. Asymmetric private keys are returned as PKCS#8 DER, the form the vault seals.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from paycrypt.crypto.primitives import set_odd_parity

SYMMETRIC_LENGTHS = {
    "TDES_2KEY": 16,
    "TDES_3KEY": 24,
    "AES_128": 16,
    "AES_192": 24,
    "AES_256": 32,
    "HMAC_SHA224": 28,
    "HMAC_SHA256": 32,
    "HMAC_SHA384": 48,
    "HMAC_SHA512": 64,
}
RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
}


def generate(algorithm: str) -> bytes:
    """Key bytes for a symmetric algorithm, or a PKCS#8 DER private key for RSA/ECC."""
    if algorithm.startswith("TDES"):
        return _tdes(SYMMETRIC_LENGTHS[algorithm])
    if algorithm in SYMMETRIC_LENGTHS:
        return secrets.token_bytes(SYMMETRIC_LENGTHS[algorithm])
    if algorithm in RSA_BITS:
        return _pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[algorithm]))
    if algorithm in CURVES:
        return _pkcs8(ec.generate_private_key(CURVES[algorithm]()))
    raise ValueError(f"unknown key algorithm {algorithm}")


def _tdes(length: int) -> bytes:
    while True:
        key = set_odd_parity(secrets.token_bytes(length))
        parts = {key[i : i + 8] for i in range(0, length, 8)}
        if len(parts) == length // 8:
            return key


def _pkcs8(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(key_der: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A PKCS#8 private key that `generate` made, as a key object.

    OpenSSL's RSA consistency check (primality of p and q and more) is skipped: it costs about
    50 ms of CPU for RSA_2048 and 320 ms for RSA_4096, with the GIL held (bench/README.md), on
    every load, and proves again what generating the key already guaranteed. Only keys this service
    generated come here: the vault gives them back from key blocks whose MAC under the master
    key shows they are unchanged (no import path takes a private key). Cost skipped: 0.01 ms.
    """
    key = serialization.load_der_private_key(key_der, password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("not an RSA or ECC private key")
    return key


def public_key_der(key_der: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of a PKCS#8 private key, or of an SPKI (an imported public key)."""
    try:
        private_key = load_private_key(key_der)
    except ValueError:
        public_key = serialization.load_der_public_key(key_der)
    else:
        public_key = private_key.public_key()
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )

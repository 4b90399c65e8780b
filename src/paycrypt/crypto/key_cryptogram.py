"""RSA key cryptograms (the API's KeyCryptogram): a raw symmetric key under RSAES-OAEP.

The guide's RSA wrap and unwrap use "PKCS#1 v2.2 OAEP (with SHA 256 or SHA 512)" (seed-B §9). As in
AWS's sample code, MGF1 uses the same hash as OAEP and the label is empty (RFC 8017 §7.1). No
header travels with the key, which is why the guide warns that this method does not bind usage.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeyCryptogramError(ValueError):
    """A cryptogram that cannot be made or opened; the message never says why decryption failed."""


# WrappingKeySpec → the OAEP hash (and MGF1 hash).
WRAPPING_SPECS: dict[str, type[hashes.HashAlgorithm]] = {
    "RSA_OAEP_SHA_256": hashes.SHA256,
    "RSA_OAEP_SHA_512": hashes.SHA512,
}
DEFAULT_WRAPPING_SPEC = "RSA_OAEP_SHA_256"  # seed-B §9 [DECIDE]: the spec when the request omits it


def _oaep(spec: str) -> padding.OAEP:
    if spec not in WRAPPING_SPECS:
        raise KeyCryptogramError(f"WrappingSpec must be one of {', '.join(WRAPPING_SPECS)}")
    digest = WRAPPING_SPECS[spec]
    return padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None)


def wrap(public_key: rsa.RSAPublicKey, key: bytes, spec: str = DEFAULT_WRAPPING_SPEC) -> bytes:
    """Encrypt `key` to the receiver's RSA public key (ExportKey KeyCryptogram)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyCryptogramError("key cryptograms need an RSA wrapping key")
    if not key:
        raise KeyCryptogramError("key to wrap is empty")
    oaep = _oaep(spec)
    capacity = public_key.key_size // 8 - 2 * WRAPPING_SPECS[spec].digest_size - 2
    if len(key) > capacity:
        raise KeyCryptogramError("key is too long for this RSA key and WrappingSpec")
    return public_key.encrypt(key, oaep)


def unwrap(private_key: rsa.RSAPrivateKey, cryptogram: bytes, spec: str = DEFAULT_WRAPPING_SPEC) -> bytes:
    """Recover a raw key from an RSA-OAEP cryptogram (ImportKey KeyCryptogram)."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise KeyCryptogramError("key cryptograms need an RSA wrapping key")
    oaep = _oaep(spec)
    if len(cryptogram) != private_key.key_size // 8:
        raise KeyCryptogramError("cryptogram length does not match the RSA wrapping key")
    try:
        key = private_key.decrypt(cryptogram, oaep)
    except ValueError:
        raise KeyCryptogramError("cryptogram does not decrypt under the wrapping key") from None
    if not key:
        raise KeyCryptogramError("cryptogram carries an empty key")
    return key

"""ECDH key agreement and the two KDFs the API offers (DiffieHellmanTr31KeyBlock, DiffieHellmanSymmetricKey).

Both parties compute Z, the x-coordinate of d·Q (NIST SP 800-56A Rev. 3 §5.7.1.2, ECC CDH), and
feed it to the KDF the request names with the request's SharedInformation as the only context:

* `NIST_SP800`: the SP 800-56C Rev. 2 §4.1 one-step KDF with a hash, i.e. Hash(counter ‖ Z ‖
  OtherInfo) (the "concatenation KDF" of SP 800-56A), OtherInfo = SharedInformation;
* `ANSI_X963`: ANSI X9.63 §5.6.3 / SEC 1 §3.6.1, Hash(Z ‖ counter ‖ SharedInfo).

This is what AWS's ECDH sample does (cryptography's `ConcatKDFHash`, otherinfo = the shared info),
so roles (party U or V) do not change the result (seed-B §8). The output is used as is, parity
bits included, as the sample uses it; TDES ignores parity.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from paycrypt.crypto import keygen


class EcdhError(ValueError):
    """Bad ECDH inputs: wrong key types, mismatched curves, unknown KDF, hash or key algorithm."""


KDF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_256": hashes.SHA256,
    "SHA_384": hashes.SHA384,
    "SHA_512": hashes.SHA512,
}
KDFS = {"NIST_SP800": ConcatKDFHash, "ANSI_X963": X963KDF}

# DeriveKeyAlgorithm → derived key length in bytes (seed-B §8). HMAC keys take their hash's
# output length, the length paycrypt gives HMAC keys it generates (an unverified choice: AWS
# does not publish it).
DERIVED_KEY_LENGTHS: dict[str, int] = keygen.SYMMETRIC_LENGTHS  # the same table


def shared_secret(
    private_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey | x509.Certificate
) -> bytes:
    """Z for our private key and the partner's public key (or certificate); both on the same curve."""
    peer_key = peer.public_key() if isinstance(peer, x509.Certificate) else peer
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        peer_key, ec.EllipticCurvePublicKey
    ):
        raise EcdhError("ECDH needs an ECC private key and an ECC public key")
    if private_key.curve.name != peer_key.curve.name:
        raise EcdhError("ECDH keys are on different curves")
    return private_key.exchange(ec.ECDH(), peer_key)


def kdf(
    secret: bytes, *, key_algorithm: str, kdf_name: str, hash_algorithm: str, shared_information: str
) -> bytes:
    """Derive a key of `key_algorithm`'s length from Z with the API's KDF, hash and hex SharedInformation."""
    if key_algorithm not in DERIVED_KEY_LENGTHS:
        raise EcdhError(f"DeriveKeyAlgorithm must be one of {', '.join(DERIVED_KEY_LENGTHS)}")
    if kdf_name not in KDFS:
        raise EcdhError(f"KeyDerivationFunction must be one of {', '.join(KDFS)}")
    if hash_algorithm not in KDF_HASHES:
        raise EcdhError(f"KeyDerivationHashAlgorithm must be one of {', '.join(KDF_HASHES)}")
    try:
        info = bytes.fromhex(shared_information)
    except ValueError:
        raise EcdhError("SharedInformation must be hexadecimal") from None
    if not info:
        raise EcdhError("SharedInformation must not be empty")
    function = KDFS[kdf_name](KDF_HASHES[hash_algorithm](), DERIVED_KEY_LENGTHS[key_algorithm], info)
    return function.derive(secret)


def derive_key(
    private_key: ec.EllipticCurvePrivateKey,
    peer: ec.EllipticCurvePublicKey | x509.Certificate,
    *,
    key_algorithm: str,
    kdf_name: str,
    hash_algorithm: str,
    shared_information: str,
) -> bytes:
    """The symmetric key both parties derive: ECDH, then the KDF (the KBPK of a DiffieHellmanTr31KeyBlock)."""
    return kdf(
        shared_secret(private_key, peer),
        key_algorithm=key_algorithm,
        kdf_name=kdf_name,
        hash_algorithm=hash_algorithm,
        shared_information=shared_information,
    )

"""The partner side of key exchange, written with plain `cryptography` and psec only.

A partner HSM in these tests has its own CA (RSA or ECC), leaf certificates, and computes key
check values, RSA-OAEP, ECDH + KDF and TR-31 (psec) itself: none of it uses paycrypt's code, so a
test that passes shows two independent implementations agree. TR-34 KDH/KRD are the
asn1crypto-based ones in tests/crypto/test_tr34.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import NameOID

# Long validity: the test server's clock may be moved forward by other tests (purges).
NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.UTC)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Party:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def b64(self) -> str:
        return b64(self.certificate)


def ca_certificate_member(party: Party, algorithm: str, parent: str | None = None) -> dict[str, Any]:
    """The ImportKey member that carries a CA certificate (RootCertificatePublicKey, or with `parent`
    TrustedCertificatePublicKey): a digital-signature public key that verifies."""
    member: dict[str, Any] = {
        "KeyAttributes": {
            "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "KeyClass": "PUBLIC_KEY",
            "KeyAlgorithm": algorithm,
            "KeyModesOfUse": {"Verify": True},
        },
        "PublicKeyCertificate": party.b64,
    }
    if parent:
        member["CertificateAuthorityPublicKeyIdentifier"] = parent
    return member


def b64(certificate: x509.Certificate | x509.CertificateSigningRequest) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


def load_b64(value: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(value))


def load_b64_chain(value: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(base64.b64decode(value))


def new_key(kind: str) -> PrivateKey:
    if kind.startswith("RSA_"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    curve = {
        "ECC_NIST_P256": ec.SECP256R1(),
        "ECC_NIST_P384": ec.SECP384R1(),
        "ECC_NIST_P521": ec.SECP521R1(),
    }
    return ec.generate_private_key(curve[kind])


def ca(kind: str = "RSA_2048", name: str = "Partner Root CA", **validity) -> Party:
    key = new_key(kind)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity.get("not_before", NOT_BEFORE))
        .not_valid_after(validity.get("not_after", NOT_AFTER))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    return Party(certificate, key)


def leaf(
    issuer: Party,
    kind: str = "RSA_2048",
    name: str = "Partner HSM",
    *,
    key: PrivateKey | None = None,
    is_ca: bool = False,
    **validity,
) -> Party:
    key = key or new_key(kind)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity.get("not_before", NOT_BEFORE))
        .not_valid_after(validity.get("not_after", NOT_AFTER))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    return Party(builder.sign(issuer.key, hashes.SHA256()), key)


def sign_csr(issuer: Party, csr_b64: str) -> x509.Certificate:
    """The partner CA signs a CSR paycrypt produced (BYOCA)."""
    csr = x509.load_pem_x509_csr(base64.b64decode(csr_b64))
    assert csr.is_signature_valid
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(issuer.key, hashes.SHA256())
    )


# --- key check values, computed the way the guide defines them ----------------------------------


def kcv_tdes(key: bytes) -> str:
    full = key + key[:8] if len(key) == 16 else key
    encryptor = Cipher(TripleDES(full), modes.ECB()).encryptor()
    return (encryptor.update(bytes(8)) + encryptor.finalize())[:3].hex().upper()


def kcv_aes(key: bytes) -> str:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:3].hex().upper()


def kcv_tdes_cmac(key: bytes) -> str:
    """TDES-CMAC of the zero block (X9.24-1:2017's CMAC method for a TDES key)."""
    mac = cmac.CMAC(TripleDES(key + key[:8] if len(key) == 16 else key))
    mac.update(bytes(8))
    return mac.finalize()[:3].hex().upper()


def kcv_hmac(key: bytes, hash_name: str) -> str:
    """HMAC of the empty message with the key's own hash (the API model's HMAC KCV)."""
    return hmac.new(key, b"", hash_name).digest()[:3].hex().upper()


def kcv_public_key(certificate: x509.Certificate) -> str:
    """SHA-1 over the DER SubjectPublicKeyInfo, first 4 bytes (paycrypt's SHA_1 KCV,
    docs/decisions/keys.md)."""
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(spki).digest()[:4].hex().upper()


# --- RSA wrap and ECDH ------------------------------------------------------------------------

OAEP_HASHES = {"RSA_OAEP_SHA_256": hashes.SHA256, "RSA_OAEP_SHA_512": hashes.SHA512}


def oaep(spec: str = "RSA_OAEP_SHA_256") -> padding.OAEP:
    digest = OAEP_HASHES[spec]
    return padding.OAEP(mgf=padding.MGF1(digest()), algorithm=digest(), label=None)


def rsa_wrap(certificate: x509.Certificate, key: bytes, spec: str = "RSA_OAEP_SHA_256") -> str:
    return certificate.public_key().encrypt(key, oaep(spec)).hex().upper()  # type: ignore[union-attr]


KDF_HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
KEY_LENGTHS = {"TDES_2KEY": 16, "TDES_3KEY": 24, "AES_128": 16, "AES_192": 24, "AES_256": 32}


def ecdh_key(
    own: ec.EllipticCurvePrivateKey,
    peer_certificate: x509.Certificate,
    *,
    algorithm: str,
    kdf: str = "NIST_SP800",
    hash_name: str = "SHA_256",
    shared_information: str,
) -> bytes:
    """SP 800-56A concatenation KDF or ANSI X9.63 over the ECDH x-coordinate (AWS's sample)."""
    z = own.exchange(ec.ECDH(), peer_certificate.public_key())  # type: ignore[arg-type]
    info = bytes.fromhex(shared_information)
    digest = KDF_HASHES[hash_name]()
    if kdf == "NIST_SP800":
        return ConcatKDFHash(digest, KEY_LENGTHS[algorithm], info).derive(z)
    return X963KDF(digest, KEY_LENGTHS[algorithm], info).derive(z)


# --- certificates that parse but that no library can use ---------------------------------------

P256_OID = bytes.fromhex("06082A8648CE3D030107")  # DER of 1.2.840.10045.3.1.7 (prime256v1)
UNKNOWN_CURVE_OID = bytes.fromhex("06082A8648CE3D030108")  # 1.2.840.10045.3.1.8: no curve is known by it


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def unknown_curve_root() -> Party:
    """A self-signed P-256 CA whose SubjectPublicKeyInfo names a curve OID no library knows: it
    loads, but `public_key()` raises UnsupportedAlgorithm (its self-signature no longer verifies)."""
    root = ca("ECC_NIST_P256", "Unknown Curve Root")
    der = _der(root.certificate)
    assert der.count(P256_OID) == 1
    return Party(x509.load_der_x509_certificate(der.replace(P256_OID, UNKNOWN_CURVE_OID)), root.key)


def unknown_curve_leaf(issuer: Party) -> x509.Certificate:
    """A P-256 leaf with its curve OID altered and then signed again by its RSA `issuer`, so the
    chain verifies and only the public key is unusable. RSA signatures keep their length, so the
    altered certificate is the original with the to-be-signed part and the signature replaced."""
    leaf_certificate = leaf(issuer, "ECC_NIST_P256", name="Unknown Curve Receiver").certificate
    original = leaf_certificate.tbs_certificate_bytes
    tbs = original.replace(P256_OID, UNKNOWN_CURVE_OID)
    signature = issuer.key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[call-arg]
    assert len(signature) == len(leaf_certificate.signature)
    der = _der(leaf_certificate).replace(original, tbs).replace(leaf_certificate.signature, signature)
    altered = x509.load_der_x509_certificate(der)
    altered.verify_directly_issued_by(issuer.certificate)
    return altered

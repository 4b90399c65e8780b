"""X.509 for key exchange: the service CA, the certificates it issues, CSRs, chain checks, strength.

Everything the API exchanges as a certificate is base64 of the PEM text (seed-B §1: every example
starts `LS0tLS1CRUdJTi`, base64 of `-----BEGIN`), so `load_certificate` and `encode_for_api` speak that
form. The service CA and its leaves mirror the one real AWS certificate we have (the KRD
certificate in awscli's `export-key.rst`, decoded in seed-B §6): issuer `C, O, OU, ST, CN=<account>,
L` in that order, subject `CN=<account>, serialNumber=<10 digits>`, a 128-bit serial, a
4096-bit RSA CA signing with SHA-512 (its signature is 512 bytes), and leaf extensions
BasicConstraints CA:FALSE, AKI, SKI, KeyUsage critical, EKU serverAuth + clientAuth.

The strength rule (seed-B §2, §6; seed-A §7.7) compares security strengths in bits from NIST SP
800-57 Part 1 Rev. 5 Table 2, plus SP 800-56B Rev. 2 Appendix D for RSA-4096, which Table 2 does not
list. Read with these numbers, "wrapping strength ≥ protected strength" reproduces every cell of the
guide's support matrix; TDES_2KEY must be 80 (not 112) or TDES_3KEY under TDES_2KEY would pass where
the guide says "Not supported".
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateError(ValueError):
    """A certificate or CSR that is malformed, expired, wrongly issued or too weak."""


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# --- security strengths (bits) -----------------------------------------------------------------

# NIST SP 800-57 Part 1 Rev. 5 Table 2: 2TDEA 80, 3TDEA 112, AES-n n, RSA/FFC k=2048 112 and
# k=3072 128, ECC f=256–383 128, f=384–511 192, f≥512 256. RSA-4096: SP 800-56B Rev. 2 Appendix D
# (152). HMAC keys (no row in the guide's matrix) count as their key length, the length of the
# hash output that paycrypt generates them with, capped at 256 (seed-B §2 [DECIDE]).
SECURITY_STRENGTH: dict[str, int] = {
    "TDES_2KEY": 80,
    "TDES_3KEY": 112,
    "AES_128": 128,
    "AES_192": 192,
    "AES_256": 256,
    "HMAC_SHA224": 224,
    "HMAC_SHA256": 256,
    "HMAC_SHA384": 256,
    "HMAC_SHA512": 256,
    "RSA_2048": 112,
    "RSA_3072": 128,
    "RSA_4096": 152,
    "ECC_NIST_P256": 128,
    "ECC_NIST_P384": 192,
    "ECC_NIST_P521": 256,
}


def strong_enough(wrapping_algorithm: str, protected_algorithm: str) -> bool:
    """PCI's rule as the guide states it: a wrapping or issuing key is as strong as what it protects."""
    for name in (wrapping_algorithm, protected_algorithm):
        if name not in SECURITY_STRENGTH:
            raise CertificateError(f"no security strength known for {name}")
    return SECURITY_STRENGTH[wrapping_algorithm] >= SECURITY_STRENGTH[protected_algorithm]


_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "ECC_NIST_P256": ec.SECP256R1,
    "ECC_NIST_P384": ec.SECP384R1,
    "ECC_NIST_P521": ec.SECP521R1,
}
_CURVE_NAMES = {curve.name: algorithm for algorithm, curve in _CURVES.items()}
_RSA_SIZES = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


def key_algorithm(key: PublicKey | PrivateKey) -> str:
    """The API's KeyAlgorithm name for an asymmetric key; anything the API cannot name is refused."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        name = f"RSA_{key.key_size}"
        if name in _RSA_SIZES:
            return name
    elif (
        isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey)
        and key.curve.name in _CURVE_NAMES
    ):
        return _CURVE_NAMES[key.curve.name]
    raise CertificateError("key is not RSA 2048/3072/4096 or ECC NIST P-256/P-384/P-521")


def generate_private_key(algorithm: str) -> PrivateKey:
    """A fresh key pair for an asymmetric KeyAlgorithm (RSA with e = 65537)."""
    if algorithm in _RSA_SIZES:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_SIZES[algorithm])
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm]())
    raise CertificateError(f"{algorithm} is not an asymmetric key algorithm")


def same_public_key(a: PublicKey | PrivateKey, b: PublicKey | PrivateKey) -> bool:
    """Whether two keys share a public key: BYOCA's check that a certificate fits a key pair (seed-B §10)."""

    def spki(key: PublicKey | PrivateKey) -> bytes:
        public = key.public_key() if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    return spki(a) == spki(b)


# --- the API's certificate encoding ------------------------------------------------------------


def load_certificate(value: str | bytes) -> x509.Certificate:
    """Read a certificate as the API carries it (base64 of PEM), or as PEM text, or as DER."""
    data = value.encode("ascii", "replace") if isinstance(value, str) else value
    if not data.lstrip().startswith(b"-----BEGIN") and not data.startswith(b"\x30"):
        try:
            data = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise CertificateError("certificate is not base64 of PEM, PEM or DER") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError("certificate cannot be parsed") from None
    except x509.InvalidVersion as exc:  # not a ValueError: a version field other than v1, v2, v3
        raise CertificateError(f"certificate cannot be parsed: {exc}") from None
    _check_parts(certificate)
    return certificate


def _check_parts(certificate: x509.Certificate) -> None:
    """Read now the parts `cryptography` parses only when asked, so a certificate that loads is whole.

    Every certificate a caller gives comes through `load_certificate`, so this is the one guard
    for the later `public_key()` and `extensions` calls: a key on a curve the library does not
    know raises UnsupportedAlgorithm there, and a malformed or repeated extension raises
    ValueError or DuplicateExtension.
    """
    try:
        certificate.public_key()
    except UnsupportedAlgorithm as exc:  # its message names the algorithm or curve OID, nothing more
        raise CertificateError(f"certificate's public key algorithm is not supported ({exc})") from None
    except ValueError:
        raise CertificateError("certificate's public key cannot be parsed") from None
    try:
        certificate.extensions  # noqa: B018  (parsed on first access)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        raise CertificateError("certificate's extensions cannot be parsed") from None


def encode_for_api(item: x509.Certificate | x509.CertificateSigningRequest) -> str:
    """Base64 of the PEM text, the form every certificate and CSR takes in the API."""
    return base64.b64encode(item.public_bytes(serialization.Encoding.PEM)).decode("ascii")


def encode_chain_for_api(certificates: Sequence[x509.Certificate]) -> str:
    """A chain as one base64 string of the concatenated PEM certificates."""
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    return base64.b64encode(pem).decode("ascii")


# --- names -------------------------------------------------------------------------------------


def service_ca_name(account_id: str) -> x509.Name:
    """The issuer DN of AWS's account CA, RDN for RDN in the observed order (seed-B §6)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AWS Cryptography"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "AWS Payment Cryptography"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Virginia"),
            x509.NameAttribute(NameOID.COMMON_NAME, account_id),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Arlington"),
        ]
    )


def service_leaf_name(account_id: str, serial_digits: str | None = None) -> x509.Name:
    """`CN=<account>, serialNumber=<10 digits>`, the subject of AWS-issued leaf certificates (seed-B §6)."""
    digits = serial_digits or f"{secrets.randbelow(10**10):010d}"
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, account_id),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, digits),
        ]
    )


# CertificateSubjectType member → X.520 attribute (GetCertificateSigningRequest, seed-B §1.6).
CSR_SUBJECT_FIELDS: dict[str, x509.ObjectIdentifier] = {
    "Country": NameOID.COUNTRY_NAME,
    "StateOrProvince": NameOID.STATE_OR_PROVINCE_NAME,
    "City": NameOID.LOCALITY_NAME,
    "Organization": NameOID.ORGANIZATION_NAME,
    "OrganizationUnit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CommonName": NameOID.COMMON_NAME,
    "EmailAddress": NameOID.EMAIL_ADDRESS,
}


def subject_from_api(subject: Mapping[str, str]) -> x509.Name:
    """Build a DN from the API's CertificateSubjectType members, in X.500's usual C…CN order."""
    unknown = set(subject) - set(CSR_SUBJECT_FIELDS)
    if unknown:
        raise CertificateError(f"unknown certificate subject fields: {', '.join(sorted(unknown))}")
    if not subject.get("CommonName"):
        raise CertificateError("certificate subject needs a CommonName")
    # PKCS #9 types emailAddress as an IA5String (seven-bit ASCII), but the API's pattern also lets
    # through the typographic apostrophe ’: refuse what a CSR cannot encode, naming the member.
    if not subject.get("EmailAddress", "").isascii():
        raise CertificateError("EmailAddress must be ASCII text (an IA5String in the certificate)")
    try:
        return x509.Name(
            [
                x509.NameAttribute(oid, subject[member])
                for member, oid in CSR_SUBJECT_FIELDS.items()
                if subject.get(member)
            ]
        )
    except ValueError as error:  # e.g. a Country that is not two letters
        raise CertificateError(f"invalid certificate subject: {error}") from None


# --- issuing -----------------------------------------------------------------------------------

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA224": hashes.SHA224,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

# Leaf key usage by key type. RSA mirrors the observed AWS leaf (the same profile serves the KRD
# that decrypts and the KDH that signs); ECC keys agree keys (TR31_K3) rather than encipher them.
_LEAF_KEY_USAGE = {
    "RSA": dict(digital_signature=True, key_encipherment=True, key_agreement=False),
    "EC": dict(digital_signature=True, key_encipherment=False, key_agreement=True),
}


def _serial() -> int:
    """A positive 128-bit serial, as AWS uses (RFC 5280 §4.1.2.2 allows up to 20 octets)."""
    return secrets.randbits(127) | 1 << 127


def _signing_hash(hash_name: str) -> hashes.HashAlgorithm:
    if hash_name not in _HASHES:
        raise CertificateError(f"signing hash must be one of {', '.join(_HASHES)}")
    return _HASHES[hash_name]()


def create_ca(
    private_key: PrivateKey,
    subject: x509.Name,
    *,
    not_before: datetime,
    validity: timedelta,
    hash_name: str = "SHA512",
) -> x509.Certificate:
    """A self-signed CA certificate: BasicConstraints CA:TRUE and keyCertSign/cRLSign, both critical."""
    public = private_key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_before + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    return builder.sign(private_key, _signing_hash(hash_name))


def issue_certificate(
    public_key: PublicKey,
    subject: x509.Name,
    *,
    ca_certificate: x509.Certificate,
    ca_private_key: PrivateKey,
    not_before: datetime,
    validity: timedelta,
    hash_name: str = "SHA512",
) -> x509.Certificate:
    """A leaf certificate for `public_key` under the service CA, with the observed AWS leaf profile.

    Refuses a CA weaker than the key it certifies, or of the other key family (seed-B §6).
    """
    _check_issuer_strength(ca_certificate.public_key(), public_key)
    usage = _LEAF_KEY_USAGE["RSA" if isinstance(public_key, rsa.RSAPublicKey) else "EC"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_before + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_key_usage(**usage), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    return builder.sign(ca_private_key, _signing_hash(hash_name))


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: enabled.get(name, False) for name in names})


def build_csr(private_key: PrivateKey, subject: x509.Name, hash_name: str) -> x509.CertificateSigningRequest:
    """GetCertificateSigningRequest: a PKCS #10 request signed by the key pair itself (SHA224…SHA512)."""
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .sign(private_key, _signing_hash(hash_name))
    )


# --- verifying ---------------------------------------------------------------------------------


def _family(key: PublicKey) -> str:
    return "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC"


def _check_issuer_strength(issuer_key: PublicKey, subject_key: PublicKey) -> None:
    """Seed-B §6: an issuer at least as strong as its subject, and ECC issued by ECC, RSA by RSA."""
    if _family(issuer_key) != _family(subject_key):
        raise CertificateError("certificate and its issuer use different key types (RSA vs ECC)")
    if not strong_enough(key_algorithm(issuer_key), key_algorithm(subject_key)):
        raise CertificateError("certificate is stronger than the CA that issued it")


def check_validity(certificate: x509.Certificate, at: datetime) -> None:
    """Refuse a certificate that is expired or not yet valid at `at` (an aware datetime)."""
    if at < certificate.not_valid_before_utc:
        raise CertificateError("certificate is not yet valid")
    if at > certificate.not_valid_after_utc:
        raise CertificateError("certificate has expired")


def check_ca(certificate: x509.Certificate, at: datetime) -> None:
    """A usable trust anchor or intermediate: valid, CA:TRUE, and keyCertSign if KeyUsage is present.

    A root need not be self-signed: RFC 5280 §6.1.1 takes a trust anchor as given, and a user may
    import a private CA that is itself subordinate.
    """
    check_validity(certificate, at)
    key_algorithm(certificate.public_key())  # type: ignore[arg-type]
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise CertificateError("issuer certificate has no BasicConstraints extension") from None
    if not constraints.ca:
        raise CertificateError("issuer certificate is not a CA")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not usage.key_cert_sign:
        raise CertificateError("issuer certificate may not sign certificates (KeyUsage)")


def verify_issued_by(certificate: x509.Certificate, issuer: x509.Certificate, at: datetime) -> None:
    """One chain link: `issuer` is a valid CA at `at` that signed `certificate`, which is also valid then."""
    check_ca(issuer, at)
    check_validity(certificate, at)
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError("certificate was not issued by the given CA") from None
    _check_issuer_strength(issuer.public_key(), certificate.public_key())  # type: ignore[arg-type]


def verify_chain(certificate: x509.Certificate, chain: Sequence[x509.Certificate], at: datetime) -> None:
    """Verify `certificate` up `chain` (its issuer first, the trusted root last) at `at`."""
    if not chain:
        raise CertificateError("certificate chain is empty")
    for child, parent in zip((certificate, *chain[:-1]), chain, strict=True):
        verify_issued_by(child, parent, at)

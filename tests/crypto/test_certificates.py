"""Service CA, issued certificates, CSRs, chain checks and the strength rule.

Sources:
- The certificate profile and the CA's DN come from the one real service certificate we have, the
  KRD certificate in awscli `examples/payment-cryptography/export-key.rst` (decoded in seed-B §6);
  `service_ca_name` is compared byte for byte with that certificate's issuer.
- The strength matrix is the guide's "supported combinations" table as reconstructed in seed-B §2
  and seed-A §7.7 (user guide L1627–1649), copied below as data.
- CSRs are checked with `cryptography` and with `openssl req -verify` (an independent implementation).
Chain-check tests build their rogue certificates with plain `cryptography`, not with the module.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import awscli
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from paycrypt.crypto import certificates as c
from paycrypt.crypto.certificates import CertificateError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = c.generate_private_key("RSA_4096")
    return c.create_ca(key, c.service_ca_name(ACCOUNT), not_before=NOW, validity=timedelta(days=3650)), key


@pytest.fixture(scope="module")
def leaf_key() -> rsa.RSAPrivateKey:
    return c.generate_private_key("RSA_2048")


def _issue(ca, public_key, **kw) -> x509.Certificate:
    args = dict(not_before=NOW, validity=timedelta(days=30))
    args.update(kw)
    return c.issue_certificate(
        public_key, c.service_leaf_name(ACCOUNT), ca_certificate=ca[0], ca_private_key=ca[1], **args
    )


def _aws_certificate() -> x509.Certificate:
    text = (Path(awscli.__file__).parent / "examples/payment-cryptography/export-key.rst").read_text()
    b64 = re.search(r"(LS0t\S+)EXAMPLE=", text).group(1)
    return x509.load_pem_x509_certificate(base64.b64decode(b64 + "=" * (-len(b64) % 4)) + b"-----\n")


# --- profile -----------------------------------------------------------------------------------


def test_service_ca_name_matches_the_real_aws_issuer_bytes() -> None:
    aws = _aws_certificate()
    assert c.service_ca_name("075556953750").public_bytes() == aws.issuer.public_bytes()


def test_ca_profile(ca) -> None:
    certificate, _ = ca
    assert certificate.subject == certificate.issuer == c.service_ca_name(ACCOUNT)
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA512)
    assert len(certificate.signature) == 512  # RSA-4096, as the real CA (seed-B §6)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    certificate.verify_directly_issued_by(certificate)
    c.check_ca(certificate, NOW)


def test_leaf_profile_mirrors_aws(ca, leaf_key) -> None:
    """Same extension set, criticality and key usage as the real service certificate."""
    ours, aws = _issue(ca, leaf_key.public_key()), _aws_certificate()
    assert [(e.oid, e.critical) for e in ours.extensions] == [(e.oid, e.critical) for e in aws.extensions]
    assert ours.extensions.get_extension_for_class(x509.KeyUsage).value == (
        aws.extensions.get_extension_for_class(x509.KeyUsage).value
    )
    assert list(ours.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert [a.oid for a in ours.subject] == [a.oid for a in aws.subject]
    assert re.fullmatch(r"\d{10}", ours.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value)
    assert ours.serial_number.bit_length() == aws.serial_number.bit_length() == 128
    assert isinstance(ours.signature_hash_algorithm, hashes.SHA512)
    assert ours.not_valid_after_utc - ours.not_valid_before_utc == timedelta(days=30)
    c.verify_issued_by(ours, ca[0], NOW)


def test_ecc_leaf_gets_key_agreement(ca) -> None:
    """Not independently verified (no real AWS ECC certificate available): K3 keys agree keys."""
    ecc_ca_key = c.generate_private_key("ECC_NIST_P521")
    ecc_ca = c.create_ca(ecc_ca_key, c.service_ca_name(ACCOUNT), not_before=NOW, validity=timedelta(days=365))
    leaf = _issue((ecc_ca, ecc_ca_key), c.generate_private_key("ECC_NIST_P256").public_key())
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_agreement and not usage.key_encipherment
    c.verify_issued_by(leaf, ecc_ca, NOW)


# --- API encoding ------------------------------------------------------------------------------


def test_api_encoding_round_trip(ca) -> None:
    encoded = c.encode_for_api(ca[0])
    assert encoded.startswith("LS0tLS1CRUdJTi")
    assert c.load_certificate(encoded) == ca[0]
    assert c.load_certificate(ca[0].public_bytes(serialization.Encoding.PEM)) == ca[0]
    assert c.load_certificate(ca[0].public_bytes(serialization.Encoding.PEM).decode()) == ca[0]
    assert c.load_certificate(ca[0].public_bytes(serialization.Encoding.DER)) == ca[0]


def test_chain_encoding(ca, leaf_key) -> None:
    leaf = _issue(ca, leaf_key.public_key())
    pem = base64.b64decode(c.encode_chain_for_api([leaf, ca[0]]))
    assert x509.load_pem_x509_certificates(pem) == [leaf, ca[0]]


@pytest.mark.parametrize(
    "value", ["", "not base64!", base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n").decode()]
)
def test_load_rejects_garbage(value: str) -> None:
    with pytest.raises(CertificateError):
        c.load_certificate(value)


def test_load_refuses_a_key_the_library_cannot_use() -> None:
    """A certificate loads lazily: its key and extensions are read at load, so no later
    `public_key()` can raise UnsupportedAlgorithm (issue 13: it escaped as a 500)."""
    from tests import kx_partner as kp

    root = kp.unknown_curve_root()
    with pytest.raises(CertificateError, match=r"not supported \(Curve 1\.2\.840\.10045\.3\.1\.8"):
        c.load_certificate(root.b64)
    issuer = kp.ca("RSA_2048")
    with pytest.raises(CertificateError, match="not supported"):
        c.load_certificate(kp.unknown_curve_leaf(issuer).public_bytes(serialization.Encoding.DER))


def test_load_refuses_an_unknown_version() -> None:
    """Version v4 (the INTEGER 3): cryptography raises InvalidVersion, which is no ValueError, and
    it escaped as a 500 (found by the fuzz suite flipping a byte of a certificate)."""
    from tests import kx_partner as kp

    der = kp.ca("ECC_NIST_P256").certificate.public_bytes(serialization.Encoding.DER)
    v3, v4 = bytes.fromhex("A003020102"), bytes.fromhex("A003020103")
    assert der.count(v3) == 1
    assert c.load_certificate(_pem_b64(der)).version == x509.Version.v3
    for form in (der.replace(v3, v4), _pem_b64(der.replace(v3, v4))):  # DER, and as the API carries it
        with pytest.raises(CertificateError, match="3 is not a valid X509 version"):
            c.load_certificate(form)


def _pem_b64(der: bytes) -> str:
    """DER as the API carries a certificate: base64 of PEM (built by hand: the DER does not load)."""
    body = base64.encodebytes(der).decode()
    return base64.b64encode(
        f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n".encode()
    ).decode()


def test_load_refuses_extensions_that_cannot_be_parsed() -> None:
    """KeyUsage's OID turned into BasicConstraints': a repeated extension holding the wrong value."""
    from tests import kx_partner as kp

    der = kp.ca("ECC_NIST_P256").certificate.public_bytes(serialization.Encoding.DER)
    key_usage, basic_constraints = bytes.fromhex("0603551D0F"), bytes.fromhex("0603551D13")
    assert der.count(key_usage) == 1
    with pytest.raises(CertificateError, match="extensions"):
        c.load_certificate(der.replace(key_usage, basic_constraints))


# --- chain verification ------------------------------------------------------------------------


def _raw_certificate(
    subject_key, issuer_key, *, issuer_name, ca: bool | None, usage=None, before=NOW, days=30
):
    """A certificate built with plain `cryptography`, for the negative cases."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subject")]))
        .issuer_name(issuer_name)
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(before)
        .not_valid_after(before + timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def test_chain_ok_through_intermediate(ca) -> None:
    intermediate_key = c.generate_private_key("RSA_3072")
    intermediate = _raw_certificate(intermediate_key, ca[1], issuer_name=ca[0].subject, ca=True)
    leaf_key = c.generate_private_key("RSA_2048")
    leaf = _raw_certificate(leaf_key, intermediate_key, issuer_name=intermediate.subject, ca=False)
    c.verify_chain(leaf, [intermediate, ca[0]], NOW)


def test_expired_and_not_yet_valid_rejected(ca, leaf_key) -> None:
    leaf = _issue(ca, leaf_key.public_key())
    with pytest.raises(CertificateError, match="expired"):
        c.verify_issued_by(leaf, ca[0], NOW + timedelta(days=31))
    with pytest.raises(CertificateError, match="not yet valid"):
        c.verify_issued_by(leaf, ca[0], NOW - timedelta(seconds=1))


def test_expired_ca_rejected(leaf_key) -> None:
    ca_key = c.generate_private_key("RSA_2048")
    old_ca = c.create_ca(
        ca_key, c.service_ca_name(ACCOUNT), not_before=NOW - timedelta(days=20), validity=timedelta(days=10)
    )
    leaf = _raw_certificate(
        leaf_key, ca_key, issuer_name=old_ca.subject, ca=False, before=NOW - timedelta(days=1)
    )
    with pytest.raises(CertificateError, match="expired"):
        c.verify_issued_by(leaf, old_ca, NOW)


def test_wrong_ca_rejected(ca, leaf_key) -> None:
    other_key = c.generate_private_key("RSA_4096")
    other = c.create_ca(other_key, c.service_ca_name(ACCOUNT), not_before=NOW, validity=timedelta(days=10))
    leaf = _issue(ca, leaf_key.public_key())
    with pytest.raises(CertificateError, match="not issued by"):  # same name, different key
        c.verify_issued_by(leaf, other, NOW)
    stranger = c.create_ca(
        other_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]),
        not_before=NOW,
        validity=timedelta(days=10),
    )
    with pytest.raises(CertificateError, match="not issued by"):
        c.verify_issued_by(leaf, stranger, NOW)


def test_non_ca_issuer_rejected(ca, leaf_key) -> None:
    not_ca_key = c.generate_private_key("RSA_4096")
    not_ca = _raw_certificate(not_ca_key, ca[1], issuer_name=ca[0].subject, ca=False)
    leaf = _raw_certificate(leaf_key, not_ca_key, issuer_name=not_ca.subject, ca=False)
    with pytest.raises(CertificateError, match="not a CA"):
        c.verify_issued_by(leaf, not_ca, NOW)
    no_constraints = _raw_certificate(not_ca_key, ca[1], issuer_name=ca[0].subject, ca=None)
    with pytest.raises(CertificateError, match="BasicConstraints"):
        c.verify_issued_by(leaf, no_constraints, NOW)


def test_ca_without_key_cert_sign_rejected(ca, leaf_key) -> None:
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    weak_key = c.generate_private_key("RSA_4096")
    signing_only = _raw_certificate(weak_key, ca[1], issuer_name=ca[0].subject, ca=True, usage=usage)
    leaf = _raw_certificate(leaf_key, weak_key, issuer_name=signing_only.subject, ca=False)
    with pytest.raises(CertificateError, match="KeyUsage"):
        c.verify_issued_by(leaf, signing_only, NOW)


@pytest.mark.parametrize(
    ("issuer", "subject", "ok"),
    [
        ("RSA_4096", "RSA_2048", True),  # AWS's sample: an RSA-4096 root over an RSA-2048 KRD leaf
        ("RSA_2048", "RSA_2048", True),
        ("RSA_2048", "RSA_3072", False),  # "a RSA_2048 CA can only be used to protect a RSA_2048 leaf"
        ("ECC_NIST_P521", "ECC_NIST_P384", True),  # "P384 … can only be issued by a P384 or P521 CA"
        ("ECC_NIST_P384", "ECC_NIST_P384", True),
        ("ECC_NIST_P256", "ECC_NIST_P384", False),
        ("RSA_4096", "ECC_NIST_P256", False),  # "an ECC certificate must be protected by another ECC"
        ("ECC_NIST_P521", "RSA_2048", False),
    ],
)
def test_chain_strength_rule(issuer: str, subject: str, ok: bool) -> None:
    """seed-B §6 (user guide L2198)."""
    issuer_key, subject_key = _keys(issuer), _keys(subject)
    issuer_cert = _raw_certificate(
        issuer_key,
        issuer_key,
        issuer_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subject")]),
        ca=True,
    )
    leaf = _raw_certificate(subject_key, issuer_key, issuer_name=issuer_cert.subject, ca=False)
    if ok:
        c.verify_issued_by(leaf, issuer_cert, NOW)
    else:
        with pytest.raises(CertificateError):
            c.verify_issued_by(leaf, issuer_cert, NOW)


_KEY_CACHE: dict[str, object] = {}


def _keys(algorithm: str):
    if algorithm not in _KEY_CACHE:
        _KEY_CACHE[algorithm] = c.generate_private_key(algorithm)
    return _KEY_CACHE[algorithm]


def test_issue_refuses_weak_ca() -> None:
    weak_key = _keys("RSA_2048")
    weak_ca = c.create_ca(weak_key, c.service_ca_name(ACCOUNT), not_before=NOW, validity=timedelta(days=1))
    with pytest.raises(CertificateError, match="stronger"):
        _issue((weak_ca, weak_key), _keys("RSA_4096").public_key())


# --- strength table ----------------------------------------------------------------------------

_WRAPPING = [
    "TDES_2KEY",
    "TDES_3KEY",
    "AES_128",
    "AES_192",
    "AES_256",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
]
# The guide's matrix (seed-B §2 / seed-A §7.7), 1 = some method supported, 0 = "Not supported".
_GUIDE_MATRIX = {
    "TDES_2KEY": "1 1 1 1 1 1 1 1 1 1 1",
    "TDES_3KEY": "0 1 1 1 1 1 1 1 1 1 1",
    "AES_128": "0 0 1 1 1 0 1 1 1 1 1",
    "AES_192": "0 0 0 1 1 0 0 0 0 1 1",
    "AES_256": "0 0 0 0 1 0 0 0 0 0 1",
}


@pytest.mark.parametrize("protected", list(_GUIDE_MATRIX))
def test_strength_table_reproduces_the_guide_matrix(protected: str) -> None:
    expected = [cell == "1" for cell in _GUIDE_MATRIX[protected].split()]
    assert [c.strong_enough(wrapping, protected) for wrapping in _WRAPPING] == expected


def test_strength_of_unknown_algorithm_rejected() -> None:
    with pytest.raises(CertificateError):
        c.strong_enough("RSA_1024", "TDES_2KEY")


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"])
def test_generate_and_name_keys(algorithm: str) -> None:
    key = _keys(algorithm)
    assert c.key_algorithm(key) == c.key_algorithm(key.public_key()) == algorithm


def test_unsupported_keys_rejected() -> None:
    with pytest.raises(CertificateError):
        c.key_algorithm(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with pytest.raises(CertificateError):
        c.key_algorithm(ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(CertificateError):
        c.generate_private_key("AES_128")


def test_same_public_key(ca, leaf_key) -> None:
    leaf = _issue(ca, leaf_key.public_key())
    assert c.same_public_key(leaf.public_key(), leaf_key)
    assert not c.same_public_key(leaf.public_key(), ca[1])


# --- CSR ---------------------------------------------------------------------------------------

SUBJECT = {
    "CommonName": "paycrypt test",
    "Organization": "Example Org",
    "OrganizationUnit": "Payments",
    "City": "Arlington",
    "StateOrProvince": "Virginia",
    "Country": "US",
    "EmailAddress": "ops@example.com",
}
_CSR_HASHES = {
    "SHA224": hashes.SHA224,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


@pytest.mark.parametrize("algorithm", ["RSA_2048", "ECC_NIST_P384"])
@pytest.mark.parametrize("hash_name", list(_CSR_HASHES))
def test_csr_verifies_with_cryptography(algorithm: str, hash_name: str) -> None:
    key = _keys(algorithm)
    csr = c.build_csr(key, c.subject_from_api(SUBJECT), hash_name)
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, _CSR_HASHES[hash_name])
    assert c.same_public_key(csr.public_key(), key)
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "paycrypt test"
    assert csr.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)[0].value == "Arlington"
    assert csr.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "ops@example.com"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize(
    ("algorithm", "hash_name"), [("RSA_2048", "SHA256"), ("RSA_3072", "SHA512"), ("ECC_NIST_P256", "SHA224")]
)
def test_csr_verifies_with_openssl(tmp_path: Path, algorithm: str, hash_name: str) -> None:
    csr = c.build_csr(_keys(algorithm), c.subject_from_api(SUBJECT), hash_name)
    path = tmp_path / "request.csr"
    path.write_bytes(base64.b64decode(c.encode_for_api(csr)))
    result = subprocess.run(
        ["openssl", "req", "-in", str(path), "-verify", "-noout", "-subject"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr
    assert "CN" in result.stdout and "paycrypt test" in result.stdout
    tampered = bytearray(csr.public_bytes(serialization.Encoding.DER))
    tampered[-5] ^= 0x01  # inside the signature
    path.write_bytes(bytes(tampered))
    result = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", str(path), "-verify", "-noout"],
        capture_output=True,
        text=True,
        check=False,
    )
    # OpenSSL 3.0 `req -verify` exits 0 even on failure; the verdict is in the message.
    assert "verify failure" in result.stderr and "verify OK" not in result.stdout + result.stderr


def test_csr_rejects_bad_hash_and_subject() -> None:
    key = _keys("RSA_2048")
    with pytest.raises(CertificateError, match="hash"):
        c.build_csr(key, c.subject_from_api(SUBJECT), "SHA1")
    with pytest.raises(CertificateError, match="CommonName"):
        c.subject_from_api({"Organization": "x"})
    with pytest.raises(CertificateError, match="unknown"):
        c.subject_from_api({"CommonName": "x", "Street": "y"})
    with pytest.raises(CertificateError, match="invalid"):
        c.subject_from_api({"CommonName": "x", "Country": "USA"})
    # The model's EmailAddress pattern allows ’ (U+2019); an IA5String cannot hold it (the fuzz
    # suite found it failing only when the CSR was signed, as a 500).
    with pytest.raises(CertificateError, match="EmailAddress must be ASCII"):
        c.subject_from_api({"CommonName": "x", "EmailAddress": "o\u2019brien@example.com"})
    ascii_email = c.subject_from_api({"CommonName": "x", "EmailAddress": "o'brien@example.com"})
    csr = c.build_csr(key, ascii_email, "SHA256")
    assert csr.is_signature_valid

"""Trusted certificates: the chains behind CertificateAuthorityPublicKeyIdentifier members.

A certificate imported with RootCertificatePublicKey or TrustedCertificatePublicKey is stored as a
PUBLIC_KEY key whose material is its SubjectPublicKeyInfo and whose record keeps, in `extra`:

- `Certificate`: the certificate as PEM text;
- `CertificateChain`: the PEM texts of its issuers, nearest first, root last (empty for a root).

The whole chain is copied at import, so a chain is checked as it was trusted even if an
intermediate key is later deleted. Every use re-checks the chain at the request's time: a
certificate, intermediate or root that has expired since it was imported is refused.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paycrypt.crypto import certificates
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.rules import key_usage
from paycrypt.store.records import KeyRecord

CERTIFICATE = "Certificate"
CHAIN = "CertificateChain"


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def stored_chain(record: KeyRecord) -> list[x509.Certificate]:
    """The record's certificate followed by its issuers, root last."""
    texts = [record.extra[CERTIFICATE], *record.extra.get(CHAIN, [])]
    return [x509.load_pem_x509_certificate(text.encode("ascii")) for text in texts]


def load(value: str, member: str) -> x509.Certificate:
    """A certificate given as the API gives them (base64 of PEM), or ValidationException naming it."""
    try:
        return certificates.load_certificate(value)
    except certificates.CertificateError as exc:
        raise ValidationError(f"{member} is not a valid certificate: {exc}.") from None


def authority(
    svc: Service, ctx: Context, identifier: str, operation: str, member: str, role: str
) -> tuple[KeyRecord, list[x509.Certificate]]:
    """The stored CA named by `identifier` (its usage checked by the rules table) and its chain."""
    record = identifiers.resolve_key(svc.store, ctx, identifier)
    key_usage.check_key(operation, member, record, role)
    if not record.extra.get(CERTIFICATE):
        raise ValidationError(f"{role} {record.arn} is not an imported certificate authority certificate.")
    return record, stored_chain(record)


def verify(
    svc: Service,
    ctx: Context,
    certificate_value: str,
    ca_identifier: str,
    *,
    operation: str,
    member: str,
    role: str,
    certificate_member: str,
) -> tuple[x509.Certificate, KeyRecord]:
    """Load a certificate given inline and check that it chains to the named CA at ctx.now."""
    certificate = load(certificate_value, certificate_member)
    record, chain = authority(svc, ctx, ca_identifier, operation, member, role)
    try:
        certificates.verify_chain(certificate, chain, ctx.now)
    except certificates.CertificateError as exc:
        raise ValidationError(f"{certificate_member} does not chain to {record.arn}: {exc}.") from None
    return certificate, record

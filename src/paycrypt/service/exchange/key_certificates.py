"""GetPublicKeyCertificate and GetCertificateSigningRequest.

GetPublicKeyCertificate: for a key pair held here, a fresh 90-day leaf from the account's service
CA of the key's family (RSA or ECC), with that CA as the chain. The guide says the operation "is
not idempotent"; paycrypt issues a new certificate on every call rather than caching one (signing
is cheap, and a cache would be state without a purpose). For an imported certificate (a
PUBLIC_KEY key) it returns the certificate as imported and, as the chain, its issuers as
imported (nearest first), or the certificate itself for a root. A symmetric key has no
certificate: ValidationException.

GetCertificateSigningRequest (BYOCA, seed-B §10): a PKCS #10 request signed by the key pair
itself with SHA-224/256/384/512, the subject's RDNs in the order C, ST, L, O, OU, CN, email.
Only a key pair held here can sign one.
"""

from __future__ import annotations

from typing import Any

from paycrypt.crypto import certificates
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import service_ca, trust


def get_public_key_certificate(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    key_class = record.key_attributes["KeyClass"]
    if key_class == "PUBLIC_KEY":
        chain = trust.stored_chain(record)
        issuers = chain[1:] or chain
        return {
            "KeyCertificate": certificates.encode_for_api(chain[0]),
            "KeyCertificateChain": certificates.encode_chain_for_api(issuers),
        }
    if key_class != "ASYMMETRIC_KEY_PAIR":
        raise ValidationError(f"Key {record.arn} is a {key_class}; only asymmetric keys have certificates.")
    public_key = service_ca.private_key(svc, record).public_key()
    certificate, ca_certificate = service_ca.issue(svc, ctx, public_key, service_ca.KEY_CERTIFICATE_VALIDITY)
    return {
        "KeyCertificate": certificates.encode_for_api(certificate),
        "KeyCertificateChain": certificates.encode_for_api(ca_certificate),
    }


# CertificateSubject members in the order the CSR lists them (seed-B §1.6: C, ST, L, O, OU, CN).
_SUBJECT_ORDER = (
    "Country",
    "StateOrProvince",
    "City",
    "Organization",
    "OrganizationUnit",
    "CommonName",
    "EmailAddress",
)


def get_certificate_signing_request(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = identifiers.resolve_key(svc.store, ctx, params["KeyIdentifier"])
    if record.key_attributes["KeyClass"] != "ASYMMETRIC_KEY_PAIR":
        raise ValidationError(
            f"Key {record.arn} is a {record.key_attributes['KeyClass']}; a certificate signing request "
            f"needs an asymmetric key pair."
        )
    subject = params["CertificateSubject"]
    try:
        name = certificates.subject_from_api({k: subject[k] for k in _SUBJECT_ORDER if subject.get(k)})
    except certificates.CertificateError as exc:
        raise ValidationError(f"CertificateSubject: {exc}.") from None
    private_key = service_ca.private_key(svc, record)
    csr = certificates.build_csr(private_key, name, params["SigningAlgorithm"])
    return {"CertificateSigningRequest": certificates.encode_for_api(csr)}

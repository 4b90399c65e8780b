"""The service CA of each account and region, and the key pairs behind import and export tokens.

AWS Payment Cryptography signs every certificate it hands out with a CA "unique to the account"
(seed-B §10). paycrypt keeps two per account and region, created on first use: an RSA-4096 CA
for RSA certificates and an ECC P-521 CA for ECC ones (a certificate's issuer must be of the
same key family and at least as strong, seed-B §6, so one RSA CA cannot vouch for a P-521 K3
key). Both sign with SHA-512 and follow the profile of the real AWS certificate
(`crypto.certificates`); they are valid for ten years.

The CA private keys, and the RSA key pairs that GetParametersForImport/Export create for tokens,
are KeyRecords in the store's `exchange_keys` table, sealed by the vault exactly like every key
(X9.143 block under the master key, bound to the record's name), and never listed by ListKeys
nor counted against the key quota. A record's name is an ARN-shaped string of the account and
region (`…:service-ca/RSA`, `…:import-token/import-token-…`), so another account's or region's
token simply does not resolve.

Tokens (GetParametersForImport/Export): `import-token-`/`export-token-` and 16 lowercase letters
and digits, bound to the account, region, direction (import or export), KeyMaterialType and
algorithm; valid 30 days (the model), as is the certificate of the token's key pair (not before
one hour ago, to allow for a partner's clock). ReuseLastGeneratedToken returns the newest token
of the same account, region, direction, type and algorithm that has at least 7 days left.
Expired token records are purged when new ones are made.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paycrypt import arns
from paycrypt.crypto import certificates, keygen
from paycrypt.errors import ResourceNotFound, ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import trust
from paycrypt.service.rules import check_values, combinations, key_usage
from paycrypt.store.records import KeyRecord

CA_VALIDITY = dt.timedelta(days=3650)
TOKEN_VALIDITY = dt.timedelta(days=30)
REUSE_MINIMUM = dt.timedelta(days=7)
KEY_CERTIFICATE_VALIDITY = dt.timedelta(days=90)
BACKDATE = dt.timedelta(hours=1)
CA_ALGORITHMS = {"RSA": "RSA_4096", "ECC": "ECC_NIST_P521"}
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
PRIVATE_KEY = "private-key"  # the key cache's kind for a parsed private key


def _name(ctx: Context, resource: str) -> str:
    return arns.build(ctx.region, ctx.account, resource)


def private_key(svc: Service, record: KeyRecord) -> certificates.PrivateKey:
    """The parsed private key of a stored key pair, kept in the key cache with its material."""
    return svc.keycache.derived(record, PRIVATE_KEY, keygen.load_private_key)


def _record(
    ctx: Context, name: str, attributes: dict, material: bytes, extra: dict, svc: Service
) -> KeyRecord:
    kcv, kcv_algorithm = check_values.compute(attributes["KeyAlgorithm"], None, material)
    record = KeyRecord(
        arn=name,
        account=ctx.account,
        region=ctx.region,
        key_id=name.rsplit("/", 1)[-1],
        key_attributes={
            **attributes,
            "KeyModesOfUse": combinations.normalized_modes(attributes["KeyModesOfUse"]),
        },
        key_check_value=kcv,
        key_check_value_algorithm=kcv_algorithm,
        enabled=True,
        exportable=False,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=ctx.now,
        key_block="",
        extra=extra,
    )
    record.key_block = svc.vault.seal(record, material)
    return record


def family_of(algorithm: str) -> str:
    return "RSA" if algorithm in combinations.RSA else "ECC"


def authority(svc: Service, ctx: Context, family: str) -> tuple[x509.Certificate, certificates.PrivateKey]:
    """The account's CA of `family` ("RSA" or "ECC"), made on first use."""
    name = _name(ctx, f"service-ca/{family}")
    record = svc.store.get_exchange_key(name)
    if record is None:
        algorithm = CA_ALGORITHMS[family]
        material = keygen.generate(algorithm)
        certificate = certificates.create_ca(
            keygen.load_private_key(material),
            certificates.service_ca_name(ctx.account),
            not_before=ctx.now - BACKDATE,
            validity=CA_VALIDITY,
        )
        attributes = {
            "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
            "KeyAlgorithm": algorithm,
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"Sign": True},
        }
        extra = {"Certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")}
        svc.store.insert_exchange_key(
            "service-ca", _record(ctx, name, attributes, material, extra, svc), None
        )
        record = svc.store.get_exchange_key(name)  # another server may have made it first
        assert record is not None
    return _certificate(record), private_key(svc, record)


def _certificate(record: KeyRecord) -> x509.Certificate:
    return x509.load_pem_x509_certificate(record.extra["Certificate"].encode("ascii"))


def issue(
    svc: Service, ctx: Context, public_key: certificates.PublicKey, validity: dt.timedelta
) -> tuple[x509.Certificate, x509.Certificate]:
    """A leaf certificate for `public_key` from the CA of its family; (certificate, CA certificate)."""
    family = family_of(certificates.key_algorithm(public_key))
    ca_certificate, ca_key = authority(svc, ctx, family)
    certificate = certificates.issue_certificate(
        public_key,
        certificates.service_leaf_name(ctx.account),
        ca_certificate=ca_certificate,
        ca_private_key=ca_key,
        not_before=ctx.now - BACKDATE,
        validity=validity + BACKDATE,
    )
    return certificate, ca_certificate


# --- tokens ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    token_id: str
    certificate: x509.Certificate
    ca_certificate: x509.Certificate
    valid_until: dt.datetime
    record: KeyRecord

    def private_key(self, svc: Service) -> certificates.PrivateKey:
        return private_key(svc, self.record)


_TOKEN_USAGE = {
    "import": ("TR31_K2_TR34_ASYMMETRIC_KEY", {"Decrypt": True, "Unwrap": True}),
    "export": ("TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE", {"Sign": True}),
}


def make_token(
    svc: Service, ctx: Context, direction: str, material_type: str, algorithm: str, reuse: bool
) -> Token:
    """A new token and key pair, or with `reuse` the newest one with at least 7 days left."""
    kind = f"{direction}:{material_type}:{algorithm}"
    if reuse:
        found = svc.store.latest_exchange_key(
            ctx.account, ctx.region, kind, (ctx.now + REUSE_MINIMUM).timestamp()
        )
        if found is not None:
            return _token(svc, ctx, found)
    svc.store.purge_exchange_keys(ctx.now.timestamp())
    token_id = f"{direction}-token-" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(16))
    valid_until = ctx.now + TOKEN_VALIDITY
    material = keygen.generate(algorithm)
    certificate, _ = issue(svc, ctx, keygen.load_private_key(material).public_key(), TOKEN_VALIDITY)
    usage, modes = _TOKEN_USAGE[direction]
    attributes = {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": "ASYMMETRIC_KEY_PAIR",
        "KeyModesOfUse": modes,
    }
    extra = {
        "Certificate": certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "KeyMaterialType": material_type,
        "ValidUntil": valid_until.timestamp(),
    }
    name = _name(ctx, f"{direction}-token/{token_id}")
    record = _record(ctx, name, attributes, material, extra, svc)
    svc.store.insert_exchange_key(kind, record, valid_until.timestamp())
    return _token(svc, ctx, record)


def _token(svc: Service, ctx: Context, record: KeyRecord) -> Token:
    ca_certificate, _ = authority(svc, ctx, "RSA")
    valid_until = dt.datetime.fromtimestamp(record.extra["ValidUntil"], dt.UTC)
    return Token(record.key_id, _certificate(record), ca_certificate, valid_until, record)


def find_token(
    svc: Service, ctx: Context, direction: str, token_id: str, material_type: str, member: str
) -> Token:
    """The caller's token, unexpired and of this KeyMaterialType; ResourceNotFound if unknown here."""
    record = svc.store.get_exchange_key(_name(ctx, f"{direction}-token/{token_id}"))
    if record is None:
        raise ResourceNotFound(f"{member} {token_id} was not found.", token_id)
    if record.extra["ValidUntil"] <= ctx.now.timestamp():
        raise ValidationError(
            f"{member} {token_id} has expired; call GetParametersFor{direction.title()} again."
        )
    if record.extra["KeyMaterialType"] != material_type:
        raise ValidationError(
            f"{member} {token_id} was issued for {record.extra['KeyMaterialType']}, not {material_type}."
        )
    return _token(svc, ctx, record)


def tr34_key_pair(
    svc: Service,
    ctx: Context,
    value: dict[str, Any],
    path: str,
    *,
    operation: str,
    kind: str,
    token_member: str,
    key_member: str,
    certificate_member: str,
) -> tuple[x509.Certificate, certificates.PrivateKey, str]:
    """The key pair this service holds in a TR-34 exchange: the `kind` ("import": KRD, "export":
    KDH) token's, or the caller's own stored RSA key pair with its certificate (BYOCA).

    `value` is the request's Tr34KeyBlock (or KeyCryptogram) member; the token is named by
    `token_member` (ImportToken/ExportToken), the own key by `key_member`
    (WrappingKeyIdentifier/SigningKeyIdentifier) with its `certificate_member`, which must hold
    that key's public key and be valid now. Returns (certificate, private key, key algorithm).
    """
    token_id = value.get(token_member)
    key_id = value.get(key_member)
    if token_id and key_id:
        raise ValidationError(f"{path}: give {token_member} or {key_member}, not both.")
    if token_id:
        token = find_token(svc, ctx, kind, token_id, "TR34_KEY_BLOCK", f"{path}.{token_member}")
        return token.certificate, token.private_key(svc), token.record.key_attributes["KeyAlgorithm"]
    if not key_id or not value.get(certificate_member):
        raise ValidationError(
            f"{path} needs an {token_member}, or a {key_member} with its {certificate_member}."
        )
    record = identifiers.resolve_key(svc.store, ctx, key_id)
    key_usage.check_key(operation, "Tr34KeyBlock", record, key_member)
    certificate = trust.load(value[certificate_member], f"{path}.{certificate_member}")
    own_key = private_key(svc, record)
    if not certificates.same_public_key(certificate.public_key(), own_key):  # type: ignore[arg-type]
        raise ValidationError(f"{path}.{certificate_member} does not hold the public key of {record.arn}.")
    try:
        certificates.check_validity(certificate, ctx.now)
    except certificates.CertificateError as exc:
        raise ValidationError(f"{path}.{certificate_member}: {exc}.") from None
    return certificate, own_key, record.key_attributes["KeyAlgorithm"]

"""ImportKey: every KeyMaterial member.

Each member has one function that checks and opens its material and says what the key is; the
key is then stored through `lifecycle.store_key` with KeyOrigin EXTERNAL, the request's Enabled
(default true), tags and KeyCheckValueAlgorithm. Nothing is stored unless every check passed.

- RootCertificatePublicKey / TrustedCertificatePublicKey: the certificate must be unexpired; a
  root must be a CA certificate (BasicConstraints CA:TRUE, keyCertSign if KeyUsage is present);
  a trusted certificate must chain to the named CA, whose chain is re-checked now; the issuer
  must be of the same key family and at least as strong (seed-B §6). KeyAttributes must say
  PUBLIC_KEY, the certificate's own algorithm, and a usage and modes a public key can have
  (`combinations.check_public_key`). Stored: the SubjectPublicKeyInfo, sealed like any key, with the
  certificate and its issuers' certificates (`trust`). Exportable is false: ExportKey never sends
  a public key (GetPublicKeyCertificate returns it).
- Tr31KeyBlock: under a stored KEK (TR31_K0/K1 with Unwrap or Decrypt); versions A, B, C under a
  TDES KEK and D under an AES one; MAC verified before anything in the block is read; header →
  attributes through `key_blocks` and the key-attribute table; the KEK at least as strong as the
  key.
- Tr34KeyBlock: the KDH's SigningKeyCertificate must chain to the named CA; the receiving key is
  the one bound to ImportToken (a TR34_KEY_BLOCK token of this account and region, unexpired),
  or the caller's own TR31_K2 RSA key pair (WrappingKeyIdentifier) with WrappingKeyCertificate
  holding that key pair's public key; a two-pass block needs its RandomNonce; the header inside
  gives the attributes (its length field is ignored, as the AWS sample sends D9999); the RSA
  receiving key must be at least as strong as the key (RSA_2048 carries TDES only).
- KeyCryptogram: RSA-OAEP (SHA-256 by default, or SHA-512) under the key of a KEY_CRYPTOGRAM
  import token; attributes and Exportable from the request; the key's length must be its
  algorithm's; RSA_2048 carries TDES keys only, RSA_3072/4096 TDES and AES-128.
- DiffieHellmanTr31KeyBlock: ECDH with a stored K3 key pair whose DeriveKeyUsage is K0 or K1 and
  the partner's certificate (chained to the named CA), the KDF giving a TDES or AES KBPK, then as
  Tr31KeyBlock under that KBPK (`ecdh_agreement`); the curve, like the KBPK, must be at least as
  strong as the key carried.
- As2805KeyCryptogram: a TDES key under a TR31_K0 TDES KEK ⊕ the AS 2805 variant's mask; the
  variant gives the KeyUsage (`as2805_cryptograms`, whose docstring states the decisions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paycrypt.crypto import certificates, key_cryptogram, tr31, tr34
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers, unions
from paycrypt.service.approval import mpa
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import as2805_cryptograms, ecdh_agreement, key_blocks, service_ca, trust
from paycrypt.service.keys import lifecycle, tags, views
from paycrypt.service.replication import key_regions
from paycrypt.service.rules import combinations, key_usage

OP = "ImportKey"
CA_ROLE = "CertificateAuthorityPublicKeyIdentifier"


@dataclass(frozen=True)
class Imported:
    attributes: dict[str, Any]
    material: bytes = field(repr=False)
    exportable: bool
    extra: dict[str, Any] = field(default_factory=dict)


def import_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, value = unions.member(params["KeyMaterial"])
    importer = unions.handler(OP, "KeyMaterial", name, IMPORTERS)
    tags.validated(params.get("Tags") or [], svc.quotas.tags_per_key)
    imported = importer(svc, ctx, value)
    plan = key_regions.plan_for_new_key(
        svc, ctx, params.get("ReplicationRegions"), imported.attributes["KeyClass"]
    )
    with svc.store.transaction():
        record = mpa.store_import(  # lifecycle.store_key, or CREATE_IN_PROGRESS under multi-party approval
            svc,
            ctx,
            name,
            lifecycle.NewKey(
                attributes=imported.attributes,
                material=imported.material,
                exportable=imported.exportable,
                enabled=params.get("Enabled", True),
                origin="EXTERNAL",
                kcv_algorithm=params.get("KeyCheckValueAlgorithm"),
                tags=params.get("Tags") or [],
                extra=imported.extra,
            ),
        )
        record = key_regions.start_for_new_key(svc, record, plan)
    return {"Key": views.key(record)}


# --- certificates ------------------------------------------------------------------------------


def _spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _public_attributes(
    attributes: dict[str, Any], certificate: x509.Certificate, path: str, *, root: bool
) -> None:
    try:
        algorithm = certificates.key_algorithm(certificate.public_key())  # type: ignore[arg-type]
    except certificates.CertificateError as exc:
        raise ValidationError(f"{path}.PublicKeyCertificate: {exc}.") from None
    if attributes["KeyAlgorithm"] != algorithm:
        raise ValidationError(
            f"{path}.KeyAttributes.KeyAlgorithm {attributes['KeyAlgorithm']} does not match the "
            f"certificate's key ({algorithm})."
        )
    try:
        combinations.check_public_key(attributes, root=root)
    except ValidationError as exc:
        raise ValidationError(f"{path}.KeyAttributes: {exc.message}") from None


def _root(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.RootCertificatePublicKey"
    certificate = trust.load(value["PublicKeyCertificate"], f"{path}.PublicKeyCertificate")
    _public_attributes(value["KeyAttributes"], certificate, path, root=True)
    try:
        certificates.check_ca(certificate, ctx.now)
    except certificates.CertificateError as exc:
        raise ValidationError(f"{path}.PublicKeyCertificate: {exc}.") from None
    extra = {trust.CERTIFICATE: trust.pem(certificate), trust.CHAIN: []}
    return Imported(value["KeyAttributes"], _spki(certificate), False, extra)


def _trusted(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.TrustedCertificatePublicKey"
    certificate, authority = trust.verify(
        svc,
        ctx,
        value["PublicKeyCertificate"],
        value[CA_ROLE],
        operation=OP,
        member="TrustedCertificatePublicKey",
        role=CA_ROLE,
        certificate_member=f"{path}.PublicKeyCertificate",
    )
    _public_attributes(value["KeyAttributes"], certificate, path, root=False)
    chain = [trust.pem(c) for c in trust.stored_chain(authority)]
    extra = {trust.CERTIFICATE: trust.pem(certificate), trust.CHAIN: chain}
    return Imported(value["KeyAttributes"], _spki(certificate), False, extra)


# --- key blocks --------------------------------------------------------------------------------


def _from_block(opened: key_blocks.BlockKey, path: str) -> Imported:
    try:
        combinations.check_create(opened.attributes, None)
    except ValidationError as exc:
        raise ValidationError(f"{path}: the key block header gives {exc.message}") from None
    return Imported(opened.attributes, opened.material, opened.exportable, opened.extra())


def _tr31(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.Tr31KeyBlock"
    kek = identifiers.resolve_key(svc.store, ctx, value["WrappingKeyIdentifier"])
    key_usage.check_key(OP, "Tr31KeyBlock", kek, "WrappingKeyIdentifier")
    opened = key_blocks.unwrap(
        svc.keycache.material(kek),
        kek.key_attributes["KeyAlgorithm"],
        value["WrappedKeyBlock"],
        f"{path}.WrappedKeyBlock",
    )
    return _from_block(opened, path)


def _ecdh(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.DiffieHellmanTr31KeyBlock"
    opened = ecdh_agreement.open_block(svc, ctx, value, operation=OP, path=path)
    return _from_block(opened, path)


def _hex(value: str, member: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValidationError(f"{member} must be an even number of hexadecimal characters.") from None


def _tr34(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.Tr34KeyBlock"
    kdh_certificate, _ = trust.verify(
        svc,
        ctx,
        value["SigningKeyCertificate"],
        value[CA_ROLE],
        operation=OP,
        member="Tr34KeyBlock",
        role=CA_ROLE,
        certificate_member=f"{path}.SigningKeyCertificate",
    )
    krd_certificate, krd_key, krd_algorithm = _receiver(svc, ctx, value, path)
    nonce = _hex(value["RandomNonce"], f"{path}.RandomNonce") if value.get("RandomNonce") else None
    try:
        payload = tr34.unwrap(
            _hex(value["WrappedKeyBlock"], f"{path}.WrappedKeyBlock"),
            kdh_certificate=kdh_certificate,
            krd_certificate=krd_certificate,
            krd_private_key=krd_key,  # type: ignore[arg-type]
            nonce=nonce,
        )
        header = tr31.parse_header(payload.header).header
    except (tr34.Tr34Error, tr31.KeyBlockError) as exc:
        raise ValidationError(f"{path}.WrappedKeyBlock: {exc}.") from None
    opened = key_blocks.from_header(header, payload.key, f"{path}.WrappedKeyBlock")
    key_blocks.check_strength(krd_algorithm, opened.attributes["KeyAlgorithm"], f"{path}: the wrapping key")
    return _from_block(opened, path)


def _receiver(
    svc: Service, ctx: Context, value: dict[str, Any], path: str
) -> tuple[x509.Certificate, Any, str]:
    """The KRD: the import token's key pair, or the caller's own (BYOCA) key pair and certificate."""
    return service_ca.tr34_key_pair(
        svc,
        ctx,
        value,
        path,
        operation=OP,
        kind="import",
        token_member="ImportToken",
        key_member="WrappingKeyIdentifier",
        certificate_member="WrappingKeyCertificate",
    )


def _cryptogram(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    path = "KeyMaterial.KeyCryptogram"
    attributes = value["KeyAttributes"]
    if attributes["KeyClass"] != "SYMMETRIC_KEY":
        raise ValidationError(
            f"{path}.KeyAttributes.KeyClass must be SYMMETRIC_KEY: a cryptogram carries a raw key."
        )
    try:
        combinations.check_create(attributes, None)
    except ValidationError as exc:
        raise ValidationError(f"{path}.KeyAttributes: {exc.message}") from None
    if not value.get("ImportToken"):
        raise ValidationError(f"{path}.ImportToken is required.")
    token = service_ca.find_token(
        svc, ctx, "import", value["ImportToken"], "KEY_CRYPTOGRAM", f"{path}.ImportToken"
    )
    wrapping_algorithm = token.record.key_attributes["KeyAlgorithm"]
    key_blocks.check_strength(wrapping_algorithm, attributes["KeyAlgorithm"], f"{path}: the wrapping key")
    spec = value.get("WrappingSpec") or key_cryptogram.DEFAULT_WRAPPING_SPEC
    try:
        key = key_cryptogram.unwrap(
            token.private_key(svc),  # type: ignore[arg-type]
            _hex(value["WrappedKeyCryptogram"], f"{path}.WrappedKeyCryptogram"),
            spec,
        )
    except key_cryptogram.KeyCryptogramError as exc:
        raise ValidationError(f"{path}.WrappedKeyCryptogram: {exc}.") from None
    combinations.check_material_length(attributes["KeyAlgorithm"], len(key), f"{path}.WrappedKeyCryptogram")
    return Imported(attributes, key, value["Exportable"])


def _as2805(svc: Service, ctx: Context, value: dict[str, Any]) -> Imported:
    received = as2805_cryptograms.receive(svc, ctx, value)
    return Imported(received.attributes, received.material, received.exportable)


Importer = Callable[[Service, Context, dict[str, Any]], Imported]

IMPORTERS: dict[str, Importer] = {
    "RootCertificatePublicKey": _root,
    "TrustedCertificatePublicKey": _trusted,
    "Tr31KeyBlock": _tr31,
    "Tr34KeyBlock": _tr34,
    "KeyCryptogram": _cryptogram,
    "DiffieHellmanTr31KeyBlock": _ecdh,
    "As2805KeyCryptogram": _as2805,
}

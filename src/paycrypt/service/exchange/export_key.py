"""ExportKey: every KeyMaterial member.

What leaves (decided as docs/decisions/key-exchange.md records):

- A symmetric key that is Exportable, or with ExportAttributes.ExportDukptInitialKey the TDES IPEK
  or AES initial key (IK) derived from a TR31_B0 BDK (DeriveKey) and the KSN's initial part
  (seed-B §11: a 20-hex KSN for a TDES_2KEY BDK, 24 for an AES BDK; the counter is ignored). The
  IPEK/IK may leave even when the BDK is not exportable: the guide says a key-injection facility
  "can still derive keys such as IPEK/IK … and export these derived keys … specifically allowed by
  the standards", and the BDK itself never leaves. It goes out as TR-31 usage B1, mode X,
  exportability S (the guide's `B0096B1TX00S0000`), never stored.
- A key pending deletion is ConflictException; a disabled key may still be exported (exporting is
  key management, not a cryptographic use), but every key that wraps, signs or derives must be
  usable (`key_usage.check_key`).
- Strength (seed-B §2): the key that protects the exported key (the KEK, the ECDH-derived KBPK
  and, by the guide's matrix, the K3 key's curve, the receiver's RSA key) must be at least as
  strong; the TR-34 KDH signing key is not a protecting key and is not compared (the export
  token's key is RSA_2048 by the model).
- TR-31 (Tr31KeyBlock, DiffieHellmanTr31KeyBlock): version B under a TDES KBPK, D under an AES
  one, key length masked as AWS does; the header keeps usage and algorithm; KeyBlockHeaders may
  narrow the modes (a subset of the key's; any valid set for a NoRestrictions key) and the
  exportability (N < E < S; a key received as E stays at most E, one made here may go out as S,
  the default letter is E), set KeyVersion (default 00) and append optional blocks to those the
  key arrived with (at most 112 characters, written as given; PB and HM are computed, HM for
  HMAC keys).
- TR-34: signed with the export token's key pair, or the caller's own RSA S0 key pair
  (SigningKeyIdentifier) with SigningKeyCertificate holding its public key; encrypted for the
  WrappingKeyCertificate, which must chain to the named CA; two-pass with the request's
  RandomNonce, else one-pass with signingTime. The header is the version D header a TR-31
  export would carry (`D0112K0TB00E0000` for a TDES KEK, as AWS emits).
- KeyCryptogram: RSA-OAEP (SHA-256 default, SHA-512) to the WrappingKeyCertificate, chained to
  the named CA; refused for a key received with TR-31 exportability E ("key blocks only").
- As2805KeyCryptogram: a TDES key under a TR31_K0 TDES KEK ⊕ the AS 2805 variant's mask, the
  variant fitting the key's usage (`as2805_cryptograms`); refused, like KeyCryptogram, for a key
  received with TR-31 exportability E.
- The response's WrappingKeyArn is the KEK for TR-31, the K3 key pair for ECDH, and the CA that
  vouches for the receiver's certificate for TR-34 and KeyCryptogram (the model requires one;
  the guide's examples show none). KeyCheckValue is the exported key's, in
  ExportAttributes.KeyCheckValueAlgorithm when given, else the key's own KCV algorithm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from paycrypt.crypto import certificates, dukpt_aes, dukpt_tdes, key_cryptogram, tr31, tr34
from paycrypt.errors import Conflict, ValidationError
from paycrypt.service import identifiers, unions
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import as2805_cryptograms, ecdh_agreement, key_blocks, service_ca, trust
from paycrypt.service.rules import check_values, combinations, key_usage
from paycrypt.store.records import KeyRecord

OP = "ExportKey"
CA_ROLE = "CertificateAuthorityPublicKeyIdentifier"
IPEK_MEMBER = "ExportAttributes.ExportDukptInitialKey.KeySerialNumber"


@dataclass(frozen=True)
class Outgoing:
    """The key about to leave: its material, attributes, header source and check value."""

    material: bytes = field(repr=False)
    source: key_blocks.ExportSource
    key_check_value: str
    key_check_value_algorithm: str
    cryptogram_allowed: bool
    label: str

    @property
    def algorithm(self) -> str:
        return self.source.attributes["KeyAlgorithm"]


def export_key(svc: Service, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, value = unions.member(params["KeyMaterial"])
    exporter = unions.handler(OP, "KeyMaterial", name, EXPORTERS)
    record = identifiers.resolve_key(svc.store, ctx, params["ExportKeyIdentifier"])
    if record.key_state == "DELETE_PENDING":
        raise Conflict(
            f"ExportKey is not allowed: key {record.arn} is pending deletion (KeyState DELETE_PENDING)."
        )
    outgoing = _outgoing(svc, record, params.get("ExportAttributes") or {})
    wrapped = exporter(svc, ctx, value, outgoing)
    wrapped["KeyCheckValue"] = outgoing.key_check_value
    wrapped["KeyCheckValueAlgorithm"] = outgoing.key_check_value_algorithm
    return {"WrappedKey": wrapped}


def _outgoing(svc: Service, record: KeyRecord, attributes: dict[str, Any]) -> Outgoing:
    kcv_algorithm = attributes.get("KeyCheckValueAlgorithm")
    dukpt = attributes.get("ExportDukptInitialKey")
    if dukpt is not None:
        return _initial_key(svc, record, dukpt["KeySerialNumber"], kcv_algorithm)
    if record.key_attributes["KeyClass"] != "SYMMETRIC_KEY":
        raise ValidationError(
            f"Key {record.arn} is a {record.key_attributes['KeyClass']}; ExportKey exports symmetric keys."
        )
    if not record.exportable:
        raise ValidationError(f"Key {record.arn} is not exportable.")
    material = svc.keycache.material(record)
    if kcv_algorithm is None:
        kcv, kcv_algorithm = record.key_check_value, record.key_check_value_algorithm
    else:
        kcv, kcv_algorithm = check_values.compute(
            record.key_attributes["KeyAlgorithm"], kcv_algorithm, material
        )
    return Outgoing(
        material=material,
        source=key_blocks.source_for(record.key_attributes, record.extra, record.exportable),
        key_check_value=kcv,
        key_check_value_algorithm=kcv_algorithm,
        cryptogram_allowed=record.extra.get("Tr31Exportability") != "E",
        label=f"Key {record.arn}",
    )


def _initial_key(svc: Service, record: KeyRecord, ksn_hex: str, kcv_algorithm: str | None) -> Outgoing:
    key_usage.check_key(OP, "ExportDukptInitialKey", record, "ExportKeyIdentifier")
    algorithm = record.key_attributes["KeyAlgorithm"]
    bdk = svc.keycache.material(record)
    expected = 20 if algorithm == "TDES_2KEY" else 24
    if len(ksn_hex) != expected:
        raise ValidationError(f"{IPEK_MEMBER} must be {expected} hex characters for a {algorithm} BDK.")
    ksn = bytes.fromhex(ksn_hex)
    try:
        if algorithm == "TDES_2KEY":
            key = dukpt_tdes.derive_ipek(bdk, ksn)
        else:
            key = dukpt_aes.derive_initial_key(bdk, ksn[: dukpt_aes.INITIAL_KEY_ID_BYTES])
    except ValueError as exc:
        raise ValidationError(f"{IPEK_MEMBER}: {exc}.") from None
    attributes = {
        "KeyUsage": "TR31_B1_INITIAL_DUKPT_KEY",  # no such API KeyUsage: the key is never stored
        "KeyAlgorithm": algorithm,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": combinations.normalized_modes({"DeriveKey": True}),
    }
    kcv, kcv_algorithm = check_values.compute(algorithm, kcv_algorithm, key)
    source = key_blocks.ExportSource(
        attributes, "B1", ceiling="S", default_exportability="S", retained_blocks={}
    )
    return Outgoing(key, source, kcv, kcv_algorithm, cryptogram_allowed=True, label="The initial DUKPT key")


# --- TR-31 -------------------------------------------------------------------------------------


def wrap_block(
    kbpk: bytes, kbpk_algorithm: str, out: Outgoing, headers: dict[str, Any] | None, path: str
) -> str:
    """A TR-31 block of `out` under a KBPK: version D for AES, B for TDES."""
    version = "D" if kbpk_algorithm in combinations.AES else "B"
    key_blocks.check_strength(kbpk_algorithm, out.algorithm, f"{path}: the wrapping key")
    header = key_blocks.export_header(version, out.source, headers, path)
    try:
        return tr31.wrap(kbpk, header, out.material)
    except tr31.KeyBlockError as exc:
        raise ValidationError(f"{path}: {exc}.") from None


def _tr31(svc: Service, ctx: Context, value: dict[str, Any], out: Outgoing) -> dict[str, Any]:
    path = "KeyMaterial.Tr31KeyBlock"
    kek = identifiers.resolve_key(svc.store, ctx, value["WrappingKeyIdentifier"])
    key_usage.check_key(OP, "Tr31KeyBlock", kek, "WrappingKeyIdentifier")
    block = wrap_block(
        svc.keycache.material(kek),
        kek.key_attributes["KeyAlgorithm"],
        out,
        value.get("KeyBlockHeaders"),
        path,
    )
    return {"WrappingKeyArn": kek.arn, "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK", "KeyMaterial": block}


def _ecdh(svc: Service, ctx: Context, value: dict[str, Any], out: Outgoing) -> dict[str, Any]:
    path = "KeyMaterial.DiffieHellmanTr31KeyBlock"
    agreement = ecdh_agreement.derive_from(
        svc, ctx, value, operation=OP, member="DiffieHellmanTr31KeyBlock", path=path
    )
    ecdh_agreement.check_curve(agreement, out.algorithm, path)
    block = wrap_block(agreement.key, agreement.algorithm, out, value.get("KeyBlockHeaders"), path)
    return {
        "WrappingKeyArn": agreement.private_key.arn,
        "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
        "KeyMaterial": block,
    }


# --- asymmetric --------------------------------------------------------------------------------


def _receiver(
    svc: Service, ctx: Context, value: dict[str, Any], member: str, path: str, out: Outgoing
) -> tuple[x509.Certificate, KeyRecord]:
    """The receiver's RSA certificate, chained to the named CA and strong enough for the key."""
    certificate, authority = trust.verify(
        svc,
        ctx,
        value["WrappingKeyCertificate"],
        value[CA_ROLE],
        operation=OP,
        member=member,
        role=CA_ROLE,
        certificate_member=f"{path}.WrappingKeyCertificate",
    )
    algorithm = certificates.key_algorithm(certificate.public_key())  # type: ignore[arg-type]
    if algorithm not in combinations.RSA:
        raise ValidationError(f"{path}.WrappingKeyCertificate must hold an RSA key, not {algorithm}.")
    key_blocks.check_strength(algorithm, out.algorithm, f"{path}: the wrapping key certificate")
    return certificate, authority


def _check_cryptogram_allowed(out: Outgoing, member: str) -> None:
    if not out.cryptogram_allowed:
        raise ValidationError(
            f"{out.label} was received with TR-31 exportability E: it may leave in key blocks only, "
            f"not as a {member}."
        )


def _cryptogram(svc: Service, ctx: Context, value: dict[str, Any], out: Outgoing) -> dict[str, Any]:
    path = "KeyMaterial.KeyCryptogram"
    _check_cryptogram_allowed(out, "KeyCryptogram")
    certificate, authority = _receiver(svc, ctx, value, "KeyCryptogram", path, out)
    spec = value.get("WrappingSpec") or key_cryptogram.DEFAULT_WRAPPING_SPEC
    try:
        cryptogram = key_cryptogram.wrap(certificate.public_key(), out.material, spec)  # type: ignore[arg-type]
    except key_cryptogram.KeyCryptogramError as exc:
        raise ValidationError(f"{path}: {exc}.") from None
    return {
        "WrappingKeyArn": authority.arn,
        "WrappedKeyMaterialFormat": "KEY_CRYPTOGRAM",
        "KeyMaterial": cryptogram.hex().upper(),
    }


def _tr34(svc: Service, ctx: Context, value: dict[str, Any], out: Outgoing) -> dict[str, Any]:
    path = "KeyMaterial.Tr34KeyBlock"
    krd_certificate, authority = _receiver(svc, ctx, value, "Tr34KeyBlock", path, out)
    kdh_certificate, kdh_key = _signer(svc, ctx, value, path)
    header = key_blocks.export_header("D", out.source, value.get("KeyBlockHeaders"), path)
    nonce = bytes.fromhex(value["RandomNonce"]) if value.get("RandomNonce") else None
    try:
        block = tr34.build(
            out.material,
            tr31.render_header(header, len(out.material)),
            kdh_certificate=kdh_certificate,
            kdh_private_key=kdh_key,  # type: ignore[arg-type]
            krd_certificate=krd_certificate,
            nonce=nonce,
            signing_time=None if nonce else ctx.now,
        )
    except (tr34.Tr34Error, tr31.KeyBlockError) as exc:
        raise ValidationError(f"{path}: {exc}.") from None
    return {
        "WrappingKeyArn": authority.arn,
        "WrappedKeyMaterialFormat": "TR34_KEY_BLOCK",
        "KeyMaterial": block.hex().upper(),
    }


def _signer(svc: Service, ctx: Context, value: dict[str, Any], path: str) -> tuple[x509.Certificate, Any]:
    """The KDH: the export token's key pair, or the caller's own RSA S0 key pair (BYOCA)."""
    certificate, private_key, _ = service_ca.tr34_key_pair(
        svc,
        ctx,
        value,
        path,
        operation=OP,
        kind="export",
        token_member="ExportToken",
        key_member="SigningKeyIdentifier",
        certificate_member="SigningKeyCertificate",
    )
    return certificate, private_key


def _as2805(svc: Service, ctx: Context, value: dict[str, Any], out: Outgoing) -> dict[str, Any]:
    _check_cryptogram_allowed(out, "As2805KeyCryptogram")
    return as2805_cryptograms.send(svc, ctx, value, out.source.attributes, out.material, out.label)


Exporter = Callable[[Service, Context, dict[str, Any], Outgoing], dict[str, Any]]

EXPORTERS: dict[str, Exporter] = {
    "Tr31KeyBlock": _tr31,
    "Tr34KeyBlock": _tr34,
    "KeyCryptogram": _cryptogram,
    "DiffieHellmanTr31KeyBlock": _ecdh,
    "As2805KeyCryptogram": _as2805,
}

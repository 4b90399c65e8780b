"""ECDH between a stored K3 key pair and a partner's certificate: the shared key of
DiffieHellmanTr31KeyBlock (ImportKey, ExportKey, TranslateKeyMaterial) and of the dynamic
DiffieHellmanSymmetricKey.

Rules (seed-B §2 and §8, decided as docs/decisions/key-exchange.md records): the private key is a
TR31_K3 ECC key pair with DeriveKey (checked by the rules table under the operation's own row);
the partner certificate must chain to the CA named by CertificateAuthorityPublicKeyIdentifier and be on the
same curve. The curve is compared, by the guide's strength matrix (P-256 protects keys up to
AES-128, P-384 up to AES-192, P-521 up to AES-256), with the key it establishes: the key a TR-31
block carries, or the dynamic key itself; never with DeriveKeyAlgorithm, whose KBPK is compared
with the carried key on its own (`key_blocks`), as the guide's own examples (P-256 deriving an
AES-256 KBPK to move a TDES key) require. That check is the caller's (`check_curve`), since only
it knows the key established. What the derived key may be used for is the K3 key's
DeriveKeyUsage when it has one; the caller checks that against its purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paycrypt.crypto import ecdh
from paycrypt.errors import ValidationError
from paycrypt.service import identifiers
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import key_blocks, service_ca, trust
from paycrypt.service.rules import combinations, key_usage
from paycrypt.store.records import KeyRecord


@dataclass(frozen=True)
class Agreement:
    key: bytes = field(repr=False)
    algorithm: str  # the derived key's KeyAlgorithm
    private_key: KeyRecord  # the stored K3 key pair


@dataclass(frozen=True)
class Terms:
    """What one ECDH structure of a request asks for (the API's members, by their meaning)."""

    private_key_identifier: str  # the stored K3 key pair
    ca_identifier: str  # CertificateAuthorityPublicKeyIdentifier
    certificate: str  # the partner's PublicKeyCertificate
    key_algorithm: str  # the derived key's KeyAlgorithm
    kdf: str
    hash_algorithm: str
    shared_information: str

    @classmethod
    def of(
        cls, params: dict[str, Any], private_key_identifier: str, key_algorithm: str, shared_information: str
    ) -> Terms:
        """The structure `params`: the members both ECDH structures name alike are read here."""
        return cls(
            private_key_identifier,
            params["CertificateAuthorityPublicKeyIdentifier"],
            params["PublicKeyCertificate"],
            key_algorithm,
            params["KeyDerivationFunction"],
            params["KeyDerivationHashAlgorithm"],
            shared_information,
        )

    @classmethod
    def of_tr31_key_block(cls, params: dict[str, Any]) -> Terms:
        """A DiffieHellmanTr31KeyBlock (import, export, translate): the agreed key is its KBPK."""
        shared_information = params["DerivationData"]["SharedInformation"]
        return cls.of(
            params, params["PrivateKeyIdentifier"], params["DeriveKeyAlgorithm"], shared_information
        )


@dataclass(frozen=True)
class Place:
    """Where the structure stands: the rules row (operation, member, the private key's role) its
    keys are checked against, and the request path messages name."""

    operation: str
    member: str
    private_role: str
    path: str


def derive(svc: Service, ctx: Context, terms: Terms, place: Place) -> Agreement:
    """Derive the shared key."""
    record = identifiers.resolve_key(svc.store, ctx, terms.private_key_identifier)
    key_usage.check_key(place.operation, place.member, record, place.private_role)
    peer, _ = trust.verify(
        svc,
        ctx,
        terms.certificate,
        terms.ca_identifier,
        operation=place.operation,
        member=place.member,
        role="CertificateAuthorityPublicKeyIdentifier",
        certificate_member=f"{place.path}.PublicKeyCertificate",
    )
    private_key = service_ca.private_key(svc, record)
    try:
        key = ecdh.derive_key(
            private_key,  # type: ignore[arg-type]
            peer,
            key_algorithm=terms.key_algorithm,
            kdf_name=terms.kdf,
            hash_algorithm=terms.hash_algorithm,
            shared_information=terms.shared_information,
        )
    except ecdh.EcdhError as exc:
        raise ValidationError(f"{place.path}: {exc}.") from None
    return Agreement(key, terms.key_algorithm, record)


def derive_from(
    svc: Service, ctx: Context, params: dict[str, Any], *, operation: str, member: str, path: str
) -> Agreement:
    """`derive` for the API's DiffieHellmanTr31KeyBlock structures (import, export, translate): the
    agreed key is a TR-31 KBPK, so the K3 key must derive one."""
    place = Place(operation, member, "PrivateKeyIdentifier", path)
    agreement = derive(svc, ctx, Terms.of_tr31_key_block(params), place)
    check_kbpk_agreement(agreement, path)
    return agreement


def open_block(
    svc: Service, ctx: Context, params: dict[str, Any], *, operation: str, path: str
) -> key_blocks.BlockKey:
    """The key carried in a DiffieHellmanTr31KeyBlock (import, translate): agree the KBPK, open the
    block, and hold the curve to the key it moved."""
    agreement = derive_from(
        svc, ctx, params, operation=operation, member="DiffieHellmanTr31KeyBlock", path=path
    )
    opened = key_blocks.unwrap(
        agreement.key, agreement.algorithm, params["WrappedKeyBlock"], f"{path}.WrappedKeyBlock"
    )
    check_curve(agreement, opened.attributes["KeyAlgorithm"], path)
    return opened


def check_curve(agreement: Agreement, established_algorithm: str, path: str) -> None:
    """Seed-B §2's matrix: the K3 key's curve must be at least as strong as the key it establishes."""
    record = agreement.private_key
    key_blocks.check_strength(
        record.key_attributes["KeyAlgorithm"], established_algorithm, f"{path}: the ECC key pair {record.arn}"
    )


KBPK_USAGES = frozenset({"TR31_K0_KEY_ENCRYPTION_KEY", "TR31_K1_KEY_BLOCK_PROTECTION_KEY"})


def check_kbpk_agreement(agreement: Agreement, path: str) -> None:
    """A shared key used as a TR-31 KBPK: the K3 key must derive K0/K1 keys, of TDES or AES."""
    usage = agreement.private_key.derive_key_usage
    if usage not in KBPK_USAGES:
        raise ValidationError(
            f"{path}: the ECC key pair {agreement.private_key.arn} "
            f"{f'derives {usage} keys' if usage else 'has no DeriveKeyUsage'}; a TR-31 wrapping key "
            f"needs DeriveKeyUsage TR31_K1_KEY_BLOCK_PROTECTION_KEY or TR31_K0_KEY_ENCRYPTION_KEY."
        )
    if agreement.algorithm not in combinations.TDES | combinations.AES:
        raise ValidationError(
            f"{path}.DeriveKeyAlgorithm {agreement.algorithm} cannot protect a TR-31 key block; "
            f"use a TDES or AES algorithm."
        )

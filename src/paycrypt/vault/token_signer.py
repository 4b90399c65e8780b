"""The audit digests' signing key inside the PKCS#11 token, for a server on the PKCS#11 vault.

Decided (docs/decisions/audit.md): ECDSA on P-256 with CKM_ECDSA over a SHA-256 that paycrypt
computes. SoftHSM2 2.6 (Debian's) offers CKM_EC_KEY_PAIR_GEN and CKM_ECDSA but not the hashed
CKM_ECDSA_SHA256, and CKM_ECDSA is in every token's baseline; RSA-PSS would work too
(CKM_SHA256_RSA_PKCS_PSS) but costs a slower key generation and six times the signature for the
same purpose. The digest's signature is DER (the `cryptography` form `paycrypt audit verify`
checks), converted from the token's r||s.

The key pair is generated inside the token on first start (or by `paycrypt vault init`), labelled
after the master key (`paycrypt-master-audit-signing`); the private key is sensitive,
non-extractable and may only sign. Its public key is written beside the logs as
`audit-signing.pub` (what `verify` reads by default, and what an auditor copies and pins); it can
also be read from the token (`paycrypt audit verify --public-key`, after exporting it with
`public_key_pem`). A key of that label which could leave the token is refused.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters

from paycrypt.audit import signing, streams
from paycrypt.vault.pkcs11 import Login, TokenConfig, TokenUnavailable

LABEL_SUFFIX = "-audit-signing"
CURVE = "secp256r1"
PRIVATE_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.MODIFIABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.DERIVE: False,
    Attribute.UNWRAP: False,
}
PUBLIC_TEMPLATE = {
    Attribute.TOKEN: True,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
}
REQUIREMENTS = (
    (Attribute.SENSITIVE, True, "is not sensitive (CKA_SENSITIVE false)"),
    (Attribute.EXTRACTABLE, False, "is extractable (CKA_EXTRACTABLE true)"),
    (Attribute.SIGN, True, "cannot sign (CKA_SIGN false)"),
)


def label(config: TokenConfig) -> str:
    return config.key_label + LABEL_SUFFIX


class TokenSigner:
    """Signs audit digests with the token's ECDSA P-256 private key (a `signing.DigestSigner`)."""

    algorithm = signing.ECDSA_P256

    def __init__(self, login: Login, private_key: Any, public_key_pem: bytes) -> None:
        self._login = login
        self._key = private_key
        self.public_key_pem = public_key_pem
        self.fingerprint = signing.fingerprint(public_key_pem)

    def sign(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        with self._login.lock:
            raw = self._key.sign(digest, mechanism=Mechanism.ECDSA)
        return encode_ecdsa_signature(raw)


def open_signer(config: TokenConfig, login: Login, create: bool = True) -> TokenSigner:
    """The token's audit signing key pair (generated there if absent and `create`); TokenUnavailable
    if it cannot be used."""
    with login.lock:
        try:
            private, public = _find(config, login) or (_generate(config, login) if create else (None, None))
        except p11.PKCS11Error as exc:
            raise TokenUnavailable(f"token {config.token_label!r} failed: {type(exc).__name__}") from None
        if private is None:
            raise TokenUnavailable(f"no audit signing key {label(config)!r} in token {config.token_label!r}")
        for attribute, required, why in REQUIREMENTS:
            if private[attribute] != required:
                raise TokenUnavailable(
                    f"the audit signing key {label(config)!r} in token {config.token_label!r} {why}; "
                    "paycrypt refuses it"
                )
        der = encode_ec_public_key(public)
    pem = serialization.load_der_public_key(der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TokenSigner(login, private, pem)


def _find(config: TokenConfig, login: Login) -> tuple[Any, Any] | None:
    session = login.session
    try:
        private = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=label(config)
        )
        public = session.get_key(
            object_class=ObjectClass.PUBLIC_KEY, key_type=KeyType.EC, label=label(config)
        )
    except p11.NoSuchKey:
        return None
    except p11.MultipleObjectsReturned:
        raise TokenUnavailable(
            f"more than one audit signing key labelled {label(config)!r} in token {config.token_label!r}"
        ) from None
    return private, public


def _generate(config: TokenConfig, login: Login) -> tuple[Any, Any]:
    parameters = login.session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(CURVE)}, local=True
    )
    public, private = parameters.generate_keypair(
        store=True, label=label(config), public_template=PUBLIC_TEMPLATE, private_template=PRIVATE_TEMPLATE
    )
    return private, public


def export_public_key(signer: TokenSigner, directory: Path) -> None:
    """`audit-signing.pub` beside the logs, for `paycrypt audit verify` and the auditor to pin. A
    different key found there (the file key of a directory that served on the file vault before)
    is kept as `audit-signing-<fingerprint>.pub`: the digests it signed still need it."""
    path = directory / signing.PUBLIC_KEY_FILE
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists():
        old = path.read_bytes()
        if old == signer.public_key_pem:
            return
        os.replace(path, directory / f"audit-signing-{signing.fingerprint(old)[:16]}.pub")
    streams.write_file(path, signer.public_key_pem, 0o644)

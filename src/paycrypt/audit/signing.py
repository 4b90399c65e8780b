"""The key that signs audit digests, and checking a digest's signature with its public key.

Decided (docs/decisions/audit.md): an asymmetric key of its own, never the master key. An auditor
verifies with the public key alone, so checking the trail needs no secret and grants no power to
forge it; the master key stays where the vault keeps it (a file, or a PKCS#11 token that will not
let it out) and is used for nothing but sealing key blocks.

- `FileSigner`: an Ed25519 key in the data directory (`audit-signing.key`, PKCS#8 PEM, mode
  0600), made on first start, its public key beside it (`audit-signing.pub`, SubjectPublicKeyInfo
  PEM) for auditors to copy and pin. The workers of one node share it.
- Any other `DigestSigner` (an ECDSA P-256 key kept in a PKCS#11 token, for one) plugs in by
  giving its algorithm name, its public key and `sign`. `PublicKeys.verify` checks Ed25519 and
  ECDSA-P256-SHA256 signatures.

A key is named by its fingerprint: the SHA-256 of its SubjectPublicKeyInfo DER, in hex (CloudTrail
names its keys by a fingerprint of the public key too); each digest records the fingerprint of
the key that signed it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from paycrypt.audit import streams

PRIVATE_KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
ED25519 = "Ed25519"
ECDSA_P256 = "ECDSA-P256-SHA256"


class DigestSigner(Protocol):
    algorithm: str
    fingerprint: str
    public_key_pem: bytes

    def sign(self, data: bytes) -> bytes: ...


def fingerprint(public_key_pem: bytes) -> str:
    key = serialization.load_pem_public_key(public_key_pem)
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


class FileSigner:
    """An Ed25519 key kept in a directory (see the module's docstring)."""

    algorithm = ED25519

    def __init__(self, private_key: ed25519.Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.fingerprint = fingerprint(self.public_key_pem)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    @classmethod
    def load_or_create(cls, directory: Path) -> FileSigner:
        """The directory's key; made (once, even with several workers starting at once) if absent."""
        path = directory / PRIVATE_KEY_FILE
        if not path.exists():
            _create(directory)
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise ValueError(f"{path} is not a PEM private key: {exc}") from None
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        signer = cls(loaded)
        public = directory / PUBLIC_KEY_FILE
        if not public.exists() or public.read_bytes() != signer.public_key_pem:
            streams.write_file(public, signer.public_key_pem, 0o644)
        return signer


def _create(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = directory / f".{PRIVATE_KEY_FILE}.{os.getpid()}"
    streams.write_file(temporary, pem, 0o600)
    try:
        os.link(temporary, directory / PRIVATE_KEY_FILE)  # fails if another worker made one first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


class PublicKeys:
    """The public keys an auditor trusts, by fingerprint."""

    def __init__(self, pems: Iterable[bytes] = ()) -> None:
        self._keys: dict[str, object] = {}
        for pem in pems:
            self.add(pem)

    def add(self, pem: bytes) -> str:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
            raise ValueError("an audit signing key is Ed25519 or ECDSA P-256")
        name = fingerprint(pem)
        self._keys[name] = key
        return name

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> PublicKeys:
        keys = cls()
        for path in paths:
            try:
                keys.add(path.read_bytes())
            except ValueError as exc:
                raise ValueError(f"{path}: not a public key ({exc})") from None
        return keys

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def fingerprints(self) -> list[str]:
        return sorted(self._keys)

    def verify(self, name: str, algorithm: str, data: bytes, signature: bytes) -> bool:
        key = self._keys.get(name)
        try:
            if algorithm == ED25519 and isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
                return True
            if (
                algorithm == ECDSA_P256
                and isinstance(key, ec.EllipticCurvePublicKey)
                and isinstance(key.curve, ec.SECP256R1)
            ):
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
                return True
        except InvalidSignature:
            return False
        return False

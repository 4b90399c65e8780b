"""Which vault a server uses, from its settings: the master key file (the default) or a key in a
PKCS#11 token. There is no fallback: a PKCS#11 vault that cannot be opened stops the start with the
reason, it never becomes the file vault.

The PIN is read here, from an environment variable or a file, when the vault opens, and is not
kept in the settings (which are printed, compared and copied): never on a command line, never
in a log line or an error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paycrypt.vault.base import Vault
from paycrypt.vault.local import LocalKeyFileVault, version_files

FILE = "file"
PKCS11 = "pkcs11"
KINDS = (FILE, PKCS11)
MASTER_KEY_FILE = "master.key"
PIN_VARIABLE = "PAYCRYPT_PKCS11_PIN"  # the default environment variable holding the user PIN
KEY_LABEL = "paycrypt-master"  # the default label of the master key in the token

if TYPE_CHECKING:
    from paycrypt.audit.signing import DigestSigner
    from paycrypt.vault.pkcs11 import TokenConfig


class VaultUnavailable(ValueError):
    """The configured vault cannot be opened; the message says why (and holds no secret)."""


@dataclass(frozen=True)
class VaultSettings:
    """The vault and, for PKCS#11, where its key is and where its PIN comes from (not the PIN)."""

    kind: str = FILE
    module: Path | None = None  # the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)
    token_label: str | None = None
    key_label: str = KEY_LABEL
    pin_variable: str = PIN_VARIABLE
    pin_file: Path | None = None  # if set, the PIN is this file's first line instead

    def describe(self, data_dir: Path) -> str:
        if self.kind == FILE:
            return f"file, {data_dir / MASTER_KEY_FILE}"
        return f"PKCS#11, key {self.key_label!r} in token {self.token_label!r} of {self.module}"


def open_vault(settings: VaultSettings, data_dir: Path, create: bool = True) -> Vault:
    """The vault `settings` name; VaultUnavailable (or the file vault's ValueError or PermissionError)
    saying why it cannot be used. The file vault makes its master key on first start unless not
    `create` (a command that only looks)."""
    if settings.kind == FILE:
        path = data_dir / MASTER_KEY_FILE
        if not create and not version_files(path):
            raise VaultUnavailable(
                f"no master key at {path} (`paycrypt vault init` or `paycrypt serve` makes it)"
            )
        return LocalKeyFileVault(path)
    from paycrypt.vault import pkcs11  # the PKCS#11 library is loaded only for this vault

    try:
        return pkcs11.open_vault(token_config(settings), read_pin(settings))
    except pkcs11.TokenUnavailable as exc:
        raise VaultUnavailable(str(exc)) from None


def create_master_key(settings: VaultSettings, data_dir: Path) -> str:
    """`paycrypt vault init`: make the master key (in the file, or generated inside the token);
    its check value. The file vault keeps an existing file; a token refuses a second key."""
    if settings.kind == FILE:
        return LocalKeyFileVault(data_dir / MASTER_KEY_FILE).key_id
    from paycrypt.vault import pkcs11, token_signer

    config, pin = token_config(settings), read_pin(settings)
    try:
        check_value = pkcs11.create_master_key(config, pin)
        token_signer.open_signer(config, pkcs11.login(config, pin))  # the audit key pair, made once here
    except pkcs11.TokenUnavailable as exc:
        raise VaultUnavailable(str(exc)) from None
    return check_value


def audit_signer(settings: VaultSettings, data_dir: Path) -> DigestSigner | None:
    """What signs the audit digests: None for the file vault (the audit writer's own Ed25519 key
    file); for the PKCS#11 vault, an ECDSA P-256 key pair in the token (made there if absent), its
    public key exported to `data_dir` (vault/token_signer.py)."""
    if settings.kind == FILE:
        return None
    from paycrypt.vault import pkcs11, token_signer

    config, pin = token_config(settings), read_pin(settings)
    try:
        signer = token_signer.open_signer(config, pkcs11.login(config, pin))
    except pkcs11.TokenUnavailable as exc:
        raise VaultUnavailable(str(exc)) from None
    token_signer.export_public_key(signer, data_dir)
    return signer


def token_config(settings: VaultSettings) -> TokenConfig:
    from paycrypt.vault.pkcs11 import TokenConfig

    if settings.module is None or not settings.token_label:
        raise VaultUnavailable("the PKCS#11 vault needs --pkcs11-module and --pkcs11-token")
    return TokenConfig(settings.module, settings.token_label, settings.key_label)


def read_pin(settings: VaultSettings) -> str:
    """The user PIN from the file, else the environment variable; never from an argument."""
    if settings.pin_file is not None:
        try:
            mode = settings.pin_file.stat().st_mode & 0o777
            if mode & 0o077:
                raise VaultUnavailable(
                    f"the PIN file {settings.pin_file} must not be readable by group or others "
                    f"(mode {mode:o})"
                )
            lines = settings.pin_file.read_text().splitlines()
        except OSError as exc:
            raise VaultUnavailable(f"cannot read the PIN file {settings.pin_file}: {exc.strerror}") from None
        pin = lines[0] if lines else ""
        if not pin:
            raise VaultUnavailable(f"the PIN file {settings.pin_file} is empty")
        return pin
    pin = os.environ.get(settings.pin_variable, "")
    if not pin:
        raise VaultUnavailable(
            f"the PKCS#11 user PIN is read from the environment variable {settings.pin_variable} "
            "(or --pkcs11-pin-file), which is not set"
        )
    return pin

"""SoftHSM2 for the tests: a token of this pytest run, and the vault every test server uses.

Each pytest process (each xdist worker) makes its own SoftHSM2 configuration and token directory
under its own temporary directory, and points SOFTHSM2_CONF at it before the PKCS#11 library is
first loaded (SoftHSM2 reads it once, at C_Initialize); child `paycrypt serve` processes inherit
it. The token gets a random user PIN, kept in a 0600 file (`user.pin`, which the secret scan reads
to look for the PIN in every file the run's servers left), and a master key made by
`paycrypt vault init`.

`--vault pkcs11` (tests/conftest.py) makes `RUN.settings` this token's vault: the in-thread servers
(`tests.conftest.start_server`) and the `paycrypt serve` processes (`tests.api.processes`) then use
it. Without softhsm2 installed the PKCS#11 tests skip, saying so, except in CI (CI=true), where they
fail: scripts/test installs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from paycrypt.vault import blocks, factory
from paycrypt.vault import pkcs11 as vault_pkcs11
from paycrypt.vault.factory import PKCS11, VaultSettings

MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
TOKEN = "paycrypt-tests"
PIN_FILE = "user.pin"
PAYCRYPT = Path(sys.executable).parent / "paycrypt"


@dataclass
class SoftHsm:
    """A token of this run: its module, label, PIN (in `pin_file`) and security officer PIN."""

    module: Path
    token_label: str
    pin: str
    pin_file: Path
    so_pin: str
    conf: Path

    def vault_settings(self, **changes: object) -> VaultSettings:
        settings = VaultSettings(
            kind=PKCS11, module=self.module, token_label=self.token_label, pin_file=self.pin_file
        )
        return replace(settings, **changes)

    def add_token(self, label: str) -> None:
        """Another token in this run's SoftHSM2 (made before the library is loaded, see `start`)."""
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", self.so_pin,
             "--pin", self.pin],
            check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": str(self.conf)},
        )  # fmt: skip


def module() -> Path | None:
    return next((path for path in MODULES if path.is_file()), None)


def unavailable(reason: str) -> None:
    """Skip, saying why, or in CI fail: CI must run what needs SoftHSM2."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason} (CI=true: a test needing SoftHSM2 must not skip; scripts/test installs softhsm2)"
        )
    pytest.skip(reason)


def start(base: Path) -> SoftHsm:
    """SoftHSM2 configured under `base`, with the run's token and its master key, and SOFTHSM2_CONF
    set for this process and its children."""
    found = module()
    if found is None or shutil.which("softhsm2-util") is None:
        unavailable("softhsm2 is not installed (apt-get install softhsm2)")
    assert found is not None
    tokens = base / "tokens"
    tokens.mkdir(parents=True)
    conf = base / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    pin_file = base / PIN_FILE
    hsm = SoftHsm(found, TOKEN, secrets.token_hex(8), pin_file, secrets.token_hex(8), conf)
    pin_file.touch(mode=0o600)
    pin_file.write_text(hsm.pin + "\n")
    for label in (TOKEN, *SPARE_TOKENS):
        hsm.add_token(label)
    init = subprocess.run(
        [
            str(PAYCRYPT),
            "vault",
            "init",
            "--data-dir",
            str(base / "unused"),
            *serve_args(hsm.vault_settings()),
        ],
        capture_output=True,
        text=True,
    )
    assert init.returncode == 0, init.stderr
    return hsm


# Tokens made with the run's (before the library loads) for tests that need a token of their own.
SPARE_TOKENS = ("paycrypt-spare",)


def serve_args(settings: VaultSettings) -> list[str]:
    """The `paycrypt serve` (or `vault`) options naming `settings`' vault."""
    if settings.kind != PKCS11:
        return []
    args = [
        "--vault",
        PKCS11,
        "--pkcs11-module",
        str(settings.module),
        "--pkcs11-token",
        str(settings.token_label),
    ]
    args += ["--pkcs11-key", settings.key_label, "--pkcs11-pin-env", settings.pin_variable]
    return args + (["--pkcs11-pin-file", str(settings.pin_file)] if settings.pin_file else [])


@dataclass
class RunVault:
    """The vault of this run's test servers: None for each server's own master key file."""

    settings: VaultSettings | None = None
    hsm: SoftHsm | None = field(default=None, repr=False)


RUN = RunVault()


def kbpk(data_dir: Path, block: str) -> bytes:
    """The key that opens a stored `block`, for tests that open blocks with an independent TR-31
    implementation: the block's own KBPK unwrapped by the run's token (PKCS#11 vault), else the
    master key of `data_dir`'s file vault."""
    envelope = blocks.envelope(block)
    if envelope is None:
        return (data_dir / factory.MASTER_KEY_FILE).read_bytes()
    assert RUN.settings is not None, "a PKCS#11 block, but the run's vault is the file vault"
    vault = factory.open_vault(RUN.settings, data_dir)
    assert isinstance(vault, vault_pkcs11.Pkcs11Vault) and envelope.master_id == vault.key_id
    return vault.token.unwrap(envelope.wrapped_kbpk)

"""Several nodes on one store, as an operator sets them up: each node its own data directory,
the same master key in each (docs/key-protection.md: copied securely, mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

from paycrypt.vault.factory import MASTER_KEY_FILE
from paycrypt.vault.local import version_path


def copy_master_key(source: Path, target: Path, version: int = 1) -> None:
    """Give the data directory `target` the master key (`version`: master.key.N for N > 1) of
    `source`, as `install -m 600` would."""
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = version_path(source / MASTER_KEY_FILE, version).read_bytes()
    name = version_path(target / MASTER_KEY_FILE, version)
    descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key)

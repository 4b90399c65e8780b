"""The default master-key provider: a 32-byte AES-256 key in a local file, mode 0600.

The file is created on first start with O_EXCL so two servers starting together cannot each
write a different key, and it is read once: no per-request file reads.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


class LocalKeyFileVault:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._key = _load_or_create(path)

    def master_key(self) -> bytes:
        return self._key


def _load_or_create(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
        handle.flush()
        os.fsync(handle.fileno())
    return _read(path)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            f"master key file {path} must not be readable by group or others (mode {mode:o})"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"master key file {path} must hold exactly {KEY_BYTES} bytes")
    return key

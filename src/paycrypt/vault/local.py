"""The default vault: an AES-256 master key in a local file, mode 0600, held in this process.

`master.key` only ever appears whole: the key is written and fsynced in a temporary file of its
own, which is then hard-linked to `master.key`. A crash at any step leaves either no `master.key`
(the next start makes one) or a complete one, never the empty file that would block every later
start. The link fails if `master.key` already exists, so when two servers start together one
link wins and the other server reads the winner's key: they never use different keys. The key is
read once: no per-request file reads.

The same write installs a master key rebuilt from custodians' components (`install`, used by
vault/components.py), and `read_key` gives that module the file's key to split: the file vault's
key is on this machine's disk already, and only `paycrypt vault export-components` reads it whole.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord
from paycrypt.vault import blocks

KEY_BYTES = 32
TEMP_SUFFIX = ".tmp"


class MasterKeyVault:
    """A vault whose master key is in this process's memory: it seals and unseals with it and
    gives it to no one. Blocks written before they named their key (no KP) are under this key:
    until master-key rotation there has only ever been one."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes (AES-256)")
        self._master_key = master_key
        self._key_id = blocks.check_value(master_key)

    @property
    def key_id(self) -> str:
        return self._key_id

    def seal(self, record: KeyRecord, material: bytes) -> str:
        return blocks.seal(self._master_key, self._key_id, record, material)

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        if self.sealed_by(block) != self._key_id:
            raise InternalServer("Stored key material is sealed under a master key this vault does not hold.")
        return blocks.unseal(self._master_key, record, block)

    def sealed_by(self, block: str) -> str:
        named = blocks.sealed_under(block)
        return self._key_id if named is None else named

    def reseal(self, record: KeyRecord, block: str) -> str:
        return self.seal(record, self.unseal(record, block))


class LocalKeyFileVault(MasterKeyVault):
    """The master key of `path`, created there (crash-safe, see above) on first start; with
    `create=False` (restoring a backup, which must not invent a key) FileNotFoundError instead."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if not create and not path.exists():
            raise FileNotFoundError(f"no master key file {path}")
        super().__init__(_load_or_create(path, _new_key))


def install(path: Path, key: bytes) -> bytes:
    """Write `key` as the master key file `path` unless one exists; the key the file then holds
    (the caller compares: an existing file, or another writer's, may hold a different key)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the master key must be {KEY_BYTES} bytes (AES-256)")
    return _load_or_create(path, lambda: key)


def read_key(path: Path) -> bytes:
    """The key of an existing master key file, checked as a server checks it (mode, length)."""
    return _read(path)


def _new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _load_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The key of `path`, written first (from `make`) if there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path, make())
    _remove_leftovers(path)
    return _read(path)


def temp_name(path: Path) -> Path:
    """A temporary file no other creator uses: two servers may be creating the key at once."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}")


def _create(path: Path, key: bytes) -> None:
    temp = temp_name(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another server's link came first: its key is the key
        except FileNotFoundError:
            # Our temporary file was removed as a leftover, which another server does only once
            # master.key exists (`_remove_leftovers`): that key is the key.
            if not path.exists():
                raise
        temp.unlink(missing_ok=True)  # missing if another server removed it as a leftover
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _remove_leftovers(path: Path) -> None:
    """Temporary files a crashed creator left: each holds a key, unused or a copy of master.key.

    Called only once master.key exists, which is never removed; a creator still running whose file
    goes here finds master.key when its link fails, and reads it.
    """
    removed = False
    for leftover in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        leftover.unlink(missing_ok=True)
        removed = True
    if removed:
        _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the directory entries (the link, the unlink) as durable as the key they name."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            f"master key file {path} must not be readable by group or others (mode {mode:o})"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ValueError(f"master key file {path} must hold exactly {KEY_BYTES} bytes (it holds {len(key)})")
    return key

"""The default vault: AES-256 master keys in local files, mode 0600, held in this process.

`master.key` is version 1; a rotation adds `master.key.2`, `master.key.3`, … and retires (deletes)
an older one once no block is sealed under it. The newest file present seals; every file present
unseals the blocks that name it (KP). A key file only ever appears whole: the key is written and
fsynced in a temporary file of its own, which is then hard-linked to its name. A crash at any step
leaves either no file (the next start, or the next rotation, makes one) or a complete one, never
the empty file that would block every later start. The link fails if the name already exists, so
when two servers start together one link wins and the other server reads the winner's key: they
never use different keys. Keys are read at start and again only when the set changes (`refresh`):
no per-request file reads.

How a running server learns of a rotation: before a seal (CreateKey, ImportKey: the control plane)
the vault lists the directory's key files (one `listdir`, at most every LOOK_EVERY seconds) and
re-reads the set if they are not the versions it holds; a block naming a key it does not hold
makes it re-read the set before refusing; and the server's background follower calls `refresh`
every second, which also drops retired versions.

The same write installs a master key rebuilt from custodians' components (`install`, used by
vault/components.py), and `read_key` gives that module the key that seals now (the newest
version) to split: the file vault's key is on this machine's disk already, and only `paycrypt
vault export-components` reads it whole.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import NamedTuple

from paycrypt.errors import InternalServer
from paycrypt.files import fsync_directory
from paycrypt.store.records import KeyRecord
from paycrypt.vault import blocks
from paycrypt.vault.base import MasterKeyVersion

KEY_BYTES = 32
TEMP_SUFFIX = ".tmp"
LOOK_EVERY = 0.1  # seconds: seals closer together than this (a rotation's) share one look
UNNAMED = "(unnamed)"  # what `sealed_by` says of a block without KP once version 1 is gone


class _KeySet(NamedTuple):
    """The master keys held, swapped whole: readers take one reference, no lock."""

    by_id: dict[str, tuple[int, bytes]]  # check value -> (version, key)
    newest: MasterKeyVersion
    newest_key: bytes
    unnamed_id: str  # the id of version 1, which blocks written before KP are under


def _key_set(keys: dict[int, bytes]) -> _KeySet:
    for version, key in keys.items():
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes (AES-256; version {version})")
    by_id = {blocks.check_value(key): (version, key) for version, key in keys.items()}
    newest = max(keys)
    ids = {version: key_id for key_id, (version, _) in by_id.items()}
    return _KeySet(by_id, MasterKeyVersion(newest, ids[newest]), keys[newest], ids.get(1, UNNAMED))


class MasterKeyVault:
    """A vault whose master keys are in this process's memory: it seals and unseals with them and
    gives them to no one. Blocks written before they named their key (no KP) are under version 1:
    until master-key rotation there had only ever been one."""

    def __init__(self, master_key: bytes, *newer: bytes) -> None:
        """`master_key` is version 1; `newer` are versions 2, 3, …"""
        self._keys = _key_set(dict(enumerate((master_key, *newer), start=1)))

    @property
    def key_id(self) -> str:
        return self._keys.newest.key_id

    def seal(self, record: KeyRecord, material: bytes, version: int | None = None) -> str:
        """Under the newest version, or `version` (a server on a store whose rotation has not yet
        admitted the newest: vault/migration.py's ServingVault)."""
        self._before_seal()
        keys = self._keys
        if version is None or version == keys.newest.version:
            return blocks.seal(keys.newest_key, keys.newest.key_id, record, material)
        key_id, key = next((i, k) for i, (v, k) in keys.by_id.items() if v == version)
        return blocks.seal(key, key_id, record, material)

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        named = self.sealed_by(block)
        held = self._keys.by_id.get(named)
        if held is None:
            self.refresh()  # a rotation may have added the version since we last read the set
            held = self._keys.by_id.get(named)
        if held is None:
            raise InternalServer("Stored key material is sealed under a master key this vault does not hold.")
        return blocks.unseal(held[1], record, block)

    def sealed_by(self, block: str) -> str:
        named = blocks.sealed_under(block)
        return self._keys.unnamed_id if named is None else named

    def reseal(self, record: KeyRecord, block: str) -> str:
        return self.seal(record, self.unseal(record, block))

    def versions(self) -> list[MasterKeyVersion]:
        return sorted(MasterKeyVersion(version, key_id) for key_id, (version, _) in self._keys.by_id.items())

    def refresh(self) -> None:
        """Keys in memory only: nothing to re-read."""

    def _before_seal(self) -> None:
        """Where a vault whose set can change under it checks for a newer version."""


class LocalKeyFileVault(MasterKeyVault):
    """The master keys of `path` (version 1) and its numbered siblings; version 1 is created
    there (crash-safe, see above) on first start, when no version exists."""

    def __init__(self, path: Path, create: bool = True) -> None:
        """With `create=False` (restoring a backup, which must not invent a key) FileNotFoundError
        where no version exists."""
        if not create and not version_files(path):
            raise FileNotFoundError(f"no master key file {path}")
        self.path = path
        self._reading = threading.Lock()
        self._looked = 0.0  # time.monotonic() of the last look for new versions before a seal
        self._keys = _key_set(_load_or_create(path))

    def refresh(self) -> None:
        with self._reading:
            files = version_files(self.path)
            if not files:
                return  # the directory is unreadable or emptied: keep what we hold rather than lose it
            held = dict(self._keys.by_id.values())
            keys = {version: held.get(version) or _read(file) for version, file in files.items()}
            self._keys = _key_set(keys)

    def add_version(self) -> MasterKeyVersion:
        """A new master key file, numbered after every file present; it seals from now on."""
        path = version_path(self.path, max(version_files(self.path)) + 1)
        _create(path, secrets.token_bytes(KEY_BYTES))
        _remove_leftovers(path)  # what an earlier rotation killed while creating this version left
        self.refresh()
        return self._keys.newest

    def retire(self, version: int) -> None:
        """Delete the key file of `version`; never the newest (it seals new keys)."""
        if version >= self._keys.newest.version:
            raise ValueError(f"version {version} is the newest master key: it cannot be retired")
        version_path(self.path, version).unlink(missing_ok=True)
        fsync_directory(self.path.parent)
        self.refresh()

    def _before_seal(self) -> None:
        now = time.monotonic()
        if now - self._looked < LOOK_EVERY:
            return
        self._looked = now
        held = {version for version, _ in self._keys.by_id.values()}
        if set(version_files(self.path)) != held:
            self.refresh()


def install(path: Path, key: bytes) -> bytes:
    """Write `key` as the master key file `path` unless a version exists; the key that then seals
    (the caller compares: an existing file, or another writer's, may hold a different key)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"the master key must be {KEY_BYTES} bytes (AES-256)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not version_files(path):
        _create(path, key)
    return read_key(path)


def read_key(path: Path) -> bytes:
    """The key that seals now (the newest version's), checked as a server checks it (mode, length)."""
    files = version_files(path)
    if not files:
        raise FileNotFoundError(f"no master key file {path}")
    return _read(files[max(files)])


def version_path(path: Path, version: int) -> Path:
    """`master.key` for version 1, `master.key.N` for version N."""
    return path if version == 1 else path.with_name(f"{path.name}.{version}")


def version_files(path: Path) -> dict[int, Path]:
    """Every master key file present, by version."""
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return {}
    pattern = rf"^{re.escape(path.name)}(?:\.([2-9]|[1-9][0-9]+))?$"  # compiled once by `re`'s cache
    found: dict[int, Path] = {}
    for name in names:
        if name.startswith(path.name) and (match := re.match(pattern, name)):
            found[int(match.group(1) or 1)] = path.parent / name
    return found


def _load_or_create(path: Path) -> dict[int, bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not version_files(path):
        _create(path, secrets.token_bytes(KEY_BYTES))
    _remove_leftovers(path)
    return {version: _read(file) for version, file in version_files(path).items()}


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
    fsync_directory(path.parent)


def _remove_leftovers(path: Path) -> None:
    """Temporary files a crashed creator of version 1 left: each holds a key, unused or a copy of
    master.key. (A rotation's own temporary files are its to remove: it may be running now.)

    Called only once a key file exists, which is never removed while it is the newest; a creator
    still running whose file goes here finds master.key when its link fails, and reads it.
    """
    removed = False
    own = re.compile(rf"^\.{re.escape(path.name)}\.\d+\.[0-9a-f]{{16}}{re.escape(TEMP_SUFFIX)}$")
    for leftover in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        if own.match(leftover.name):
            leftover.unlink(missing_ok=True)
            removed = True
    if removed:
        fsync_directory(path.parent)


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

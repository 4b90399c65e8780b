"""The backup file: a store snapshot and its manifest, in one uncompressed tar archive.

    manifest.json      what the backup holds, and its checksum (first, so `tar -xOf FILE
                       manifest.json` or a reader of the stream sees it before the data)
    store/<file>       the snapshot's files, as the backend wrote them (`store.base.Snapshots`)

The manifest names the format, paycrypt's version, the store's backend and schema version, the
row counts, the vault's kind and master-key check values, each file's size and SHA-256, and
`checksum`: the SHA-256 of the canonical JSON of everything else in the manifest. So one value
covers the whole backup: a changed byte anywhere (a file, a count, a check value) makes either a
file's digest or the checksum fail, and `read` refuses it before anything is restored. The
checksum finds corruption and careless edits; against a deliberate forger who recomputes it, the
key blocks carry their own MACs under the master key, which a restore checks block by block.

A backup is written under a temporary name in the target's directory, fsynced, then linked to
its name, so a crash never leaves a partial backup under the name, and an existing file is never
overwritten. Mode 0600: the backup holds sealed key blocks only, but is kept as privately as the
database it copies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paycrypt.files import fsync_directory
from paycrypt.store.records import Snapshot

FORMAT = "paycrypt-backup/1"
MANIFEST = "manifest.json"
STORE_DIR = "store"
CHUNK = 1 << 20


class BackupFileError(Exception):
    """A backup file that cannot be written or that fails its checks; the message says why."""


@dataclass(frozen=True)
class Manifest:
    paycrypt_version: str
    created: str
    snapshot: Snapshot
    vault: Mapping[str, Any]  # kind, master-key check values (vault/snapshot_check.py)
    files: Mapping[str, Mapping[str, Any]]  # archive name -> {"bytes", "sha256"}
    checksum: str

    def body(self) -> dict[str, Any]:
        """The manifest as written, without its checksum (what the checksum covers)."""
        return {
            "format": FORMAT,
            "paycrypt_version": self.paycrypt_version,
            "created": self.created,
            "store": {
                "backend": self.snapshot.backend,
                "schema_version": self.snapshot.schema_version,
                "files": list(self.snapshot.files),
            },
            "counts": dict(self.snapshot.counts),
            "vault": dict(self.vault),
            "files": {name: dict(entry) for name, entry in self.files.items()},
        }


def checksum(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


def write(
    path: Path, directory: Path, snapshot: Snapshot, vault: Mapping[str, Any], version: str
) -> Manifest:
    """Write the snapshot in `directory` with its manifest as the new file `path`."""
    files = {f"{STORE_DIR}/{name}": _digest(directory / name) for name in snapshot.files}
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    draft = Manifest(version, created, snapshot, vault, files, "")
    manifest = Manifest(version, created, snapshot, vault, files, checksum(draft.body()))
    text = json.dumps({**manifest.body(), "checksum": manifest.checksum}, indent=2).encode() + b"\n"
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST, text)
                for name in snapshot.files:
                    tar.add(directory / name, arcname=f"{STORE_DIR}/{name}", recursive=False, filter=_plain)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            raise BackupFileError(f"{path} exists: a backup never overwrites a file") from None
    finally:
        temp.unlink(missing_ok=True)
    fsync_directory(path.parent)
    return manifest


def read(path: Path, directory: Path) -> Manifest:
    """The manifest of the backup `path`, its files written into `directory` (empty), every
    digest and the checksum checked; BackupFileError on any mismatch."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            if not names or names[0] != MANIFEST:
                raise BackupFileError(f"{path} is not a paycrypt backup: it does not begin with {MANIFEST}")
            manifest = _parse(tar.extractfile(members[0]))
            if sorted(names[1:]) != sorted(manifest.files):
                raise BackupFileError(
                    f"{path} holds other files than its manifest lists: the backup has been changed"
                )
            for member in members[1:]:
                _extract_checked(tar, member, manifest.files[member.name], directory)
    except (tarfile.TarError, EOFError) as exc:
        raise BackupFileError(f"{path} is not a readable backup (tar: {exc})") from None
    return manifest


def _parse(stream: io.BufferedReader | None) -> Manifest:
    try:
        data = json.loads(stream.read() if stream else b"")
        if data.get("format") != FORMAT:
            raise BackupFileError(f"the manifest is not of the format {FORMAT}")
        stated = data.pop("checksum")
        if not secrets.compare_digest(str(stated), checksum(data)):
            raise BackupFileError(
                "the backup's checksum does not match its manifest: the backup has been changed"
            )
        store = data["store"]
        snapshot = Snapshot(
            store["backend"], int(store["schema_version"]), tuple(store["files"]), dict(data["counts"])
        )
        return Manifest(
            data["paycrypt_version"], data["created"], snapshot, data["vault"], data["files"], stated
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupFileError(f"the backup's manifest is not readable ({exc.__class__.__name__})") from None


def _extract_checked(
    tar: tarfile.TarFile, member: tarfile.TarInfo, expected: Mapping[str, Any], into: Path
) -> None:
    name = member.name.removeprefix(f"{STORE_DIR}/")
    source = tar.extractfile(member) if member.isfile() else None
    if source is None or "/" in name or name in ("", ".", ".."):
        raise BackupFileError(f"the backup's member {member.name} is not a plain file of the store")
    digest = hashlib.sha256()
    size = 0
    fd = os.open(into / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    if size != expected.get("bytes") or not secrets.compare_digest(
        digest.hexdigest(), str(expected.get("sha256"))
    ):
        raise BackupFileError(
            f"{member.name} does not match its checksum in the manifest: the backup has been changed"
        )


def _digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = _plain(tarfile.TarInfo(name))
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """No owner names, ids or times of this machine in the archive; mode 0600."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()

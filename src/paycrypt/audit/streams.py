"""Where audit events live: one stream of files per writer, named by node, worker and serial.

A *stream* is what one writer (one worker process of one node) records:
`audit-<node>-w<worker>-<serial>.jsonl`, serial counting up from 000001 for ever. Each file has
one writer run: a writer starting up or rotating opens the next serial, so a file is never
appended to after it was closed, never renamed, and is covered by exactly one digest
(`….digest.json`, its signature in `….digest.sig`; see digests.py). Renaming files to rotate them
would be unsafe as soon as several processes write beside each other, and would change the names
the digests vouch for.

Files written before the chain existed are the *legacy* stream: `audit.jsonl` and its rotated
`audit.jsonl.N` (N = 1 newest), read oldest first and reported by `paycrypt audit verify` as
unchained.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from paycrypt.files import fsync_directory

LEGACY_FILE_NAME = "audit.jsonl"
LOG_SUFFIX = ".jsonl"
DIGEST_SUFFIX = ".digest.json"
SIGNATURE_SUFFIX = ".digest.sig"
SERIAL_DIGITS = 6

# A node id goes into file names and events: letters, digits, dots, hyphens (a host name's
# characters), and underscores; never a path separator.
NODE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_LOG_NAME = re.compile(
    r"audit-(?P<node>[A-Za-z0-9][A-Za-z0-9._-]*)-w(?P<worker>\d+)-(?P<serial>\d+)(?P<kind>"
    + re.escape(LOG_SUFFIX)
    + "|"
    + re.escape(DIGEST_SUFFIX)
    + "|"
    + re.escape(SIGNATURE_SUFFIX)
    + ")"
)


def check_node_id(node_id: str) -> str:
    if not NODE_ID.fullmatch(node_id):
        raise ValueError(
            f"node id {node_id!r}: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return node_id


def log_name(node_id: str, worker_id: int, serial: int) -> str:
    return f"audit-{node_id}-w{worker_id}-{serial:0{SERIAL_DIGITS}d}{LOG_SUFFIX}"


def digest_name(log: str) -> str:
    return log.removesuffix(LOG_SUFFIX) + DIGEST_SUFFIX


def signature_name(log: str) -> str:
    return log.removesuffix(LOG_SUFFIX) + SIGNATURE_SUFFIX


@dataclass(frozen=True, order=True)
class StreamId:
    node_id: str
    worker_id: int

    def __str__(self) -> str:
        return f"node {self.node_id} worker {self.worker_id}"


@dataclass
class Stream:
    """One writer's files in one directory, by serial: logs, digests and signatures."""

    directory: Path
    ident: StreamId
    logs: dict[int, Path] = field(default_factory=dict)
    digests: dict[int, Path] = field(default_factory=dict)
    signatures: dict[int, Path] = field(default_factory=dict)

    def serials(self) -> list[int]:
        return sorted(set(self.logs) | set(self.digests) | set(self.signatures))

    def log_files(self) -> list[Path]:
        """The log files present, oldest first."""
        return [self.logs[serial] for serial in sorted(self.logs)]

    def log_path(self, serial: int) -> Path:
        return self.directory / log_name(self.ident.node_id, self.ident.worker_id, serial)


def parse_name(name: str) -> tuple[StreamId, int, str] | None:
    """(stream, serial, suffix) of a stream file's name, or None for any other name."""
    matched = _LOG_NAME.fullmatch(name)
    if matched is None:
        return None
    return (
        StreamId(matched["node"], int(matched["worker"])),
        int(matched["serial"]),
        matched["kind"],
    )


def discover(directory: Path) -> list[Stream]:
    """The streams with at least one file in `directory`, by node and worker."""
    found: dict[StreamId, Stream] = {}
    if not directory.is_dir():
        return []
    for entry in directory.iterdir():
        parsed = parse_name(entry.name)
        if parsed is None or not entry.is_file():
            continue
        ident, serial, kind = parsed
        stream = found.setdefault(ident, Stream(directory, ident))
        table = {LOG_SUFFIX: stream.logs, DIGEST_SUFFIX: stream.digests, SIGNATURE_SUFFIX: stream.signatures}
        table[kind][serial] = entry
    return [found[ident] for ident in sorted(found)]


def stream(directory: Path, ident: StreamId) -> Stream:
    """One stream's files in `directory` (empty when it has none yet)."""
    for candidate in discover(directory):
        if candidate.ident == ident:
            return candidate
    return Stream(directory, ident)


def legacy_files(path: Path) -> list[Path]:
    """`path` (an `audit.jsonl`) and its rotated `path.N` files that exist, oldest first."""
    numbered = []
    if path.parent.is_dir():
        prefix = path.name + "."
        for entry in path.parent.iterdir():
            suffix = entry.name[len(prefix) :] if entry.name.startswith(prefix) else ""
            if suffix.isdigit() and entry.is_file():
                numbered.append((int(suffix), entry))
    ordered = [entry for _, entry in sorted(numbered, reverse=True)]
    if path.is_file():
        ordered.append(path)
    return ordered


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write and fsync `data` to `path` through a temporary name and a rename: never half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def fsync_dir(directory: Path) -> None:
    """fsync_directory, best effort: a rotation's directory entry is not worth failing a request."""
    with contextlib.suppress(OSError):
        fsync_directory(directory)

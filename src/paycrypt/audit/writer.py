"""The audit log: events as JSON Lines, durable, rotated by size, safe to share between threads.

Durability given (decided: an fsync per event costs milliseconds on real disks, more than a whole
data-plane call, so fsyncs are batched):

- `record` writes the whole line with one `write(2)` on an `O_APPEND` descriptor before it
  returns. An event whose call was answered is therefore in the kernel: it survives the server
  process dying (SIGKILL, a crash), and the reader sees it at once.
- A background thread fsyncs the file at most `fsync_interval` seconds (default 0.2) after the
  first event not yet on disk, so a power loss or kernel crash loses at most the events of the
  last `fsync_interval` seconds (plus the time the fsync itself takes). Events arriving during an
  fsync are in the next one. `fsync_interval=0` fsyncs every event before `record` returns.
- `sync()` fsyncs now; `close()` fsyncs and stops the thread (call it at shutdown).
- Rotation fsyncs the file before renaming it, then fsyncs the directory, so a rotated file is
  complete on disk and its name change survives a crash.

Rotation: before a line would take the current file past `max_bytes`, `audit.jsonl` becomes
`audit.jsonl.1`, `.1` becomes `.2`, …, and the oldest beyond `backups` is dropped; a line is never
split, so a line longer than `max_bytes` goes alone into a file of its own. Files are created
mode 0600 (audit events name principals and keys). One writer per file: several paycrypt
processes need one file each.

Data events are opt-in on AWS. The development server records them by default (its audit log is
for seeing what an application did, and an acceptance scan of a test run needs them);
`DataEventSelector` switches them off per account and region, or off by default with per
account/region exceptions (AWS's behaviour). Management events are always recorded.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from paycrypt import defaults

log = logging.getLogger("paycrypt.audit")

DEFAULT_FILE_NAME = "audit.jsonl"  # in the data directory
DEFAULT_FSYNC_INTERVAL = 0.2
ANY_REGION = "*"


class DataEventSelector:
    """Whether data-plane events are recorded, per (account, region); management events always are.

    An exact (account, region) rule wins over an (account, "*") rule, which wins over the default.
    """

    def __init__(self, default: bool = True, rules: Mapping[tuple[str, str], bool] | None = None) -> None:
        self.default = default
        self._rules: dict[tuple[str, str], bool] = dict(rules or {})
        self._lock = threading.Lock()

    def set(self, account: str, region: str = ANY_REGION, enabled: bool = True) -> None:
        with self._lock:
            rules = dict(self._rules)
            rules[(account, region)] = enabled
            self._rules = rules  # replaced whole: readers never take the lock

    def enable(self, account: str, region: str = ANY_REGION) -> None:
        self.set(account, region, True)

    def disable(self, account: str, region: str = ANY_REGION) -> None:
        self.set(account, region, False)

    def enabled(self, account: str | None, region: str | None) -> bool:
        rules = self._rules
        if not rules:
            return self.default
        exact = rules.get((account or "", region or ""))
        if exact is not None:
            return exact
        return rules.get((account or "", ANY_REGION), self.default)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> DataEventSelector:
        """From settings strings: `on` / `off` (the default) and `ACCOUNT[:REGION]=on|off` rules."""
        selector = cls()
        for spec in specs:
            text = spec.strip()
            target, sep, state = text.rpartition("=")
            value = _switch(state if sep else text, spec)
            if not sep:
                selector.default = value
                continue
            account, _, region = target.partition(":")
            if not (len(account) == 12 and account.isdigit()):
                raise ValueError(f"data event rule {spec!r}: the account must be 12 digits")
            selector.set(account, region or ANY_REGION, value)
        return selector


def _switch(word: str, spec: str) -> bool:
    lowered = word.strip().lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"data event rule {spec!r}: expected on or off")


class AuditWriter:
    def __init__(
        self,
        path: Path | str,
        *,
        max_bytes: int = defaults.AUDIT_MAX_BYTES,
        backups: int = defaults.AUDIT_BACKUPS,
        fsync_interval: float = DEFAULT_FSYNC_INTERVAL,
        data_events: DataEventSelector | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        if backups < 1:
            raise ValueError("backups must be at least 1")
        if fsync_interval < 0:
            raise ValueError("fsync_interval must not be negative")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.fsync_interval = fsync_interval
        self.data_events = data_events or DataEventSelector()
        self._lock = threading.Lock()
        self._dirty = threading.Event()  # set while written events may not be on disk
        self._stop = threading.Event()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd, self._size = self._open()
        self._syncer: threading.Thread | None = None
        if fsync_interval > 0:
            self._syncer = threading.Thread(target=self._sync_loop, name="paycrypt-audit-fsync", daemon=True)
            self._syncer.start()

    # -- public ------------------------------------------------------------------------------

    def wants(self, management: bool, account: str | None, region: str | None) -> bool:
        """Whether an event of this kind would be recorded (to skip building one that would not)."""
        return management or self.data_events.enabled(account, region)

    def record(self, event: Mapping[str, Any]) -> bool:
        """Append one event (unless it is a data event switched off); True when it was written."""
        if event.get("eventCategory") == "Data" and not self.data_events.enabled(
            event.get("recipientAccountId"), event.get("awsRegion")
        ):
            return False
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._closed:
                raise ValueError("the audit writer is closed")
            if self._size > 0 and self._size + len(line) > self.max_bytes:
                self._rotate()
            _write_all(self._fd, line)
            self._size += len(line)
            if self.fsync_interval == 0:
                os.fsync(self._fd)
            else:
                self._dirty.set()
        return True

    def sync(self) -> None:
        """fsync now everything recorded so far."""
        with self._lock:
            if self._closed:
                return
            fd = os.dup(self._fd)
            self._dirty.clear()
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            self._dirty.set()  # wake the syncer so it sees the stop
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
        if self._syncer is not None:
            self._syncer.join(timeout=5)

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def files(self) -> list[Path]:
        """The log's files, oldest first (the rotated ones, then the current one)."""
        return log_files(self.path)

    # -- internals ---------------------------------------------------------------------------

    def _open(self) -> tuple[int, int]:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        return fd, os.fstat(fd).st_size

    def _rotate(self) -> None:
        """Called with the lock held."""
        os.fsync(self._fd)
        os.close(self._fd)
        try:
            for index in range(self.backups - 1, 0, -1):
                older = rotated(self.path, index)
                if older.exists():
                    os.replace(older, rotated(self.path, index + 1))
            os.replace(self.path, rotated(self.path, 1))
        finally:  # a failed rename leaves the current file growing rather than the writer broken
            self._fd, self._size = self._open()
        _fsync_dir(self.path.parent)

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(self.fsync_interval):
                return  # close() fsyncs
            try:
                self.sync()
            except OSError:
                log.exception("audit log fsync failed; retrying")


def rotated(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


def log_files(path: Path | str) -> list[Path]:
    """`path` and its rotated files that exist, oldest first."""
    path = Path(path)
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

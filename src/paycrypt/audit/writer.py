"""The audit log: events as JSON Lines, chained, durable, rotated by size, safe to share between threads.

Each writer is one stream (streams.py): `audit-<node>-w<worker>-<serial>.jsonl` in the data
directory, a new serial at each start and each rotation, so that no file is shared by two
processes, renamed, or appended to after it was closed. Every event gets the node and worker ids,
a sequence number and the hash of the event before it (chain.py); every file, when closed, a
signed digest (digests.py). `paycrypt audit verify` (integrity.py) checks them.

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
- Rotation opens the next file under the lock; the closed file is then fsynced, its digest written
  and fsynced, and the directory fsynced, outside the lock: only the call that rotated waits for
  them, not the calls recording beside it.

Rotation: before a line would take the current file past `max_bytes`, the file is closed with
its digest and the next serial opened; the oldest files beyond `backups` closed ones are deleted
with their digests (the newest digest names the oldest file kept, so a deletion beyond that is
seen). A line is never split, so a line longer than `max_bytes` goes alone into a file of its
own. Files are created mode 0600 (audit events name principals and keys). One writer per
stream: a second process given the same node and worker id is refused (a lock file), since two
writers would fork the chain.

Data events are opt-in on AWS. The development server records them by default (its audit log is
for seeing what an application did, and an acceptance scan of a test run needs them);
`DataEventSelector` switches them off per account and region, or off by default with per
account/region exceptions (AWS's behaviour). Management events are always recorded.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paycrypt import defaults
from paycrypt.audit import chain, digests, streams
from paycrypt.audit.signing import DigestSigner, FileSigner

log = logging.getLogger("paycrypt.audit")

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


@dataclass(frozen=True)
class _Closing:
    """A file the writer has moved past, still open for its final fsync, and what its digest needs."""

    fd: int
    name: str
    serial: int
    summary: chain.Summary
    opened: dt.datetime
    newest: int  # the newest serial once it is sealed: the `backups` before this one are kept


class AuditWriter:
    def __init__(
        self,
        directory: Path | str,
        *,
        node_id: str | None = None,
        worker_id: int = defaults.WORKER_ID,
        max_bytes: int = defaults.AUDIT_MAX_BYTES,
        backups: int = defaults.AUDIT_BACKUPS,
        fsync_interval: float = DEFAULT_FSYNC_INTERVAL,
        data_events: DataEventSelector | None = None,
        signer: DigestSigner | None = None,
    ) -> None:
        """`signer` signs the digests; by default the Ed25519 key of `directory` (made if absent)."""
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        if backups < 1:
            raise ValueError("backups must be at least 1")
        if fsync_interval < 0:
            raise ValueError("fsync_interval must not be negative")
        if worker_id < 0:
            raise ValueError("worker_id must not be negative")
        self.directory = Path(directory)
        node = defaults.node_id() if node_id is None else node_id
        self.ident = streams.StreamId(streams.check_node_id(node), worker_id)
        self.max_bytes = max_bytes
        self.backups = backups
        self.fsync_interval = fsync_interval
        self.data_events = data_events or DataEventSelector()
        self._lock = threading.Lock()
        self._sealing = threading.Lock()  # digests are written one at a time, in serial order
        self._pending: list[_Closing] = []  # files closed for writing, their digests not yet written
        self._dirty = threading.Event()  # set while written events may not be on disk
        self._stop = threading.Event()
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._signer = signer or FileSigner.load_or_create(self.directory)
        self._node_json = json.dumps(self.ident.node_id)
        self._stream_lock = self._lock_stream()
        try:
            self._resume()
        except BaseException:
            os.close(self._stream_lock)
            raise
        self._syncer: threading.Thread | None = None
        if fsync_interval > 0:
            self._syncer = threading.Thread(target=self._sync_loop, name="paycrypt-audit-fsync", daemon=True)
            self._syncer.start()

    # -- public ------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The file being written."""
        return self.directory / self._name

    @property
    def public_key_pem(self) -> bytes:
        return self._signer.public_key_pem

    def wants(self, management: bool, account: str | None, region: str | None) -> bool:
        """Whether an event of this kind would be recorded (to skip building one that would not)."""
        return management or self.data_events.enabled(account, region)

    def record(self, event: Mapping[str, Any]) -> bool:
        """Append one event (unless it is a data event switched off); True when it was written."""
        if event.get("eventCategory") == "Data" and not self.data_events.enabled(
            event.get("recipientAccountId"), event.get("awsRegion")
        ):
            return False
        if "sequence" in event or "previousEventHash" in event or "nodeId" in event or "workerId" in event:
            raise ValueError(f"an event may not carry the chain's own members {chain.CHAIN_FIELDS}")
        return self.record_encoded(json.dumps(event, separators=(",", ":")), event.get("eventTime"))

    def record_encoded(self, body: str, event_time: Any = None) -> bool:
        """Append one event already serialised compactly (`events.encode_event`'s text), its
        `eventTime` beside it; the caller has asked `wants` whether it is recorded at all."""
        rotated = False
        with self._lock:
            if self._closed:
                raise ValueError("the audit writer is closed")
            sequence = self._sequence + 1
            line = chain.chained_line(body, self._node_json, self.ident.worker_id, sequence, self._previous)
            if self._summary.bytes > 0 and self._summary.bytes + len(line) + 1 > self.max_bytes:
                self._pending.append(self._detach(newest=self._serial + 1))
                self._open(self._serial + 1)
                rotated = True
            stored = line + b"\n"
            streams.write_all(self._fd, stored)
            line_hash = chain.line_hash(line)
            self._file_hash.update(stored)
            self._summary.bytes += len(stored)
            self._summary.add(sequence, self._previous, line_hash, event_time)
            self._sequence = sequence
            self._previous = line_hash
            if self.fsync_interval == 0:
                os.fsync(self._fd)
            elif not self._dirty.is_set():  # set() takes a lock and notifies: once per fsync, not per event
                self._dirty.set()
        if rotated:
            self._seal_pending()
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
        """fsync the file and write its digest; the next start of this stream opens a new file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            self._dirty.set()  # wake the syncer so it sees the stop
            self._pending.append(self._detach(newest=self._serial))
        try:
            self._seal_pending()
        finally:
            os.close(self._stream_lock)
        if self._syncer is not None:
            self._syncer.join(timeout=5)

    def __enter__(self) -> AuditWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def files(self) -> list[Path]:
        """This stream's log files, oldest first (the closed ones, then the current one)."""
        return streams.stream(self.directory, self.ident).log_files()

    # -- internals ---------------------------------------------------------------------------

    def _lock_stream(self) -> int:
        name = self.directory / f"audit-{self.ident.node_id}-w{self.ident.worker_id}.lock"
        fd = os.open(name, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ValueError(
                f"another process is writing the audit stream of {self.ident} in {self.directory}: "
                "give each worker its own worker id and each node its own node id"
            ) from None
        return fd

    def _resume(self) -> None:
        """Take up the stream where its last writer left it: sequence, last hash, last digest.

        The files after the newest digest (its writer died: before closing its file, or between
        rotating and writing the closed file's digest) get backfill digests now, from their
        contents, oldest first; then a new file is opened."""
        found = streams.stream(self.directory, self.ident)
        self._sequence = 0
        self._previous: str | None = None
        self._last_digest = self._latest_digest(found)
        digested = max(found.digests, default=0)
        if digested:
            self._take_up(self._digested_summary(found, digested))
        for serial in sorted(s for s in found.logs if s > digested):
            summary = chain.summarize(found.logs[serial])
            self._last_digest = digests.write(
                self.directory,
                found.logs[serial].name,
                self.ident,
                summary,
                self._signer,
                self._last_digest,
                self._oldest_kept(found, serial),
                dt.datetime.fromtimestamp(found.logs[serial].stat().st_mtime, dt.UTC),
                backfill=True,
            )
            self._take_up(summary)
        self._open(max(found.serials(), default=0) + 1)

    def _digested_summary(self, found: streams.Stream, serial: int) -> chain.Summary:
        """Where the newest digest says its file ends; from the file itself if the digest is
        unreadable (a damaged trail must not stop the server; `audit verify` will report it)."""
        try:
            body, _ = digests.read(found.digests[serial])
            [entry] = body["logFiles"]
            return chain.Summary(last_sequence=entry["lastSequence"], last_event_hash=entry["lastEventHash"])
        except (OSError, ValueError, KeyError, TypeError):
            log.error(
                "audit digest %s is unreadable; the chain continues from its log file", found.digests[serial]
            )
            return chain.summarize(found.logs[serial]) if serial in found.logs else chain.Summary()

    def _latest_digest(self, found: streams.Stream) -> digests.DigestRef | None:
        for serial in sorted(found.digests, reverse=True):
            if serial in found.signatures:
                return digests.ref(found.digests[serial], found.signatures[serial])
        return None

    def _take_up(self, summary: chain.Summary) -> None:
        if summary.last_sequence is not None:
            self._sequence = summary.last_sequence
            self._previous = summary.last_event_hash

    def _oldest_kept(self, found: streams.Stream, newest: int, first_kept: int = 0) -> str:
        """The name of the oldest log file left once those before `first_kept` are deleted."""
        kept = [serial for serial in found.logs if first_kept <= serial <= newest]
        return streams.log_name(self.ident.node_id, self.ident.worker_id, min(kept, default=newest))

    def _open(self, serial: int) -> None:
        self._serial = serial
        self._name = streams.log_name(self.ident.node_id, self.ident.worker_id, serial)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.directory / self._name, flags, 0o600)
        self._opened = dt.datetime.now(dt.UTC)
        self._summary = chain.Summary()
        self._file_hash = hashlib.sha256()

    def _detach(self, newest: int) -> _Closing:
        """The current file, to be sealed once the lock is released. Called with the lock held."""
        self._summary.hash = self._file_hash.hexdigest()
        return _Closing(self._fd, self._name, self._serial, self._summary, self._opened, newest)

    def _seal_pending(self) -> None:
        """fsync each detached file, write its digest, delete the files past `backups` older than
        the newest; in serial order (each digest links to the one before), outside the writer's
        lock, so that requests recording events do not wait for the fsyncs and the signature."""
        with self._sealing:
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    closing = self._pending.pop(0)
                self._seal(closing)

    def _seal(self, closing: _Closing) -> None:
        try:
            os.fsync(closing.fd)
        finally:
            os.close(closing.fd)
        found = streams.stream(self.directory, self.ident)
        first_kept = closing.newest - self.backups
        self._last_digest = digests.write(
            self.directory,
            closing.name,
            self.ident,
            closing.summary,
            self._signer,
            self._last_digest,
            self._oldest_kept(found, closing.serial, first_kept),
            closing.opened,
        )
        for table in (found.logs, found.digests, found.signatures):
            for serial, path in table.items():
                if serial < first_kept:
                    path.unlink(missing_ok=True)
        streams.fsync_dir(self.directory)

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            if self._stop.wait(self.fsync_interval):
                return  # close() fsyncs
            try:
                self.sync()
            except OSError:
                log.exception("audit log fsync failed; retrying")

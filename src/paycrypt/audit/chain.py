"""The hash chain that links each audit event to the one its writer recorded before it.

The writer appends four members to every event, after the CloudTrail ones:

- `nodeId`, `workerId`: who wrote it (the stream, see streams.py);
- `sequence`: 1 for a stream's first event, then one more for each event, across its files;
- `previousEventHash`: the SHA-256 of the stream's previous event's line exactly as stored (its
  bytes without the newline), null for the stream's first event. The first event of a file links
  to the last event of the file before it, so the chain runs across rotation. Written in base64url
  without padding, not hex: one hex SHA-256 in twenty holds a run of 13 or more decimal digits,
  which card-number scanners (the DLP tools PCI sites run over their logs, and this project's own
  secret scan) would flag in every busy audit file; in base64url such a run is a 1-in-10^9 event.

A line's hash covers its own `previousEventHash`, so the last event's hash vouches for every event
before it: an event removed shows as a gap in `sequence`, one changed as a link that no longer
matches, two swapped as sequences out of order. The last event of a file is held by the file's
signed digest (digests.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHAIN_FIELDS = ("nodeId", "workerId", "sequence", "previousEventHash")
HASH_ALGORITHM = "SHA-256"


def line_hash(line: bytes) -> str:
    """The hash the next event records: of the stored line, without its newline (base64url)."""
    return base64.urlsafe_b64encode(hashlib.sha256(line).digest()).rstrip(b"=").decode()


def chained_line(body: str, node_json: str, worker_id: int, sequence: int, previous: str | None) -> bytes:
    """The stored line (without newline) of an event serialised compactly as `body` ('{…}')."""
    link = "null" if previous is None else f'"{previous}"'
    separator = "," if len(body) > 2 else ""
    return (
        f'{body[:-1]}{separator}"nodeId":{node_json},"workerId":{worker_id},'
        f'"sequence":{sequence},"previousEventHash":{link}}}'
    ).encode()


@dataclass
class Line:
    """One line of a log file as read back: where, its bytes' hash, and what it says."""

    number: int  # 1-based
    hash: str
    event: dict[str, Any] | None  # None: not a JSON object, or torn (no newline at the end of the file)
    complete: bool

    @property
    def sequence(self) -> int | None:
        value = self.event.get("sequence") if self.event else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def previous(self) -> str | None:
        return self.event.get("previousEventHash") if self.event else None

    @property
    def chained(self) -> bool:
        return self.event is not None and self.sequence is not None and "previousEventHash" in self.event


def read_lines(path: Path, file_hash: Any = None) -> Iterator[Line]:
    """The file's non-blank lines; `file_hash` (a hashlib object), if given, is fed every byte."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if file_hash is not None:
                file_hash.update(raw)
            complete = raw.endswith(b"\n")
            text = raw.rstrip(b"\r\n")
            if not text.strip():
                continue
            try:
                event = json.loads(text) if complete else None
            except ValueError:
                event = None
            yield Line(number, line_hash(text), event if isinstance(event, dict) else None, complete)


@dataclass
class Summary:
    """What a digest records of one log file (see digests.py)."""

    bytes: int = 0
    hash: str = ""
    events: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    first_previous_hash: str | None = None
    last_event_hash: str | None = None
    oldest_event_time: str | None = None
    newest_event_time: str | None = None

    def add(self, sequence: int, previous: str | None, line_hash: str, event_time: Any) -> None:
        if self.events == 0:
            self.first_sequence = sequence
            self.first_previous_hash = previous
        self.events += 1
        self.last_sequence = sequence
        self.last_event_hash = line_hash
        if isinstance(event_time, str):
            if self.oldest_event_time is None or event_time < self.oldest_event_time:
                self.oldest_event_time = event_time
            if self.newest_event_time is None or event_time > self.newest_event_time:
                self.newest_event_time = event_time


def summarize(path: Path) -> Summary:
    """A log file's summary from its contents (a file whose writer died before digesting it)."""
    file_hash = hashlib.sha256()
    summary = Summary()
    for line in read_lines(path, file_hash):
        if line.chained and line.sequence is not None:
            summary.add(line.sequence, line.previous, line.hash, line.event.get("eventTime"))
    summary.bytes = path.stat().st_size
    summary.hash = file_hash.hexdigest()
    return summary

"""Reading the audit log back: the events of one or more data directories or files, merged in time
order and filtered (`paycrypt audit`, cli/audit.py, prints them).

Each data directory holds one stream per node and worker (streams.py) and perhaps the files written
before streams existed (`audit.jsonl.N` … `audit.jsonl`, read as one more stream); several
directories (one per node, or copies of their files) may be given. The streams are merged by
eventTime (to the second); each stream's events keep the order they were written in, exactly as
stored. A file given alone is read alone (a legacy `audit.jsonl` with its rotated files). An
`AuditFilter`'s fields combine with AND:

- `start` / `end`: eventTime within [start, end], both inclusive.
- `event_names`: the operation name, exactly.
- `key`: a substring of a resource ARN or of any value in requestParameters (a key ARN, key id,
  alias name or alias ARN).
- `principal`: equal to the caller's ARN, account id, user name, principal id or access key id.

All files are opened before the first is read, so a rotation while reading neither skips nor
repeats events (a file deleted by rotation between listing and opening is skipped). A line that
is not a JSON object (a torn last line after a disk-full error) is skipped and counted in
`ReadStats.malformed`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from paycrypt.audit import streams


@dataclass(frozen=True)
class AuditFilter:
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    event_names: frozenset[str] = field(default_factory=frozenset)
    key: str | None = None
    principal: str | None = None

    def matches(self, event: dict[str, Any]) -> bool:
        if self.start is not None or self.end is not None:
            moment = _event_time(event)
            if moment is None:
                return False
            if self.start is not None and moment < self.start:
                return False
            if self.end is not None and moment > self.end:
                return False
        if self.event_names and event.get("eventName") not in self.event_names:
            return False
        if self.key is not None and not _names_key(event, self.key):
            return False
        return self.principal is None or _is_principal(event, self.principal)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _event_time(event: dict[str, Any]) -> dt.datetime | None:
    value = event.get("eventTime")
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def _names_key(event: dict[str, Any], needle: str) -> bool:
    for resource in event.get("resources") or ():
        if isinstance(resource, dict) and needle in str(resource.get("ARN", "")):
            return True
    return _contains(event.get("requestParameters"), needle)


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(_contains(item, needle) for item in value.values())
    if isinstance(value, list):
        return any(_contains(item, needle) for item in value)
    return False


def _is_principal(event: dict[str, Any], principal: str) -> bool:
    identity = event.get("userIdentity")
    if not isinstance(identity, dict):
        return False
    fields = ("arn", "accountId", "userName", "principalId", "accessKeyId")
    return any(identity.get(name) == principal for name in fields)


@dataclass
class ReadStats:
    files: int = 0
    events: int = 0
    matched: int = 0
    malformed: int = 0


Sources = Path | str | Iterable[Path | str]


def source_files(sources: Sources) -> list[list[Path]]:
    """The files to read, one list per stream (oldest file first), from directories and files."""
    items = [sources] if isinstance(sources, Path | str) else list(sources)
    groups: list[list[Path]] = []
    for item in map(Path, items):
        if item.is_dir():
            groups.extend(found.log_files() for found in streams.discover(item))
            legacy = streams.legacy_files(item / streams.LEGACY_FILE_NAME)
        else:
            legacy = streams.legacy_files(item) if item.name == streams.LEGACY_FILE_NAME else [item]
        if legacy:
            groups.append(legacy)
    return [group for group in groups if group]


def read_events(
    sources: Sources, selection: AuditFilter | None = None, stats: ReadStats | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stored line, event) for each matching event of the sources, streams merged in time order."""
    selection = selection or AuditFilter()
    stats = stats if stats is not None else ReadStats()
    with ExitStack() as stack:
        opened = []
        for group in source_files(sources):
            handles = []
            for name in group:
                try:
                    handles.append(stack.enter_context(open(name, "rb")))
                except FileNotFoundError:  # deleted by rotation between listing and opening
                    continue
            opened.append(handles)
        stats.files = sum(map(len, opened))
        merged = heapq.merge(*(_stream_events(handles, stats) for handles in opened), key=_time_key)
        for text, event in merged:
            if selection.matches(event):
                stats.matched += 1
                yield text, event


def _time_key(item: tuple[str, dict[str, Any]]) -> str:
    value = item[1].get("eventTime")
    return value if isinstance(value, str) else ""


def _stream_events(handles: list[BinaryIO], stats: ReadStats) -> Iterator[tuple[str, dict[str, Any]]]:
    for handle in handles:
        for raw in handle:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text.strip():
                continue
            try:
                event = json.loads(text)
            except ValueError:
                event = None
            if not isinstance(event, dict):
                stats.malformed += 1
                continue
            stats.events += 1
            yield text, event


def streams_present(sources: Sources) -> bool:
    """Whether the sources hold any audit file at all."""
    return any(path.is_file() for group in source_files(sources) for path in group)

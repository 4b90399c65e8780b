"""Reading the audit log back: the events of a log and its rotated files, filtered (`paycrypt audit`
prints them).

Events come exactly as stored, oldest file first (the rotated files `audit.jsonl.N` … `.1`, then
`audit.jsonl`); within a file, in the order they were written. An `AuditFilter`'s fields combine
with AND:

- `start` / `end`: eventTime within [start, end], both inclusive.
- `event_names`: the operation name, exactly.
- `key`: a substring of a resource ARN or of any value in requestParameters (a key ARN, key id,
  alias name or alias ARN).
- `principal`: equal to the caller's ARN, account id, user name, principal id or access key id.

All files are opened before the first is read, so a rotation while reading neither skips nor
repeats events. A line that is not a JSON object (a torn last line after a disk-full error) is
skipped and counted in `ReadStats.malformed`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paycrypt.audit.writer import log_files


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


def read_events(
    path: Path | str, selection: AuditFilter | None = None, stats: ReadStats | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stored line, event) for each matching event of the log at `path` and its rotated files."""
    selection = selection or AuditFilter()
    stats = stats if stats is not None else ReadStats()
    with ExitStack() as stack:
        handles = []
        for name in log_files(path):
            try:
                handles.append(stack.enter_context(open(name, "rb")))
            except FileNotFoundError:  # rotated away between listing and opening
                continue
        stats.files = len(handles)
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
                if selection.matches(event):
                    stats.matched += 1
                    yield text, event

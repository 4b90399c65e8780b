"""Reading the audit log back, and the `paycrypt audit` command.

    paycrypt audit [--data-dir DIR ...] [--log FILE ...] [--start ISO] [--end ISO]
                   [--event-name NAME ...] [--key ARN-OR-ID] [--principal ARN-OR-ACCOUNT]
    paycrypt audit verify [--data-dir DIR ...] [--public-key PEM ...]      (integrity.py)

prints the matching events as JSON Lines, exactly as stored. Each data directory holds one stream
per node and worker (streams.py) and perhaps the files written before streams existed
(`audit.jsonl.N` … `audit.jsonl`); several directories (one per node, copied together) may be
given. The streams are merged in time order (eventTime, to the second); each stream's events keep
the order they were written in. `--log` reads one file (for a legacy `audit.jsonl`, with its
rotated files). Filters combine with AND:

- `--start` / `--end`: eventTime within [start, end], both inclusive; ISO 8601, a date alone
  meaning its midnight, no offset meaning UTC.
- `--event-name`: the operation name, exactly (repeat the option for several).
- `--key`: a substring of a resource ARN or of any value in requestParameters (a key ARN, key id,
  alias name or alias ARN).
- `--principal`: equal to the caller's ARN, account id, user name, principal id or access key id.

All files are opened before the first is read, so a rotation while reading neither skips nor
repeats events (a file deleted by rotation between listing and opening is skipped). A line that
is not a JSON object (a torn last line after a disk-full error) is skipped and counted on stderr.
Exit status: 0, or 1 when there is no log to read (2 for bad arguments, from argparse).
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from paycrypt import defaults
from paycrypt.audit import integrity, streams


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


# --- the command -----------------------------------------------------------------------------


def _time_argument(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--data-dir",
        type=Path,
        action="append",
        default=[],
        help="a node's data directory, or a copy of its audit files (repeatable: nodes are merged in "
        "time order; default $PAYCRYPT_DATA_DIR or ~/.local/share/paycrypt)",
    )
    add("--log", type=Path, action="append", default=[], help="one audit file (repeatable)")
    add("--start", type=_time_argument, default=None, help="events at or after this ISO 8601 time")
    add("--end", type=_time_argument, default=None, help="events at or before this ISO 8601 time")
    add("--event-name", action="append", default=[], help="operation name, e.g. CreateKey (repeatable)")
    add("--key", default=None, help="key or alias ARN, key id or alias name (substring)")
    add("--principal", default=None, help="caller ARN, account id, user name or access key id")


def add_audit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit` (and `audit verify`) to the `paycrypt` command's subparsers; run with `run_audit`."""
    parser = subparsers.add_parser("audit", help="print audit events (JSON Lines), filtered; or verify them")
    add_arguments(parser)
    actions = parser.add_subparsers(dest="audit_action")
    verify = actions.add_parser("verify", help="check the hash chains, digests and signatures; 1 if tampered")
    integrity.add_arguments(verify)
    return parser


def run_audit(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    directories = [Path(d) for d in args.data_dir]
    if getattr(args, "audit_action", None) == "verify":
        return integrity.run_verify(directories or [defaults.data_dir()], args.public_key, out, err)
    sources: list[Path] = [*directories, *args.log] or [defaults.data_dir()]
    if not streams_present(sources):
        print(f"paycrypt audit: no audit log in {', '.join(map(str, sources))}", file=err)
        return 1
    selection = AuditFilter(
        start=args.start,
        end=args.end,
        event_names=frozenset(args.event_name or ()),
        key=args.key,
        principal=args.principal,
    )
    stats = ReadStats()
    try:
        for line, _ in read_events(sources, selection, stats):
            out.write(line + "\n")
    except BrokenPipeError:  # `paycrypt audit | head`
        return 0
    if stats.malformed:
        print(f"paycrypt audit: skipped {stats.malformed} malformed line(s)", file=err)
    return 0


def streams_present(sources: Sources) -> bool:
    return any(path.is_file() for group in source_files(sources) for path in group)


def audit_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paycrypt audit", description="Print audit events, filtered.")
    add_arguments(parser)
    actions = parser.add_subparsers(dest="audit_action")
    integrity.add_arguments(actions.add_parser("verify"))
    return run_audit(parser.parse_args(argv))

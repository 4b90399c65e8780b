"""`paycrypt audit`: print the audit events that match, as JSON Lines, exactly as stored.

    paycrypt audit [--log FILE | --data-dir DIR] [--start ISO] [--end ISO] [--event-name NAME ...]
                   [--key ARN-OR-ID] [--principal ARN-OR-ACCOUNT]

Filters combine with AND (see `paycrypt.audit.reader` for what each matches):

- `--start` / `--end`: eventTime within [start, end], both inclusive; ISO 8601, a date alone
  meaning its midnight, no offset meaning UTC.
- `--event-name`: the operation name, exactly (repeat the option for several).
- `--key`: a substring of a resource ARN or of any value in requestParameters.
- `--principal`: equal to the caller's ARN, account id, user name, principal id or access key id.

Malformed lines (a torn last line after a disk-full error) are skipped and counted on stderr.
No log to read is a `CliError`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.audit.reader import AuditFilter, ReadStats, parse_time, read_events
from paycrypt.audit.writer import DEFAULT_FILE_NAME, log_files
from paycrypt.cli.errors import CliError


def add_audit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit` to the `paycrypt` command's subparsers; run it with `run_audit(args)`."""
    parser = subparsers.add_parser("audit", help="print audit events (JSON Lines), filtered")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--log", type=Path, default=None, help=f"the audit log (default <data-dir>/{DEFAULT_FILE_NAME})"
    )
    where.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the server's data directory (default $PAYCRYPT_DATA_DIR or ~/.local/share/paycrypt)",
    )
    add = parser.add_argument
    add("--start", type=_time_argument, default=None, help="events at or after this ISO 8601 time")
    add("--end", type=_time_argument, default=None, help="events at or before this ISO 8601 time")
    add("--event-name", action="append", default=[], help="operation name, e.g. CreateKey (repeatable)")
    add("--key", default=None, help="key or alias ARN, key id or alias name (substring)")
    add("--principal", default=None, help="caller ARN, account id, user name or access key id")
    return parser


def run_audit(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    path = args.log or Path(args.data_dir or defaults.data_dir()) / DEFAULT_FILE_NAME
    if not log_files(path):
        raise CliError(f"no audit log at {path}")
    selection = AuditFilter(
        start=args.start,
        end=args.end,
        event_names=frozenset(args.event_name or ()),
        key=args.key,
        principal=args.principal,
    )
    stats = ReadStats()
    try:
        for line, _ in read_events(path, selection, stats):
            out.write(line + "\n")
    except BrokenPipeError:  # `paycrypt audit | head`
        return 0
    if stats.malformed:
        print(f"paycrypt audit: skipped {stats.malformed} malformed line(s)", file=err)
    return 0


def _time_argument(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

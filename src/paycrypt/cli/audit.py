"""`paycrypt audit`: print the audit events that match, as JSON Lines, exactly as stored; and
`paycrypt audit verify`: check that none was removed, changed or reordered.

    paycrypt audit [--data-dir DIR ...] [--log FILE ...] [--start ISO] [--end ISO]
                   [--event-name NAME ...] [--key ARN-OR-ID] [--principal ARN-OR-ACCOUNT]
    paycrypt audit verify [--data-dir DIR ...] [--public-key PEM ...]

Sources: `--data-dir` (repeatable: one per node, or a copy of its audit files) and `--log` (one
file, repeatable); by default the server's data directory. Several nodes' events are merged in
time order (see `paycrypt.audit.reader`). Filters combine with AND:

- `--start` / `--end`: eventTime within [start, end], both inclusive; ISO 8601, a date alone
  meaning its midnight, no offset meaning UTC.
- `--event-name`: the operation name, exactly (repeat the option for several).
- `--key`: a substring of a resource ARN or of any value in requestParameters.
- `--principal`: equal to the caller's ARN, account id, user name, principal id or access key id.

Malformed lines (a torn last line after a disk-full error) are skipped and counted on stderr.
No log to read is a `CliError`.

`verify` prints one line per stream (node and worker) with every problem found and exits 1 if
there is any (see `paycrypt.audit.integrity`); it trusts the `--public-key` files given, else the
`audit-signing.pub` found in each directory (which proves nothing against whoever could rewrite
that directory: pin your own copy). An unreadable key, or nothing to verify, is a `CliError`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.audit import integrity
from paycrypt.audit.reader import AuditFilter, ReadStats, parse_time, read_events, streams_present
from paycrypt.audit.signing import PUBLIC_KEY_FILE, PublicKeys
from paycrypt.cli.errors import CliError

TAMPERED = 1  # exit status of `audit verify` when any stream is not intact


def add_audit_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `audit` and `audit verify` to the `paycrypt` command's subparsers; run with `run_audit`."""
    parser = subparsers.add_parser("audit", help="print audit events (JSON Lines), filtered; or verify them")
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
    actions = parser.add_subparsers(dest="audit_action")
    verify = actions.add_parser(
        "verify", help="check the hash chains, the digests and their signatures; exit status 1 if tampered"
    )
    verify.add_argument(  # SUPPRESS: `audit --data-dir X verify` keeps X
        "--data-dir", type=Path, action="append", default=argparse.SUPPRESS, help="as for `audit`"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=[],
        help=f"a trusted digest signing key, PEM (repeatable; default each directory's {PUBLIC_KEY_FILE})",
    )
    return parser


def run_audit(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    if getattr(args, "audit_action", None) == "verify":
        return run_verify(args.data_dir or [defaults.data_dir()], args.public_key, out)
    sources: list[Path] = [*args.data_dir, *args.log] or [defaults.data_dir()]
    if not streams_present(sources):
        raise CliError(f"no audit log in {', '.join(map(str, sources))}")
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


def run_verify(directories: list[Path], public_keys: list[Path], out: IO[str]) -> int:
    """Print the report; 0 when every stream is intact, else `TAMPERED`."""
    pinned = bool(public_keys)
    found = [d / PUBLIC_KEY_FILE for d in directories if (d / PUBLIC_KEY_FILE).exists()]
    try:
        keys = PublicKeys.from_files(public_keys or found)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    report = integrity.verify(directories, keys)
    if not report.streams:
        raise CliError(f"no audit files in {', '.join(map(str, directories))}")
    source = (
        "given with --public-key"
        if pinned
        else f"found beside the logs ({PUBLIC_KEY_FILE}; pin yours with --public-key)"
    )
    print(f"trusted digest keys, {source}: {', '.join(keys.fingerprints()) or 'none'}", file=out)
    for stream in report.streams:
        for line in stream.lines():
            print(line, file=out)
    return 0 if report.intact else TAMPERED


def _time_argument(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None

"""`paycrypt db`: the store's schema version, and applying its migrations (`db upgrade`).

`paycrypt serve` applies migrations itself to an SQLite file and to an empty PostgreSQL database;
an existing PostgreSQL database is upgraded only here, with every node stopped (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.store import factory
from paycrypt.store.migrations import SchemaError


def add_db_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `db` to the `paycrypt` command's subparsers; run it with `run_db(args)`."""
    parser = subparsers.add_parser("db", help="the store's schema: its version, and upgrading it")
    commands = parser.add_subparsers(dest="db_command", required=True)
    for name, text in (
        ("version", "the database's schema version and this paycrypt's"),
        ("upgrade", "apply the pending schema migrations (stop every node first)"),
    ):
        p = commands.add_parser(name, help=text)
        p.add_argument(
            "--data-dir", type=Path, default=None, help="the server's data directory (default as for serve)"
        )
        p.add_argument(
            "--store", default=None, help="sqlite:PATH or a postgresql:// URL (default as for serve)"
        )
    commands.choices["upgrade"].add_argument(
        "--force", action="store_true", help="upgrade although other paycrypt connections are open"
    )
    return parser


def run_db(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    try:
        spec = factory.parse(args.store, args.data_dir or defaults.data_dir())
        if args.db_command == "upgrade":
            before, after = factory.upgrade(spec, force=args.force)
            change = f"upgraded from version {before} to {after}" if after != before else f"at {after}"
            print(f"{spec.describe()}: schema {change}", file=out)
        else:
            current, latest = factory.version(spec)
            print(f"{spec.describe()}: schema version {current}; this paycrypt's is {latest}", file=out)
    except (ValueError, SchemaError) as exc:
        raise CliError(str(exc)) from exc
    return 0

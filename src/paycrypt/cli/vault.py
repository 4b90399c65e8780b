"""`paycrypt vault …`: the master key's commands (rotation: cli/vault_rotate.py)."""

from __future__ import annotations

import argparse
from typing import IO, Any

from paycrypt.cli.vault_rotate import add_rotate_parser, run_rotate


def add_vault_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `vault` to the `paycrypt` command's subparsers; run it with `run_vault(args)`."""
    parser = subparsers.add_parser("vault", help="the master key: rotate it")
    commands = parser.add_subparsers(dest="vault_command", required=True)
    add_rotate_parser(commands)
    return parser


def run_vault(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    return run_rotate(args, out, err)

"""`paycrypt vault export-components` and `paycrypt vault import-components`: the file vault's
master key as N XOR components for N custodians, and rebuilt from them (vault/components.py).

    paycrypt vault export-components --count 3 --out /media/ceremony
    paycrypt vault import-components --data-dir /srv/paycrypt-new \\
        /media/alice/master-key-component-1-of-3.json /media/bob/… /media/carol/…

Each command prints check values only, never a component or the key.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.vault import components
from paycrypt.vault.factory import MASTER_KEY_FILE


def add_component_commands(vault_commands: Any) -> None:
    """Add the two commands to the `vault` group's subparsers; run them with
    `run_vault_components(args)`."""
    help_dir = "the server's data directory (default as for serve)"
    parser = vault_commands.add_parser(
        "export-components", help="write the master key as N XOR components, one file each"
    )
    parser.add_argument(
        "--count", type=int, required=True, help=f"components, {components.MIN_COMPONENTS} or more"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="directory for the component files (default: here)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help=help_dir)
    parser = vault_commands.add_parser(
        "import-components", help="rebuild the master key from its components into a data directory"
    )
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE", help="every component file")
    parser.add_argument("--data-dir", type=Path, default=None, help=help_dir)


def run_vault_components(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    master_key = Path(args.data_dir or defaults.data_dir()) / MASTER_KEY_FILE
    try:
        _COMMANDS[args.vault_command](args, master_key, out or sys.stdout)
    except (components.ComponentError, OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    return 0


def _export(args: argparse.Namespace, master_key: Path, out: IO[str]) -> None:
    written = components.export_components(master_key, args.count, args.out)
    out.write(f"master key KCV {written[0][1].master_key_kcv} (AES-CMAC), as {len(written)} components:\n")
    for path, component in written:
        out.write(f"  component {component.number} of {component.count}: KCV {component.kcv}  {path}\n")
    out.write("give each file to its own custodian; no one alone holds the key\n")


def _import(args: argparse.Namespace, master_key: Path, out: IO[str]) -> None:
    kcv = components.import_components(args.files, master_key)
    out.write(f"master key KCV {kcv} (AES-CMAC) in {master_key}\n")


_COMMANDS = {"export-components": _export, "import-components": _import}
COMPONENT_COMMANDS = frozenset(_COMMANDS)

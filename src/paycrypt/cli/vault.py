"""`paycrypt vault …`: the master key's custodian commands, and the vault options `serve` shares.

    paycrypt vault init --vault pkcs11 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token pay
    paycrypt vault status --vault pkcs11 --pkcs11-module ... --pkcs11-token pay

The user PIN of a token comes from an environment variable (PAYCRYPT_PKCS11_PIN unless
--pkcs11-pin-env names another) or a file (--pkcs11-pin-file, mode 0600): an option holding the PIN
itself would put it in the process list and the shell's history, so there is none.

Subcommands are a table (`SUBCOMMANDS`): each is a name, its help, the function that adds its own
options, and the function that runs it with the vault the options name.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.cli.vault_components import COMPONENT_COMMANDS, add_component_commands, run_vault_components
from paycrypt.cli.vault_migrate import add_migrate_parser, run_migrate
from paycrypt.cli.vault_rotate import add_rotate_parser, run_rotate
from paycrypt.jobs import rotation
from paycrypt.store import factory as store_factory
from paycrypt.store.factory import DB_NAME
from paycrypt.vault import factory
from paycrypt.vault.factory import VaultSettings, VaultUnavailable


def add_vault_options(parser: argparse.ArgumentParser, kind: bool = True) -> None:
    """The options naming the vault (for `serve` and every `vault` subcommand); without `kind`,
    only the token's (`vault migrate`, whose --to says which end the token is)."""
    group = parser.add_argument_group("vault (where the master key is)")
    if kind:
        group.add_argument(
            "--vault",
            choices=factory.KINDS,
            default=factory.FILE,
            help="file: <data-dir>/master.key (default); pkcs11: an AES key inside a PKCS#11 token",
        )
    group.add_argument("--pkcs11-module", type=Path, default=None, help="the token's PKCS#11 library")
    group.add_argument("--pkcs11-token", default=None, metavar="LABEL", help="the token's label")
    group.add_argument(
        "--pkcs11-key",
        default=factory.KEY_LABEL,
        metavar="LABEL",
        help="the master key's label (default %(default)s)",
    )
    group.add_argument(
        "--pkcs11-pin-env",
        default=factory.PIN_VARIABLE,
        metavar="NAME",
        help="environment variable holding the user PIN (default %(default)s)",
    )
    group.add_argument(
        "--pkcs11-pin-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the user PIN from this file's first line instead (mode 0600)",
    )
    group.add_argument("--pkcs11-pin", nargs="?", action=_RefusePin, help=argparse.SUPPRESS)


class _RefusePin(argparse.Action):
    """`--pkcs11-pin` exists only to be refused without echoing its value (argparse's own error for an
    unknown option repeats it): a PIN on a command line is in the process list and shell history."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        parser.error(
            "the PIN is never given on the command line: use --pkcs11-pin-env NAME or --pkcs11-pin-file FILE"
        )


def vault_settings(args: argparse.Namespace) -> VaultSettings:
    return VaultSettings(
        kind=getattr(args, "vault", factory.PKCS11),
        module=args.pkcs11_module,
        token_label=args.pkcs11_token,
        key_label=args.pkcs11_key,
        pin_variable=args.pkcs11_pin_env,
        pin_file=args.pkcs11_pin_file,
    )


def _init(settings: VaultSettings, data_dir: Path) -> dict[str, Any]:
    check_value = factory.create_master_key(settings, data_dir)
    return {
        "Vault": settings.kind,
        "Location": settings.describe(data_dir),
        "MasterKeyCheckValue": check_value,
    }


def _status(settings: VaultSettings, data_dir: Path) -> dict[str, Any]:
    vault = factory.open_vault(settings, data_dir, create=False)
    versions: Counter[str] = Counter()
    if (data_dir / DB_NAME).exists():
        store = store_factory.open_store(store_factory.parse(None, data_dir))
        try:
            for _, page in rotation.sealed_pages(store):
                versions.update(vault.sealed_by(record.key_block) for record in page)
        finally:
            store.close()
    return {
        "Vault": settings.kind,
        "Location": settings.describe(data_dir),
        # Until master-key rotation numbers its versions, a master key is named by its check value.
        "MasterKeyCheckValue": vault.key_id,
        "MasterKeyVersion": vault.key_id,
        "BlocksByVersion": [
            {"Version": version, "Blocks": count, "Current": version == vault.key_id}
            for version, count in sorted(
                versions.items(), key=lambda item: (item[0] != vault.key_id, item[0])
            )
        ],
    }


Command = Callable[[VaultSettings, Path], dict[str, Any]]
# The commands that re-seal every block, each run with the vault (or token) its options name.
RESEALING: dict[str, Callable[[argparse.Namespace, VaultSettings, IO[str]], int]] = {
    "rotate": run_rotate,
    "migrate": run_migrate,
}
# name -> (help, add the subcommand's own options, run)
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Command]] = {
    "init": (
        "create the master key: the 0600 file, or an AES-256 key generated inside the token "
        "(sensitive, non-extractable)",
        lambda parser: None,
        _init,
    ),
    "status": (
        "the vault in use, its master key's check value and version, and the blocks under each version",
        lambda parser: None,
        _status,
    ),
}


def add_vault_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `vault` to the `paycrypt` command's subparsers; run it with `run_vault(args)`."""
    parser = subparsers.add_parser(
        "vault", help="the master key: create it, see where it is and what uses it"
    )
    commands = parser.add_subparsers(dest="vault_command", required=True)
    for name, (help_text, add_options, _) in SUBCOMMANDS.items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="the server's data directory (default $PAYCRYPT_DATA_DIR or ~/.local/share/paycrypt)",
        )
        add_vault_options(command)
        add_options(command)
    add_component_commands(commands)  # export-components, import-components (cli/vault_components.py)
    add_vault_options(add_rotate_parser(commands))  # master-key rotation (cli/vault_rotate.py)
    add_vault_options(add_migrate_parser(commands), kind=False)  # file <-> PKCS#11 (cli/vault_migrate.py)
    return parser


def run_vault(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    if args.vault_command in COMPONENT_COMMANDS:
        return run_vault_components(args, out)
    out = out or sys.stdout
    if args.vault_command in RESEALING:
        return RESEALING[args.vault_command](args, vault_settings(args), out)
    _, _, run = SUBCOMMANDS[args.vault_command]
    try:
        result = run(vault_settings(args), args.data_dir or defaults.data_dir())
    except (VaultUnavailable, ValueError, PermissionError) as exc:
        raise CliError(str(exc)) from exc
    out.write(json.dumps(result, indent=2) + "\n")
    return 0

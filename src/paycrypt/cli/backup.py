"""`paycrypt backup` and `paycrypt restore`: the store as one file, and back.

    paycrypt backup --to /backups/paycrypt-2026-12-07.tar      # while the server runs
    paycrypt restore /backups/paycrypt-2026-12-07.tar --data-dir /srv/paycrypt-new

A backup is taken through the store's `Snapshots` capability (store/base.py) while the server
keeps serving, and written in the format of store/archive.py. It holds sealed key blocks and
metadata only; the master key is not in it, so a restore needs the configured vault to hold the
master key the blocks are sealed under (for the file vault: `master.key` in the target data
directory, copied there or rebuilt with `paycrypt vault import-components`). A restore refuses,
before it writes anything, a backup whose checksum fails or whose master key the vault does not
hold; it opens every key block; and it loads the snapshot only into an empty store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from paycrypt import __version__, defaults
from paycrypt.cli.errors import CliError
from paycrypt.cli.vault import add_vault_options, vault_settings
from paycrypt.store import archive
from paycrypt.store import factory as store_factory
from paycrypt.store.base import Snapshots, StoreNotEmpty
from paycrypt.store.factory import DB_NAME as STORE_FILE
from paycrypt.vault import snapshot_check
from paycrypt.vault.factory import VaultUnavailable, open_vault


def add_backup_parsers(subparsers: Any) -> None:
    """Add `backup` (run it with `run_backup(args)`) and `restore` (`run_restore(args)`) to the
    `paycrypt` command's subparsers."""
    help_dir = "the server's data directory (default as for serve)"
    parser = subparsers.add_parser("backup", help="write a consistent backup of the store, while it serves")
    parser.add_argument("--to", type=Path, required=True, metavar="FILE", help="the new backup file")
    parser.add_argument("--data-dir", type=Path, default=None, help=help_dir)
    add_vault_options(parser)
    parser = subparsers.add_parser("restore", help="restore a backup into an empty data directory")
    parser.add_argument("file", type=Path, metavar="FILE", help="a file written by paycrypt backup")
    parser.add_argument("--data-dir", type=Path, default=None, help=help_dir + "; its store must be empty")
    add_vault_options(parser)


# What a backup or restore refuses with, each turned into the one CliError of every command.
_REFUSALS = (
    StoreNotEmpty,
    archive.BackupFileError,
    snapshot_check.VaultMismatch,
    ValueError,
    OSError,
)


def run_backup(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    return _run(_backup, args, out or sys.stdout)


def run_restore(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    return _run(_restore, args, out or sys.stdout)


def _run(
    command: Callable[[argparse.Namespace, Path, IO[str]], None], args: argparse.Namespace, out: IO[str]
) -> int:
    try:
        command(args, Path(args.data_dir or defaults.data_dir()), out)
    except _REFUSALS as exc:
        raise CliError(str(exc)) from exc
    return 0


def _backup(args: argparse.Namespace, data_dir: Path, out: IO[str]) -> None:
    if not (data_dir / STORE_FILE).is_file():
        raise CliError(f"no store in {data_dir} (no {STORE_FILE})")
    settings = vault_settings(args)
    kind, vault = settings.kind, open_vault(settings, data_dir, create=False)
    store = _snapshots(store_factory.open_store(store_factory.parse(None, data_dir)))
    try:
        with tempfile.TemporaryDirectory(prefix=".paycrypt-backup-", dir=args.to.parent) as work:
            snapshot = store.write_snapshot(Path(work))
            described = snapshot_check.describe(vault, kind, store.snapshot_blocks(Path(work), snapshot))
            manifest = archive.write(args.to, Path(work), snapshot, described, __version__)
    finally:
        store.close()
    out.write(f"backup written to {args.to}\n")
    _summary(manifest, out)


def _restore(args: argparse.Namespace, data_dir: Path, out: IO[str]) -> None:
    if not args.file.is_file():
        raise CliError(f"no backup file {args.file}")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix=".paycrypt-restore-", dir=data_dir) as work:
        manifest = archive.read(args.file, Path(work))
        try:
            vault = open_vault(vault_settings(args), data_dir, create=False)
        except VaultUnavailable as exc:
            raise CliError(
                f"{exc}: the backup's keys are sealed under master key KCV "
                f"{manifest.vault.get('master_key_kcv')}, which the configured vault must hold (for the "
                "file vault: copy master.key there, or rebuild it with paycrypt vault import-components)"
            ) from None
        snapshot_check.check_master_key(vault, manifest.vault)
        store = _snapshots(store_factory.open_store(store_factory.parse(None, data_dir)))
        try:
            checked = snapshot_check.check_blocks(
                vault, store.snapshot_blocks(Path(work), manifest.snapshot), manifest.vault
            )
            store.restore_snapshot(Path(work), manifest.snapshot)
        finally:
            store.close()
    out.write(f"restored {args.file} into {data_dir} ({checked} key blocks opened and checked)\n")
    _summary(manifest, out)


def _snapshots(store: Any) -> Snapshots:
    if not isinstance(store, Snapshots):
        store.close()
        raise CliError(f"the {type(store).__name__} store cannot take or restore snapshots")
    return store


def _summary(manifest: archive.Manifest, out: IO[str]) -> None:
    counts = manifest.snapshot.counts
    out.write(
        f"paycrypt {manifest.paycrypt_version}, {manifest.snapshot.backend} schema "
        f"{manifest.snapshot.schema_version}, taken {manifest.created}\n"
        f"{counts.get('keys', 0)} keys, {counts.get('aliases', 0)} aliases, {counts.get('tags', 0)} tags, "
        f"{counts.get('resource_policies', 0)} resource policies\n"
        f"vault {manifest.vault.get('kind')}, master key KCV {manifest.vault.get('master_key_kcv')}\n"
        f"checksum sha256:{manifest.checksum}\n"
    )

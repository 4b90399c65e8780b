"""`paycrypt vault migrate`: every key block moved from the file vault to a PKCS#11 token's master
key, or back, while the server keeps serving.

    paycrypt vault migrate --to pkcs11 --pkcs11-module /usr/lib/softhsm/libsofthsm2.so \
        --pkcs11-token paycrypt --data-dir /var/lib/paycrypt
    paycrypt vault migrate --to file --pkcs11-module ... --pkcs11-token paycrypt --data-dir ...

The `--pkcs11-*` options name the token's end (the target of `--to pkcs11`, the source of
`--to file`), its PIN from the environment or a file as for `serve`; the file vault's end is
`<data-dir>/master.key` (made if absent when it is the target). The command writes the migration
marker (vault/migration.py, which says how a running server follows it), re-seals every block by
rotation's loop (jobs/rotation.py: resumable after SIGKILL, each block once), then marks the
migration finished. Afterwards the server is restarted with the new vault's options; the old
vault's key is no longer needed by any block. Run it again after any interruption: it resumes the
unfinished migration it finds, and refuses to start another while one is unfinished.

On several nodes (one store, each node its own data directory) every live server must be able
to open the target before a block is re-sealed: the command records the target's check value in
the store pending (a node starting from then on that cannot open it is refused), waits (`--wait`
seconds) until each live server reports the target's key in its heartbeat (jobs/holdings.py),
and otherwise exits naming the servers that do not and saying to copy the marker (which holds no
secret) into their data directories: a server reads it within a second and opens the target too.
Only then is the migration admitted: until then every server seals new keys under the source, so
none is sealed where another node cannot open it. After the migration the store records the
target's keys and their vault's kind, and a node started with the old `--vault` is refused with a
message saying to switch (vault/agreement.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.cli.vault_rotate import (
    add_run_options,
    failures,
    open_vault,
    progress_report,
    resealing,
)
from paycrypt.jobs import holdings, rotation
from paycrypt.vault import factory, migration
from paycrypt.vault.factory import MASTER_KEY_FILE, VaultSettings


def add_migrate_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `migrate` to the `vault` command's subparsers (cli/vault.py adds the PKCS#11 options);
    run it with `run_migrate(args, token)`."""
    parser = commands.add_parser(
        "migrate", help="re-seal every key under another vault: the file vault to a PKCS#11 token, or back"
    )
    parser.add_argument(
        "--to", required=True, choices=factory.KINDS, help="the vault every key block is moved to"
    )
    add_run_options(parser, "the migration ends")
    return parser


def ends(to: str, token: VaultSettings) -> tuple[VaultSettings, VaultSettings]:
    """(source, target) of a migration to `to`, the token's end named by `token`."""
    file = VaultSettings()
    return (file, token) if to == factory.PKCS11 else (token, file)


def run_migrate(
    args: argparse.Namespace, token: VaultSettings, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """The migration; CliError if it cannot run or did not finish (the message says why)."""
    out = out or sys.stdout
    err = err or sys.stderr
    data_dir = args.data_dir or defaults.data_dir()
    source, target = ends(args.to, token)
    with resealing(data_dir, args.store, args.nice) as store:
        _check_unfinished(data_dir, source, target)
        source_vault = open_vault(source, data_dir)
        target_vault = open_vault(target, data_dir, create=True)
        resumed = _begin(data_dir, source, target)
        verb = "resuming the migration" if resumed else "migrating"
        print(
            f"{verb} from {source.describe(data_dir)} (check value {source_vault.key_id}) to "
            f"{target.describe(data_dir)} (check value {target_vault.key_id})",
            file=err,
        )
        # Pending first: a node starting from now on that cannot open the target is refused
        # (vault/agreement.py); then the wait; then servers seal new keys under the target.
        if store.migration_target() != (target_vault.key_id, True):  # resumed: admitted already
            store.record_migration_target(target_vault.key_id, admitted=False)
        _wait_until_held(store, data_dir, target, target_vault.key_id, args.wait)
        store.record_migration_target(target_vault.key_id, admitted=True)
        report = progress_report(err)
        either = migration.Either(source_vault, target_vault)
        progress = rotation.reseal_all(store, either, target_vault, report, args.grace)
        report.finish()
        if progress.failed:
            raise CliError(
                f"{len(progress.failed)} blocks could not be re-sealed, so the migration is unfinished:\n"
                + failures(progress)
            )
        # Every block is under the target now: the store records its master keys, not the source's
        # (vault/agreement.py checks every node's vault against them at start).
        store.replace_master_keys(
            {version.version: version.key_id for version in target_vault.versions()}, target.kind
        )
        migration.write(data_dir, migration.Migration(source, target, finished=True))
        store.prune_block_changes(time.time() - rotation.FEED_KEPT)
    print(
        f"every key block is sealed under {target.describe(data_dir)} (check value {target_vault.key_id}); "
        f"{progress.resealed} blocks re-sealed in this run. Restart the server with "
        f"--vault {target.kind}: no block needs {source.describe(data_dir)} any more",
        file=out,
    )
    return 0


def _wait_until_held(store: Any, data_dir: Path, target: VaultSettings, key_id: str, wait: float) -> None:
    """Every live server can open the target (see the module's docstring), or CliError."""
    advice = (
        f"Copy {data_dir / migration.MARKER} (it holds no secret) into the data directory of each of "
        f"them{' with ' + str(data_dir / MASTER_KEY_FILE) if target.kind == factory.FILE else ''}, "
        "and make sure each can open the target (its PIN in the server's environment or file): a "
        "server reads the marker within a second and reports the target's key at its next heartbeat "
        '(docs/key-protection.md, "Migration on several nodes"). Then run the same command again: it '
        "resumes this migration."
    )
    named = f"the target's master key ({target.describe(data_dir)}, check value {key_id})"
    try:
        holdings.wait_until_held(store.cluster, key_id, named, advice, wait, rotation.REAL_TIME)
    except holdings.NotHeld as exc:
        raise CliError(str(exc)) from None


def _check_unfinished(data_dir: Path, source: VaultSettings, target: VaultSettings) -> None:
    try:
        found = migration.read(data_dir)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if found is None or found.finished:
        return
    if not (migration.same_vault(found.source, source) and migration.same_vault(found.target, target)):
        raise CliError(
            f"a migration from {found.source.describe(data_dir)} to {found.target.describe(data_dir)} is "
            "unfinished: run it to its end first"
        )


def _begin(data_dir: Path, source: VaultSettings, target: VaultSettings) -> bool:
    """Write the marker (servers follow it from now on); whether an unfinished one was there."""
    found = migration.read(data_dir)
    resumed = found is not None and not found.finished
    migration.write(data_dir, migration.Migration(source, target))
    return resumed

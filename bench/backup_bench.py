"""Backup and restore benchmark: `paycrypt backup` and `paycrypt restore` of a store of N keys.

What one run measures (issue 16, item 4):

1. A data directory is filled with ``--keys`` keys (default 10,000) by the service's own CreateKey
   path (`lifecycle.create_key`: key generation, KCV, sealing under the master key, the store's
   row and tags), one in ten with two tags and an alias; 5 % with a resource policy.
2. Backup, in process, each stage timed: the SQLite online backup of the store (`write_snapshot`),
   the manifest's vault section (every block's KP read: `snapshot_check.describe`), and the tar
   with its digests (`archive.write`); then the same through the command (`run_backup`).
3. Restore into a new data directory holding the master key, each stage timed: reading the tar
   with every digest and the checksum checked (`archive.read`), opening every key block under the
   vault (`snapshot_check.check_blocks`), and loading the snapshot into the empty store
   (`restore_snapshot`); then the same through the command (`run_restore`).
4. The commands as a user runs them (`paycrypt backup`, `paycrypt restore` as processes): the
   figures above plus the interpreter's start and paycrypt's imports.

Run: ``python bench/backup_bench.py`` (``--keys``, ``--repeat``). Figures: bench/README.md,
"Backup and restore".
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paycrypt.cli import backup as backup_cli
from paycrypt.cli.vault import add_vault_options
from paycrypt.clock import SystemClock
from paycrypt.server import open_store
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import aliases, lifecycle, resource_policies
from paycrypt.store import archive
from paycrypt.vault import keycache, snapshot_check
from paycrypt.vault.factory import FILE, VaultSettings, open_vault

ACCOUNT, REGION = "111122223333", "us-east-1"
PAYCRYPT = Path(sys.executable).parent / "paycrypt"
CVK = {
    "KeyAlgorithm": "TDES_2KEY",
    "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Generate": True, "Verify": True},
}
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "payment-cryptography:GetKey",
                "Resource": "*",
            }
        ],
    }
)


def fill(data_dir: Path, keys: int) -> None:
    store = open_store(data_dir)
    vault = open_vault(VaultSettings(), data_dir)
    svc = Service(store, keycache.KeyCache(vault), SystemClock(), Quotas(keys_per_region=keys + 1))
    caller = Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    batch = 500
    for start in range(0, keys, batch):
        with store.transaction():
            for n in range(start, min(start + batch, keys)):
                ctx = Context(caller, REGION, svc.clock.now(), f"fill-{n}")
                params: dict[str, Any] = {"KeyAttributes": CVK, "Exportable": True}
                if n % 10 == 0:
                    params["Tags"] = [{"Key": "n", "Value": str(n)}, {"Key": "team", "Value": "issuing"}]
                arn = lifecycle.create_key(svc, ctx, params)["Key"]["KeyArn"]
                if n % 10 == 0:
                    aliases.create_alias(svc, ctx, {"AliasName": f"alias/key-{n}", "KeyArn": arn})
                if n % 20 == 0:
                    resource_policies.put_resource_policy(svc, ctx, {"ResourceArn": arn, "Policy": POLICY})
    store.close()


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def stages_backup(data_dir: Path, target: Path) -> dict[str, float]:
    kind, vault = FILE, open_vault(VaultSettings(), data_dir, create=False)
    store = open_store(data_dir)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        snap_s, snapshot = timed(lambda: store.write_snapshot(Path(work)))
        describe_s, described = timed(
            lambda: snapshot_check.describe(vault, kind, store.snapshot_blocks(Path(work), snapshot))
        )
        tar_s, _ = timed(lambda: archive.write(target, Path(work), snapshot, described, "bench"))
    store.close()
    return {"snapshot (online backup API)": snap_s, "vault section (KP of every block)": describe_s,
            "tar with digests": tar_s}  # fmt: skip


def stages_restore(backup: Path, data_dir: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir=data_dir) as work:
        read_s, manifest = timed(lambda: archive.read(backup, Path(work)))
        vault = open_vault(VaultSettings(), data_dir, create=False)
        store = open_store(data_dir)
        check_s, _ = timed(
            lambda: snapshot_check.check_blocks(
                vault, store.snapshot_blocks(Path(work), manifest.snapshot), manifest.vault
            )
        )
        load_s, _ = timed(lambda: store.restore_snapshot(Path(work), manifest.snapshot))
        store.close()
    return {"read tar, digests, checksum": read_s, "open every block": check_s,
            "load into the empty store": load_s}  # fmt: skip


def backup_args(**given: Any) -> argparse.Namespace:
    """The arguments `paycrypt backup`/`restore` parse, with the file vault's defaults."""
    parser = argparse.ArgumentParser()
    add_vault_options(parser)
    return argparse.Namespace(**vars(parser.parse_args([])), **given)


def fresh_target(root: Path, source: Path, name: str) -> Path:
    target = root / name
    target.mkdir(mode=0o700)
    shutil.copy2(source / "master.key", target / "master.key")
    return target


def one_run(root: Path, source: Path, run: int) -> dict[str, float]:
    """Every figure of one run: the stages, the commands in process, the commands as processes."""
    figures: dict[str, float] = {}
    backup = root / f"stages-{run}.tar"
    figures.update({f"backup: {k}": v for k, v in stages_backup(source, backup).items()})
    target = fresh_target(root, source, f"stages-{run}")
    figures.update({f"restore: {k}": v for k, v in stages_restore(backup, target).items()})

    quiet = io.StringIO()
    command = root / f"command-{run}.tar"
    start = time.perf_counter()
    assert backup_cli.run_backup(backup_args(command="backup", to=command, data_dir=source), quiet) == 0
    figures["backup: run_backup (in process)"] = time.perf_counter() - start
    target = fresh_target(root, source, f"command-{run}")
    start = time.perf_counter()
    assert backup_cli.run_restore(backup_args(command="restore", file=command, data_dir=target), quiet) == 0
    figures["restore: run_restore (in process)"] = time.perf_counter() - start

    process = root / f"process-{run}.tar"
    target = fresh_target(root, source, f"process-{run}")
    for name, argv in (
        ("backup: `paycrypt backup` (process)", ["backup", "--to", str(process), "--data-dir", str(source)]),
        ("restore: `paycrypt restore` (process)", ["restore", str(process), "--data-dir", str(target)]),
    ):
        start = time.perf_counter()
        done = subprocess.run([PAYCRYPT, *argv], capture_output=True, text=True)
        figures[name] = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paycrypt-backup-bench-") as tmp:
        root = Path(tmp)
        source = root / "source"
        fill_s, _ = timed(lambda: fill(source, args.keys))
        db_bytes = (source / "paycrypt.db").stat().st_size
        print(f"{args.keys} keys made by CreateKey's path in {fill_s:.1f} s; store {db_bytes / 1e6:.1f} MB")
        results: dict[str, list[float]] = {}
        for run in range(args.repeat):
            for name, seconds in one_run(root, source, run).items():
                results.setdefault(name, []).append(seconds)

        size = (root / "command-0.tar").stat().st_size
        print(f"backup file {size / 1e6:.1f} MB; median of {args.repeat} runs (min-max), seconds\n")
        print("| stage | median s | min-max s |\n|---|---|---|")
        for name, values in results.items():
            print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f}-{max(values):.3f} |")


if __name__ == "__main__":
    main()

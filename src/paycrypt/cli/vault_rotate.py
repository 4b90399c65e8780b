"""`paycrypt vault rotate`: a new master-key version, every key block re-sealed under it, the older
versions retired, while the server keeps serving.

    paycrypt vault rotate --data-dir /var/lib/paycrypt
    paycrypt vault rotate --vault pkcs11 --pkcs11-module ... --pkcs11-token pay --data-dir ...

With the file vault a version is a key file (`master.key.2`, …); with a PKCS#11 vault it is a key
generated inside the token, labelled `paycrypt-master.2`, … (vault/pkcs11.py). Run it again after
any interruption (even SIGKILL): it finishes the rotation it finds unfinished (the vault holds more
than one version) instead of starting another, and skips every block already re-sealed
(jobs/rotation.py says why nothing is lost or sealed twice). One rotation (or migration,
cli/vault_migrate.py) at a time: a second run while one is going exits at once (a lock on
`<data-dir>/.vault-rotate.lock`, which the kernel releases when its holder dies).

On several nodes the new version is recorded pending and re-sealing waits (`--wait` seconds)
until every live server reports holding it (jobs/holdings.py); otherwise the command exits naming
the servers without it and saying what to do (copy `master.key.N` to them), and is run again.

Progress goes to standard error: a bar on a terminal, a plain line every tenth of the way (and at
least every few seconds) otherwise; the result, to standard output.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from paycrypt import defaults
from paycrypt.cli.errors import CliError
from paycrypt.jobs import holdings, rotation
from paycrypt.store import factory as store_factory
from paycrypt.store.migrations import SchemaError
from paycrypt.vault import factory
from paycrypt.vault.base import MasterKeyVersion, RotatableVault
from paycrypt.vault.factory import MASTER_KEY_FILE, VaultSettings, VaultUnavailable
from paycrypt.vault.local import version_path

LOCK_NAME = ".vault-rotate.lock"
BAR_WIDTH = 30
LINE_EVERY = 5.0  # seconds between plain progress lines, at most
NICENESS = 10  # background work: the data plane of a server on the same machine comes first


def add_rotate_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `rotate` to the `vault` command's subparsers (cli/vault.py adds the vault options); run
    it with `run_rotate(args, settings)`."""
    parser = commands.add_parser(
        "rotate", help="make a new master key version, re-seal every key under it, retire the old one"
    )
    add_run_options(parser, "the old one is retired")
    return parser


def add_run_options(parser: argparse.ArgumentParser, ending: str) -> None:
    """The options every re-sealing command takes: where the store is, the grace, the niceness."""
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data directory (default as for serve)"
    )
    parser.add_argument(
        "--store", default=None, help="the server's --store (default: paycrypt.db in the data directory)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=rotation.GRACE,
        help=f"seconds running servers get to learn the new master key before {ending} (default %(default)s)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=NICENESS,
        help="raise this process's nice value by this much, so a server on the same machine is "
        "served first (default %(default)s; 0 to re-seal at full speed)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=holdings.WAIT,
        help="seconds to wait for every live server to hold the new master key before re-sealing "
        "anything; past it the command exits naming the servers without it (default %(default)s)",
    )


def run_rotate(
    args: argparse.Namespace, settings: VaultSettings, out: IO[str] | None = None, err: IO[str] | None = None
) -> int:
    """The rotation; CliError if it cannot run or did not finish (the message says why)."""
    out = out or sys.stdout
    err = err or sys.stderr
    data_dir = args.data_dir or defaults.data_dir()
    done = rotate(data_dir, settings, args.store, args.grace, args.nice, err, args.wait)
    retired = ", ".join(str(version.version) for version in done.retired) or "none"
    print(
        f"master key version {done.target.version} (check value {done.target.key_id}) seals every key; "
        f"{done.progress.resealed} blocks re-sealed in this run; retired versions: {retired}",
        file=out,
    )
    if done.still_holding:
        servers = ", ".join(f"{p.node_id}/w{p.worker_id}" for p in done.still_holding)
        print(
            f"these servers still hold a retired version: {servers}; "
            + _remove_retired(settings, data_dir, done.retired),
            file=out,
        )
    return 0


def rotate(
    data_dir: Path,
    settings: VaultSettings,
    store: str | None,
    grace: float,
    nice: int,
    err: IO[str],
    wait: float = holdings.WAIT,
) -> rotation.Rotation:
    with resealing(data_dir, store, nice) as opened:
        vault = open_vault(settings, data_dir)
        if not isinstance(vault, RotatableVault):
            raise CliError(f"the {settings.kind} vault cannot add master key versions")
        report = progress_report(err)
        try:
            done = rotation.rotate(
                opened,
                vault,
                report,
                grace,
                announce=lambda v, r: _announce(v, r, err),
                kind=settings.kind,
                wait=wait,
                advice=lambda version: _give_version(settings, data_dir, version),
            )
        except holdings.NotHeld as exc:
            raise CliError(str(exc)) from None
        report.finish()
    if done.progress.failed:
        raise CliError(
            f"{len(done.progress.failed)} blocks could not be re-sealed, so no version was retired:\n"
            + failures(done.progress)
        )
    return done


def open_vault(settings: VaultSettings, data_dir: Path, create: bool = False) -> Any:
    """The vault `settings` name, never a new file-vault key unless `create`; CliError if it cannot
    be opened."""
    try:
        return factory.open_vault(settings, data_dir, create=create)
    except (VaultUnavailable, ValueError, PermissionError) as exc:
        raise CliError(str(exc)) from None


def failures(progress: rotation.Progress) -> str:
    return "\n".join(f"  {arn}: {why}" for arn, why in sorted(progress.failed.items()))


def progress_report(err: IO[str]) -> Bar | Lines:
    """A bar on a terminal, plain lines otherwise."""
    return Bar(err) if err.isatty() else Lines(err)


@contextmanager
def resealing(data_dir: Path, store: str | None, nice: int) -> Iterator[Any]:
    """The store of a server's data directory, for one re-sealing command at a time (rotation or
    migration), at a lower priority; CliError if there is no store there."""
    try:
        spec = store_factory.parse(store, data_dir)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if not data_dir.is_dir() or (spec.backend == "sqlite" and not Path(spec.target).exists()):
        raise CliError(f"no master key and database in {data_dir} (start the server there first)")
    if nice:
        os.nice(nice)
    with _only_rotation(data_dir):
        try:
            opened = store_factory.open_store(spec)
        except SchemaError as exc:
            raise CliError(str(exc)) from None
        try:
            yield opened
        finally:
            opened.close()


def _announce(version: MasterKeyVersion, resumed: bool, err: IO[str]) -> None:
    verb = "resuming the rotation to" if resumed else "made"
    print(
        f"{verb} master key version {version.version} (check value {version.key_id}); waiting for every "
        "live server to hold it",
        file=err,
    )


def _give_version(settings: VaultSettings, data_dir: Path, version: MasterKeyVersion) -> str:
    """What the operator does for a server that lacks `version` (holdings.NotHeld's advice)."""
    if settings.kind == factory.FILE:
        name = version_path(data_dir / MASTER_KEY_FILE, version.version)
        give = (
            f"Copy {name} to the data directory of each of them (mode 0600, owned by the user paycrypt "
            f'runs as; docs/key-protection.md, "Rotation on several nodes"): a server reads it within '
            "a second and reports it at its next heartbeat."
        )
    else:
        give = (
            f"Their token must hold the key labelled {settings.key_label}.{version.version}: use the "
            "one token on every node, or replicate the key with the HSM's own procedure."
        )
    return (
        f"{give} Then run `paycrypt vault rotate` again: it resumes this rotation. Until then no "
        f"server seals under version {version.version} and no block is re-sealed; a server that "
        "starts without it is refused."
    )


def _remove_retired(settings: VaultSettings, data_dir: Path, retired: tuple[MasterKeyVersion, ...]) -> str:
    if settings.kind != factory.FILE:
        return "their tokens are not the one this command retired the versions in: destroy them there"
    names = ", ".join(version_path(Path(MASTER_KEY_FILE), v.version).name for v in retired)
    return f"remove {names} from their data directories (no block is sealed under it any more)"


@contextmanager
def _only_rotation(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(f"another rotation is running on {data_dir}") from None
        yield
    finally:
        os.close(fd)  # releases the lock


class Bar:
    """One line redrawn in place: the pass, a bar, blocks looked at and re-sealed, the rate."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, progress: rotation.Progress) -> None:
        share = progress.seen / progress.total if progress.total else 1.0
        filled = round(BAR_WIDTH * min(share, 1.0))
        self.stream.write(
            f"\rpass {progress.passes} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            f"{progress.seen}/{progress.total} blocks, {progress.resealed} re-sealed, "
            f"{progress.rate():,.0f}/s"
        )
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")


class Lines:
    """A line at each tenth of a pass, and at least every LINE_EVERY seconds."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.last: tuple[int, int] = (0, -1)  # (pass, tenth) last printed
        self.printed_at = 0.0

    def __call__(self, progress: rotation.Progress) -> None:
        tenth = 10 * progress.seen // progress.total if progress.total else 10
        now = time.monotonic()
        if (progress.passes, tenth) == self.last and now - self.printed_at < LINE_EVERY:
            return
        self.last, self.printed_at = (progress.passes, tenth), now
        print(
            f"pass {progress.passes}: {progress.seen}/{progress.total} blocks looked at, "
            f"{progress.resealed} re-sealed, {progress.rate():,.0f} re-sealed/s",
            file=self.stream,
            flush=True,
        )

    def finish(self) -> None:
        pass

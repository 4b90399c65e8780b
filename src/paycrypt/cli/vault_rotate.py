"""`paycrypt vault rotate`: a new master-key version, every key block re-sealed under it, the older
versions retired, while the server keeps serving.

    paycrypt vault rotate --data-dir /var/lib/paycrypt

Run it again after any interruption (even SIGKILL): it finishes the rotation it finds unfinished
(the vault holds more than one version) instead of starting another, and skips every block already
re-sealed (jobs/rotation.py says why nothing is lost or sealed twice). One rotation at a time: a
second run while one is going exits at once (a lock on `<data-dir>/.vault-rotate.lock`, which the
kernel releases when its holder dies).

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
from paycrypt.jobs import rotation
from paycrypt.store import factory as store_factory
from paycrypt.store.factory import DB_NAME
from paycrypt.vault.base import MasterKeyVersion
from paycrypt.vault.local import LocalKeyFileVault, version_files

LOCK_NAME = ".vault-rotate.lock"
MASTER_KEY = "master.key"
BAR_WIDTH = 30
LINE_EVERY = 5.0  # seconds between plain progress lines, at most
NICENESS = 10  # background work: the data plane of a server on the same machine comes first


def add_rotate_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `rotate` to the `vault` command's subparsers; run it with `run_rotate(args)`."""
    parser = commands.add_parser(
        "rotate", help="make a new master key version, re-seal every key under it, retire the old one"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data directory (default as for serve)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=rotation.GRACE,
        help="seconds running servers get to learn the new version before the old one is retired "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=NICENESS,
        help="raise this process's nice value by this much, so a server on the same machine is "
        "served first (default %(default)s; 0 to rotate at full speed)",
    )
    return parser


def run_rotate(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """The rotation; CliError if it cannot run or did not finish (the message says why)."""
    out = out or sys.stdout
    err = err or sys.stderr
    done = rotate(args.data_dir or defaults.data_dir(), args.grace, args.nice, err)
    retired = ", ".join(str(version.version) for version in done.retired) or "none"
    print(
        f"master key version {done.target.version} (check value {done.target.key_id}) seals every key; "
        f"{done.progress.resealed} blocks re-sealed in this run; retired versions: {retired}",
        file=out,
    )
    return 0


def rotate(data_dir: Path, grace: float, nice: int, err: IO[str]) -> rotation.Rotation:
    path = data_dir / MASTER_KEY
    if not version_files(path) or not (data_dir / DB_NAME).exists():
        raise CliError(f"no master key and database in {data_dir} (start the server there first)")
    if nice:
        os.nice(nice)
    with _only_rotation(data_dir):
        vault = LocalKeyFileVault(path)
        store = store_factory.open_store(store_factory.parse(None, data_dir))
        try:
            report = Bar(err) if err.isatty() else Lines(err)
            done = rotation.rotate(store, vault, report, grace, announce=lambda v, r: _announce(v, r, err))
        finally:
            store.close()
        report.finish()
    if done.progress.failed:
        failed = "\n".join(f"  {arn}: {why}" for arn, why in sorted(done.progress.failed.items()))
        raise CliError(
            f"{len(done.progress.failed)} blocks could not be re-sealed, so no version was retired:\n{failed}"
        )
    return done


def _announce(version: MasterKeyVersion, resumed: bool, err: IO[str]) -> None:
    verb = "resuming the rotation to" if resumed else "made"
    print(f"{verb} master key version {version.version} (check value {version.key_id})", file=err)


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


class _Rate:
    """Blocks re-sealed per second since the run began."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def per_second(self, progress: rotation.Progress) -> float:
        return progress.resealed / max(time.monotonic() - self.started, 1e-9)


class Bar:
    """One line redrawn in place: the pass, a bar, blocks looked at and re-sealed, the rate."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.rate = _Rate()
        self.drawn = False

    def __call__(self, progress: rotation.Progress) -> None:
        share = progress.seen / progress.total if progress.total else 1.0
        filled = round(BAR_WIDTH * min(share, 1.0))
        self.stream.write(
            f"\rpass {progress.passes} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} "
            f"{progress.seen}/{progress.total} blocks, {progress.resealed} re-sealed, "
            f"{self.rate.per_second(progress):,.0f}/s"
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
        self.rate = _Rate()
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
            f"{progress.resealed} re-sealed, {self.rate.per_second(progress):,.0f} re-sealed/s",
            file=self.stream,
            flush=True,
        )

    def finish(self) -> None:
        pass

"""Master-key rotation of many keys while the server serves CVV2 verifications (issue 16, item 3).

What is measured, in one run:

1. `--keys` card verification keys are stored in the server's data directory through the service's
   own path (`lifecycle.store_key`: CreateKey's rules, sealing, the store), a thousand per account
   so the per-account quota count stays small, before the server starts.
2. `paycrypt serve` (uvicorn, as http_bench.py starts it) gets CVV2 verifications from wrk (or
   bench/loadgen.py) on `--concurrency` keep-alive connections, in windows of `--window` seconds,
   re-signed for each window: first `--baseline` windows with nothing else running, then windows
   for as long as `paycrypt vault rotate` runs (another process, as an operator runs it), then one
   window after.
3. Reported: each phase's req/s and the median and worst p50/p99 over its windows, and every
   request's status (all must be 200); the rotation's blocks re-sealed per second (its own last
   progress line: re-sealed blocks / seconds since it started) and its wall time.

    .venv/bin/python bench/rotation_bench.py --keys 100000
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import http_bench
import signing

from paycrypt.clock import SystemClock
from paycrypt.crypto import keygen
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import lifecycle
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault

REGION = "us-east-1"
PER_ACCOUNT = 1000
CVK = {
    "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
    "KeyAlgorithm": "TDES_2KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Generate": True, "Verify": True},
}


def fill(data_dir: Path, count: int) -> float:
    """Store `count` CVKs of random material; seconds taken."""
    started = time.perf_counter()
    store = SqliteStore(data_dir / "paycrypt.db")
    svc = Service(
        store,
        KeyCache(LocalKeyFileVault(data_dir / "master.key")),
        SystemClock(),
        Quotas(keys_per_region=10**6),
    )
    try:
        for first in range(0, count, PER_ACCOUNT):
            account = f"{200000000000 + first // PER_ACCOUNT}"
            caller = Caller(account, f"arn:aws:iam::{account}:root", account)
            with store.transaction():
                for _ in range(min(PER_ACCOUNT, count - first)):
                    new = lifecycle.NewKey(
                        attributes=CVK,
                        material=keygen.generate("TDES_2KEY"),
                        exportable=True,
                        enabled=True,
                        origin="EXTERNAL",
                    )
                    lifecycle.store_key(svc, Context(caller, REGION, svc.clock.now(), str(uuid.uuid4())), new)
    finally:
        store.close()
    return time.perf_counter() - started


@dataclass
class Window:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int


def window(
    args: argparse.Namespace, port: int, endpoint: str, key: str, cases: list, workdir: Path
) -> Window:
    """One window of CVV2 verifications, signed now (SigV4 allows five minutes of skew)."""
    requests = signing.verify_requests(endpoint, key, cases)
    path = http_bench.write_requests(workdir / "verify.req", requests)
    out = http_bench.drive(args.load, port, path, args.window, args.concurrency)
    return Window(*http_bench.parse_load_output(args.load, out))


def row(phase: str, windows: list[Window]) -> str:
    requests = sum(w.requests for w in windows)
    seconds = sum(w.seconds for w in windows)
    p50 = [w.p50_ms for w in windows]
    p99 = [w.p99_ms for w in windows]
    return (
        f"| {phase} | {len(windows)} | {requests / seconds:,.0f} | {statistics.median(p50):.2f} "
        f"| {statistics.median(p99):.2f} | {max(p99):.2f} | {sum(w.errors for w in windows)} |"
    )


PROGRESS = re.compile(r"pass (\d+): (\d+)/(\d+) blocks looked at, (\d+) re-sealed, ([\d,]+) re-sealed/s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds per load window")
    parser.add_argument("--baseline", type=int, default=3, help="windows before the rotation")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--nice", type=int, default=None, help="vault rotate's --nice (default its own)")
    parser.add_argument(
        "--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paycrypt-rotation-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = http_bench.data_directory(workdir)  # where http_bench.running_server points the server
        print(f"stored {args.keys:,} keys in {fill(data_dir, args.keys):.0f} s", flush=True)
        with http_bench.running_server("uvicorn", "paycrypt", workdir) as (port, _pid):
            endpoint = f"http://{http_bench.HOST}:{port}"
            key = signing.create_cvk(endpoint)
            cases = signing.cvv2_cases(endpoint, key, 50)
            baseline = [window(args, port, endpoint, key, cases, workdir) for _ in range(args.baseline)]
            log = workdir / "rotate.log"
            started = time.perf_counter()
            with log.open("w") as err:
                rotation = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "paycrypt.cli.main",
                        "vault",
                        "rotate",
                        "--data-dir",
                        str(data_dir),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                )
                during = []
                while rotation.poll() is None:
                    during.append(window(args, port, endpoint, key, cases, workdir))
                out, _ = rotation.communicate()
            wall = time.perf_counter() - started
            after = [window(args, port, endpoint, key, cases, workdir)]
        progress = [m for m in map(PROGRESS.search, log.read_text().splitlines()) if m]
    if rotation.returncode != 0:
        raise RuntimeError(f"vault rotate failed:\n{log.read_text()}")
    last = progress[-1]
    print(out.strip())
    print(
        f"rotation: {int(last[4]):,} blocks re-sealed at {last[5]} blocks/s; {wall:.0f} s wall (with grace)"
    )
    niceness = "default" if args.nice is None else args.nice
    print(f"load: {args.load}, {args.concurrency} conns, {args.window:g} s windows; rotate --nice {niceness}")
    print("| phase | windows | req/s | p50 ms (median) | p99 ms (median) | p99 ms (worst) | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for phase, windows in (("before", baseline), ("during rotation", during), ("after", after)):
        print(row(phase, windows))


if __name__ == "__main__":
    main()

"""The long fuzz run (issue 13): generated requests against a `paycrypt serve` this script starts.

The same generators, sender and rule as the CI test (tests/api/test_fuzz.py, built from
tests/fuzz/): requests shaped from both models (valid, mutated from valid against real keys,
broken) and raw-HTTP abuse, SigV4-signed. Prints the status counts per operation and in total,
then every rule failure with up to three example requests; exits 1 if there was any.

    .venv/bin/python bench/fuzz.py --requests 100000            # about 15 minutes on 2 cores
    .venv/bin/python bench/fuzz.py --requests 20000 --seed 7 --codes
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import free_port  # (the repository root is on the path only now)
from tests.fuzz import campaign
from tests.fuzz.oracle import Tally


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _progress(tally: Tally) -> None:
    if tally.total % 10_000 == 0:
        elapsed = time.monotonic() - tally.started
        print(f"  {tally.total:,} requests, {elapsed:.0f} s, {tally.failure_count} failures", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=100_000, help="requests to send (default 100000)")
    parser.add_argument("--seed", type=int, default=campaign.seed_from_environment(), help="generator seed")
    parser.add_argument("--codes", action="store_true", help="also print the error codes per operation")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs ({_cpu()}), {platform.system()} "
        f"{platform.release()}; seed {args.seed}, {args.requests:,} requests",
        flush=True,
    )
    started = time.monotonic()
    target = campaign.Target.start(free_port())
    print(
        f"server and {len(target.pool.crypto_arns)} crypto keys ready in {time.monotonic() - started:.1f} s"
    )
    try:
        tally = campaign.run(target, args.requests, args.seed, _progress)
        campaign.finish(target, tally)
    finally:
        target.stop()
    print()
    print(tally.table())
    if args.codes:
        print()
        print(tally.codes_table())
    print()
    print(tally.report())
    return 1 if tally.failure_count else 0


if __name__ == "__main__":
    sys.exit(main())

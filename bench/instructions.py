"""Instructions per `App.handle` call, counted by valgrind's callgrind: a figure the machine's
load does not move (issue 17).

CPU time per request on a two-core machine shared with other jobs moves by 2× with the
neighbours (cache and core contention inflate it, and a short run samples it badly); the number
of instructions a call executes does not. So a change to the request path is measured here, the
old tree against the new, and CPU time over HTTP (run.py) is left to a quiet machine.

Each scenario runs twice under callgrind, with instrumentation switched on (callgrind_control)
only around `n` and then `3n` calls of `App.handle` on one pre-signed request (after a warm-up:
unseal cache, SQLite pages, compiled checkers); instructions per call = the difference / 2n, so
start-up and the switching itself cancel out. The app is built as `paycrypt serve` builds it;
what is not counted is uvicorn and the ASGI hop (the null floor of run.py) and the kernel.

    .venv/bin/python bench/instructions.py                       # all three, about 10 minutes
    .venv/bin/python bench/instructions.py --scenario cvv2-verify --calls 100

Needs valgrind (Debian package `valgrind`). An older tree is measured with its own source:
`PYTHONPATH=<export of the old tree>/src .venv/bin/python <that export>/bench/instructions.py`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SCENARIOS = {"cvv2-verify": 100, "get-key": 100, "create-key": 30}  # default calls (n) per scenario
WARM = 30


def child(scenario: str, calls: int) -> None:
    """Under callgrind: build the app, warm it, count `calls` calls."""
    import profile_cvv
    import run
    import signing

    from paycrypt.server import Settings, build_app

    with tempfile.TemporaryDirectory(prefix="paycrypt-instructions-") as tmp:
        app = build_app(Settings(data_dir=Path(tmp), key_quota=10**8)).app
        key_arn, cases = profile_cvv.cvv_key(app)
        endpoint = profile_cvv.ENDPOINT
        if scenario == "cvv2-verify":
            raw = signing.verify_requests(endpoint, key_arn, cases)[:1]
        elif scenario == "get-key":
            raw = signing.get_key_requests(endpoint, key_arn, 1)
        else:  # each replay of a signed CreateKey makes a key
            raw = run.create_key_requests(endpoint)
        requests = [profile_cvv.split_request(r) for r in raw]
        for index in range(WARM):
            profile_cvv.handle_now(app, *requests[index % len(requests)])
        switch = ["callgrind_control", "-i"]
        subprocess.run([*switch, "on", str(os.getpid())], check=True, capture_output=True)
        for index in range(calls):
            profile_cvv.handle_now(app, *requests[index % len(requests)])
        subprocess.run([*switch, "off", str(os.getpid())], check=True, capture_output=True)


def counted(scenario: str, calls: int) -> int:
    """Instructions callgrind collected for `calls` calls (plus the constant cost of switching)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--cache-sim=no",
        "--instr-atstart=no",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        scenario,
        str(calls),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).parent)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append", help="default: all")
    parser.add_argument("--calls", type=int, default=None, help="n (default per scenario)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    print("| scenario | instructions per App.handle call | calls counted |\n|---|---:|---:|", flush=True)
    for scenario in args.scenario or list(SCENARIOS):
        calls = args.calls or SCENARIOS[scenario]
        once, thrice = counted(scenario, calls), counted(scenario, 3 * calls)
        print(f"| {scenario} | {(thrice - once) / (2 * calls):,.0f} | {calls} and {3 * calls} |", flush=True)


if __name__ == "__main__":
    main()

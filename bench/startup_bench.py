"""Start-up CPU (user + sys) of a `paycrypt` process: the CLI's import, and `paycrypt serve` from exec
to listening. The minimum of several runs, run one after the other (the machine's load only adds).

    python bench/startup_bench.py [--runs 7] [--src DIR]

`--src`: another checkout's `src` directory (for example `git archive main src | tar -x -C /tmp/main`)
measured in the same run, for a before/after ratio on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of_run(argv: list[str], env: dict[str, str]) -> float:
    """CPU seconds of a child that runs to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cpu_to_listening(env: dict[str, str]) -> float:
    """CPU seconds of `paycrypt serve` (one process, SQLite, a new data directory) until it accepts
    a connection, read from /proc before it is stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        argv = [sys.executable, "-m", "paycrypt.cli.main", "serve", "--port", str(port), "--data-dir", data]
        server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.02)
            fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        finally:
            server.terminate()
            server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--src", type=Path, action="append", default=[], help="another src directory")
    options = parser.parse_args()
    trees = {"this": None, **{str(src): src for src in options.src}}
    results: dict[str, dict[str, list[float]]] = {name: {"cli": [], "serve": []} for name in trees}
    for _ in range(options.runs):
        for name, src in trees.items():  # interleaved: the load falls on each tree alike
            env = {**os.environ, **({"PYTHONPATH": str(src)} if src else {})}
            results[name]["cli"].append(cpu_of_run([sys.executable, "-c", "import paycrypt.cli.main"], env))
            results[name]["serve"].append(cpu_to_listening(env))
    for name, figures in results.items():
        print(
            f"{name}: import paycrypt.cli.main {min(figures['cli']):.2f} s CPU; "
            f"paycrypt serve to listening {min(figures['serve']):.2f} s CPU "
            f"(minima of {options.runs})"
        )


if __name__ == "__main__":
    main()

"""HTTP benchmark of the foundation: CVV2 verify, GetKey and the null floor, over SigV4, per stack.

Issue 2 asks for the HTTP stack to be chosen by measurement. For one stack this script:

1. starts paycrypt as a subprocess on a free loopback port with a temporary data directory
   (``paycrypt serve`` for uvicorn+uvloop+httptools; ``granian --interface asgi`` on
   ``bench/granian_app.py:create_app`` for granian);
2. creates a CVK with boto3, has the server generate CVV2s for a few PANs, and has botocore sign
   (SigV4) the VerifyCardValidationData and GetKey requests once, up front (bench/signing.py);
3. replays them from a separate load process (wrk with bench/replay.lua, or bench/loadgen.py)
   over keep-alive connections, after a short unmeasured warm-up, and reads requests/s and
   p50/p99 latency from it; every response must be 2xx;
4. reads the server process tree's CPU time (utime+stime from /proc) before and after, so CPU
   per request = server CPU seconds ÷ requests;
5. does the same against bench/null_app.py served by the same stack with the same settings: the
   floor, what the HTTP server and the ASGI hop cost with no application work.

`--workers 1 --workers 2` runs the paycrypt scenarios once per worker count (`paycrypt serve
--workers N`, issue 15 item 3), side by side in one run; the server's CPU is that of the whole
process tree, supervisor and workers, so CPU per request compares across worker counts.

On a 2-core machine the load process competes with the server for CPU; the table prints the load
generator's CPU share so a reader can see whether it was the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import loadgen
import signing

BENCH = Path(__file__).resolve().parent
HOST = "127.0.0.1"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
SIGNED_REQUESTS = 16  # distinct pre-signed requests per scenario, replayed round robin


@dataclass
class Result:
    stack: str
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float
    loadgen_cpu_s: float
    machine_cpu_s: float  # every CPU on the machine, busy seconds, over the same window
    database_cpu_s: float = 0.0  # a database server's process tree (measure's `database_pid`), if any

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / self.requests

    def row(self) -> str:
        return (
            f"| {self.stack} | {self.scenario} | {self.rps:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} "
            f"| {self.cpu_ms_per_request:.3f} | {self.server_cpu_s / self.seconds:.0%} "
            f"| {self.loadgen_cpu_s / self.seconds:.0%} | {self.other_cpu_s / self.seconds:.0%} |"
        )

    @property
    def other_cpu_s(self) -> float:
        """CPU used by neither server nor load generator: kernel network work, a database server, and
        anyone else's job."""
        return max(0.0, self.machine_cpu_s - self.server_cpu_s - self.loadgen_cpu_s)

    @property
    def database_cpu_ms_per_request(self) -> float:
        return self.database_cpu_s * 1000 / self.requests


HEADER = (
    "| stack | scenario | req/s | p50 ms | p99 ms | server CPU ms/req "
    "| server CPU | load gen CPU | other CPU |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


# --- servers -------------------------------------------------------------------------------------

GRANIAN_FLAGS = ["--interface", "asgi", "--workers", "1", "--loop", "uvloop", "--http", "1", "--no-ws"]
GRANIAN_FLAGS += ["--log-level", "warning", "--no-access-log", "--working-dir", str(BENCH)]


def server_command(
    stack: str, app: str, port: int, data_dir: Path, serve_options: tuple[str, ...] = ()
) -> list[str]:
    """The command line for (stack, app); app is 'paycrypt' or 'null'. `serve_options` are added
    to `paycrypt serve`'s."""
    if stack == "uvicorn" and app == "paycrypt":
        serve = ["serve", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir), *serve_options]
        return [sys.executable, "-m", "paycrypt.cli.main", *serve]
    if stack == "uvicorn":
        return [sys.executable, str(BENCH / "null_app.py"), "--port", str(port)]
    granian = str(Path(sys.executable).parent / "granian")
    target = ["--factory", "granian_app:create_app"] if app == "paycrypt" else ["null_app:app"]
    return [granian, *GRANIAN_FLAGS, "--host", HOST, "--port", str(port), *target]


def data_directory(workdir: Path, stack: str = "uvicorn", app: str = "paycrypt", workers: int = 1) -> Path:
    """Where `running_server` points the server: keys stored there beforehand are served."""
    return workdir / f"data-{stack}-{app}-{workers}"


@contextmanager
def running_server(
    stack: str, app: str, workdir: Path, serve_options: tuple[str, ...] = (), workers: int = 1
) -> Iterator[tuple[int, int]]:
    """Start a server and yield (port, pid); stop it (the process we started, by its pid) after.
    `workers` above 1: `paycrypt serve --workers`, yielded once every worker is ready."""
    port = free_port()
    data_dir = data_directory(workdir, stack, app, workers)
    env = dict(os.environ, PAYCRYPT_DATA_DIR=str(data_dir))
    log_path = workdir / f"server-{stack}-{app}-{workers}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    if workers > 1:
        serve_options = (*serve_options, "--workers", str(workers))
    command = server_command(stack, app, port, data_dir, serve_options)
    proc = subprocess.Popen(command, stdout=log, stderr=log, env=env)
    try:
        wait_listening(port, proc)
        if workers > 1:
            wait_logged(log_path, f"{workers} workers on port", proc)
        yield port, proc.pid
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server not listening on port {port} after {timeout:.0f} s")


def wait_logged(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not log {text!r}: {path.read_text(errors='replace')}")
        time.sleep(0.1)


def tree_cpu_seconds(root: int) -> float:
    """utime+stime of a process and all its descendants (granian runs its worker as a child)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICK)
    pids, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent and pid not in pids]
        pids.update(children)
        frontier.extend(children)
    return sum(stats[pid][1] for pid in pids if pid in stats)


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICK


# --- load ----------------------------------------------------------------------------------------


def check_requests(port: int, requests: list[bytes]) -> None:
    """Send each pre-signed request once: all must answer 2xx before they are worth replaying."""
    for request in requests:
        with socket.create_connection((HOST, port), timeout=10) as sock:
            sock.sendall(request)
            buffer = bytearray()
            while (done := loadgen.response_end(buffer)) is None:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed before a full response")
                buffer += chunk
            if not 200 <= done[0] < 300:
                raise RuntimeError(f"pre-signed request answered {done[0]}: {bytes(buffer[:400])!r}")


def load_command(
    load: str,
    port: int,
    requests_file: Path,
    seconds: float,
    concurrency: int,
    more_ports: Sequence[int] = (),
) -> list[str]:
    """One wrk thread (wrk takes whole seconds), or one loadgen.py process, on `concurrency` connections.

    `more_ports`: further servers (nodes) the connections are spread over, evenly, as a load balancer
    would: wrk runs a thread per server (replay.lua's setup, given the ports by `load_environment`),
    loadgen.py opens its connections round robin over the ports."""
    if load == "wrk":
        options = [f"-t{1 + len(more_ports)}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s"]
        script = ["-s", str(BENCH / "replay.lua"), f"http://{HOST}:{port}/", "--", str(requests_file)]
        return ["wrk", *options, "--timeout", "5s", *script]
    options = ["--requests", str(requests_file), "--seconds", str(seconds), "--concurrency", str(concurrency)]
    ports = [option for p in (port, *more_ports) for option in ("--port", str(p))]
    return [sys.executable, str(BENCH / "loadgen.py"), *ports, *options]


def load_environment(port: int, more_ports: Sequence[int] = ()) -> dict[str, str] | None:
    """The load generator's environment: wrk gives script arguments to each thread's init() only,
    not to setup(), which picks the thread's server, so replay.lua reads the ports from here."""
    if not more_ports:
        return None
    return dict(os.environ, PAYCRYPT_WRK_PORTS=",".join(str(p) for p in (port, *more_ports)))


def parse_load_output(load: str, out: str) -> tuple[int, float, float, float, int]:
    """(requests, seconds, p50 ms, p99 ms, non-2xx or socket errors) from the generator's output."""
    if load == "wrk":
        line = next(line for line in out.splitlines() if line.startswith("WRK-RESULT"))
        v = dict(item.split("=") for item in line.split()[1:])
        errors = sum(int(v[k]) for k in ("non2xx", "connect", "read", "write", "timeout"))
        seconds, p50, p99 = int(v["duration_us"]) / 1e6, int(v["p50_us"]) / 1e3, int(v["p99_us"]) / 1e3
        return int(v["requests"]), seconds, p50, p99, errors
    r = json.loads(out.strip().splitlines()[-1])
    return r["requests"], r["seconds"], r["p50_us"] / 1e3, r["p99_us"] / 1e3, r["non2xx"]


def drive(
    load: str,
    port: int,
    requests_file: Path,
    seconds: float,
    concurrency: int,
    more_ports: Sequence[int] = (),
) -> str:
    command = load_command(load, port, requests_file, seconds, concurrency, more_ports)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
        env=load_environment(port, more_ports),
    )
    return done.stdout


def measure(
    stack: str,
    scenario: str,
    port: int,
    pid: int,
    requests_file: Path,
    args: argparse.Namespace,
    *,
    more_nodes: Sequence[tuple[int, int]] = (),
    database_pid: int | None = None,
) -> Result:
    """`more_nodes`: (port, pid) of further servers the load is spread over (see `load_command`);
    the server CPU is the sum of every server's process tree. `database_pid`: a database server
    whose process tree's CPU over the measured window goes in `database_cpu_s`."""
    more_ports, pids = [p for p, _ in more_nodes], [pid, *(p for _, p in more_nodes)]

    def servers_cpu() -> float:
        return sum(tree_cpu_seconds(p) for p in pids)

    def database_cpu() -> float:
        return tree_cpu_seconds(database_pid) if database_pid is not None else 0.0

    if args.warmup > 0:
        drive(args.load, port, requests_file, args.warmup, args.concurrency, more_ports)
    cpu_before, database_before, machine_before = servers_cpu(), database_cpu(), machine_busy_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = drive(args.load, port, requests_file, args.seconds, args.concurrency, more_ports)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after, database_after, machine_after = servers_cpu(), database_cpu(), machine_busy_seconds()
    requests, seconds, p50, p99, errors = parse_load_output(args.load, out)
    if errors:
        raise RuntimeError(f"{stack}/{scenario}: {errors} of {requests} requests failed")
    loadgen_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    server_cpu, machine_cpu = cpu_after - cpu_before, machine_after - machine_before
    database = database_after - database_before
    return Result(
        stack, scenario, requests, seconds, p50, p99, server_cpu, loadgen_cpu, machine_cpu, database
    )


def write_requests(path: Path, requests: list[bytes]) -> Path:
    path.write_bytes(b"\0".join(requests))
    return path


def bench_stack(stack: str, args: argparse.Namespace, workdir: Path) -> list[Result]:
    results = []
    for workers in args.workers:
        label = stack if workers == 1 else f"{stack}, {workers} workers"
        with running_server(stack, "paycrypt", workdir, workers=workers) as (port, pid):
            endpoint = f"http://{HOST}:{port}"
            key_arn = signing.create_cvk(endpoint)
            cases = signing.cvv2_cases(endpoint, key_arn, SIGNED_REQUESTS)
            verify = signing.verify_requests(endpoint, key_arn, cases)
            get_key = signing.get_key_requests(endpoint, key_arn, SIGNED_REQUESTS)
            for scenario, requests in (("cvv2-verify", verify), ("get-key", get_key)):
                if scenario in args.scenario:
                    check_requests(port, requests)
                    requests_file = write_requests(workdir / f"{stack}-{workers}-{scenario}.req", requests)
                    results += repeated(label, scenario, port, pid, requests_file, args)
    if "null" in args.scenario:
        with running_server(stack, "null", workdir) as (port, pid):
            check_requests(port, verify)
            requests_file = write_requests(workdir / f"{stack}-null.req", verify)
            results += repeated(stack, "null", port, pid, requests_file, args)
    return results


def repeated(
    stack: str, scenario: str, port: int, pid: int, requests_file: Path, args: argparse.Namespace
) -> list[Result]:
    """--repeat runs, each printed as it ends: a shared VM is noisy, one run is not a figure."""
    results = []
    for _ in range(args.repeat):
        results.append(measure(stack, scenario, port, pid, requests_file, args))
        print(results[-1].row(), flush=True)
    return results


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--stack", choices=["uvicorn", "granian"], action="append")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        help="paycrypt serve --workers N for the paycrypt scenarios, repeatable (default 1; uvicorn only)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="measured runs per scenario")
    parser.add_argument(
        "--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    parser.add_argument(
        "--scenario", choices=["cvv2-verify", "get-key", "null"], action="append", help="default: all three"
    )
    args = parser.parse_args()
    if args.seconds > 20:
        parser.error("keep each measurement bounded: --seconds at most 20")
    args.scenario = args.scenario or ["cvv2-verify", "get-key", "null"]
    args.workers = args.workers or [1]
    if args.workers != [1] and "granian" in (args.stack or []):
        parser.error("--workers is paycrypt serve's (the uvicorn stack)")
    print(f"load generator: {args.load}, concurrency {args.concurrency}, {args.seconds:g} s per scenario")
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="paycrypt-bench-") as tmp:
        for stack in args.stack or ["uvicorn"]:
            bench_stack(stack, args, Path(tmp))


if __name__ == "__main__":
    main()

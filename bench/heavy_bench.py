"""CVV2 verify latency with and without a CPU-heavy call beside it (issue 13, item 3).

The measured case of the issue: VerifyCardValidationData from 32 keep-alive connections, p50 and
p99, first alone and then with one GetParametersForImport (TR34_KEY_BLOCK, RSA_4096: an RSA_4096
key generation and a certificate signed by the RSA_4096 service CA) sent every 5 s on a
connection of its own. The goal: the second p99 within 1.5x the first. Runs alternate (alone,
with, alone, with, ...) so that a neighbour's load on this shared machine falls on both.

The server is `paycrypt serve` started by http_bench.running_server (uvicorn, uvloop, httptools,
one process), with the load from wrk (or bench/loadgen.py) as in http_bench.py. One
GetParametersForImport is made before measuring, so the service CA (itself an RSA_4096 key)
exists. Each heavy call must answer 200; its latency is printed too. To measure another tree's
server (the code before the change, say), run with PYTHONPATH=<that tree>/src: the server is
started with this process's environment.

    .venv/bin/python bench/heavy_bench.py --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import http_bench
import loadgen
import signing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.background import Background  # (the repository root is on the path only now)

HOST = http_bench.HOST


class HeavyCaller(Background):
    """Sends one pre-signed request every `interval` seconds on a new connection, in a thread."""

    def __init__(self, port: int, request: bytes, interval: float) -> None:
        self.port, self.request, self.interval = port, request, interval
        self.latencies: list[float] = []
        self.failures: list[str] = []
        super().__init__()

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            started = time.perf_counter()
            status = call_once(self.port, self.request)
            if 200 <= status < 300:
                self.latencies.append(time.perf_counter() - started)
            else:
                self.failures.append(str(status))


def call_once(port: int, request: bytes) -> int:
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(request)
        buffer = bytearray()
        while (done := loadgen.response_end(buffer)) is None:
            chunk = sock.recv(65536)
            if not chunk:
                return 0
            buffer += chunk
        return done[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (at most 30)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds of load before each run"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections of CVV2 verifies")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between heavy calls")
    parser.add_argument("--repeat", type=int, default=2, help="pairs of runs (alone, with)")
    parser.add_argument(
        "--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python"
    )
    args = parser.parse_args()
    if args.seconds > 30 or args.repeat > 5:
        parser.error("keep it bounded: --seconds at most 30, --repeat at most 5")
    print(f"load: {args.load}, {args.concurrency} connections, {args.seconds:g} s per run")
    print("| run | req/s | p50 ms | p99 ms | heavy calls | heavy call s (each) | server CPU | other CPU |")
    print("|---|---:|---:|---:|---:|---|---:|---:|", flush=True)
    p99s: dict[str, list[float]] = {"alone": [], "with heavy": []}
    with tempfile.TemporaryDirectory(prefix="paycrypt-heavy-bench-") as tmp:
        workdir = Path(tmp)
        with http_bench.running_server("uvicorn", "paycrypt", workdir) as (port, pid):
            endpoint = f"http://{HOST}:{port}"
            key_arn = signing.create_cvk(endpoint)
            verify = signing.verify_requests(
                endpoint, key_arn, signing.cvv2_cases(endpoint, key_arn, http_bench.SIGNED_REQUESTS)
            )
            http_bench.check_requests(port, verify)
            requests_file = http_bench.write_requests(workdir / "verify.req", verify)
            heavy = signing.capture(
                "payment-cryptography",
                endpoint,
                lambda c: c.get_parameters_for_import(
                    KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm="RSA_4096"
                ),
            )
            if call_once(port, heavy) != 200:  # also makes the service CA, outside the measurement
                raise RuntimeError("GetParametersForImport did not answer 200")
            for _ in range(args.repeat):
                for run in ("alone", "with heavy"):
                    caller = HeavyCaller(port, heavy, args.interval)
                    with caller if run == "with heavy" else contextlib.nullcontext():
                        result = http_bench.measure("uvicorn", run, port, pid, requests_file, args)
                    if caller.failures:
                        raise RuntimeError(f"heavy calls failed: {caller.failures}")
                    p99s[run].append(result.p99_ms)
                    each = ", ".join(f"{s:.2f}" for s in caller.latencies) or "-"
                    print(
                        f"| {run} | {result.rps:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} "
                        f"| {len(caller.latencies)} | {each} | {result.server_cpu_s / result.seconds:.0%} "
                        f"| {result.other_cpu_s / result.seconds:.0%} |",
                        flush=True,
                    )
    alone, with_heavy = statistics.median(p99s["alone"]), statistics.median(p99s["with heavy"])
    ratio = with_heavy / alone
    print(f"median p99: alone {alone:.2f} ms, with heavy calls {with_heavy:.2f} ms, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()

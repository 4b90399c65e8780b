"""What the metrics cost a request: `App.handle` on a pre-signed CVV2 verification (and GetKey),
in process and without HTTP, with metrics off, on in one process (--metrics-port), and on as a
worker of several (values in the multiprocess directory's memory-mapped files) — plus the meter's
own `observe` timed alone.

    .venv/bin/python bench/metrics_bench.py [--calls 5000] [--rounds 5] [--quick]

The three servers are built side by side and measured in alternating rounds, best of `rounds`
(on a shared VM the slower runs measure the neighbours), as CPU time per call
(`time.process_time`). The figure to read is the difference with metrics off. The servers' ports
are bound, never served: the calls go straight to `App.handle`, as profile_cvv.py does.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import tempfile
import timeit
from pathlib import Path

import signing
from profile_cvv import ENDPOINT, cpu_us_per_call, cvv_key, handle_now, split_request

from paycrypt.metrics import exposition
from paycrypt.server import Settings, build_app
from paycrypt.wire.app import App


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def requests(app: App) -> dict[str, tuple]:
    """A pre-signed CVV2 verify and GetKey for a key of this app's own, warmed up."""
    key_arn, cases = cvv_key(app)
    built = {
        "VerifyCardValidationData CVV2": split_request(signing.verify_requests(ENDPOINT, key_arn, cases)[0]),
        "GetKey": split_request(signing.get_key_requests(ENDPOINT, key_arn, 1)[0]),
    }
    for request in built.values():
        for _ in range(200):
            handle_now(app, *request)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 calls, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 300, 2
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="paycrypt-metrics-bench-") as tmp:
        base = Path(tmp)
        apps = {
            "off": build_app(Settings(data_dir=base / "off")),
            "one process": build_app(Settings(data_dir=base / "one", metrics_port=free_port())),
        }
        # A worker of several: the supervisor's directory, as exposition.for_workers names it.
        os.environ[exposition.ENVIRONMENT] = str(exposition.prepare_directory(base / "supervisor"))
        apps["worker (multiprocess)"] = build_app(
            Settings(data_dir=base / "worker", metrics_port=free_port())
        )
        del os.environ[exposition.ENVIRONMENT]
        signed = {name: requests(built.app) for name, built in apps.items()}
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.rounds):
            for name, built in apps.items():
                for operation, request in signed[name].items():
                    us = cpu_us_per_call(
                        lambda app=built.app, r=request: handle_now(app, *r), args.calls, repeats=1
                    )
                    best[(name, operation)] = min(best.get((name, operation), float("inf")), us)
        print(f"## App.handle µs CPU per call (best of {args.rounds} rounds × {args.calls} calls)\n")
        print("| request | metrics | µs per call | Δ vs off |\n|---|---|---:|---:|")
        for operation in signed["off"]:
            off = best[("off", operation)]
            for name in apps:
                us = best[(name, operation)]
                print(f"| {operation} | {name} | {us:.1f} | {us - off:+.1f} |")
        print("\n## The meter's observe alone (timeit, best of 5)\n")
        print("| metrics | µs per observe |\n|---|---:|")
        for name, built in apps.items():
            if built.instruments is None:
                continue
            meter = built.instruments.meter
            timer = timeit.Timer(lambda m=meter: m.observe("VerifyCardValidationData", 200, None, 0.0001))
            per = min(timer.repeat(5, args.calls)) / args.calls * 1e6
            print(f"| {name} | {per:.2f} |")


if __name__ == "__main__":
    main()

"""Where the server's CPU goes under load: the whole process, not `App.handle` alone (issue 17).

The server runs in this process exactly as `paycrypt serve` builds it (build_app, uvicorn with
paycrypt's uvicorn_config, uvloop, httptools, the connection guard), and wrk (or loadgen.py)
replays pre-signed requests at it from another process. For the measured seconds, cProfile runs on
the event loop's thread with a *CPU* clock (time.thread_time: user and system time of that thread),
so a moment the thread spends preempted by the load generator on a shared core is not counted; a
wall-clock sampler (py-spy) puts those moments on whichever line was running, which on this
machine is the socket write that wakes the client. cProfile's own cost inflates code made of many
small calls; the shares below are of the profiled CPU, the ms figures are that share of the CPU
per request measured without the profiler (/proc, the same window length, just before).

    .venv/bin/python bench/profile_server.py --scenario cvv2-verify --seconds 8
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import http_bench
import run as run_bench
import signing
import uvicorn

from paycrypt.server import Settings, build_app, uvicorn_config

# (label, file suffix, function): stages of a request, outermost first; a function's cumulative CPU.
STAGES = [
    (
        "uvicorn: read and parse the request (data_received)",
        "uvicorn/protocols/http/httptools_impl.py",
        "data_received",
    ),
    ("ASGI app (App.__call__), all of it", "paycrypt/wire/app.py", "__call__"),
    ("  App.handle", "paycrypt/wire/app.py", "handle"),
    ("    SigV4 (Pipeline.authenticate)", "paycrypt/wire/pipeline.py", "authenticate"),
    ("    routing (RestJson1.route)", "paycrypt/wire/protocols/rest_json.py", "route"),
    ("    decode and validate", "paycrypt/wire/pipeline.py", "decode_and_validate"),
    ("    describe the request", "paycrypt/policy/requests.py", "describe"),
    ("    resolve keys", "paycrypt/wire/pipeline.py", "resolve_keys"),
    ("    authorize", "paycrypt/wire/pipeline.py", "authorize"),
    ("    dispatch (service function)", "paycrypt/wire/pipeline.py", "dispatch"),
    ("      of which crypto.cvv", "paycrypt/crypto/cvv.py", "cvv"),
    ("      of which create_key", "paycrypt/service/keys/lifecycle.py", "create_key"),
    ("      of which the store's group commit (_commit_batch)", "paycrypt/store/sqlite.py", "_commit_batch"),
    ("    serialize", "paycrypt/wire/pipeline.py", "serialize"),
    ("    audit (Pipeline.record)", "paycrypt/wire/pipeline.py", "record"),
    ("      encode the event", "paycrypt/audit/events.py", "encode_event"),
    ("      write it (AuditWriter.record_encoded)", "paycrypt/audit/writer.py", "record_encoded"),
    ("  read the body (_read_body)", "paycrypt/wire/app.py", "_read_body"),
    ("  uvicorn send (both messages)", "uvicorn/protocols/http/httptools_impl.py", "send"),
    ("    the socket writes (uvloop's transport.write)", "~", "<method 'write' of 'uvloop."),
]


class Toggled:
    """The app, with the profiler switched on and off from the event loop's own thread."""

    def __init__(self, app: Any, profiler: cProfile.Profile) -> None:
        self.app, self.profiler = app, profiler
        self.wanted = False
        self.on = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.wanted != self.on:
            (self.profiler.enable if self.wanted else self.profiler.disable)()
            self.on = self.wanted
        await self.app(scope, receive, send)


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--scenario", choices=["cvv2-verify", "get-key", "create-key"], default="cvv2-verify")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=30)
    wrk = "wrk" if shutil.which("wrk") else "python"
    parser.add_argument("--load", choices=["wrk", "python"], default=wrk)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="paycrypt-profile-server-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    port = http_bench.free_port()
    settings = Settings(port=port, data_dir=workdir / "data", key_quota=10**8)  # CreateKey makes many
    profiler = cProfile.Profile(time.thread_time)
    app = Toggled(build_app(settings).app, profiler)
    server = uvicorn.Server(uvicorn_config(app, settings))  # type: ignore[arg-type]
    outcome: dict[str, Any] = {}
    driver = threading.Thread(target=drive, args=(args, workdir, port, app, server, outcome))
    driver.start()
    server.run()  # uvicorn sets up uvloop as `paycrypt serve` does
    driver.join()
    if "error" in outcome:
        raise outcome["error"]
    report(args, profiler, outcome)


def drive(
    args: argparse.Namespace,
    workdir: Path,
    port: int,
    app: Toggled,
    server: uvicorn.Server,
    outcome: dict[str, Any],
) -> None:
    """Sign the requests, measure CPU per request without the profiler, then profile a run."""
    try:
        while not server.started:
            time.sleep(0.05)
        endpoint = f"http://{http_bench.HOST}:{port}"
        key_arn = signing.create_cvk(endpoint)
        if args.scenario == "cvv2-verify":
            requests = signing.verify_requests(endpoint, key_arn, signing.cvv2_cases(endpoint, key_arn, 16))
        elif args.scenario == "get-key":
            requests = signing.get_key_requests(endpoint, key_arn, 16)
        else:  # each replay of a signed CreateKey makes a key (durable: group commit, fsync)
            requests = run_bench.create_key_requests(endpoint)
        http_bench.check_requests(port, requests)
        requests_file = http_bench.write_requests(workdir / "requests.req", requests)
        http_bench.drive(args.load, port, requests_file, 2, args.concurrency)  # warm
        for profiled in (False, True):
            app.wanted = profiled
            before = resource.getrusage(resource.RUSAGE_SELF)
            out = http_bench.drive(args.load, port, requests_file, args.seconds, args.concurrency)
            after = resource.getrusage(resource.RUSAGE_SELF)
            count = http_bench.parse_load_output(args.load, out)[0]
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            outcome["profiled" if profiled else "plain"] = (count, cpu)
        app.wanted = False
        http_bench.check_requests(port, requests[:1])  # one more request: the profiler goes off
    except BaseException as exc:
        outcome["error"] = exc
    finally:
        server.should_exit = True


def _named(name: str, function: str, builtin: bool) -> bool:
    """Whether a profiled function is `function` (a C method's name, by its start)."""
    return name.startswith(function) if builtin else name == function


def report(args: argparse.Namespace, profiler: cProfile.Profile, outcome: dict[str, Any]) -> None:
    count, cpu = outcome["plain"]
    profiled_count, _ = outcome["profiled"]
    per_request_ms = cpu * 1000 / count
    print(f"python {sys.version.split()[0]}; {args.scenario}, {args.concurrency} connections, {args.load}")
    print(f"without the profiler: {count:,} requests, process CPU {per_request_ms:.3f} ms per request")
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(
        f"with it: {profiled_count:,} requests, {total:.2f} s of event-loop thread CPU profiled, "
        f"{stats.total_calls / profiled_count:.0f} Python calls per request\n"
    )  # type: ignore[attr-defined]
    print("| stage | share of the loop thread's CPU | ≈ ms per request |\n|---|---:|---:|")
    for label, suffix, function in STAGES:
        cumulative = sum(
            row[3]
            for (filename, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
            if filename.endswith(suffix) and _named(name, function, builtin=suffix == "~")
        )
        print(f"| {label} | {cumulative / total:.1%} | {cumulative / total * per_request_ms:.3f} |")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    print(f"\ntop {args.top} by own CPU:\n```\n{out.getvalue().strip()}\n```")


if __name__ == "__main__":
    main()

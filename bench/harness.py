"""What the in-process/over-HTTP benchmarks share: the bench account's context, known keys stored
through the service's own path, the rate loop, the command line and the main() skeleton.

Each benchmark script keeps its own scenarios; this module only runs them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import http_bench
import signing

from paycrypt.clock import ManualClock, SystemClock
from paycrypt.crypto import dukpt_tdes
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.service.rules import combinations
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault

ACCOUNT = "111122223333"
REGION = "us-east-1"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}


def context(now: Any) -> Context:
    """A request context of the bench account's caller at `now` (a fresh request id each time)."""
    return Context(
        Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/bench", "AIDABENCH"), REGION, now, str(uuid.uuid4())
    )


def store_known_key(svc: Service, material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> str:
    """Store a known symmetric key through CreateKey's attribute rules and lifecycle.store_key; its ARN."""
    attributes = {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": modes,
    }
    combinations.check_create(attributes, None)
    new = lifecycle.NewKey(
        attributes=attributes, material=material, exportable=True, enabled=True, origin="EXTERNAL"
    )
    return lifecycle.store_key(svc, context(svc.clock.now()), new).arn


def inproc_service(workdir: Path) -> Service:
    """A Service on a fresh SQLite store in `workdir`, a random master key and a manual clock."""
    return Service(
        SqliteStore(workdir / "inproc.db"), KeyCache(MasterKeyVault(secrets.token_bytes(32))), ManualClock()
    )


# Over HTTP, the server's key cache for the DUKPT benchmarks: fewer entries than the 6,000
# distinct KSNs they replay round robin, so each of those requests misses (a terminal's next
# transaction), while the few stored keys, which every request uses, stay unsealed.
DUKPT_SERVE_OPTIONS = ("--key-cache-entries", "4096")


class WithoutDerivations(KeyCache):
    """A key cache that keeps unsealed keys but derives afresh on every call (DUKPT transaction
    secrets included): the benchmarks' "no cache" rows."""

    def derived(self, record: Any, kind: Any, build: Callable[[bytes], Any]) -> Any:
        return build(self.material(record))


def use_keycache(svc: Service, derivations: bool) -> None:
    """Give `svc` a fresh, empty key cache (each scenario starts cold), keeping what is derived
    from keys or not."""
    svc.keycache = (KeyCache if derivations else WithoutDerivations)(svc.vault)


@contextlib.contextmanager
def server_data_service(workdir: Path) -> Iterator[Service]:
    """A Service on the data directory http_bench.running_server points the server at.

    Keys stored through it are there when the server starts (as ImportKey would have put them);
    the store is closed on leaving, before the server opens it.
    """
    data_dir = http_bench.data_directory(workdir)  # where http_bench.running_server points the server
    store = SqliteStore(data_dir / "paycrypt.db")
    try:
        yield Service(store, KeyCache(LocalKeyFileVault(data_dir / "master.key")), SystemClock())
    finally:
        store.close()


def ksns(standard: str) -> Iterator[str]:
    """Distinct valid KSNs, counters walking 1, 2, 3, … over many devices.

    TDES (X9.24-1): counters up to 4096 with at most MAX_COUNTER_ONE_BITS (10) one-bits, so 1 to 10
    one-bits; AES (X9.24-3): counters 1 to 4096 (1 to 12 one-bits).
    """
    for device in itertools.count():
        if standard == "TDES":
            base = (0xFFFF9876543210E00000 + (device << 21)) & ((1 << 80) - 1)
            for counter in range(1, 4097):
                if counter.bit_count() <= dukpt_tdes.MAX_COUNTER_ONE_BITS:
                    yield f"{base | counter:020X}"
        else:
            for counter in range(1, 4097):
                yield f"12345678{device:08X}{counter:08X}"


def rate(
    call: Callable[[], Any],
    seconds: float,
    *,
    clock: Callable[[], float] = time.perf_counter,
    batch: int = 50,
) -> float:
    """Calls per second of `clock` over about `seconds`, reading the clock every `batch` calls.

    ``clock=time.process_time`` gives calls per CPU second of this process: on a shared machine a
    neighbour's job stretches the wall clock but not the CPU this process spends per call.
    """
    done, started = 0, clock()
    deadline = started + seconds
    while True:
        for _ in range(batch):
            call()
        done += batch
        now = clock()
        if now >= deadline:
            return done / (now - started)


def parser(doc: str, *, http_seconds: float = 8.0) -> argparse.ArgumentParser:
    """The command line every in-process + HTTP benchmark takes."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inproc-seconds", type=float, default=2.0, help="seconds per in-process measurement")
    p.add_argument("--seconds", type=float, default=http_seconds, help="measured seconds per HTTP scenario")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each HTTP scenario")
    p.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    p.add_argument("--repeat", type=int, default=3, help="runs per scenario")
    p.add_argument("--load", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    p.add_argument("--skip-http", "--no-http", action="store_true", help="in-process figures only")
    return p


def parse_args(p: argparse.ArgumentParser) -> argparse.Namespace:
    args = p.parse_args()
    if args.seconds > 20 or args.inproc_seconds > 20:
        p.error("keep each measurement bounded: --seconds and --inproc-seconds at most 20")
    return args


Phase = Callable[[argparse.Namespace, Path], Any]


def main(
    doc: str, prefix: str, in_process: Phase, over_http: Phase, *, http_seconds: float = 8.0, note: str = ""
) -> None:
    """A benchmark's main(): parse the common command line (see `parser`), then `run`."""
    args = parse_args(parser(doc, http_seconds=http_seconds))
    run(args, prefix, in_process, over_http, note.format(**vars(args)))


def run(args: argparse.Namespace, prefix: str, in_process: Phase, over_http: Phase, note: str = "") -> None:
    """The Python version (and `note`), the in-process phase, then (unless --skip-http) over HTTP,
    in a temporary working directory."""
    print(f"python {sys.version.split()[0]}{note}")
    with tempfile.TemporaryDirectory(prefix=f"paycrypt-{prefix}-bench-") as tmp:
        in_process(args, Path(tmp))
        if not args.skip_http:
            over_http(args, Path(tmp))


def replay(
    args: argparse.Namespace,
    workdir: Path,
    prefix: str,
    scenarios: list[tuple[str, str, list[dict[str, Any]]]],
    serve_options: tuple[str, ...] = (),
) -> None:
    """Each (name, client method, request params) scenario over HTTP against ``paycrypt serve``
    (with `serve_options` added to its command line).

    botocore signs the requests once (signing.capture_many), the first 16 must answer 200, and
    http_bench replays them (wrk or loadgen.py) ``--repeat`` times.
    """
    print(f"\nover HTTP: load generator {args.load}, concurrency {args.concurrency}, {args.seconds:g} s each")
    print(http_bench.HEADER, flush=True)
    with http_bench.running_server("uvicorn", "paycrypt", workdir, serve_options) as (port, pid):
        endpoint = f"http://{http_bench.HOST}:{port}"
        for i, (scenario, operation, params) in enumerate(scenarios):
            requests = signing.capture_many(endpoint, operation, params)
            http_bench.check_requests(port, requests[: http_bench.SIGNED_REQUESTS])
            requests_file = http_bench.write_requests(workdir / f"{prefix}-{i}.req", requests)
            http_bench.repeated("uvicorn", scenario, port, pid, requests_file, args)

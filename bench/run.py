"""Every performance scenario of issue 17 beside its reference, in one run: one table, one JSON file.

    .venv/bin/python bench/run.py            # the full run (about 20 minutes: 1,000,000 keys on each store)
    .venv/bin/python bench/run.py --quick    # a one-minute pass: 3 s per HTTP scenario, 20,000 keys

It starts what it needs and stops it after (each process by the id it was given):

- **over HTTP** (bench/http_bench.py's servers, pre-signed requests and load generator): CVV2
  verify and GetKey against ``paycrypt serve`` (SigV4 and audit on, one worker), each beside the
  null ASGI app on the same uvicorn stack (the floor: rate ratio and server CPU per request);
  CreateKey (durable: every key fsynced before its answer) beside ``moto_server``'s CreateKey
  (moto's in-memory fake of the same API);
- **in process** (CPU time of this process, so a neighbour's job does not count): CVV2 verify,
  Visa PVV verify, PIN translation ISO 0 → ISO 0 and ARQC verify with ARPC method 2, each through
  paycrypt's service function beside the same work composed from psec or pyemv (the compositions
  of bench/issuer_bench.py, pin_translation_bench.py and emv_bench.py);
- **flat in the number of keys**: GetKey and CreateKey p99 over HTTP with 1,000 keys stored, then
  again after bulk-loading the store (through the store's own inserts, in large transactions) to
  ``--many-keys``;
- **PostgreSQL beside SQLite** (issue 15, bench/postgres_bench.py, on a throwaway cluster it starts
  and removes): CVV2 verify on SQLite with 1 and 2 workers and on 2 nodes sharing one PostgreSQL,
  GetKey p99 at 1,000 and ``--many-keys`` keys on PostgreSQL, CreateKey and ImportKey (durable) on
  each backend.

Rates over HTTP depend on the machine's load; the ratios within the run are the figures to read.
The load generator's and the rest of the machine's CPU shares are printed with each HTTP row.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import emv_bench
import harness
import http_bench
import issuer_bench
import pin_translation_bench
import postgres_bench
import signing

from paycrypt.service import identifiers
from paycrypt.service.core import Quotas
from paycrypt.service.keys import lifecycle
from paycrypt.service.transactions import pin_translation

HOST = http_bench.HOST
CREATE_REQUESTS = 16  # distinct signed CreateKey requests, replayed: each call makes a new key
KEYS_SMALL = 1000
LOAD_BATCH = 10_000  # keys per bulk-load transaction
NO_QUOTA = ("--key-quota", str(10**8))  # CreateKey runs make tens of thousands of keys

PROFILES = {
    "full": {"seconds": 10.0, "warmup": 2.0, "inproc": 2.0, "repeat": 3, "many_keys": 1_000_000},
    "quick": {"seconds": 3.0, "warmup": 1.0, "inproc": 0.5, "repeat": 1, "many_keys": 20_000},
}


@dataclasses.dataclass
class Row:
    """One figure of the table and its reference in the same run."""

    section: str
    scenario: str
    figure: str
    value: float
    reference: str = ""
    reference_value: float | None = None
    ratio: float | None = None
    target: str = ""
    note: str = ""

    def line(self) -> str:
        ref = f"{self.reference} {_num(self.reference_value)}" if self.reference else ""
        ratio = f"{self.ratio:.2f}" if self.ratio is not None else ""
        return (
            f"| {self.section} | {self.scenario} | {self.figure} | {_num(self.value)} | {ref} "
            f"| {ratio} | {self.target} | {self.note} |"
        )


HEADER = (
    "| section | scenario | figure | value | reference (same run) | ratio | target | load |\n"
    "|---|---|---|---:|---|---:|---|---|"
)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"


def _load_note(result: http_bench.Result) -> str:
    return (
        f"server {result.server_cpu_s / result.seconds:.0%}, load gen "
        f"{result.loadgen_cpu_s / result.seconds:.0%}, other {result.other_cpu_s / result.seconds:.0%}"
    )


# --- servers ---------------------------------------------------------------------------------------


@contextmanager
def moto_server(workdir: Path) -> Iterator[tuple[int, int]]:
    """moto_server (moto[server], the bench extra) on a free port: (port, pid); stopped after."""
    port = http_bench.free_port()
    executable = Path(sys.executable).parent / "moto_server"
    log = open(workdir / "moto.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(executable), "-H", HOST, "-p", str(port)], stdout=log, stderr=log)
    try:
        http_bench.wait_listening(port, proc)
        yield port, proc.pid
    finally:
        http_bench.stop(proc)
        log.close()


def create_key_requests(endpoint: str) -> list[bytes]:
    call = lambda sdk: sdk.create_key(KeyAttributes=signing.CVK_ATTRIBUTES, Exportable=True)  # noqa: E731
    return [signing.capture("payment-cryptography", endpoint, call) for _ in range(CREATE_REQUESTS)]


class Http:
    """Runs a scenario's pre-signed requests against a server and keeps the result."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir

    def measure(self, name: str, port: int, pid: int, requests: list[bytes]) -> http_bench.Result:
        http_bench.check_requests(port, requests[: http_bench.SIGNED_REQUESTS])
        requests_file = http_bench.write_requests(self.workdir / f"{name}.req", requests)
        result = http_bench.measure("uvicorn", name, port, pid, requests_file, self.args)
        print(result.row(), flush=True)
        return result


def over_http(args: argparse.Namespace, workdir: Path) -> list[Row]:
    http = Http(args, workdir)
    print(http_bench.HEADER, flush=True)
    with http_bench.running_server("uvicorn", "paycrypt", workdir, NO_QUOTA) as (port, pid):
        endpoint = f"http://{HOST}:{port}"
        key_arn = signing.create_cvk(endpoint)
        verify = signing.verify_requests(endpoint, key_arn, signing.cvv2_cases(endpoint, key_arn, 16))
        cvv2 = http.measure("cvv2-verify", port, pid, verify)
        get_key = http.measure("get-key", port, pid, signing.get_key_requests(endpoint, key_arn, 16))
        create = http.measure("create-key", port, pid, create_key_requests(endpoint))
    with http_bench.running_server("uvicorn", "null", workdir) as (port, pid):
        null = http.measure("null", port, pid, verify)
    with moto_server(workdir) as (port, pid):
        moto = http.measure("moto-create-key", port, pid, create_key_requests(f"http://{HOST}:{port}"))
    rows = []
    for name, result in (("CVV2 verify", cvv2), ("GetKey", get_key)):
        rows += [
            Row(
                "HTTP",
                name,
                "req/s",
                result.rps,
                "null floor req/s",
                null.rps,
                result.rps / null.rps,
                "≥ 0.40",
                _load_note(result),
            ),
            Row(
                "HTTP",
                name,
                "server CPU ms/req",
                result.cpu_ms_per_request,
                "null floor",
                null.cpu_ms_per_request,
                result.cpu_ms_per_request / null.cpu_ms_per_request,
                "≤ 0.08 ms",
                _load_note(result),
            ),
        ]
    rows.append(
        Row(
            "HTTP",
            "CreateKey (durable)",
            "req/s",
            create.rps,
            "moto_server req/s",
            moto.rps,
            create.rps / moto.rps,
            "≥ 10",
            _load_note(create),
        )
    )
    rows.append(Row("HTTP", "CreateKey (durable)", "p99 ms", create.p99_ms, "moto_server", moto.p99_ms))
    return rows


# --- in process ------------------------------------------------------------------------------------


def in_process(args: argparse.Namespace, workdir: Path) -> list[Row]:
    """paycrypt's service function against the reference library's composition, interleaved."""
    svc = harness.inproc_service(workdir)
    verifications = {(op, impl): call for op, impl, call in issuer_bench.verifications(svc)}
    k = pin_translation_bench.Keys(svc)
    pek = pin_translation_bench.pek_request(k)
    ctx = harness.context(svc.clock.now())
    pairs: list[tuple[str, str, Callable[[], Any], Callable[[], Any]]] = [
        (
            op,
            "psec",
            verifications[(op, "paycrypt service")],
            verifications[(op, "psec (crypto only)")],
        )
        for op in ("CVV2 verify", "PVV verify")
    ]
    pairs += [
        (
            "PIN translation ISO 0 → ISO 0",
            "psec",
            lambda: pin_translation.translate_pin_data(svc, ctx, pek),
            pin_translation_bench.psec_translation(k, pek),
        ),
        (
            "ARQC verify + ARPC method 2",
            "pyemv",
            emv_bench.paycrypt_service(workdir / "emv"),
            emv_bench.pyemv_same,
        ),
    ]
    rows = []
    for name, library, ours, theirs in pairs:
        ours(), theirs()  # each must run before it is timed
        rates: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(args.repeat):  # alternated, so drift on a shared machine hits both
            for side, call in (("ours", ours), ("theirs", theirs)):
                rates[side].append(harness.rate(call, args.inproc, clock=time.process_time, batch=100))
        mine, ref = statistics.median(rates["ours"]), statistics.median(rates["theirs"])
        rows.append(
            Row(
                "in process",
                name,
                "paycrypt service calls/CPU s",
                mine,
                f"{library} calls/CPU s",
                ref,
                mine / ref,
                "≥ 1.5",
            )
        )
        print(rows[-1].line(), flush=True)
    return rows


# --- the number of keys ----------------------------------------------------------------------------


def bulk_load(workdir: Path, total: int) -> list[str]:
    """Fill the server's store (closed while the server is down) up to `total` keys: one CVK made
    by CreateKey's own path, then copies of its record under fresh identifiers, inserted by the
    store's `insert_key` in transactions of LOAD_BATCH (the quota counters move with them). The
    copies carry the template's key block, which opens only under the template's identity: they
    are rows to search through, never unsealed here. The ARNs of the store's keys, this call's
    last."""
    with harness.server_data_service(workdir) as svc:
        svc.quotas = Quotas(keys_per_region=10**8)
        ctx = harness.context(svc.clock.now())
        params = {"KeyAttributes": signing.CVK_ATTRIBUTES, "Exportable": True}
        template = svc.store.get_key(lifecycle.create_key(svc, ctx, params)["Key"]["KeyArn"])
        assert template is not None
        have = svc.store.count_keys(harness.ACCOUNT, harness.REGION)
        arns = []
        while have < total:
            with svc.store.transaction():
                for _ in range(min(LOAD_BATCH, total - have)):
                    key_id = identifiers.new_key_id()
                    arn = identifiers.key_arn(ctx, key_id)
                    svc.store.insert_key(dataclasses.replace(template, arn=arn, key_id=key_id))
                    arns.append(arn)
                    have += 1
        return arns


def get_key_requests(endpoint: str, arns: list[str], count: int) -> list[bytes]:
    """`count` GetKey requests for keys drawn at random from `arns`, signed by botocore."""
    sdk = signing.client("payment-cryptography", endpoint)
    captured: list[bytes] = []

    def stop(request: Any, **_: Any) -> None:
        raise signing._Captured(request)

    sdk.meta.events.register("before-send", stop)
    for arn in random.sample(arns, min(count, len(arns))):
        try:
            sdk.get_key(KeyIdentifier=arn)
        except signing._Captured as exc:
            captured.append(signing.raw_http(exc.request, endpoint))
    return captured


def key_counts(args: argparse.Namespace, workdir: Path) -> list[Row]:
    """GetKey and CreateKey p99 with KEYS_SMALL keys stored, then with args.many_keys."""
    data = workdir / "keys"
    data.mkdir()
    http = Http(args, workdir)
    results: dict[int, tuple[http_bench.Result, http_bench.Result]] = {}
    arns: list[str] = []
    for total in (KEYS_SMALL, args.many_keys):
        started = time.monotonic()
        arns += bulk_load(data, total)
        print(f"stored {total:,} keys (bulk load {time.monotonic() - started:.1f} s)", flush=True)
        with http_bench.running_server("uvicorn", "paycrypt", data, NO_QUOTA) as (port, pid):
            endpoint = f"http://{HOST}:{port}"
            get = http.measure(f"get-key-{total}", port, pid, get_key_requests(endpoint, arns, args.signed))
            create = http.measure(f"create-key-{total}", port, pid, create_key_requests(endpoint))
            results[total] = (get, create)
    small, many = results[KEYS_SMALL], results[args.many_keys]
    rows = []
    for i, name in enumerate(("GetKey", "CreateKey")):
        rows.append(
            Row(
                "keys",
                name,
                f"p99 ms at {args.many_keys:,} keys",
                many[i].p99_ms,
                f"p99 ms at {KEYS_SMALL:,}",
                small[i].p99_ms,
                many[i].p99_ms / small[i].p99_ms,
                "≤ 1.2",
                _load_note(many[i]),
            )
        )
        rows.append(
            Row(
                "keys",
                name,
                f"p50 ms at {args.many_keys:,} keys",
                many[i].p50_ms,
                f"p50 ms at {KEYS_SMALL:,}",
                small[i].p50_ms,
                many[i].p50_ms / small[i].p50_ms,
            )
        )
    return rows


# --- PostgreSQL beside SQLite (issue 15) -----------------------------------------------------------


def postgresql(args: argparse.Namespace, workdir: Path) -> list[Row]:
    """bench/postgres_bench.py on a throwaway cluster: CVV2 verify on SQLite with 1 and 2 workers and
    on 2 nodes sharing PostgreSQL, GetKey p99 at 1,000 and --many-keys keys on PostgreSQL, CreateKey
    and ImportKey on each backend. Skipped, with a line saying so, where PostgreSQL is not installed
    and the section was not asked for by name."""
    missing = postgres_bench.available()
    if missing is None:
        return postgres_bench.section(args, workdir, sys.modules[__name__])
    if "postgres" in (args.section or []):
        raise SystemExit(f"--section postgres: {missing}")
    print(f"postgres section skipped: {missing}", flush=True)
    return []


# --- main ------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": load,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--quick", action="store_true", help="a one-minute pass")
    parser.add_argument("--many-keys", type=int, default=None, help="keys stored for the second key count")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (wrk -c)")
    parser.add_argument("--signed", type=int, default=2000, help="distinct GetKey requests at each key count")
    wrk = "wrk" if shutil.which("wrk") else "python"
    parser.add_argument("--load", choices=["wrk", "python"], default=wrk)
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"), help="where the JSON goes")
    parser.add_argument(
        "--section", choices=["http", "inproc", "keys", "postgres"], action="append", help="default: all"
    )
    args = parser.parse_args()
    for name, value in PROFILES["quick" if args.quick else "full"].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    sections = args.section or ["http", "inproc", "keys", "postgres"]
    about = machine()
    print(
        f"machine: {about}; load generator {args.load}, {args.concurrency} connections, "
        f"{args.seconds:g} s per HTTP scenario",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="paycrypt-run-") as tmp:
        for section, run in (
            ("http", over_http),
            ("inproc", in_process),
            ("keys", key_counts),
            ("postgres", postgresql),
        ):
            if section in sections:
                workdir = Path(tmp) / section
                workdir.mkdir()
                rows += run(args, workdir)
    print("\n" + HEADER)
    for row in rows:
        print(row.line())
    about["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    settings = {
        k: getattr(args, k)
        for k in (
            "quick",
            "seconds",
            "warmup",
            "inproc",
            "repeat",
            "many_keys",
            "concurrency",
            "signed",
            "load",
        )
    }
    args.json.write_text(
        json.dumps(
            {"machine": about, "settings": settings, "rows": [dataclasses.asdict(r) for r in rows]}, indent=2
        )
    )
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()

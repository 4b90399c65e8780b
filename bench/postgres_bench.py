"""Issue 15's figures, PostgreSQL beside SQLite in one run: bench/run.py's ``postgres`` section.

    .venv/bin/python bench/run.py --section postgres           # alone (the full run includes it)
    .venv/bin/python bench/run.py --section postgres --quick   # a smoke pass of a few minutes

It starts a throwaway PostgreSQL cluster exactly as the tests do (tests/pg_cluster.py: initdb into
a temporary directory, ``pg_ctl start`` on a free loopback port, fsync and synchronous_commit on)
and stops and removes it at the end, after a failure or Ctrl-C too. Then, each server a ``paycrypt
serve`` started and stopped here (SigV4 and audit on, http_bench.py's harness, wrk or loadgen.py):

1. **CVV2 verify over HTTP**: SQLite with 1 worker, SQLite with 2 workers (``--workers 2``), and
   2 nodes on one PostgreSQL database (two ``paycrypt serve`` processes, each its own data
   directory and port, the same master key file, as tests/api/test_cluster.py sets them up), the
   load spread evenly over both nodes (one wrk thread per node, as a load balancer would). Server
   CPU per request is summed over every server process (both nodes; supervisor and workers); the
   PostgreSQL server's own CPU per request is a row of its own, since the nodes read every key
   record from it (no record cache on PostgreSQL: docs/decisions/coherence.md).
2. **GetKey p99 at 1,000 and at ``--many-keys`` keys on PostgreSQL**, as run.py's ``keys`` section
   measures SQLite's: one CVK made through CreateKey's own path, copies of its row under fresh
   identifiers to the count (``bulk_load``: COPY in transactions of ``LOAD_BATCH`` rows, the
   account's quota counter moved with them), ``VACUUM (ANALYZE)``, then ``--signed`` distinct
   GetKeys of random keys replayed. The two key counts are two databases, each its own node.
3. **CreateKey and ImportKey (TR-31 key block), durable, over HTTP**: one server on each backend,
   the same signed requests replayed (each call makes a key: every answer follows a commit that
   reached the disk: SQLite's group-committed fsync, PostgreSQL's WAL flush).

In each part the servers compared run at once and their runs alternate (at least 2 rounds,
``--repeat`` if more, the order reversed every other round; the rows are medians), so that a
neighbour's load drifting during the run falls on both sides of a ratio. Measured one after the
other on the loaded machine, the drift read as a key-count effect (GetKey's server CPU per request
1.7× at 20,000 keys; alternated, 0.90×).

run.py passes itself (its ``Row`` and request builders) to `section`: it is the script, and an
import of it from here would load it a second time.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import harness
import http_bench
import psec
import psycopg
import signing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg_cluster, tests.nodes

from paycrypt.clock import SystemClock
from paycrypt.service import identifiers
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import lifecycle
from paycrypt.store import factory, rows
from paycrypt.vault.factory import MASTER_KEY_FILE
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault

SECTION = "PostgreSQL"
HOST = http_bench.HOST
NODES = 2
LOAD_BATCH = 50_000  # rows per COPY transaction of the bulk load
KEYS_SMALL = 1000
IMPORT_HEADER = "B0000P0TB00E0000"  # a TDES PIN key (P0) under a TDES KEK: TR-31 version B
_KEY_COPY = "COPY keys (arn, account, region, key_state, delete_pending, meta, key_block) FROM STDIN"


def available() -> str | None:
    """Why this section cannot run here (no PostgreSQL installed), or None."""
    from tests.pg_cluster import bindir

    return None if bindir() else "no PostgreSQL server binaries (apt-get install postgresql)"


@contextmanager
def throwaway_cluster() -> Iterator[Any]:
    """The tests' throwaway cluster (tests/pg_cluster.py), stopped and removed on leaving."""
    from tests.pg_cluster import Cluster

    started = time.monotonic()
    with Cluster() as cluster:
        print(f"PostgreSQL cluster on port {cluster.port} ({time.monotonic() - started:.1f} s)", flush=True)
        yield cluster


# --- stores and servers ----------------------------------------------------------------------------


def data_dir(workdir: Path) -> Path:
    """The data directory http_bench.running_server gives a one-worker server in `workdir` (both
    made here if missing)."""
    directory = http_bench.data_directory(workdir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory


@contextmanager
def store_service(store: str | None, directory: Path) -> Iterator[Service]:
    """A Service on `store` (None: the SQLite file of `directory`) under the master key file of the
    data directory `directory` (made here if missing, as `paycrypt serve` makes it), closed on
    leaving, before a server opens the same store."""
    opened = factory.open_store(factory.parse(store, directory))
    try:
        vault = LocalKeyFileVault(directory / MASTER_KEY_FILE)
        yield Service(opened, KeyCache(vault), SystemClock(), Quotas(keys_per_region=10**8))
    finally:
        opened.close()


def serve_options(table: ModuleType, store: str | None, node: int = 0) -> tuple[str, ...]:
    where = ("--store", store) if store else ()
    return (*where, "--node-id", f"bench-{node}", *table.NO_QUOTA)


@contextmanager
def nodes(
    table: ModuleType, store: str, workdir: Path, count: int = NODES
) -> Iterator[list[tuple[int, int]]]:
    """`count` nodes on `store`: (port, pid) each, every one its own data directory, all holding the
    first node's master key (copied as an operator copies it: tests/nodes.py)."""
    from tests.nodes import copy_master_key

    first = data_dir(workdir / "node0")
    LocalKeyFileVault(first / MASTER_KEY_FILE)  # made as `paycrypt serve` makes it
    with ExitStack() as stack:
        running = []
        for n in range(count):
            if n:
                copy_master_key(first, data_dir(workdir / f"node{n}"))
            server = http_bench.running_server(
                "uvicorn", "paycrypt", workdir / f"node{n}", serve_options(table, store, n)
            )
            running.append(stack.enter_context(server))
        yield running


@dataclasses.dataclass
class Run:
    """A scenario to measure: `requests` replayed over `servers` ((port, pid) each, the load split
    evenly between them), with the CPU of the database server `database_pid` read if set."""

    label: str
    scenario: str
    servers: Sequence[tuple[int, int]]
    requests: list[bytes]
    database_pid: int | None = None


def alternate(
    args: argparse.Namespace, workdir: Path, runs: dict[Any, Run]
) -> dict[Any, list[http_bench.Result]]:
    """Every run, in rounds (at least 2, ``--repeat`` if more), the order reversed every other
    round: a neighbour's load drifting on a shared machine falls on all of them alike, not on
    whichever came last. Each row is printed as it ends."""
    results: dict[Any, list[http_bench.Result]] = {key: [] for key in runs}
    for run in runs.values():
        for port, _ in run.servers:  # every server answers every request before any is timed
            http_bench.check_requests(port, run.requests[: http_bench.SIGNED_REQUESTS])
    for n in range(max(2, args.repeat)):
        for key in list(runs)[:: -1 if n % 2 else 1]:
            run = runs[key]
            path = http_bench.write_requests(
                workdir / f"{run.label}-{run.scenario}.req".replace(" ", "_"), run.requests
            )
            (port, pid), *more = run.servers
            result = http_bench.measure(
                run.label, run.scenario, port, pid, path, args, more_nodes=more, database_pid=run.database_pid
            )
            print(result.row(), flush=True)
            results[key].append(result)
    return results


def median(results: list[http_bench.Result], field: str) -> float:
    return statistics.median(getattr(result, field) for result in results)


def shares(results: list[http_bench.Result]) -> str:
    """The CPU shares of the runs (medians): servers, database (where there is one), load
    generator, the rest of the machine (without the database); and how many runs."""
    parts = [("servers", [r.server_cpu_s for r in results])]
    if any(r.database_cpu_s for r in results):
        parts.append(("database", [r.database_cpu_s for r in results]))
    parts += [
        ("load gen", [r.loadgen_cpu_s for r in results]),
        ("other", [max(0.0, r.other_cpu_s - r.database_cpu_s) for r in results]),
    ]
    seconds = median(results, "seconds")
    text = ", ".join(f"{name} {statistics.median(cpu) / seconds:.0%}" for name, cpu in parts)
    return f"{text} (median of {len(results)} alternated)"


def compare(
    table: ModuleType,
    scenario: str,
    figure: str,
    field: str,
    mine: list[http_bench.Result],
    reference: tuple[str, list[http_bench.Result]] | None,
    target: str = "",
) -> Any:
    """One row: the median of `field` over `mine` beside the reference's, and their ratio."""
    value = median(mine, field)
    if reference is None:
        return table.Row(SECTION, scenario, figure, value, note=shares(mine))
    label, theirs = reference
    ref = median(theirs, field)
    return table.Row(SECTION, scenario, figure, value, label, ref, value / ref, target, shares(mine))


# --- 1. CVV2 verify: SQLite 1 and 2 workers, 2 nodes on PostgreSQL ---------------------------------


def cvv2_verify_requests(endpoint: str) -> list[bytes]:
    key_arn = signing.create_cvk(endpoint)
    cases = signing.cvv2_cases(endpoint, key_arn, http_bench.SIGNED_REQUESTS)
    return signing.verify_requests(endpoint, key_arn, cases)


def cvv2_scale_out(args: argparse.Namespace, workdir: Path, table: ModuleType, cluster: Any) -> list[Any]:
    """The three servers run at once (idle ones cost about 1 % of a core) and are measured in turn."""
    runs: dict[str, Run] = {}
    with ExitStack() as stack:
        for workers in (1, 2):
            label = f"SQLite, {workers} worker{'s' if workers > 1 else ''}"
            where = workdir / f"sqlite-{workers}"
            where.mkdir()
            options = serve_options(table, None)
            server = stack.enter_context(
                http_bench.running_server("uvicorn", "paycrypt", where, options, workers=workers)
            )
            runs[label] = Run(
                label, "cvv2-verify", [server], cvv2_verify_requests(f"http://{HOST}:{server[0]}")
            )
        label = f"PostgreSQL, {NODES} nodes"
        servers = stack.enter_context(nodes(table, cluster.database("bench_cvv2"), workdir / "postgresql"))
        requests = cvv2_verify_requests(f"http://{HOST}:{servers[0][0]}")  # signed for node 0, sent to both
        runs[label] = Run(label, "cvv2-verify", servers, requests, cluster.postmaster_pid())
        results = alternate(args, workdir, runs)
    # each beside the one before: 2 workers against 1; 2 nodes on PostgreSQL against 2 SQLite workers
    # (two serving processes each)
    before = dict(zip(list(results)[1:], list(results), strict=False))
    out = []
    for label, mine in results.items():
        reference = (before[label], results[before[label]]) if label in before else None
        scenario = f"CVV2 verify, {label}"
        out += [
            compare(table, scenario, "req/s", "rps", mine, reference),
            compare(table, scenario, "p50 ms", "p50_ms", mine, reference),
            compare(table, scenario, "p99 ms", "p99_ms", mine, reference),
            compare(
                table,
                scenario,
                "server CPU ms/req",
                "cpu_ms_per_request",
                mine,
                reference,
                "≤ 1.10 (2 workers)" if label == "SQLite, 2 workers" else "",
            ),
        ]
        if any(result.database_cpu_s for result in mine):
            out.append(
                compare(
                    table, scenario, "PostgreSQL server CPU ms/req", "database_cpu_ms_per_request", mine, None
                )
            )
    return out


# --- 2. GetKey at 1,000 and many keys on PostgreSQL -----------------------------------------------


def bulk_load(url: str, directory: Path, total: int) -> list[str]:
    """Fill the PostgreSQL store at `url` up to `total` keys; the ARNs this call added.

    As run.py's SQLite `bulk_load`: one CVK made by CreateKey's own path (its master key the data
    directory `directory`'s), then copies of its record under fresh identifiers. The rows are the
    store's own encoding (store/rows.py) written by COPY, LOAD_BATCH to a transaction with the
    quota counter moved in the same transaction, as `PostgresStore.insert_key` moves it
    (tests/store/test_bench_bulk_load.py reads them back through the store). The copies carry the
    template's key block, which opens only under the template's identity: rows to search
    through, never unsealed."""
    with store_service(url, directory) as svc:
        ctx = harness.context(svc.clock.now())
        params = {"KeyAttributes": signing.CVK_ATTRIBUTES, "Exportable": True}
        template = svc.store.get_key(lifecycle.create_key(svc, ctx, params)["Key"]["KeyArn"])
        assert template is not None
        have = svc.store.count_keys(harness.ACCOUNT, harness.REGION)
    arns: list[str] = []
    with psycopg.connect(url) as db:
        while have < total:
            batch = min(LOAD_BATCH, total - have)
            with db.transaction(), db.cursor() as cursor:
                with cursor.copy(_KEY_COPY) as copy:
                    for _ in range(batch):
                        key_id = identifiers.new_key_id()
                        arn = identifiers.key_arn(ctx, key_id)
                        record = dataclasses.replace(template, arn=arn, key_id=key_id)
                        owner = (arn, record.account, record.region)
                        copy.write_row((*owner, *rows.mutable(record), record.key_block))
                        arns.append(arn)
                cursor.execute(
                    "UPDATE quota_counts SET keys = keys + %s WHERE account = %s AND region = %s",
                    (batch, template.account, template.region),
                )
            have += batch
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("VACUUM (ANALYZE) keys")  # as a database in service is; no autovacuum mid-measure
    return arns


def get_key_counts(args: argparse.Namespace, workdir: Path, table: ModuleType, cluster: Any) -> list[Any]:
    """Two databases, one bulk-loaded to KEYS_SMALL keys and one to ``--many-keys``, each served by
    a node of its own, both running, their GetKey runs alternated (`alternate`)."""
    runs: dict[int, Run] = {}
    with ExitStack() as stack:
        for total in (KEYS_SMALL, args.many_keys):
            url = cluster.database(f"bench_keys_{total}")
            where = workdir / f"postgresql-{total}-keys"
            started = time.monotonic()
            arns = bulk_load(url, data_dir(where), total)
            print(
                f"PostgreSQL: stored {total:,} keys (bulk load {time.monotonic() - started:.1f} s)",
                flush=True,
            )
            server = stack.enter_context(
                http_bench.running_server("uvicorn", "paycrypt", where, serve_options(table, url))
            )
            requests = table.get_key_requests(f"http://{HOST}:{server[0]}", arns, args.signed)
            runs[total] = Run(
                f"PostgreSQL, {total:,} keys", "get-key", [server], requests, cluster.postmaster_pid()
            )
        results = alternate(args, workdir, runs)
    reference = (f"at {KEYS_SMALL:,}", results[KEYS_SMALL])
    scenario = "GetKey on PostgreSQL"
    figures = (
        ("p99 ms", "p99_ms", "≤ 1.2"),
        ("p50 ms", "p50_ms", ""),
        # CPU per request: what a neighbour's load on a shared machine stretches least
        ("server CPU ms/req", "cpu_ms_per_request", ""),
        ("PostgreSQL server CPU ms/req", "database_cpu_ms_per_request", ""),
    )
    return [
        compare(
            table,
            scenario,
            f"{figure} at {args.many_keys:,} keys",
            field,
            results[args.many_keys],
            reference,
            target,
        )
        for figure, field, target in figures
    ]


# --- 3. CreateKey and ImportKey, durable, SQLite against PostgreSQL --------------------------------


def import_key_requests(endpoint: str, kek_arn: str, kek: bytes) -> list[bytes]:
    """Signed ImportKey requests, each a TR-31 block of a fresh PIN key under the stored KEK
    (wrapped by psec, the reference implementation): every replay imports one more key."""

    def call(block: str) -> Any:
        material = {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn, "WrappedKeyBlock": block}}
        return lambda sdk: sdk.import_key(KeyMaterial=material)

    count = http_bench.SIGNED_REQUESTS
    blocks = [psec.tr31.wrap(kek, IMPORT_HEADER, secrets.token_bytes(16)) for _ in range(count)]
    return [signing.capture("payment-cryptography", endpoint, call(block)) for block in blocks]


def store_kek(store: str | None, directory: Path) -> tuple[str, bytes]:
    """A TDES key-block protection key of known value stored before the server starts (as
    ImportKey would have put it): its ARN and value."""
    kek = secrets.token_bytes(16)
    with store_service(store, directory) as svc:
        arn = harness.store_known_key(svc, kek, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", harness.EDWU)
    return arn, kek


def writes(args: argparse.Namespace, workdir: Path, table: ModuleType, cluster: Any) -> list[Any]:
    """One server on each backend, both running, CreateKey and ImportKey on each alternated."""
    runs: dict[tuple[str, str], Run] = {}
    with ExitStack() as stack:
        for backend, store in (("SQLite", None), ("PostgreSQL", cluster.database("bench_writes"))):
            where = workdir / f"writes-{backend.lower()}"
            kek_arn, kek = store_kek(store, data_dir(where))
            server = stack.enter_context(
                http_bench.running_server("uvicorn", "paycrypt", where, serve_options(table, store))
            )
            endpoint = f"http://{HOST}:{server[0]}"
            database = cluster.postmaster_pid() if store else None
            for scenario, requests in (
                ("create-key", table.create_key_requests(endpoint)),
                ("import-key", import_key_requests(endpoint, kek_arn, kek)),
            ):
                runs[backend, scenario] = Run(f"{backend}, durable", scenario, [server], requests, database)
        results = alternate(args, workdir, runs)
    out = []
    figures = (("req/s", "rps"), ("p99 ms", "p99_ms"), ("server CPU ms/req", "cpu_ms_per_request"))
    for scenario, name in (("create-key", "CreateKey"), ("import-key", "ImportKey TR-31")):
        reference = ("SQLite", results["SQLite", scenario])
        for figure, field in figures:
            mine = results["PostgreSQL", scenario]
            out.append(compare(table, f"{name} (durable) on PostgreSQL", figure, field, mine, reference))
    return out


# --- the section -----------------------------------------------------------------------------------


def section(args: argparse.Namespace, workdir: Path, table: ModuleType) -> list[Any]:
    """Every figure above, on one throwaway cluster; `table` is run.py (its Row, NO_QUOTA,
    create_key_requests and get_key_requests)."""
    rows_out: list[Any] = []
    print(http_bench.HEADER, flush=True)
    with throwaway_cluster() as cluster:
        for part in (cvv2_scale_out, writes, get_key_counts):
            rows_out += part(args, workdir, table, cluster)
    return rows_out

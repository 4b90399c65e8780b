"""bench/run.py's postgres section (bench/postgres_bench.py) where it does what nothing else in the
project does: the COPY bulk load that writes key rows without `PostgresStore.insert_key` (the store
must read them back as its own, quota counter included), the load spread over several nodes by
both load generators, the alternated runs and their median rows, and the tests' PostgreSQL
cluster used as the bench uses it."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import shutil
import statistics
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from paycrypt.store.postgres import PostgresStore
from tests.pg_cluster import unavailable

BENCH = Path(__file__).resolve().parents[1] / "bench"
ACCOUNT, REGION = "111122223333", "us-east-1"


def bench_module(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # bench/ is scripts, not a package: its modules import each other
    return importlib.import_module(name)


def test_bulk_loaded_rows_are_read_by_the_store_as_its_own(
    pg_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_bench = bench_module("postgres_bench")
    monkeypatch.setattr(postgres_bench, "LOAD_BATCH", 300)  # several COPY transactions per call
    url = pg_cluster.database(f"bench_bulk_{tmp_path.name.replace('-', '_')}")
    first = postgres_bench.bulk_load(url, tmp_path / "data", 1000)
    more = postgres_bench.bulk_load(url, tmp_path / "data", 1700)
    # each call makes its template through CreateKey's path, then copies up to the total
    assert (len(first), len(more)) == (999, 699)
    store = PostgresStore(url)
    try:
        assert store.count_keys(ACCOUNT, REGION) == 1700  # the quota counter moved with the rows
        listed = [record.arn for _, record in store.list_keys(ACCOUNT, REGION, None, 0, 5000)]
        assert len(listed) == len(set(listed)) == 1700
        assert set(first + more) < set(listed)
        templates = [store.get_key(arn) for arn in set(listed) - set(first + more)]
        assert len(templates) == 2
        for arn in (first[0], first[-1], more[0], more[-1]):
            loaded = store.get_key(arn)
            assert loaded is not None and loaded.arn == arn and arn.endswith(f"key/{loaded.key_id}")
            assert any(loaded == dataclasses.replace(t, arn=arn, key_id=loaded.key_id) for t in templates)
    finally:
        store.close()


class _Counting(BaseHTTPRequestHandler):
    """An HTTP/1.1 keep-alive server's handler that counts the requests its server answers."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.answered[self.server.server_address[1]] += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def two_nodes() -> Iterator[tuple[list[int], Counter[int]]]:
    """Two counting servers on loopback: their ports and the requests each answered."""
    answered: Counter[int] = Counter()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Counting) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        server.answered = answered  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield [server.server_address[1] for server in servers], answered
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("load", ["python", "wrk"])
def test_the_load_is_spread_over_every_node(
    load: str, two_nodes: tuple[list[int], Counter[int]], tmp_path: Path
) -> None:
    if load == "wrk" and shutil.which("wrk") is None:
        pytest.skip("no wrk (optional for bench/, which falls back to loadgen.py; scripts/test omits it)")
    http_bench = bench_module("http_bench")
    (first, second), answered = two_nodes
    requests = http_bench.write_requests(tmp_path / "get.req", [b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"])
    out = http_bench.drive(load, first, requests, 1.0, 4, [second])
    done = http_bench.parse_load_output(load, out)
    assert done[0] > 0 and done[4] == 0
    assert answered[first] > 0 and answered[second] > 0, answered
    # as a load balancer spreads connections: the same number on each node, so about the same load
    assert 0.25 < answered[first] / (answered[first] + answered[second]) < 0.75, answered


def test_the_bench_cluster_is_removed_on_leaving() -> None:
    postgres_bench = bench_module("postgres_bench")
    if (missing := postgres_bench.available()) is not None:
        unavailable(missing)  # a failure in CI
    with pytest.raises(KeyboardInterrupt), postgres_bench.throwaway_cluster() as cluster:
        root = cluster.root
        assert cluster.postmaster_pid() > 1
        raise KeyboardInterrupt  # Ctrl-C in the middle of a run
    assert not root.exists()


def test_runs_alternate_and_rows_are_their_medians(
    two_nodes: tuple[list[int], Counter[int]], tmp_path: Path
) -> None:
    postgres_bench, run = bench_module("postgres_bench"), bench_module("run")
    (first, second), answered = two_nodes
    me = os.getpid()  # the counting servers are threads of this process: its CPU is theirs
    get = [b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"]
    runs = {
        "one": postgres_bench.Run("one node", "get", [(first, me)], get),
        "both": postgres_bench.Run("two nodes", "get", [(first, me), (second, me)], get, database_pid=me),
    }
    args = argparse.Namespace(load="python", warmup=0, seconds=0.3, concurrency=2, repeat=1)
    results = postgres_bench.alternate(args, tmp_path, runs)
    assert [len(results[key]) for key in runs] == [2, 2]  # at least two rounds, whatever --repeat says
    assert answered[second] > 0
    assert all(r.database_cpu_s > 0 for r in results["both"])
    assert all(r.database_cpu_s == 0 for r in results["one"])
    row = postgres_bench.compare(run, "GET", "req/s", "rps", results["both"], ("one node", results["one"]))
    assert row.value == statistics.median(r.rps for r in results["both"])
    assert row.ratio == pytest.approx(row.value / statistics.median(r.rps for r in results["one"]))
    assert "database" in row.note and "median of 2" in row.note

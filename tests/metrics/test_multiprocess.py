"""Several worker processes, one /metrics (metrics/exposition.py): two real processes write their
values to the directory the supervisor prepared, and one scrape of the supervisor's port adds
them up; a worker that has exited keeps its counts but drops its live gauges.

The workers here are `python -c` children built as a `serve` worker builds its metrics
(`wiring.build` with PROMETHEUS_MULTIPROC_DIR set); one of them imports prometheus_client before the
variable is set, as a worker forked from a supervisor that had imported it would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from paycrypt.metrics import exposition

WORKER = textwrap.dedent(
    """
    import os, sys
    if sys.argv[1] == "late":  # prometheus_client imported before the variable, as in a forked worker
        directory = os.environ.pop("PROMETHEUS_MULTIPROC_DIR")
        import prometheus_client.values
        assert not prometheus_client.values.ValueClass._multiprocess
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from paycrypt.errors import VerificationFailed
    from paycrypt.metrics import wiring
    instruments = wiring.build(
        "127.0.0.1", 1, per_key=False, operations=["VerifyMac"], reasons=["INVALID_MAC"]
    )
    assert instruments.exposition is None  # a worker serves no port
    calls = int(sys.argv[2])
    for _ in range(calls):
        instruments.meter.observe("VerifyMac", 200, None, 0.0004)
    failed = VerificationFailed("MAC verification failed.", "INVALID_MAC")
    instruments.meter.observe("VerifyMac", 400, failed, 0.001)
    instruments.cache_counters()["material_counters"].hit()
    instruments.families.lease_held.labels("replication").set(1)
    instruments.families.replication_backlog.labels("due").set(calls)
    print(os.getpid())
    """
)


@pytest.fixture
def supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[exposition.Exposition, Path]]:
    stale = tmp_path / exposition.DIRECTORY
    stale.mkdir()
    (stale / "counter_999999.db").write_bytes(b"left by a previous run")
    monkeypatch.setenv(exposition.ENVIRONMENT, "")  # for_workers sets it; restored after the test
    served, directory = exposition.for_workers(tmp_path, "127.0.0.1", 0)
    served.start()
    try:
        yield served, directory
    finally:
        served.stop()


def run_worker(mode: str, calls: int, directory: Path) -> int:
    env = {**os.environ, exposition.ENVIRONMENT: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER, mode, str(calls)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_two_workers_add_up_in_one_scrape(supervisor: tuple[exposition.Exposition, Path]) -> None:
    served, directory = supervisor
    assert os.environ[exposition.ENVIRONMENT] == str(directory)  # what the workers inherit
    assert not (directory / "counter_999999.db").exists()  # emptied at start
    first = run_worker("early", 3, directory)
    second = run_worker("late", 5, directory)
    assert len(list(directory.glob(f"*_{first}.db"))) > 0 and len(list(directory.glob(f"*_{second}.db"))) > 0

    found = scrape(served.port)
    ok = frozenset({("operation", "VerifyMac"), ("status", "200"), ("code", "none")})
    assert found[("paycrypt_request_duration_seconds_count", ok)] == 3 + 5
    assert found[("paycrypt_request_duration_seconds_bucket", ok | {("le", "0.0005")})] == 3 + 5
    failures = frozenset({("operation", "VerifyMac"), ("reason", "INVALID_MAC")})
    assert found[("paycrypt_verification_failures_total", failures)] == 2
    hits = frozenset({("entry", "material"), ("result", "hit")})
    assert found[("paycrypt_key_cache_lookups_total", hits)] == 2
    lease = ("paycrypt_job_lease_held", frozenset({("job", "replication")}))
    assert found[lease] == 2  # livesum: both workers said they hold it
    assert found[("paycrypt_replication_backlog_jobs", frozenset({("state", "due")}))] == 5  # livemax

    exposition.worker_exited(directory, first)
    found = scrape(served.port)
    assert found[("paycrypt_request_duration_seconds_count", ok)] == 3 + 5  # its counts stay
    assert found[lease] == 1  # its live gauge is gone

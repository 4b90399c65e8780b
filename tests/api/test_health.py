"""`/healthz` and `/readyz` on a real server (issue 15, item 8), on the backend `--store` picks; and
the refusal a node gives a schema newer than its code (item 12: no rolling upgrade across a schema
migration, docs/deployment.md).

The outage itself (PostgreSQL stopped under load) is tests/api/test_database_outage.py; SIGTERM's
drain is tests/api/test_drain.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from paycrypt.server import Settings
from paycrypt.store import migrations
from tests import backend
from tests.api.processes import PAYCRYPT
from tests.conftest import RunningServer, free_port, serving


def get(endpoint: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """An unauthenticated request, as a load balancer's probe sends it."""
    request = urllib.request.Request(endpoint + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_paths_answer_without_credentials(server: RunningServer) -> None:
    assert get(server.endpoint, "/healthz") == (200, b"ok\n")
    assert get(server.endpoint, "/readyz") == (200, b"ok\n")
    assert get(server.endpoint, "/readyz", "HEAD") == (200, b"")


def test_other_methods_on_health_paths_are_api_requests(server: RunningServer) -> None:
    status, body = get(server.endpoint, "/readyz", "POST")
    assert status == 404 and b"UnknownOperationException" in body


def write_version(data_dir: Path, version: int | None) -> None:
    """Add a schema_version row `version` behind the server's back (None: remove rows past the
    code's latest), as a `paycrypt db upgrade --force` from a later release would."""
    latest = migrations.latest(backend.BACKEND)
    if version is None:
        sql, args = "DELETE FROM schema_version WHERE version > {}", (latest,)
    else:
        sql, args = "INSERT INTO schema_version (version, name, applied) VALUES ({}, 'later', 0)", (version,)
    if backend.BACKEND == backend.SQLITE:
        db = sqlite3.connect(data_dir / "paycrypt.db", isolation_level=None)
        try:
            db.execute(sql.format("?"), args)
        finally:
            db.close()
        return
    import psycopg

    with psycopg.connect(backend.store_for(data_dir), autocommit=True) as db:
        db.execute(sql.format("%s"), args)


def wait_for(endpoint: str, status: int, seconds: float = 10.0) -> tuple[int, bytes]:
    deadline = time.monotonic() + seconds
    while True:
        got = get(endpoint, "/readyz")
        if got[0] == status or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_readyz_turns_false_when_the_schema_moves_under_a_running_node(tmp_path: Path) -> None:
    """A later release's `db upgrade --force` run while this node serves: the node is no longer
    ready (its code may misread the new schema), and the answer says nothing of why; ready again
    once the schema is back at the version it opened."""
    settings = Settings(port=free_port(), data_dir=tmp_path / "node")
    with serving(settings) as running:
        assert get(running.endpoint, "/readyz") == (200, b"ok\n")
        write_version(running.data_dir, migrations.latest(backend.BACKEND) + 1)
        assert wait_for(running.endpoint, 503) == (503, b"unavailable\n")
        assert get(running.endpoint, "/healthz") == (200, b"ok\n")  # alive all the same
        write_version(running.data_dir, None)
        assert wait_for(running.endpoint, 200) == (200, b"ok\n")


@pytest.mark.cli
def test_a_node_refuses_to_start_on_a_schema_newer_than_its_code(tmp_path: Path) -> None:
    """The other side of a refused rolling upgrade: an older node restarted after the upgrade says
    what happened and what to do, and exits 1 without listening."""
    data_dir = tmp_path / "node"
    settings = Settings(port=free_port(), data_dir=data_dir)
    with serving(settings):
        pass  # the store made at the code's version
    newer = migrations.latest(backend.BACKEND) + 1
    write_version(data_dir, newer)
    store = backend.store_args(data_dir)
    port = str(free_port())
    done = subprocess.run(
        [str(PAYCRYPT), "serve", "--port", port, "--data-dir", str(data_dir), *store],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert (
        f"paycrypt serve: the database's schema is at version {newer}, newer than this paycrypt knows "
        f"(version {newer - 1}): it was upgraded by a later release; run that release, or restore a "
        "backup taken before the upgrade"
    ) in done.stderr
    assert "listening" not in done.stderr

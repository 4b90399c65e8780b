"""Correct under concurrency, on both backends (issue 15 item 2), with real concurrent processes.

Two `paycrypt serve` processes share one store (an SQLite file, or a PostgreSQL database), each
with its own data directory holding the same master key; client processes (tests/api/
concurrent_clients.py) send requests to both at once:

- quotas: four clients create keys (then aliases) as fast as the servers answer, round-robin over
  both, until refused; exactly the quota is created, never one more (the counter row is locked in
  the create transaction, store.base.KeyTable.count_keys);
- the same alias created on both servers at the same moment: exactly one succeeds, the other gets
  ConflictException, twenty times over;
- DeleteKey while another process uses the key: every call sent after the delete was acknowledged
  is refused with the key-state error. The calls go to the other server, on both backends (on
  SQLite its record cache is checked against the file's data_version: docs/decisions/coherence.md).
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.api import concurrent_clients as clients
from tests.api.processes import ServerProcess
from tests.conftest import free_port

pytestmark = pytest.mark.cli  # runs `paycrypt serve` (tests/cli_marker.py)

KEY_QUOTA = 15
ALIAS_QUOTA = 30
CLIENTS = 4
ALIAS_RACES = 20
START_SECONDS = 90  # a server's start on a loaded 2-core CI machine
SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Pair:
    backend: str
    endpoints: list[str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp(f"pair-{request.param}")
    if request.param == "sqlite":
        store = f"sqlite:{root / 'shared.db'}"
    else:
        store = request.getfixturevalue("pg_cluster").database(f"pair_{root.name.replace('-', '_')}")
    options = ("--store", store, "--key-quota", str(KEY_QUOTA), "--alias-quota", str(ALIAS_QUOTA))
    servers: list[ServerProcess] = []
    try:
        for n in range(2):
            data_dir = root / f"node{n}"
            if n and (root / "node0" / "master.key").exists():
                # The second node gets the first one's master key (docs/deployment.md); on the
                # PKCS#11 vault (--vault pkcs11) both nodes use the run's token instead.
                data_dir.mkdir(mode=0o700)
                shutil.copy2(root / "node0" / "master.key", data_dir / "master.key")
            server = ServerProcess(data_dir, free_port(), *options)
            servers.append(server)
            server.wait_listening(START_SECONDS)
        yield Pair(request.param, [f"http://127.0.0.1:{s.port}" for s in servers])
    finally:
        for server in servers:
            server.stop()


def run_clients(target, argument_lists: list[tuple], barrier_parties: int | None = None) -> list:
    """Each argument list in a process of its own, started together (a barrier); their results."""
    barrier = SPAWN.Barrier(barrier_parties or len(argument_lists))
    out = SPAWN.Queue()
    processes = [SPAWN.Process(target=target, args=(*args, barrier, out)) for args in argument_lists]
    for process in processes:
        process.start()
    try:
        results = [out.get(timeout=300) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    return results


@pytest.mark.parametrize(
    ("kind", "quota", "region"), [("key", KEY_QUOTA, "us-east-1"), ("alias", ALIAS_QUOTA, "eu-west-1")]
)
def test_concurrent_creates_never_pass_the_quota(pair: Pair, kind: str, quota: int, region: str) -> None:
    results = run_clients(
        clients.create_until_quota,
        [(kind, pair.endpoints[n % 2 :] + pair.endpoints[: n % 2], region) for n in range(CLIENTS)],
    )
    assert [r["errors"] for r in results] == [[]] * CLIENTS
    created = [name for r in results for name in r["created"]]
    assert len(created) == len(set(created)) == quota
    control = clients.client(pair.endpoints[0], "payment-cryptography", region)
    if kind == "key":
        listed = [k["KeyArn"] for page in control.get_paginator("list_keys").paginate() for k in page["Keys"]]
    else:
        listed = [
            a["AliasName"]
            for page in control.get_paginator("list_aliases").paginate()
            for a in page["Aliases"]
        ]
    assert sorted(listed) == sorted(created)


def test_the_same_alias_created_on_two_servers_at_once(pair: Pair) -> None:
    names = [f"alias/race-{n}" for n in range(ALIAS_RACES)]
    results = run_clients(clients.create_aliases, [(endpoint, names) for endpoint in pair.endpoints])
    for n, outcomes in enumerate(zip(*results, strict=True)):
        assert sorted(outcomes) == ["ConflictException", "ok"], (names[n], outcomes)


def test_no_use_of_a_key_after_its_delete_was_acknowledged(pair: Pair) -> None:
    region = "us-west-2"
    control = clients.client(pair.endpoints[0], "payment-cryptography", region)
    arn = control.create_key(Exportable=True, KeyAttributes=clients.CVK_ATTRIBUTES)["Key"]["KeyArn"]
    user = pair.endpoints[1]
    barrier, out, done = SPAWN.Barrier(2), SPAWN.Queue(), SPAWN.Event()
    process = SPAWN.Process(
        target=clients.use_key_until_refused, args=(user, arn, region, done, barrier, out)
    )
    process.start()
    try:
        barrier.wait()
        time.sleep(1.0)  # calls are flowing
        control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)
        acknowledged = time.monotonic()
        done.set()
        calls = out.get(timeout=180)
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    assert calls[0][2] == "ok", calls[0]  # the key was in use when it was deleted
    after = [outcome for sent, _, outcome in calls if sent > acknowledged]
    assert after, "the client stopped before the delete was acknowledged"
    assert all(outcome.startswith("ValidationException") for outcome in after), after
    assert "KeyState is DELETE_PENDING" in calls[-1][2]
    refused = next(n for n, call in enumerate(calls) if call[2] != "ok")
    assert all(outcome != "ok" for _, _, outcome in calls[refused:]), "used again after a refusal"

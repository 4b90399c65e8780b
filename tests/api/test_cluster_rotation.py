"""Master-key rotation on several nodes (issue 16 item 3), with real `paycrypt serve` processes:
two nodes on one store (PostgreSQL, and one SQLite file), each with its own data directory and its
own copy of the master key file, as docs/key-protection.md sets them up (tests/api/test_cluster.py's
helpers).

- `paycrypt vault rotate` on node 0 makes `master.key.2` there and is refused while node 1's
  heartbeat does not report version 2: the message names node 1 and the file to copy; nothing is
  re-sealed, node 0's server (which holds version 2) still seals new keys under version 1, which
  node 1 opens; a node started meanwhile without version 2 is refused at start.
- Once `master.key.2` is copied to node 1, the same command finishes: every key gives the same CVV2
  on both nodes as before, node 1's key cache dropped every key re-sealed on node 0 (its change
  follower read the store's feed: NOTIFY on PostgreSQL, the poll on SQLite) and it opens the
  re-sealed blocks with version 2 alone, once its own `master.key` is removed as the command says.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.vault.local import LocalKeyFileVault, version_path
from tests.api.iam_support import credentials_file
from tests.api.test_cluster import CVV2, PAN, PRINCIPALS, START_SECONDS, Cluster, new_key
from tests.api.test_metrics import samples, scrape_text, value
from tests.api.test_vault_rotate import rotate
from tests.conftest import free_port
from tests.nodes import copy_master_key

pytestmark = pytest.mark.cli  # runs `paycrypt serve` and `paycrypt vault rotate` (tests/cli_marker.py)

ENTRIES = "paycrypt_key_cache_entries"
LOOKUPS = "paycrypt_key_cache_lookups_total"


@pytest.fixture(params=["postgresql", "sqlite"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Cluster, int]]:
    """Two nodes on one store; node 1 serves metrics on the port given with it."""
    if request.param == "sqlite":
        store = f"sqlite:{tmp_path / 'shared.db'}"
    else:
        store = request.getfixturevalue("pg_cluster").database(f"rotation_{tmp_path.name.replace('-', '_')}")
    LocalKeyFileVault(tmp_path / "node0" / "master.key")
    copy_master_key(tmp_path / "node0", tmp_path / "node1")
    cluster = Cluster(
        request.param, store, tmp_path, [], credentials_file(tmp_path / "credentials.toml", PRINCIPALS)
    )
    metrics = free_port()
    try:
        cluster.nodes.append(cluster.start("node0"))
        cluster.nodes.append(cluster.start("node1", "--metrics-port", str(metrics)))
        for node in cluster.nodes:
            node.wait_listening(START_SECONDS)
        yield cluster, metrics
    finally:
        for node in cluster.nodes:
            node.stop()


def cvv2(cluster: Cluster, node: int, arn: str) -> str:
    return cluster.data(node).generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def cvv2s(cluster: Cluster, node: int, arns: list[str]) -> dict[str, str]:
    return {arn: cvv2(cluster, node, arn) for arn in arns}


def rotate_on(cluster: Cluster, *args: str) -> tuple[int, str, str]:
    done = rotate(cluster.root / "node0", "--store", cluster.store, "--grace", "1", "--nice", "0", *args)
    return done.returncode, done.stdout, done.stderr


def test_rotation_waits_for_every_node_and_every_key_works_on_both_after(pair: tuple[Cluster, int]) -> None:
    cluster, metrics = pair
    arns = [new_key(cluster) for _ in range(3)]
    before = cvv2s(cluster, 0, arns)
    assert cvv2s(cluster, 1, arns) == before  # node 1 has them unsealed in its cache now
    assert value(samples(scrape_text(metrics)), ENTRIES) == 3

    status, _, err = rotate_on(cluster, "--wait", "8")

    assert status == 1, err
    assert "master key version 2" in err
    assert "is not held by every live server: node1/w0 (holds version 1" in err
    assert "node0/w0" not in err.split("live server:")[1]  # node 0's server read master.key.2 and said so
    assert f"Copy {version_path(cluster.root / 'node0' / 'master.key', 2)}" in err
    # Version 2 is pending: node 0's server holds it but seals under version 1, which node 1 opens.
    late_key = new_key(cluster)
    assert cvv2(cluster, 1, late_key) == cvv2(cluster, 0, late_key)
    copy_master_key(cluster.root / "node0", cluster.root / "node-late")  # without master.key.2
    late = cluster.start("node-late")
    try:
        assert late.process.wait(timeout=START_SECONDS) != 0
    finally:
        late.stop()
    assert "recorded by a master-key rotation that is under way" in late.log()

    copy_master_key(cluster.root / "node0", cluster.root / "node1", version=2)
    misses = value(samples(scrape_text(metrics)), LOOKUPS, entry="material", result="miss")
    status, out, err = rotate_on(cluster, "--wait", "30")

    assert status == 0, err
    assert "retired versions: 1" in out
    assert "these servers still hold a retired version: node1/w0" in out and "remove master.key" in out
    deadline = time.monotonic() + 5  # node 1 forgets each re-sealed key within its follower's step
    while value(samples(scrape_text(metrics)), ENTRIES) != 0:
        assert time.monotonic() < deadline, "node 1 kept keys unsealed from the old blocks"
        time.sleep(0.1)
    (cluster.root / "node1" / "master.key").unlink()  # as the command said: version 1 is retired
    everything = [*arns, late_key]
    expected = {**before, late_key: cvv2(cluster, 0, late_key)}
    assert cvv2s(cluster, 1, everything) == expected  # opened under version 2: version 1 is gone
    assert cvv2s(cluster, 0, everything) == expected
    after = value(samples(scrape_text(metrics)), LOOKUPS, entry="material", result="miss")
    assert after - misses == len(everything)  # each unsealed again from its re-sealed block

"""Master-key rotation on several nodes (jobs/holdings.py), on real stores of both backends and
real file vaults, one data directory per node: the new version is recorded pending and nothing is
re-sealed while a live server's heartbeat does not report it (the refusal names the server);
meanwhile a server that holds the new version still seals under the admitted one; once the file
is copied and the server has beaten again, the rotation resumes, admits the version and re-seals
every block; a server whose heartbeat expired no longer counts; with one PKCS#11 token shared by
every node the check passes with nothing to do. A server following a vault migration seals under
the source until the store admits the migration.

The same with real `paycrypt serve` processes: tests/api/test_cluster_rotation.py."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from paycrypt.clock import ManualClock
from paycrypt.jobs import holdings, rotation
from paycrypt.service.core import Quotas, Service
from paycrypt.store.base import Store
from paycrypt.vault import blocks, migration
from paycrypt.vault.agreement import agree
from paycrypt.vault.factory import VaultSettings, open_vault
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault, version_path
from paycrypt.vault.migration import ServingVault, open_serving_vault
from tests.nodes import copy_master_key
from tests.service import stored_keys
from tests.softhsm import SoftHsm
from tests.vault.test_migration import FILE, TOKEN, Ends
from tests.vault.test_pkcs11_versions import new_vault
from tests.vault.test_sealing import record

LONG = 60.0  # seconds a beat in these tests stays live


def node(root: Path, name: str) -> Path:
    return root / name


def beat(store: Store, name: str, vault: ServingVault, within: float = LONG) -> None:
    store.cluster.beat(name, 0, within, vault.held())


@contextmanager
def running(store: Store, servers: dict[str, ServingVault], every: float = 0.05) -> Iterator[None]:
    """What each server's follower and heartbeat do: re-read its vault and beat, until the block ends."""
    stop = threading.Event()

    def step() -> None:
        for name, vault in servers.items():
            vault.refresh()
            beat(store, name, vault)

    def loop() -> None:
        while not stop.wait(every):
            step()

    step()  # every server is live before the block begins, as running servers are

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def serving(store: Store, data_dir: Path) -> ServingVault:
    return open_serving_vault(VaultSettings(), data_dir, store)


def sealed_under(store: Store) -> set[str]:
    return {blocks.sealed_under(r.key_block) or "" for _, r in store.sealed_blocks("keys", 0, 10**6)}


def test_rotation_waits_for_every_live_server_then_resumes_once_the_file_is_copied(
    store: Store, tmp_path: Path
) -> None:
    a, b = node(tmp_path, "a"), node(tmp_path, "b")
    LocalKeyFileVault(a / "master.key")
    copy_master_key(a, b)
    server_a, server_b = serving(store, a), serving(store, b)
    agree(store, server_a, "the-store", "file")
    agree(store, server_b, "the-store", "file")
    svc = Service(store, KeyCache(server_a), ManualClock(), Quotas())
    arns = stored_keys.fill(svc, 6)
    before = {arn: svc.keycache.material(store.get_key(arn)) for arn in arns}
    old = server_a.key_id
    rotating = open_vault(VaultSettings(), a)  # the command's own vault, on A's data directory

    with running(store, {"node-a": server_a, "node-b": server_b}), pytest.raises(holdings.NotHeld) as refused:
        rotation.rotate(store, rotating, lambda p: None, grace=0, kind="file", wait=1.0)

    new = rotating.versions()[-1]
    message = str(refused.value)
    assert f"master key version 2 (check value {new.key_id}) is not held by every live server" in message
    assert f"node-b/w0 (holds version 1 ({old}))" in message and "node-a" not in message
    assert store.master_key_records()[-1].admitted is False and store.sealing_version() == 1
    assert sealed_under(store) == {old}  # nothing re-sealed
    assert [v.version for v in server_a.own.versions()] == [1, 2]  # A's server holds version 2 ...
    assert server_a.key_id == old  # ... and still seals under version 1, which B can open
    extra = stored_keys.put(svc, bytes(range(16)), *stored_keys.CVK)
    assert server_b.unseal(store.get_key(extra), store.get_key(extra).key_block) == bytes(range(16))

    shutil.copy2(version_path(a / "master.key", 2), version_path(b / "master.key", 2))  # mode 0600 kept
    with running(store, {"node-a": server_a, "node-b": server_b}):
        done = rotation.rotate(store, rotating, lambda p: None, grace=0, kind="file", wait=10)

    assert done.resumed and done.target == new and [v.version for v in done.retired] == [1]
    assert store.sealing_version() == 2 and sealed_under(store) == {new.key_id}
    assert [p.node_id for p in done.still_holding] == ["node-b"]  # B's master.key is to be removed
    server_a.refresh()
    assert server_a.key_id == new.key_id
    version_path(b / "master.key", 1).unlink()  # as the command's output says
    server_b.refresh()
    fresh = Service(store, KeyCache(server_b), ManualClock(), Quotas())
    assert {arn: fresh.keycache.material(store.get_key(arn)) for arn in arns} == before


def test_a_server_whose_heartbeat_expired_no_longer_holds_a_rotation_up(store: Store, tmp_path: Path) -> None:
    a, b = node(tmp_path, "a"), node(tmp_path, "b")
    LocalKeyFileVault(a / "master.key")
    copy_master_key(a, b)
    server_a, server_b = serving(store, a), serving(store, b)
    agree(store, server_a, "the-store", "file")
    beat(store, "node-b", server_b, within=0.3)  # then killed: it never beats again
    rotating = open_vault(VaultSettings(), a)
    started = time.monotonic()
    done = rotation.rotate(store, rotating, lambda p: None, grace=0, kind="file", wait=10)
    assert done.target.version == 2 and time.monotonic() - started < 10
    assert store.sealing_version() == 2


def test_one_pkcs11_token_shared_by_every_node_passes_with_nothing_to_do(
    store: Store, softhsm: SoftHsm, tmp_path: Path
) -> None:
    settings, rotator = new_vault(softhsm)  # a master key of its own label in the run's token
    servers = {name: open_serving_vault(settings, tmp_path, store) for name in ("node-a", "node-b")}
    agree(store, servers["node-a"], "the-store", "pkcs11")
    svc = Service(store, KeyCache(servers["node-a"]), ManualClock(), Quotas())
    arns = stored_keys.fill(svc, 3)
    before = {arn: svc.keycache.material(store.get_key(arn)) for arn in arns}
    with running(store, servers):
        done = rotation.rotate(store, rotator, lambda p: None, grace=0, kind="pkcs11", wait=10)
    assert done.target.version == 2 and [v.version for v in done.retired] == [1]
    assert store.sealing_version() == 2 and sealed_under(store) == {done.target.key_id}
    assert done.still_holding == ()  # the one token: version 1 is gone for every node at once
    fresh = Service(store, KeyCache(servers["node-b"]), ManualClock(), Quotas())
    assert {arn: fresh.keycache.material(store.get_key(arn)) for arn in arns} == before


def test_a_server_seals_under_the_source_until_the_store_admits_the_migration(
    tmp_path: Path, store: Store
) -> None:
    ends = Ends()
    server = migration.ServingVault(ends.file, FILE, tmp_path, ends.open, store)
    migration.write(tmp_path, migration.Migration(FILE, TOKEN))
    server.refresh()
    assert {held.key_id for held in server.held()} == {ends.file.key_id, ends.token.key_id}  # its heartbeat
    assert blocks.sealed_under(server.seal(record(), bytes(16))) == ends.file.key_id == server.key_id
    store.record_migration_target(ends.token.key_id, admitted=False)  # the command waits for every server
    server.refresh()
    assert server.key_id == ends.file.key_id
    store.record_migration_target(ends.token.key_id, admitted=True)
    server.refresh()
    assert blocks.sealed_under(server.seal(record(), bytes(16))) == ends.token.key_id == server.key_id

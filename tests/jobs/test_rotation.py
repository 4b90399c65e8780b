"""Master-key rotation's loop (src/paycrypt/jobs/rotation.py) on a real store and file vault:
every block re-sealed under the new version exactly once, keys and exchange keys alike, the key
material unchanged; an interrupted run resumed without sealing anything twice; a block changed by
another writer re-read, not overwritten; a block sealed under the old version by a server that had
not yet learned the new one caught before the old version is retired; a block that cannot be
unsealed keeping its version from retirement. The server side: the block follower
(jobs/changes.py) makes a running service forget what it had unsealed from an old block."""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.jobs import rotation
from paycrypt.jobs.changes import ChangeFollower
from paycrypt.service.core import Service
from paycrypt.store.records import KeyRecord
from paycrypt.vault import blocks
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault, version_path
from tests.service import stored_keys

open_service = stored_keys.file_service


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Service]:
    """The service a server runs, with keys in its store; a rotation opens its own (`rotating`)."""
    svc = open_service(tmp_path)
    yield svc
    svc.store.close()


@pytest.fixture
def rotating(tmp_path: Path, server: Service) -> Iterator[Service]:
    svc = open_service(tmp_path)
    yield svc
    svc.store.close()


def materials(svc: Service, arns: list[str]) -> dict[str, bytes]:
    return {arn: svc.keycache.material(svc.store.get_key(arn)) for arn in arns}


def changes(data_dir: Path) -> collections.Counter[str]:
    """How many times each key's block was re-sealed (the store's feed, read as a test reads)."""
    with sqlite3.connect(data_dir / "paycrypt.db") as db:
        return collections.Counter(arn for (arn,) in db.execute("SELECT arn FROM block_changes"))


def under(svc: Service) -> collections.Counter[str]:
    """Blocks per master key id, over both tables."""
    found: collections.Counter[str] = collections.Counter()
    for table in ("keys", "exchange_keys"):
        found.update(
            blocks.sealed_under(r.key_block) or "none" for _, r in svc.store.sealed_blocks(table, 0, 10**6)
        )
    return found


def test_rotation_reseals_every_block_once_and_retires_the_old_version(
    tmp_path: Path, server: Service, rotating: Service
) -> None:
    arns = stored_keys.fill(server, 40)
    exchange = stored_keys.put(
        server, bytes(range(16)), *stored_keys.CVK
    )  # re-stored below as an exchange key
    record = server.store.get_key(exchange)
    record.arn = "import-token-pair/1"
    record.key_block = server.vault.seal(record, bytes(range(16)))
    server.store.insert_exchange_key("import", record, None)
    before = materials(server, [*arns, exchange])
    old = server.vault.key_id

    done = rotation.rotate(rotating.store, rotating.vault, lambda progress: None, grace=0)

    assert done.target.version == 2 and not done.resumed
    assert [v.version for v in done.retired] == [1] and not (tmp_path / "master.key").exists()
    assert under(rotating) == {done.target.key_id: 42} and old != done.target.key_id
    assert set(changes(tmp_path).values()) == {1} and len(changes(tmp_path)) == 42  # each block once
    assert done.progress.resealed == 42
    # A new service on the directory (a restart) reads every key, the same material.
    fresh = open_service(tmp_path)
    assert materials(fresh, [*arns, exchange]) == before
    assert fresh.vault.unseal(record, fresh.store.get_exchange_key(record.arn).key_block) == bytes(range(16))
    fresh.store.close()


def test_the_running_service_follows_the_rotation(tmp_path: Path, server: Service, rotating: Service) -> None:
    arns = stored_keys.fill(server, 5)
    follower = ChangeFollower(server)
    before = materials(server, arns)  # unsealed and cached by the server, from the old blocks
    assert all(server.keycache.holds(arn) for arn in arns)

    done = rotation.rotate(rotating.store, rotating.vault, lambda progress: None, grace=0)

    assert follower.step() == 5
    assert not any(server.keycache.holds(arn) for arn in arns)  # forgotten: the blocks changed
    assert {server.vault.sealed_by(server.store.get_key(arn).key_block) for arn in arns} == {
        done.target.key_id
    }
    assert [v.version for v in server.vault.versions()] == [2]  # the retired version left memory
    assert materials(server, arns) == before


def test_an_interrupted_rotation_resumes_and_seals_nothing_twice(
    tmp_path: Path, server: Service, rotating: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    arns = stored_keys.fill(server, 30)
    before = materials(server, arns)
    monkeypatch.setattr(rotation, "BATCH", 4)

    class Killed(Exception):
        pass

    def die_after_two_pages(progress: rotation.Progress) -> None:
        if progress.seen >= 8:
            raise Killed

    with pytest.raises(Killed):
        rotation.rotate(rotating.store, rotating.vault, die_after_two_pages, grace=0)
    assert sum(changes(tmp_path).values()) == 8 and version_path(tmp_path / "master.key", 2).exists()

    again = open_service(tmp_path)
    done = rotation.rotate(again.store, again.vault, lambda progress: None, grace=0)
    assert done.resumed and done.target.version == 2 and done.progress.resealed == 22
    assert changes(tmp_path) == dict.fromkeys(arns, 1)
    assert materials(open_service(tmp_path), arns) == before
    again.store.close()


def test_a_block_changed_by_another_writer_is_reread_not_overwritten(
    tmp_path: Path, server: Service, rotating: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another rotation re-seals a key between our read and our compare-and-set: ours fails, the
    block is read again, found done, and left as the other writer made it."""
    arn = stored_keys.fill(server, 1)[0]
    other = open_service(tmp_path)
    real_seal = rotating.vault.seal

    def another_writer_first(record: KeyRecord, material: bytes) -> str:
        monkeypatch.setattr(rotating.vault, "seal", real_seal)
        theirs = other.store.get_sealed("keys", record.arn)
        assert other.store.reseal_block(
            "keys", record.arn, theirs.key_block, other.vault.reseal(theirs, theirs.key_block)
        )
        return real_seal(record, material)

    monkeypatch.setattr(rotating.vault, "seal", another_writer_first)
    done = rotation.rotate(rotating.store, rotating.vault, lambda progress: None, grace=0)
    theirs = other.store.get_sealed("keys", arn).key_block
    assert done.progress.reread == 1 and done.progress.resealed == 0
    assert rotating.store.get_sealed("keys", arn).key_block == theirs and changes(tmp_path) == {arn: 1}
    other.store.close()


def test_a_block_sealed_under_the_old_version_meanwhile_is_caught_before_retirement(
    tmp_path: Path, server: Service, rotating: Service
) -> None:
    """A server that has not yet learned the new version seals a key under the old one during the
    grace: the next pass re-seals it, and only then is the old version retired."""
    stored_keys.fill(server, 3)
    old_key = (tmp_path / "master.key").read_bytes()
    late: list[str] = []

    class LateServer(rotation.Clock):
        """Time that moves when the rotation sleeps; during its first sleep, a late server creates a key."""

        now = 0.0

        def monotonic(self) -> float:
            return self.now

        def sleep(self, seconds: float) -> None:
            self.now += seconds
            if not late:
                behind = Service(server.store, KeyCache(MasterKeyVault(old_key)), server.clock, server.quotas)
                late.append(stored_keys.put(behind, b"\x5a" * 16, *stored_keys.CVK))

    done = rotation.rotate(rotating.store, rotating.vault, lambda p: None, grace=60, clock=LateServer())
    assert done.progress.passes >= 2 and [v.version for v in done.retired] == [1]
    assert (
        rotating.vault.sealed_by(rotating.store.get_sealed("keys", late[0]).key_block) == done.target.key_id
    )
    assert materials(open_service(tmp_path), late) == {late[0]: b"\x5a" * 16}


def test_a_block_that_cannot_be_unsealed_keeps_its_version(
    tmp_path: Path, server: Service, rotating: Service
) -> None:
    arns = stored_keys.fill(server, 3)
    record = server.store.get_key(arns[1])
    tampered = record.key_block[:-4] + ("0000" if not record.key_block.endswith("0000") else "1111")
    assert server.store.reseal_block("keys", arns[1], record.key_block, tampered)

    done = rotation.rotate(rotating.store, rotating.vault, lambda p: None, grace=0)
    assert done.retired == () and set(done.progress.failed) == {arns[1]}
    assert "integrity" in done.progress.failed[arns[1]]
    assert (tmp_path / "master.key").exists()  # version 1 stays: a block still names it

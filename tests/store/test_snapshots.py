"""Snapshots of the SQLite store (store/sqlite.py, the `Snapshots` capability of store/base.py) and
the backup file around them (store/archive.py): every kind of state comes back, a snapshot taken
while another connection writes is the database of one instant, a restore goes only into an empty
store, and a changed backup file is refused before anything is written."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from paycrypt.store import archive, migrations
from paycrypt.store.base import StoreNotEmpty
from paycrypt.store.records import AliasRecord, Association, KeyRecord, Session, Snapshot, Team
from paycrypt.store.sqlite import SqliteStore

ACCOUNT, REGION = "111122223333", "us-east-1"
VAULT = {"kind": "file", "master_key_kcv": "0123456789", "sealed_under": {"0123456789": 3}}


def key(n: int) -> KeyRecord:
    return KeyRecord(
        arn=f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/k{n:015d}",
        account=ACCOUNT,
        region=REGION,
        key_id=f"k{n:015d}",
        key_attributes={"KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY", "KeyAlgorithm": "TDES_2KEY"},
        key_check_value="ABCDEF",
        key_check_value_algorithm="ANSI_X9_24",
        enabled=True,
        exportable=True,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        key_block=f"D0000-sealed-block-{n}",
    )


def everything(store: SqliteStore) -> dict[str, object]:
    """Every kind of state, read back through the store's own protocols."""
    keys = [record for _, record in store.list_keys(ACCOUNT, REGION, None, 0, 1000)]
    return {
        "keys": keys,
        "aliases": store.list_aliases(ACCOUNT, REGION, None, "", 100),
        "tags": {k.arn: store.get_tags(k.arn) for k in keys},
        "policies": {k.arn: store.get_resource_policy(k.arn) for k in keys},
        "has_policies": store.has_resource_policies(),
        "replication_defaults": store.get_replication_defaults(ACCOUNT, REGION),
        "replication_job": store.get_replication_job(keys[0].arn, "us-west-2"),
        "exchange_key": store.get_exchange_key("ca"),
        "teams": store.mpa.list_teams(),
        "association": store.mpa.get_association(ACCOUNT, REGION, "ImportKey"),
        "sessions": store.mpa.list_sessions(),
        "votes": store.mpa.votes("arn:session"),
    }


def fill(store: SqliteStore) -> None:
    for n in range(3):
        store.insert_key(key(n))
    first = key(0).arn
    store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/one", first))
    store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/none", None))
    store.put_tags(first, [{"Key": "team", "Value": "issuing"}, {"Key": "env", "Value": "prod"}])
    store.put_resource_policy(first, ACCOUNT, REGION, '{"Version": "2012-10-17", "Statement": []}')
    store.put_replication_defaults(ACCOUNT, REGION, ["us-west-2"])
    store.put_replication_job(first, "us-west-2", "copy")
    ca = key(9)
    ca.arn = "ca"
    store.insert_exchange_key("service-ca", ca, None)
    team = Team("arn:team", ACCOUNT, REGION, "custodians", 2, 1.0, ("alice", "bob"))
    store.mpa.put_team(team)
    store.mpa.put_association(Association(ACCOUNT, REGION, "ImportKey", "arn:team", "ACTIVE"))
    session = Session(
        "arn:session", "arn:team", ACCOUNT, REGION, "ImportKey", "import", first, "PENDING", 2.0
    )
    store.mpa.put_session(session)
    store.mpa.put_vote("arn:session", "alice", "APPROVE", 3.0)


@pytest.fixture
def source(tmp_path: Path) -> SqliteStore:
    store = SqliteStore(tmp_path / "source" / "paycrypt.db")
    fill(store)
    yield store
    store.close()


def test_every_kind_of_state_comes_back(source: SqliteStore, tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    snapshot = source.write_snapshot(tmp_path / "snap")
    assert (snapshot.backend, snapshot.schema_version, snapshot.files) == (
        "sqlite",
        migrations.latest("sqlite"),
        ("paycrypt.db",),
    )
    assert {n: snapshot.counts[n] for n in ("keys", "aliases", "tags", "resource_policies")} == {
        "keys": 3,
        "aliases": 2,
        "tags": 2,
        "resource_policies": 1,
    }
    assert [r.arn for r in source.snapshot_blocks(tmp_path / "snap", snapshot)] == [
        *(key(n).arn for n in range(3)),
        "ca",
    ]
    target = SqliteStore(tmp_path / "target" / "paycrypt.db")
    assert target.has_resource_policies() is False
    target.restore_snapshot(tmp_path / "snap", snapshot)
    assert everything(target) == everything(source)
    assert everything(target)["has_policies"] is True  # the in-memory count follows the restore
    target.insert_key(key(3))  # a restored store goes on working, in WAL mode
    assert target.count_keys(ACCOUNT, REGION) == 4
    target.close()
    reopened = sqlite3.connect(tmp_path / "target" / "paycrypt.db")
    assert reopened.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    reopened.close()


def test_a_restore_refuses_a_store_that_holds_anything(source: SqliteStore, tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    snapshot = source.write_snapshot(tmp_path / "snap")
    target = SqliteStore(tmp_path / "target" / "paycrypt.db")
    target.put_alias(AliasRecord(ACCOUNT, REGION, "alias/already-here", None))
    with pytest.raises(StoreNotEmpty, match="1 aliases"):
        target.restore_snapshot(tmp_path / "snap", snapshot)
    assert target.count_keys(ACCOUNT, REGION) == 0
    target.close()


@pytest.mark.parametrize(
    ("backend", "version", "message"),
    [("postgresql", 1, "postgresql store"), ("sqlite", 99, "schema version 99")],
)
def test_a_restore_refuses_another_backend_or_schema(
    source: SqliteStore, tmp_path: Path, backend: str, version: int, message: str
) -> None:
    (tmp_path / "snap").mkdir()
    taken = source.write_snapshot(tmp_path / "snap")
    other = Snapshot(backend, version, taken.files, taken.counts)
    target = SqliteStore(tmp_path / "target" / "paycrypt.db")
    with pytest.raises(ValueError, match=message):
        target.restore_snapshot(tmp_path / "snap", other)
    target.close()


def test_a_snapshot_taken_while_another_connection_writes_is_one_instant(tmp_path: Path) -> None:
    """A writer in another connection (as the server is to `paycrypt backup`) inserts a key and its
    tag in one transaction, over and over; every snapshot holds both or neither of each pair."""
    path = tmp_path / "live" / "paycrypt.db"
    writer = SqliteStore(path)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            with writer.transaction():
                writer.insert_key(key(n))
                writer.put_tags(key(n).arn, [{"Key": "n", "Value": str(n)}])
            n += 1

    thread = threading.Thread(target=write)
    thread.start()
    reader = SqliteStore(path)
    try:
        for round_ in range(10):
            directory = tmp_path / f"snap{round_}"
            directory.mkdir()
            snapshot = reader.write_snapshot(directory)
            assert snapshot.counts["keys"] == snapshot.counts["tags"], snapshot.counts
    finally:
        stop.set()
        thread.join()
    assert snapshot.counts["keys"] > 0
    reader.close()
    writer.close()


# --- the backup file ---------------------------------------------------------------------------


@pytest.fixture
def backup(source: SqliteStore, tmp_path: Path) -> Path:
    (tmp_path / "snap").mkdir()
    snapshot = source.write_snapshot(tmp_path / "snap")
    archive.write(tmp_path / "backup.tar", tmp_path / "snap", snapshot, VAULT, "9.9.9")
    return tmp_path / "backup.tar"


def test_a_backup_file_reads_back_whole(backup: Path, tmp_path: Path) -> None:
    assert backup.stat().st_mode & 0o777 == 0o600
    with tarfile.open(backup) as tar:
        assert tar.getnames() == ["manifest.json", "store/paycrypt.db"]
    (tmp_path / "out").mkdir()
    manifest = archive.read(backup, tmp_path / "out")
    assert manifest.paycrypt_version == "9.9.9"
    assert dict(manifest.vault) == VAULT
    assert manifest.snapshot.counts["keys"] == 3
    assert (tmp_path / "out" / "paycrypt.db").read_bytes() == (tmp_path / "snap" / "paycrypt.db").read_bytes()
    restored = SqliteStore(tmp_path / "target" / "paycrypt.db")
    restored.restore_snapshot(tmp_path / "out", manifest.snapshot)
    assert restored.count_keys(ACCOUNT, REGION) == 3
    restored.close()


def test_a_backup_never_overwrites_a_file(backup: Path, tmp_path: Path, source: SqliteStore) -> None:
    before = backup.read_bytes()
    with pytest.raises(archive.BackupFileError, match="never overwrites"):
        archive.write(
            backup, tmp_path / "snap", source.write_snapshot(_empty(tmp_path / "again")), VAULT, "1"
        )
    assert backup.read_bytes() == before
    assert [p.name for p in tmp_path.glob(".backup.tar.*")] == []  # no temporary file left


def _empty(directory: Path) -> Path:
    directory.mkdir()
    return directory


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _flip_database_byte(members: dict[str, bytes]) -> None:
    data = bytearray(members["store/paycrypt.db"])
    data[len(data) // 2] ^= 0x01
    members["store/paycrypt.db"] = bytes(data)


def _change_a_count(members: dict[str, bytes]) -> None:
    manifest = json.loads(members["manifest.json"])
    manifest["counts"]["keys"] += 1
    members["manifest.json"] = json.dumps(manifest).encode()


def _change_a_digest_and_recompute_the_checksum(members: dict[str, bytes]) -> None:
    """The manifest stays self-consistent; the file no longer matches the digest it now states."""
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["store/paycrypt.db"]["sha256"] = "0" * 64
    manifest.pop("checksum")
    manifest["checksum"] = archive.checksum(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()


def _add_a_member(members: dict[str, bytes]) -> None:
    members["store/extra.db"] = b"not listed"


def _drop_the_database(members: dict[str, bytes]) -> None:
    del members["store/paycrypt.db"]


def _manifest_not_first(members: dict[str, bytes]) -> None:
    manifest = members.pop("manifest.json")
    members["manifest.json"] = manifest


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_flip_database_byte, "does not match its checksum"),
        (_change_a_count, "checksum does not match"),
        (_change_a_digest_and_recompute_the_checksum, "does not match its checksum"),
        (_add_a_member, "other files than its manifest lists"),
        (_drop_the_database, "other files than its manifest lists"),
        (_manifest_not_first, "does not begin with manifest.json"),
    ],
)
def test_a_changed_backup_is_refused(backup: Path, tmp_path: Path, tamper: object, message: str) -> None:
    members = _members(backup)
    tamper(members)
    changed = tmp_path / "changed.tar"
    _rewrite(changed, members)
    with pytest.raises(archive.BackupFileError, match=message):
        archive.read(changed, _empty(tmp_path / "out"))


def test_a_truncated_or_foreign_file_is_refused(backup: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    with pytest.raises(archive.BackupFileError):
        archive.read(truncated, _empty(tmp_path / "out1"))
    foreign = tmp_path / "foreign.tar"
    foreign.write_bytes(b"PK\x03\x04 this is a zip file, not a tar\n" * 40)
    with pytest.raises(archive.BackupFileError, match="not a readable backup"):
        archive.read(foreign, _empty(tmp_path / "out2"))

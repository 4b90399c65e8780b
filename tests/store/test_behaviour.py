"""Every store protocol behaves the same on SQLite and on PostgreSQL (issue 15 items 1 and 10).

Each test runs on both backends in the default run: a fresh SQLite file, and a fresh database in
the session's throwaway PostgreSQL cluster (tests/pg_cluster.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.store import factory, migrations
from paycrypt.store.base import Store
from paycrypt.store.records import AliasRecord, Association, KeyRecord, Session, Team

ACCOUNT, REGION = "111122223333", "us-east-1"
_databases = itertools.count()


def open_backend(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> factory.StoreSpec:
    if backend == "sqlite":
        return factory.parse(f"sqlite:{tmp_path / 'paycrypt.db'}", tmp_path)
    cluster = request.getfixturevalue("pg_cluster")
    return factory.parse(cluster.database(f"behaviour_{next(_databases)}"), tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> factory.StoreSpec:
    return open_backend(request.param, tmp_path, request)


@pytest.fixture
def store(spec: factory.StoreSpec) -> Iterator[Store]:
    opened = factory.open_store(spec)
    yield opened
    opened.close()


def key(n: int, account: str = ACCOUNT, region: str = REGION, state: str = "CREATE_COMPLETE") -> KeyRecord:
    key_id = f"k{n:015d}"
    return KeyRecord(
        arn=f"arn:aws:payment-cryptography:{region}:{account}:key/{key_id}",
        account=account,
        region=region,
        key_id=key_id,
        key_attributes={"KeyAlgorithm": "AES_128", "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY"},
        key_check_value="0A1B2C",
        key_check_value_algorithm="CMAC",
        enabled=True,
        exportable=True,
        key_state=state,
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
        key_block=f"D0112K0AE00E0000{n:08d}",
        extra={"n": n},
    )


def test_keys_round_trip_list_count_and_delete(store: Store) -> None:
    for n in range(5):
        store.insert_key(key(n))
    store.insert_key(key(9, region="eu-west-1"))
    assert store.get_key(key(3).arn) == key(3)
    assert store.count_keys(ACCOUNT, REGION) == 5 and store.count_keys(ACCOUNT, "eu-west-1") == 1
    first = store.list_keys(ACCOUNT, REGION, None, 0, 2)
    assert [r.arn for _, r in first] == [key(0).arn, key(1).arn]
    rest = store.list_keys(ACCOUNT, REGION, None, first[-1][0], 10)
    assert [r.arn for _, r in rest] == [key(n).arn for n in (2, 3, 4)]
    pending = key(2, state="DELETE_PENDING")
    pending.delete_pending_timestamp = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    pending.key_block = "not stored by an update"
    store.update_key(pending)
    got = store.get_key(pending.arn)
    assert got is not None and got.key_state == "DELETE_PENDING" and got.key_block == key(2).key_block
    assert [r.arn for _, r in store.list_keys(ACCOUNT, REGION, "DELETE_PENDING", 0, 10)] == [pending.arn]
    assert [r.arn for r in store.keys_due_for_purge(dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp())] == [
        pending.arn
    ]
    assert list(store.keys_due_for_purge(dt.datetime(2026, 1, 31, tzinfo=dt.UTC).timestamp())) == []
    store.put_tags(pending.arn, [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    store.put_resource_policy(pending.arn, ACCOUNT, REGION, '{"Version": "2012-10-17"}')
    assert store.get_tags(pending.arn) == [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]
    store.delete_key(pending.arn)
    assert store.get_key(pending.arn) is None
    assert store.get_tags(pending.arn) == [] and store.get_resource_policy(pending.arn) is None
    assert store.count_keys(ACCOUNT, REGION) == 4
    store.delete_key(pending.arn)  # again: nothing to delete, the count stays
    assert store.count_keys(ACCOUNT, REGION) == 4


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_key(key(1))
        store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/x", key(1).arn))
        with store.transaction():  # nested: joins the outer one
            store.put_tags(key(1).arn, [{"Key": "k", "Value": "v"}])
        raise RuntimeError("abandon")
    assert store.get_key(key(1).arn) is None and store.get_alias(ACCOUNT, REGION, "alias/x") is None
    assert store.get_tags(key(1).arn) == []
    assert (store.count_keys(ACCOUNT, REGION), store.count_aliases(ACCOUNT, REGION)) == (0, 0)


def test_aliases_in_code_point_order_counted_and_unassigned(store: Store) -> None:
    names = ["alias/b", "alias/B", "alias/a-1", "alias/a_1", "alias/Z"]
    for name in names:
        store.put_alias(AliasRecord(ACCOUNT, REGION, name, key(1).arn if "a" in name[6:] else None))
    store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/b", key(2).arn))  # an update: not counted again
    assert store.count_aliases(ACCOUNT, REGION) == 5
    listed = store.list_aliases(ACCOUNT, REGION, None, "", 10)
    assert [a.alias_name for a in listed] == sorted(names)  # code points: upper case first
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION, None, "alias/Z", 2)] == sorted(names)[
        2:4
    ]
    assert [a.alias_name for a in store.list_aliases(ACCOUNT, REGION, key(1).arn, "", 10)] == [
        "alias/a-1",
        "alias/a_1",
    ]
    store.unassign_aliases(key(1).arn)
    assert store.get_alias(ACCOUNT, REGION, "alias/a-1") == AliasRecord(ACCOUNT, REGION, "alias/a-1", None)
    store.delete_alias(ACCOUNT, REGION, "alias/B")
    store.delete_alias(ACCOUNT, REGION, "alias/B")  # gone already: the count stays
    assert store.count_aliases(ACCOUNT, REGION) == 4 and store.count_aliases(ACCOUNT, "eu-west-1") == 0


def test_exchange_keys(store: Store) -> None:
    ca = key(1)
    assert store.insert_exchange_key("ca", ca, None) is True
    assert store.insert_exchange_key("ca", dataclasses.replace(key(2), arn=ca.arn), None) is False
    assert store.get_exchange_key(ca.arn) == ca
    older, newer = key(3), key(4)
    store.insert_exchange_key("import", older, 100.0)
    store.insert_exchange_key("import", newer, 200.0)
    assert store.latest_exchange_key(ACCOUNT, REGION, "import", 50.0) == newer
    assert store.latest_exchange_key(ACCOUNT, REGION, "import", 200.0) is None
    assert store.purge_exchange_keys(150.0) == 1
    assert store.get_exchange_key(older.arn) is None and store.get_exchange_key(ca.arn) == ca


def test_resource_policies(store: Store) -> None:
    assert store.has_resource_policies() is False
    store.put_resource_policy(key(1).arn, ACCOUNT, REGION, "{}")
    store.put_resource_policy(key(1).arn, ACCOUNT, REGION, '{"a": 1}')
    assert store.get_resource_policy(key(1).arn) == '{"a": 1}' and store.has_resource_policies()
    assert store.delete_resource_policy(key(1).arn) is True
    assert store.delete_resource_policy(key(1).arn) is False
    assert store.has_resource_policies() is False


def test_replication_defaults_and_jobs(store: Store) -> None:
    store.put_replication_defaults(ACCOUNT, REGION, ["us-west-2", "eu-west-1"])
    assert store.get_replication_defaults(ACCOUNT, REGION) == ["us-west-2", "eu-west-1"]
    store.put_replication_defaults(ACCOUNT, REGION, [])
    assert store.get_replication_defaults(ACCOUNT, REGION) == []
    store.put_replication_job(key(1).arn, "us-west-2", "copy")
    first = store.get_replication_job(key(1).arn, "us-west-2")
    assert first is not None and (first.action, first.attempts, first.next_attempt) == ("copy", 0, 0)
    assert store.replication_backlog(10.0) == (1, 0)
    store.defer_replication_job(first.seq, 1, 50.0)
    assert store.due_replication_jobs(10.0, 10) == []
    assert store.replication_backlog(10.0) == (0, 1)  # waiting for its retry at 50
    assert store.replication_backlog(50.0) == (1, 0)
    store.put_replication_job(key(1).arn, "us-west-2", "sync")  # replaces it, due at once, a new seq
    second = store.get_replication_job(key(1).arn, "us-west-2")
    assert second is not None and second.seq > first.seq and second.action == "sync"
    assert store.finish_replication_job(first.seq) is False  # the runner of the old job leaves the new
    assert store.due_replication_jobs(10.0, 10) == [second]
    assert store.finish_replication_job(second.seq) is True
    assert store.get_replication_job(key(1).arn, "us-west-2") is None
    assert store.replication_backlog(10.0) == (0, 0)


def test_mpa_tables(store: Store) -> None:
    team_arn = "arn:aws:payment-cryptography:us-east-1:111122223333:team/ops"
    team = Team(team_arn, ACCOUNT, REGION, "ops", 2, 1000.5, ("carol", "Alice", "bob"))
    with store.transaction():
        store.mpa.put_team(team)
    assert store.mpa.get_team(team_arn) == Team(
        team_arn, ACCOUNT, REGION, "ops", 2, 1000.5, ("Alice", "bob", "carol")
    )
    with store.transaction():
        store.mpa.set_members(team_arn, ("bob", "dave"), 1)
    assert store.mpa.list_teams() == [Team(team_arn, ACCOUNT, REGION, "ops", 1, 1000.5, ("bob", "dave"))]
    assert store.mpa.teams_in_use(team_arn) is False
    association = Association(ACCOUNT, REGION, "ImportKey", team_arn, "ACTIVE")
    store.mpa.put_association(association)
    store.mpa.put_association(
        Association(ACCOUNT, REGION, "ImportKey", team_arn, "UPDATE_PENDING", "t2", "s1")
    )
    assert store.mpa.get_association(ACCOUNT, REGION, "ImportKey") == Association(
        ACCOUNT, REGION, "ImportKey", team_arn, "UPDATE_PENDING", "t2", "s1"
    )
    assert store.mpa.teams_in_use(team_arn) is True
    store.mpa.delete_association(ACCOUNT, REGION, "ImportKey")
    sessions = [
        Session(f"s{n}", team_arn, ACCOUNT, REGION, "ImportKey", "import", key(n).arn, "PENDING", 10.0 + n)
        for n in range(3)
    ]
    for session in sessions:
        store.mpa.put_session(session)
    assert store.mpa.teams_in_use(team_arn) is True
    approved = dataclasses.replace(sessions[0], status="APPROVED", finished=20.0)
    store.mpa.put_session(approved)  # a replaced session goes last, on both backends
    assert [s.arn for s in store.mpa.list_sessions()] == ["s1", "s2", "s0"]
    assert store.mpa.list_sessions("APPROVED") == [approved]
    store.mpa.put_vote("s1", "bob", "APPROVE", 30.0)
    store.mpa.put_vote("s1", "dave", "REJECT", 31.0)
    assert store.mpa.votes("s1") == {"bob": "APPROVE", "dave": "REJECT"}
    with store.transaction():
        store.mpa.delete_team(team_arn)
    assert store.mpa.get_team(team_arn) is None


def test_a_new_store_is_at_the_latest_schema_version(spec: factory.StoreSpec) -> None:
    factory.open_store(spec).close()
    assert factory.version(spec) == (migrations.latest(spec.backend), migrations.latest(spec.backend))
    assert factory.upgrade(spec) == (migrations.latest(spec.backend),) * 2  # nothing pending


def _set_version(spec: factory.StoreSpec, version: int) -> None:
    """Pretend another release wrote the database: its schema_version rows end at `version`."""
    if spec.backend == "sqlite":
        import sqlite3

        db = sqlite3.connect(spec.target, isolation_level=None)
        with db:
            db.execute("DELETE FROM schema_version")
            db.executemany(
                "INSERT INTO schema_version (version, name, applied) VALUES (?, 'x', 0)",
                [(v,) for v in range(1, version + 1)],
            )
        db.close()
        return
    import psycopg

    with psycopg.connect(spec.target, autocommit=True) as db:
        db.execute("DELETE FROM schema_version")
        for v in range(1, version + 1):
            db.execute("INSERT INTO schema_version (version, name, applied) VALUES (%s, 'x', 0)", (v,))


def test_schema_version_is_read_from_the_database_each_time(spec: factory.StoreSpec) -> None:
    """What /readyz asks the store (wire/health.py): a version moved under a running node shows."""
    store = factory.open_store(spec)
    try:
        latest = migrations.latest(spec.backend)
        assert store.schema_version() == latest
        _set_version(spec, latest + 1)
        assert store.schema_version() == latest + 1
    finally:
        store.close()


def test_a_schema_newer_than_the_code_is_refused(spec: factory.StoreSpec) -> None:
    factory.open_store(spec).close()
    newer = migrations.latest(spec.backend) + 1
    _set_version(spec, newer)
    with pytest.raises(migrations.SchemaError, match=f"version {newer}, newer than this paycrypt knows"):
        factory.open_store(spec)
    with pytest.raises(migrations.SchemaError, match="newer"):
        factory.upgrade(spec)


def test_an_older_postgresql_schema_waits_for_db_upgrade(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On PostgreSQL, `serve` brings an empty database to the latest version but upgrades an older
    one only through `paycrypt db upgrade` (every node stopped); the counters migration 2 makes are
    the rows' own counts."""
    spec = open_backend("postgresql", tmp_path, request)
    store = factory.open_store(spec)
    for n in range(3):
        store.insert_key(key(n))
    store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/one", None))
    store.close()
    import psycopg

    with psycopg.connect(spec.target, autocommit=True) as db:
        db.execute("DROP TABLE quota_counts")  # back to version 1: what the later migrations make
        db.execute("DROP TABLE block_changes")
        db.execute("DROP TABLE leases")
        db.execute("DROP TABLE node_heartbeats")
        db.execute("DROP TABLE master_keys")
        db.execute("DROP FUNCTION paycrypt_announce_change")
        db.execute("DROP TABLE sign_in_failures")
        db.execute("DROP TABLE vault_migration")
    _set_version(spec, 1)
    with pytest.raises(
        migrations.SchemaError,
        match=rf"at version 1 .* needs version {migrations.latest('postgresql')}: stop every paycrypt",
    ):
        factory.open_store(spec)
    assert factory.upgrade(spec) == (1, migrations.latest("postgresql"))
    store = factory.open_store(spec)
    assert (store.count_keys(ACCOUNT, REGION), store.count_aliases(ACCOUNT, REGION)) == (3, 1)
    store.close()


def test_db_upgrade_is_refused_while_a_node_is_connected(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    spec = open_backend("postgresql", tmp_path, request)
    running = factory.open_store(spec)  # a node still running
    try:
        with pytest.raises(
            migrations.SchemaError, match=r"other processes are open .* stop every paycrypt node"
        ):
            factory.upgrade(spec)
        latest = migrations.latest(spec.backend)
        assert factory.upgrade(spec, force=True) == (latest, latest)
    finally:
        running.close()
    assert factory.upgrade(spec) == (latest, latest)


def test_sqlite_record_cache_evicts_one_record_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full, the SQLite store's record cache drops its least recently used record and keeps the hot
    ones (issue 17 item 4: it used to be cleared whole, so at more keys than entries every read
    missed); an evicted record is read again from its row, unchanged."""
    from paycrypt.store import sqlite

    monkeypatch.setattr(sqlite, "RECORD_CACHE_SIZE", 4)
    opened = sqlite.SqliteStore(tmp_path / "paycrypt.db")
    try:
        for n in range(10):
            opened.insert_key(key(n))
        hot = key(0).arn
        for n in range(1, 10):
            assert opened.get_key(hot) == key(0)
            assert opened.get_key(key(n).arn) == key(n)
        cached = list(opened._records)
        assert len(cached) == 4 and hot in cached and key(9).arn in cached and key(1).arn not in cached
        assert opened.get_key(key(1).arn) == key(1)
    finally:
        opened.close()

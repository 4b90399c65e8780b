"""The store's sealed blocks (store.base.SealedBlocks, SQLite): read in order across both tables,
re-sealed only by a compare-and-set, and every re-seal in a feed that another process follows,
dropping its cached record, or everything when the feed was pruned past where it stood. On
PostgreSQL, the feed's pruning in statements short enough for the store's time bound."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.store import base
from paycrypt.store.records import KeyRecord
from paycrypt.store.rows import SEALED_NAME
from paycrypt.store.sqlite import SqliteStore
from tests.vault.test_sealing import record


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores on one database: a server's, and a rotation's (another process)."""
    server, rotation = SqliteStore(tmp_path / "paycrypt.db"), SqliteStore(tmp_path / "paycrypt.db")
    yield server, rotation
    server.close()
    rotation.close()


def key(name: str, block: str) -> KeyRecord:
    return record(arn=f"arn:aws:payment-cryptography:us-east-1:111122223333:key/{name:0>16}", key_block=block)


def test_the_sqlite_tables_are_the_sealed_tables() -> None:
    assert tuple(SEALED_NAME) == base.SEALED_TABLES


def test_blocks_are_read_in_order_across_both_tables(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    for name in "abc":
        store.insert_key(key(name, f"block-{name}"))
    store.insert_exchange_key("import", key("x", "block-x"), None)
    assert [r.key_block for _, r in store.sealed_blocks("keys", 0, 2)] == ["block-a", "block-b"]
    after = store.sealed_blocks("keys", 0, 2)[-1][0]
    assert [r.key_block for _, r in store.sealed_blocks("keys", after, 10)] == ["block-c"]
    assert [r.key_block for _, r in store.sealed_blocks("exchange_keys", 0, 10)] == ["block-x"]
    assert store.count_sealed_blocks() == 4
    with pytest.raises(ValueError, match="no sealed blocks"):
        store.sealed_blocks("tags", 0, 10)


def test_a_reseal_is_a_compare_and_set(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    rec = key("a", "old")
    store.insert_key(rec)
    assert store.reseal_block("keys", rec.arn, "old", "new")
    assert not store.reseal_block("keys", rec.arn, "old", "newer")  # someone changed it meanwhile
    assert store.get_sealed("keys", rec.arn).key_block == "new"
    assert not store.reseal_block("keys", key("gone", "").arn, "old", "new")
    exchange = key("x", "old-x")
    store.insert_exchange_key("export", exchange, None)
    assert store.reseal_block("exchange_keys", exchange.arn, "old-x", "new-x")
    assert store.get_exchange_key(exchange.arn).key_block == "new-x"


def test_another_process_follows_the_feed_and_drops_its_cached_record(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    server, rotation = stores
    a, b = key("a", "a1"), key("b", "b1")
    server.insert_key(a)
    server.insert_key(b)
    position = server.block_changes_head()
    assert server.get_key(a.arn).key_block == "a1"  # cached by the server
    assert rotation.reseal_block("keys", a.arn, "a1", "a2")
    assert server.get_key(a.arn).key_block == "a2"  # its cache checks the database's data_version
    position, changed = server.follow_block_changes(position)
    assert changed == [a.arn]
    assert server.get_key(a.arn).key_block == "a2"
    assert server.follow_block_changes(position) == (position, [])


def test_a_pruned_feed_makes_the_follower_drop_everything(stores: tuple[SqliteStore, SqliteStore]) -> None:
    server, rotation = stores
    a = key("a", "a1")
    server.insert_key(a)
    position = server.block_changes_head()
    server.get_key(a.arn)
    assert rotation.reseal_block("keys", a.arn, "a1", "a2")
    assert rotation.reseal_block("keys", a.arn, "a2", "a3")
    assert rotation.prune_block_changes(float("inf")) == 2
    head, changed = server.follow_block_changes(position)
    assert changed is None and head == position + 2
    assert server.get_key(a.arn).key_block == "a3"


def test_a_rolled_back_reseal_leaves_no_change(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    rec = key("a", "old")
    store.insert_key(rec)
    head = store.block_changes_head()
    with pytest.raises(RuntimeError), store.transaction():
        store.reseal_block("keys", rec.arn, "old", "new")
        raise RuntimeError("killed mid-page")
    assert store.get_sealed("keys", rec.arn).key_block == "old"
    assert store.block_changes_head() == head and store.follow_block_changes(head) == (head, [])


def test_records_are_not_changed_by_a_reseal_of_their_copy(stores: tuple[SqliteStore, SqliteStore]) -> None:
    store, _ = stores
    rec = key("a", "old")
    store.insert_key(rec)
    held = dataclasses.replace(store.get_key(rec.arn))
    store.reseal_block("keys", rec.arn, "old", "new")
    assert held.key_block == "old" and store.get_key(rec.arn).key_block == "new"


def test_a_feed_of_a_million_keys_is_pruned_in_short_statements(pg_cluster: object) -> None:
    """PostgreSQL: after a rotation the feed holds a row per key, more than one DELETE could remove
    within the store's time bound; it is pruned in batches of PRUNE_BATCH, all of the old rows and
    none of the recent ones (here a little over two batches stand for the million)."""
    from paycrypt.store.postgres import PRUNE_BATCH, PostgresStore

    store = PostgresStore(pg_cluster.database("prune_batches"))  # type: ignore[attr-defined]
    try:
        old = 2 * PRUNE_BATCH + 7
        store._run(
            "INSERT INTO block_changes (arn, at) SELECT 'arn-' || i, 1000 + i FROM generate_series(1, %s) i",
            (old,),
        )
        store._run(
            "INSERT INTO block_changes (arn, at) SELECT 'recent-' || i, 5000000 FROM generate_series(1, 3) i"
        )
        assert store.prune_block_changes(4000000) == old
        assert store._run("SELECT arn FROM block_changes ORDER BY seq")[0] == [
            (f"recent-{i}",) for i in (1, 2, 3)
        ]
        assert store.prune_block_changes(4000000) == 0
    finally:
        store.close()

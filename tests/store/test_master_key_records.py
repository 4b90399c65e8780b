"""The master keys the store records (store.base.MasterKeyRecords) on both backends: a rotation's
version recorded pending and then admitted, the newest admitted one what servers seal under, the
kind of vault kept with each version, a recorded version never overwritten; the target a vault
migration was admitted to."""

from __future__ import annotations

from paycrypt.store.base import Store
from paycrypt.store.records import MasterKeyRecord


def test_a_pending_version_is_recorded_but_not_sealed_under_until_admitted(store: Store) -> None:
    assert store.sealing_version() is None and store.master_key_records() == []
    store.record_master_keys({1: "AAAAAAAAAA"}, "file")
    store.record_master_keys({2: "BBBBBBBBBB"}, "file", admitted=False)
    assert store.master_keys() == {1: "AAAAAAAAAA", 2: "BBBBBBBBBB"}
    assert store.sealing_version() == 1
    store.record_master_keys({2: "CCCCCCCCCC"})  # recorded already: neither its value nor its state change
    assert store.master_key_records() == [
        MasterKeyRecord(1, "AAAAAAAAAA", "file", True),
        MasterKeyRecord(2, "BBBBBBBBBB", "file", False),
    ]
    store.admit_master_key(2)
    assert store.sealing_version() == 2
    assert store.master_key_records()[1].admitted


def test_replacing_the_records_after_a_migration_keeps_the_new_vaults_kind(store: Store) -> None:
    store.record_master_keys({1: "AAAAAAAAAA", 2: "BBBBBBBBBB"}, "file")
    store.replace_master_keys({1: "DDDDDDDDDD"}, "pkcs11")
    assert store.master_key_records() == [MasterKeyRecord(1, "DDDDDDDDDD", "pkcs11", True)]
    assert store.sealing_version() == 1


def test_a_migration_target_is_recorded_pending_then_admitted(store: Store) -> None:
    assert store.migration_target() is None
    store.record_migration_target("EEEEEEEEEE", admitted=False)
    assert store.migration_target() == ("EEEEEEEEEE", False)
    store.record_migration_target("EEEEEEEEEE", admitted=True)
    assert store.migration_target() == ("EEEEEEEEEE", True)
    store.record_migration_target("FFFFFFFFFF", admitted=False)  # a later migration (back) replaces it
    assert store.migration_target() == ("FFFFFFFFFF", False)

"""The store records the master keys its blocks are sealed under, and a vault holding another key
is refused (vault/agreement.py), on both backends: the message names both check values and never
the key; a rotation's new version is recorded; a store newer than the vault is refused."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.store import factory
from paycrypt.store.base import Store
from paycrypt.vault import blocks
from paycrypt.vault.agreement import MasterKeyMismatch, agree
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault
from tests.nodes import copy_master_key

_databases = itertools.count()
NAME = "the-store"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        target = f"sqlite:{tmp_path / 'paycrypt.db'}"
    else:
        target = request.getfixturevalue("pg_cluster").database(f"agreement_{next(_databases)}")
    opened = factory.open_store(factory.parse(target, tmp_path))
    yield opened
    opened.close()


def test_the_first_start_records_the_vault_and_the_same_key_agrees(store: Store) -> None:
    key = secrets.token_bytes(32)
    line = agree(store, MasterKeyVault(key), NAME)
    assert store.master_keys() == {1: blocks.check_value(key)}
    assert blocks.check_value(key) in line
    agree(store, MasterKeyVault(key), NAME)  # a second node with a copy of the key
    assert store.master_keys() == {1: blocks.check_value(key)}


def test_another_master_key_is_refused_naming_both_check_values(store: Store) -> None:
    ours, theirs = secrets.token_bytes(32), secrets.token_bytes(32)
    agree(store, MasterKeyVault(ours), NAME)
    with pytest.raises(MasterKeyMismatch) as refused:
        agree(store, MasterKeyVault(theirs), NAME)
    message = str(refused.value)
    assert blocks.check_value(theirs) in message and blocks.check_value(ours) in message
    assert NAME in message and "version 1" in message
    assert ours.hex() not in message.lower() and theirs.hex() not in message.lower()
    assert store.master_keys() == {1: blocks.check_value(ours)}  # unchanged


def test_a_rotation_records_its_version_pending_and_a_node_without_it_is_refused(
    store: Store, tmp_path: Path
) -> None:
    rotating = LocalKeyFileVault(tmp_path / "a" / "master.key")
    copy_master_key(tmp_path / "a", tmp_path / "b")
    behind = LocalKeyFileVault(tmp_path / "b" / "master.key")  # a copy of version 1 only
    agree(store, rotating, NAME, "file")
    agree(store, behind, NAME, "file")
    new = rotating.add_version()
    agree(store, rotating, NAME, "file")  # the rotating node, restarted: a newer version is not recorded
    assert store.master_keys() == {1: behind.key_id}
    store.record_master_keys({2: new.key_id}, "file", admitted=False)  # what jobs/rotation.rotate does
    assert store.master_keys() == {1: behind.key_id, 2: new.key_id}
    assert store.sealing_version() == 1  # pending: no server seals under it yet
    with pytest.raises(MasterKeyMismatch) as refused:
        agree(store, behind, NAME, "file")
    message = str(refused.value)
    assert (
        f"version 2 with check value {new.key_id}, recorded by a master-key rotation that is under way"
        in message
    )
    assert "copy master.key (or master.key.N for version N)" in message
    agree(store, rotating, NAME, "file")  # holds it: agrees
    store.admit_master_key(2)
    assert store.sealing_version() == 2
    rotating.retire(1)
    agree(store, rotating, NAME, "file")  # holds only version 2 now: agrees


def test_after_a_migration_a_node_on_the_old_vault_is_told_to_switch_its_vault(store: Store) -> None:
    old, new = MasterKeyVault(secrets.token_bytes(32)), MasterKeyVault(secrets.token_bytes(32))
    agree(store, old, NAME, "file")
    store.replace_master_keys({1: new.key_id}, "pkcs11")  # what `paycrypt vault migrate --to pkcs11` does
    with pytest.raises(MasterKeyMismatch) as refused:
        agree(store, old, NAME, "file")
    message = str(refused.value)
    assert "the store's keys are in a pkcs11 vault" in message and "start it with --vault pkcs11" in message
    assert old.key_id in message and new.key_id in message
    agree(store, new, NAME, "pkcs11")  # the switched node agrees
    assert store.master_key_records()[0].vault == "pkcs11"


def test_two_nodes_starting_on_an_empty_store_with_different_keys_one_is_refused(store: Store) -> None:
    first, second = MasterKeyVault(secrets.token_bytes(32)), MasterKeyVault(secrets.token_bytes(32))
    store.record_master_keys({1: first.key_id})  # the other node's insert won the race
    store.record_master_keys({1: second.key_id})  # this one's is ignored, not written over
    with pytest.raises(MasterKeyMismatch):
        agree(store, second, NAME)


def test_after_a_vault_migration_the_store_records_the_new_vaults_keys(store: Store) -> None:
    """`vault migrate` replaces the records once every block is under the new vault, whose version
    1 is another key than the old vault's version 1 (cli/vault_migrate.py)."""
    old, new = MasterKeyVault(secrets.token_bytes(32)), MasterKeyVault(secrets.token_bytes(32))
    agree(store, old, NAME)
    with pytest.raises(MasterKeyMismatch):
        agree(store, new, NAME)
    store.replace_master_keys({version.version: version.key_id for version in new.versions()})
    agree(store, new, NAME)
    assert store.master_keys() == {1: new.key_id}
    with pytest.raises(MasterKeyMismatch):
        agree(store, old, NAME)


def test_a_node_that_cannot_open_a_migrations_target_is_refused_until_it_can(store: Store) -> None:
    file, token = MasterKeyVault(secrets.token_bytes(32)), MasterKeyVault(secrets.token_bytes(32))
    agree(store, file, NAME, "file")
    store.record_migration_target(token.key_id, admitted=False)  # `vault migrate` began: it waits
    with pytest.raises(MasterKeyMismatch) as refused:
        agree(store, file, NAME, "file")  # a node without the marker: it opens the file key only
    message = str(refused.value)
    assert f"to the master key with check value {token.key_id} is under way" in message
    assert "copy vault-migration.json" in message
    agree(store, file, NAME, "file", {file.key_id, token.key_id})  # with the marker: it opens both
    store.record_migration_target(token.key_id, admitted=True)
    store.replace_master_keys({1: token.key_id}, "pkcs11")  # the migration's end
    agree(store, token, NAME, "pkcs11")  # a node restarted on the target

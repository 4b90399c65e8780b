"""What a backup records of the vault, and the restore's checks against the configured vault
(vault/snapshot_check.py): blocks counted per sealing key, a foreign master key refused by its
check value, and every block opened, so a block that was moved or changed is named."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from paycrypt.store.records import KeyRecord
from paycrypt.vault import snapshot_check
from paycrypt.vault.local import MasterKeyVault
from tests.vault import test_sealing


def sealed(vault: MasterKeyVault, n: int) -> KeyRecord:
    """Key number `n`, sealed by `vault`."""
    key_id = f"abcdefghijklmn{n:02d}"
    arn = f"arn:aws:payment-cryptography:us-east-1:111122223333:key/{key_id}"
    return test_sealing.sealed(vault, secrets.token_bytes(16), arn=arn, key_id=key_id)


@pytest.fixture
def vault() -> MasterKeyVault:
    return MasterKeyVault(secrets.token_bytes(32))


def test_the_manifest_counts_blocks_per_master_key(vault: MasterKeyVault) -> None:
    other = MasterKeyVault(secrets.token_bytes(32))
    records = [sealed(vault, 1), sealed(vault, 2), sealed(other, 3)]
    described = snapshot_check.describe(vault, "file", records)
    assert described == {
        "kind": "file",
        "master_key_kcv": vault.key_id,
        "sealed_under": dict(sorted({vault.key_id: 2, other.key_id: 1}.items())),
    }


def test_a_vault_holding_the_key_opens_every_block(vault: MasterKeyVault) -> None:
    records = [sealed(vault, n) for n in range(5)]
    described = snapshot_check.describe(vault, "file", records)
    snapshot_check.check_master_key(vault, described)
    assert snapshot_check.check_blocks(vault, records, described) == 5


def test_a_foreign_master_key_is_refused_by_its_check_value(vault: MasterKeyVault) -> None:
    other = MasterKeyVault(secrets.token_bytes(32))
    described = snapshot_check.describe(other, "file", [sealed(other, 1)])
    with pytest.raises(
        snapshot_check.VaultMismatch, match=f"sealed under master key KCV {other.key_id}.*{vault.key_id}"
    ):
        snapshot_check.check_master_key(vault, described)


def test_a_block_moved_to_another_record_is_named(vault: MasterKeyVault) -> None:
    one, two = sealed(vault, 1), sealed(vault, 2)
    swapped = [dataclasses.replace(one, key_block=two.key_block), two]
    described = snapshot_check.describe(vault, "file", swapped)
    with pytest.raises(snapshot_check.VaultMismatch, match=f"{one.arn} does not open"):
        snapshot_check.check_blocks(vault, swapped, described)


def test_a_changed_block_is_named(vault: MasterKeyVault) -> None:
    one = sealed(vault, 1)
    block = one.key_block
    changed = dataclasses.replace(one, key_block=block[:-1] + ("0" if block[-1] != "0" else "1"))
    described = snapshot_check.describe(vault, "file", [changed])
    with pytest.raises(snapshot_check.VaultMismatch, match="failed its integrity check"):
        snapshot_check.check_blocks(vault, [changed], described)


def test_blocks_the_manifest_does_not_count_are_refused(vault: MasterKeyVault) -> None:
    records = [sealed(vault, n) for n in range(3)]
    described = snapshot_check.describe(vault, "file", records[:2])
    with pytest.raises(snapshot_check.VaultMismatch, match="holds 3 key blocks, its manifest 2"):
        snapshot_check.check_blocks(vault, records, described)

"""Master-key versions (src/paycrypt/vault/local.py): a vault holding several seals under the
newest and unseals under whichever one a block's KP names; the file vault's versions are
`master.key`, `master.key.2`, …; a running vault learns a version another process added (before
its next seal, on meeting a block that names it, on `refresh`) and drops one that was retired.

The KP value is checked against an independent CMAC (`cmac_check_value`, X9.24-1:2017 Annex A),
and psec opens the re-sealed block with the new key: the block really is under it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import psec
import pytest

from paycrypt.crypto import keygen
from paycrypt.errors import InternalServer
from paycrypt.vault import blocks
from paycrypt.vault.base import MasterKeyVersion, RotatableVault
from paycrypt.vault.local import KEY_BYTES, LocalKeyFileVault, MasterKeyVault, version_files, version_path
from tests.vault.test_sealing import cmac_check_value, record, sealed


def test_a_vault_of_several_versions_seals_under_the_newest_and_unseals_under_each() -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    material = keygen.generate("TDES_2KEY")
    under_old = sealed(MasterKeyVault(old), material)
    both = MasterKeyVault(old, new)
    assert both.key_id == cmac_check_value(new)
    assert both.versions() == [MasterKeyVersion(1, cmac_check_value(old)), MasterKeyVersion(2, both.key_id)]
    assert both.unseal(under_old, under_old.key_block) == material
    resealed = both.reseal(under_old, under_old.key_block)
    assert both.sealed_by(resealed) == cmac_check_value(new) != both.sealed_by(under_old.key_block)
    assert psec.tr31.unwrap(new, resealed)[1] == material  # an independent TR-31 reader, the new key
    with pytest.raises(InternalServer, match="does not hold"):
        MasterKeyVault(old).unseal(under_old, resealed)  # the old key alone cannot open it


def test_a_block_without_kp_is_under_version_1() -> None:
    """Blocks written before KP existed were all sealed under the one key there was."""
    old = secrets.token_bytes(32)
    rec = record()
    header = blocks.tr31.Header(
        version_id="D", key_usage="C0", algorithm="T", mode_of_use="N", exportability="N",
        optional_blocks=(("01", rec.arn), ("02", blocks.binding_digest(rec))),
    )  # fmt: skip
    rec.key_block = blocks.tr31.wrap(old, header, bytes(16))
    vault = MasterKeyVault(old, secrets.token_bytes(32))
    assert vault.sealed_by(rec.key_block) == cmac_check_value(old)
    assert vault.unseal(rec, rec.key_block) == bytes(16)


def test_the_file_vault_adds_numbered_versions_and_retires_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    vault = LocalKeyFileVault(path)
    first = vault.versions()
    assert [v.version for v in first] == [1]
    added = vault.add_version()
    assert added == MasterKeyVersion(2, cmac_check_value(version_path(path, 2).read_bytes()))
    assert version_path(path, 2).name == "master.key.2"
    assert (version_path(path, 2).stat().st_mode & 0o777) == 0o600
    assert vault.key_id == added.key_id and vault.versions() == [*first, added]
    with pytest.raises(ValueError, match="newest"):
        vault.retire(2)
    vault.retire(1)
    assert not path.exists() and vault.versions() == [added]
    # A later start reads version 2 and makes no new version 1: its blocks would be under a key
    # nothing names.
    assert LocalKeyFileVault(path).versions() == [added]
    assert not path.exists()
    third = vault.add_version()
    assert third.version == 3 and sorted(version_files(path)) == [2, 3]


def test_a_running_vault_learns_a_new_version_before_its_next_seal(tmp_path: Path) -> None:
    """The server's vault and the rotation's are two objects (two processes) on the same files."""
    path = tmp_path / "master.key"
    server, rotation = LocalKeyFileVault(path), LocalKeyFileVault(path)
    added = rotation.add_version()
    rec = record()
    assert server.sealed_by(server.seal(rec, bytes(16))) == added.key_id


def test_a_running_vault_learns_a_version_from_a_block_that_names_it(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    server, rotation = LocalKeyFileVault(path), LocalKeyFileVault(path)
    rotation.add_version()
    rec = sealed(rotation, b"\x11" * 16)
    assert server.unseal(rec, rec.key_block) == b"\x11" * 16


def test_refresh_drops_a_retired_version(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    server, rotation = LocalKeyFileVault(path), LocalKeyFileVault(path)
    rec = sealed(server, b"\x22" * 16)
    rotation.add_version()
    rotation.retire(1)
    server.refresh()
    assert [v.version for v in server.versions()] == [2]
    with pytest.raises(InternalServer, match="does not hold"):
        server.unseal(rec, rec.key_block)


def test_refresh_keeps_the_keys_it_holds_when_the_directory_has_none(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    vault = LocalKeyFileVault(path)
    before = vault.versions()
    path.rename(tmp_path / "elsewhere")
    vault.refresh()
    assert vault.versions() == before


def test_a_killed_add_version_leaves_nothing_a_later_rotation_trips_on(tmp_path: Path) -> None:
    """A temporary file of version 2 left by a killed rotation is removed when version 2 is made;
    a server start does not remove it (the rotation may be running)."""
    path = tmp_path / "master.key"
    vault = LocalKeyFileVault(path)
    leftover = tmp_path / f".master.key.2.{os.getpid()}.{secrets.token_hex(8)}.tmp"
    leftover.write_bytes(secrets.token_bytes(KEY_BYTES))
    LocalKeyFileVault(path)
    assert leftover.exists()
    vault.add_version()
    assert not leftover.exists()


def test_the_file_vault_is_rotatable_and_the_memory_vault_is_not(tmp_path: Path) -> None:
    assert isinstance(LocalKeyFileVault(tmp_path / "master.key"), RotatableVault)
    assert not isinstance(MasterKeyVault(secrets.token_bytes(32)), RotatableVault)

"""How a server's vault follows a migration (vault/migration.py), with in-memory vaults standing in
for the two ends (the PKCS#11 end is tested on SoftHSM2 in tests/api/test_vault_migrate.py): before
the marker a block under the other end is refused by name; once the marker names the server's
vault, it opens the other end on the first block that needs it, unseals under either and seals
under the target; a finished marker keeps a source server sealing under the target and is ignored
by a target server; an other end that cannot be opened is logged and the server's own blocks still
serve. On a store, sealing under the target waits for the store to admit the migration:
tests/jobs/test_holdings.py."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest

from paycrypt.crypto import keygen
from paycrypt.errors import InternalServer
from paycrypt.vault import blocks, factory, migration
from paycrypt.vault.factory import VaultSettings
from paycrypt.vault.local import MasterKeyVault
from tests.vault.test_sealing import record

FILE = VaultSettings()
TOKEN = VaultSettings(kind=factory.PKCS11, module=Path("/lib/p11.so"), token_label="t", pin_file=Path("/pin"))


class Ends:
    """The two vaults, and an opener that gives the token end (counting the times it is asked)."""

    def __init__(self) -> None:
        self.file = MasterKeyVault(secrets.token_bytes(32))
        self.token = MasterKeyVault(secrets.token_bytes(32))
        self.opened = 0
        self.fail = False

    def open(self, settings: VaultSettings, data_dir: Path) -> MasterKeyVault:
        self.opened += 1
        if self.fail:
            raise factory.VaultUnavailable("the PIN is not set")
        return self.token if settings.kind == factory.PKCS11 else self.file


def sealed(vault: MasterKeyVault) -> tuple[object, bytes]:
    rec, material = record(), keygen.generate("TDES_2KEY")
    rec.key_block = vault.seal(rec, material)
    return rec, material


def test_the_marker_round_trips_without_a_pin(tmp_path: Path) -> None:
    migration.write(tmp_path, migration.Migration(FILE, TOKEN))
    assert migration.read(tmp_path) == migration.Migration(FILE, TOKEN, finished=False)
    assert (tmp_path / migration.MARKER).stat().st_mode & 0o777 == 0o600
    assert migration.read(tmp_path / "none") is None
    (tmp_path / migration.MARKER).write_text("{}")
    with pytest.raises(ValueError, match="is not a vault migration marker"):
        migration.read(tmp_path)


def test_a_source_server_follows_the_marker(tmp_path: Path) -> None:
    ends = Ends()
    server = migration.ServingVault(ends.file, FILE, tmp_path, ends.open)
    old, old_material = sealed(ends.file)
    moved, moved_material = sealed(ends.token)
    with pytest.raises(InternalServer, match="sealed under a master key this vault does not hold"):
        server.unseal(moved, moved.key_block)  # no marker: the token's blocks are not this server's
    assert blocks.sealed_under(server.seal(record(), bytes(16))) == ends.file.key_id

    migration.write(tmp_path, migration.Migration(FILE, TOKEN))
    assert server.unseal(moved, moved.key_block) == moved_material  # read the marker on the miss
    assert server.unseal(old, old.key_block) == old_material
    assert blocks.sealed_under(server.seal(record(), bytes(16))) == ends.token.key_id == server.key_id
    assert ends.opened == 1

    migration.write(tmp_path, migration.Migration(FILE, TOKEN, finished=True))
    server.refresh()
    assert server.key_id == ends.token.key_id  # until restarted on the token, it seals there
    assert ends.opened == 1  # the other end is opened once


def test_a_target_server_opens_the_source_until_the_migration_finishes(tmp_path: Path) -> None:
    ends = Ends()
    migration.write(tmp_path, migration.Migration(FILE, TOKEN))
    server = migration.ServingVault(ends.token, TOKEN, tmp_path, ends.open)
    old, material = sealed(ends.file)
    assert server.unseal(old, old.key_block) == material and server.key_id == ends.token.key_id
    migration.write(tmp_path, migration.Migration(FILE, TOKEN, finished=True))
    restarted = migration.ServingVault(ends.token, TOKEN, tmp_path, ends.open)
    with pytest.raises(InternalServer, match="does not hold"):
        restarted.unseal(old, old.key_block)  # finished: the old vault is never opened again
    assert ends.opened == 1


def test_an_other_end_that_cannot_be_opened_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ends = Ends()
    ends.fail = True
    migration.write(tmp_path, migration.Migration(FILE, TOKEN))
    with caplog.at_level(logging.ERROR, logger="paycrypt"):
        server = migration.ServingVault(ends.file, FILE, tmp_path, ends.open)
    assert "vault migration: cannot open PKCS#11, key 'paycrypt-master' in token 't'" in caplog.text
    assert "the PIN is not set" in caplog.text
    own, material = sealed(ends.file)
    assert server.unseal(own, own.key_block) == material  # its own blocks still serve
    ends.fail = False
    server.refresh()
    moved, moved_material = sealed(ends.token)
    assert server.unseal(moved, moved.key_block) == moved_material


def test_either_unseals_under_the_vault_that_holds_the_key() -> None:
    ends = Ends()
    either = migration.Either(ends.file, ends.token)
    for vault in (ends.file, ends.token):
        rec, material = sealed(vault)
        assert either.unseal(rec, rec.key_block) == material
        assert either.sealed_by(rec.key_block) == vault.key_id
    assert either.key_id == ends.token.key_id and either.versions() == ends.token.versions()
    assert migration.same_vault(
        TOKEN, VaultSettings(kind=factory.PKCS11, module=Path("/lib/p11.so"), token_label="t")
    )
    assert not migration.same_vault(TOKEN, FILE)

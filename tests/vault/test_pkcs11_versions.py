"""Master-key versions in a PKCS#11 token (vault/pkcs11.py) on this run's SoftHSM2 token: a new
version is generated inside the token, sensitive and non-extractable, labelled by its number; the
newest seals, every version held unseals the blocks that name it; another vault object on the
token learns of a version added or retired; the newest cannot be retired; a block under a version
the token does not hold is refused by name.

Each test uses a master key of its own label, so the run's key (and its count of versions, which
other tests read) is untouched.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11

from paycrypt.crypto import keygen
from paycrypt.errors import InternalServer
from paycrypt.vault import blocks, factory
from paycrypt.vault import pkcs11 as vault_pkcs11
from paycrypt.vault.base import RotatableVault
from tests.softhsm import SoftHsm
from tests.vault.test_pkcs11 import session
from tests.vault.test_sealing import record

NOWHERE = Path("/nonexistent")


def new_vault(softhsm: SoftHsm) -> tuple[factory.VaultSettings, vault_pkcs11.Pkcs11Vault]:
    settings = softhsm.vault_settings(key_label=f"versions-{secrets.token_hex(4)}")
    factory.create_master_key(settings, NOWHERE)
    opened = factory.open_vault(settings, NOWHERE)
    assert isinstance(opened, vault_pkcs11.Pkcs11Vault)
    return settings, opened


def token_key(softhsm: SoftHsm, label: str) -> object:
    return session(softhsm, softhsm.token_label).get_key(
        object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label
    )


def test_a_new_version_is_generated_in_the_token_and_cannot_leave_it(softhsm: SoftHsm) -> None:
    settings, vault = new_vault(softhsm)
    assert isinstance(vault, RotatableVault)
    first = vault.versions()
    added = vault.add_version()
    assert [v.version for v in vault.versions()] == [1, 2] and vault.versions()[0] == first[0]
    assert added.version == 2 and vault.key_id == added.key_id != first[0].key_id
    key = token_key(softhsm, f"{settings.key_label}.2")
    assert key[Attribute.SENSITIVE] is True and key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.TOKEN] is True and key[Attribute.VALUE_LEN] == 32
    with pytest.raises(p11.AttributeSensitive):
        key[Attribute.VALUE]


def test_the_newest_seals_and_every_version_unseals_its_blocks(softhsm: SoftHsm) -> None:
    _, vault = new_vault(softhsm)
    material = keygen.generate("TDES_2KEY")
    old = record()
    old.key_block = vault.seal(old, material)
    vault.add_version()
    new = record()
    new.key_block = vault.seal(new, material)
    assert blocks.sealed_under(old.key_block) == vault.versions()[0].key_id
    assert blocks.sealed_under(new.key_block) == vault.versions()[1].key_id == vault.key_id
    assert vault.unseal(old, old.key_block) == vault.unseal(new, new.key_block) == material
    resealed = vault.reseal(old, old.key_block)
    assert blocks.sealed_under(resealed) == vault.key_id and vault.unseal(old, resealed) == material


def test_another_vault_on_the_token_learns_of_added_and_retired_versions(softhsm: SoftHsm) -> None:
    settings, rotator = new_vault(softhsm)
    server = factory.open_vault(settings, NOWHERE)
    material = keygen.generate("TDES_2KEY")
    rotator.add_version()
    rec = record()
    rec.key_block = rotator.seal(rec, material)
    assert server.unseal(rec, rec.key_block) == material  # learnt from the block that names it
    assert [v.version for v in server.versions()] == [1, 2]
    rotator.retire(1)
    assert [v.version for v in rotator.versions()] == [2]
    server.refresh()
    assert [v.version for v in server.versions()] == [2]
    with pytest.raises(p11.NoSuchKey):
        token_key(softhsm, settings.key_label)  # version 1 is destroyed in the token


def test_a_server_seals_under_a_version_added_elsewhere(
    softhsm: SoftHsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, rotator = new_vault(softhsm)
    server = factory.open_vault(settings, NOWHERE)
    rotator.add_version()
    monkeypatch.setattr(vault_pkcs11, "LOOK_EVERY", 0.0)
    block = server.seal(record(), keygen.generate("TDES_2KEY"))
    assert blocks.sealed_under(block) == rotator.key_id


def test_the_newest_version_cannot_be_retired(softhsm: SoftHsm) -> None:
    _, vault = new_vault(softhsm)
    vault.add_version()
    with pytest.raises(ValueError, match="version 2 is the newest master key"):
        vault.retire(2)
    assert [v.version for v in vault.versions()] == [1, 2]


def test_a_block_under_a_version_the_token_does_not_hold_is_refused(softhsm: SoftHsm) -> None:
    _, vault = new_vault(softhsm)
    rec = record()
    rec.key_block = vault.seal(rec, keygen.generate("TDES_2KEY"))
    vault.add_version()
    vault.retire(1)
    with pytest.raises(InternalServer, match="sealed under a master key this vault does not hold"):
        vault.unseal(rec, rec.key_block)


def test_a_version_unfit_to_be_a_master_key_is_refused_at_start(softhsm: SoftHsm) -> None:
    settings, _ = new_vault(softhsm)
    label = f"{settings.key_label}.2"
    template = {**vault_pkcs11.MASTER_KEY_TEMPLATE, Attribute.LABEL: label, Attribute.EXTRACTABLE: True}
    session(softhsm, softhsm.token_label).generate_key(
        KeyType.AES, 256, label=label, store=True, template=template
    )
    with pytest.raises(factory.VaultUnavailable, match=rf"'{label}' .* is extractable"):
        factory.open_vault(settings, NOWHERE)


def test_a_token_emptied_under_a_running_vault_is_a_clear_refusal_not_a_crash(
    softhsm: SoftHsm, caplog: pytest.LogCaptureFixture
) -> None:
    settings, vault = new_vault(softhsm)
    rec = record()
    rec.key_block = vault.seal(rec, keygen.generate("TDES_2KEY"))
    token_key(softhsm, settings.key_label).destroy()  # type: ignore[attr-defined]
    vault.refresh()  # keeps what it holds, and says why
    assert [v.version for v in vault.versions()] == [1]
    assert f"no AES key labelled {settings.key_label!r}" in caplog.text
    with pytest.raises(InternalServer, match="The PKCS#11 token failed to unwrap"):
        vault.unseal(rec, rec.key_block)

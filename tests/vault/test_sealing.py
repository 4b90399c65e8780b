"""The vault's storage blocks (src/paycrypt/vault/blocks.py) and the in-memory master-key vault
(src/paycrypt/vault/local.py): round trip, binding to the record, the KP block naming the master
key, refusals, re-sealing, and a vault that never hands out its master key.

Independent oracles: psec's TR-31 implementation opens every block paycrypt seals, and the KP
check value is recomputed with `cryptography`'s AES-CMAC (X9.24-1:2017 Annex A: the CMAC of the
zero block, at most 40 bits)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import psec
import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from paycrypt.crypto import keygen, tr31
from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord
from paycrypt.vault import blocks
from paycrypt.vault.base import RotatableVault, Vault
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault


def record(**changes: object) -> KeyRecord:
    base = KeyRecord(
        arn="arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop",
        account="111122223333",
        region="us-east-1",
        key_id="abcdefghijklmnop",
        key_attributes={
            "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
            "KeyAlgorithm": "TDES_2KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {"Generate": True},
        },
        key_check_value="000000",
        key_check_value_algorithm="ANSI_X9_24",
        enabled=True,
        exportable=False,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime.now(dt.UTC),
        key_block="",
    )
    return dataclasses.replace(base, **changes)


def cmac_check_value(key: bytes) -> str:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:5].hex().upper()


def sealed(vault: MasterKeyVault, material: bytes, **changes: object) -> KeyRecord:
    rec = record(**changes)
    rec.key_block = vault.seal(rec, material)
    return rec


def test_round_trip_and_no_clear_key_in_the_block() -> None:
    master = secrets.token_bytes(32)
    vault = MasterKeyVault(master)
    material = keygen.generate("TDES_2KEY")
    rec = sealed(vault, material)
    assert rec.key_block.startswith("D")
    assert material.hex().upper() not in rec.key_block
    assert vault.unseal(rec, rec.key_block) == material
    assert MasterKeyVault(master).unseal(rec, rec.key_block) == material  # another process, same key


def test_the_block_is_x9_143_version_d_that_psec_opens() -> None:
    master = secrets.token_bytes(32)
    material = keygen.generate("AES_256")
    attributes = {
        "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "KeyAlgorithm": "AES_256",
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": {"Encrypt": True, "Decrypt": True},
    }
    rec = sealed(MasterKeyVault(master), material, key_attributes=attributes, exportable=True)
    header, clear = psec.tr31.unwrap(master, rec.key_block)
    assert clear == material
    assert (header.version_id, header.key_usage, header.algorithm, header.exportability) == (
        "D",
        "D0",
        "A",
        "E",
    )
    assert header.blocks["01"] == rec.arn
    assert header.blocks["02"] == blocks.binding_digest(rec)
    assert header.blocks["KP"] == "01" + cmac_check_value(master)  # X9.143 KP: CMAC method, 5 bytes


def test_the_key_id_is_the_master_keys_cmac_check_value() -> None:
    master = secrets.token_bytes(32)
    vault = MasterKeyVault(master)
    assert vault.key_id == blocks.check_value(master) == cmac_check_value(master)
    rec = sealed(vault, keygen.generate("TDES_2KEY"))
    assert vault.sealed_by(rec.key_block) == vault.key_id
    assert blocks.sealed_under(rec.key_block) == vault.key_id


def test_tampering_and_swaps_are_refused() -> None:
    master = secrets.token_bytes(32)
    vault = MasterKeyVault(master)
    rec = sealed(vault, keygen.generate("TDES_2KEY"))
    flipped = rec.key_block[:-1] + ("0" if rec.key_block[-1] != "0" else "1")
    for broken in (
        dataclasses.replace(rec, key_block=flipped),
        dataclasses.replace(rec, exportable=True),
        dataclasses.replace(
            rec, key_attributes={**rec.key_attributes, "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"}
        ),
        dataclasses.replace(rec, arn=rec.arn[:-1] + "q"),
    ):
        with pytest.raises(InternalServer):
            vault.unseal(broken, broken.key_block)


def test_mutable_fields_do_not_break_the_seal() -> None:
    vault = MasterKeyVault(secrets.token_bytes(32))
    material = keygen.generate("TDES_2KEY")
    rec = sealed(vault, material)
    changed = dataclasses.replace(rec, enabled=False, key_state="DELETE_PENDING")
    assert vault.unseal(changed, changed.key_block) == material


def test_a_block_under_a_master_key_the_vault_does_not_hold_is_refused_by_name() -> None:
    theirs = MasterKeyVault(secrets.token_bytes(32))
    ours = MasterKeyVault(secrets.token_bytes(32))
    rec = sealed(theirs, keygen.generate("TDES_2KEY"))
    assert ours.sealed_by(rec.key_block) == theirs.key_id != ours.key_id
    with pytest.raises(InternalServer, match="sealed under a master key this vault does not hold"):
        ours.unseal(rec, rec.key_block)


def test_a_kp_the_block_was_not_sealed_under_fails_the_mac() -> None:
    """KP sits in the authenticated header: a block cannot claim our key and be opened as ours."""
    ours = secrets.token_bytes(32)
    theirs = secrets.token_bytes(32)
    rec = record()
    header = tr31.Header(
        version_id="D",
        key_usage="C0",
        algorithm="T",
        mode_of_use="N",
        optional_blocks=(
            ("01", rec.arn),
            ("02", blocks.binding_digest(rec)),
            ("KP", "01" + blocks.check_value(ours)),  # claims our key, MACed under theirs
        ),
    )
    rec.key_block = tr31.wrap(theirs, header, keygen.generate("TDES_2KEY"))
    with pytest.raises(InternalServer, match="failed its integrity check"):
        MasterKeyVault(ours).unseal(rec, rec.key_block)


@pytest.mark.parametrize("kp", ["00ABCDEF", "01ABCD", "02ABCDEF0123"])
def test_a_kp_in_another_form_is_refused(kp: str) -> None:
    master = secrets.token_bytes(32)
    rec = record()
    header = tr31.Header(
        version_id="D",
        key_usage="C0",
        algorithm="T",
        mode_of_use="N",
        optional_blocks=(("01", rec.arn), ("02", blocks.binding_digest(rec)), ("KP", kp)),
    )
    rec.key_block = tr31.wrap(master, header, keygen.generate("TDES_2KEY"))
    with pytest.raises(InternalServer, match="names its protection key in an unknown form"):
        MasterKeyVault(master).unseal(rec, rec.key_block)


def test_a_stored_value_that_is_no_key_block_is_an_internal_error() -> None:
    with pytest.raises(InternalServer, match="not a key block"):
        MasterKeyVault(secrets.token_bytes(32)).sealed_by("not a key block")


def test_reseal_keeps_the_material_and_names_the_current_key() -> None:
    vault = MasterKeyVault(secrets.token_bytes(32))
    material = keygen.generate("TDES_3KEY")
    rec = sealed(vault, material)
    again = vault.reseal(rec, rec.key_block)
    assert again != rec.key_block  # fresh random padding and IV
    assert vault.sealed_by(again) == vault.key_id
    assert vault.unseal(rec, again) == material


def test_a_reseal_of_another_records_block_is_refused() -> None:
    vault = MasterKeyVault(secrets.token_bytes(32))
    rec = sealed(vault, keygen.generate("TDES_2KEY"))
    other = record(arn=rec.arn[:-1] + "q")
    with pytest.raises(InternalServer, match="does not belong to this key record"):
        vault.reseal(other, rec.key_block)


@pytest.mark.parametrize("length", [16, 31, 33])
def test_a_master_key_must_be_aes_256(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MasterKeyVault(bytes(range(length)))


def test_no_vault_hands_out_its_master_key(tmp_path) -> None:
    """Nothing public on a vault is, or holds, the master key: only blocks and check values."""
    master = secrets.token_bytes(32)
    file_vault = LocalKeyFileVault(tmp_path / "master.key")
    for vault, key in (
        (MasterKeyVault(master), master),
        (file_vault, (tmp_path / "master.key").read_bytes()),
    ):
        assert isinstance(vault, Vault)
        public = {name: getattr(vault, name) for name in dir(vault) if not name.startswith("_")}
        rotation = {"add_version", "retire"} if isinstance(vault, RotatableVault) else set()
        assert {name for name, value in public.items() if callable(value)} == {
            "seal",
            "unseal",
            "sealed_by",
            "reseal",
            "versions",
            "refresh",
            *rotation,
        }
        assert key.hex().upper() not in repr(vault.versions())
        for name, value in public.items():
            assert not isinstance(value, bytes) or key not in value, name
            assert not isinstance(value, str) or key.hex() not in value.lower(), name

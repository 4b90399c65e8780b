"""Key generation and vault sealing: parity, lengths, round trip, and tamper detection."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import pytest

from paycrypt.crypto import keygen, primitives
from paycrypt.errors import InternalServer
from paycrypt.service.material import Sealer
from paycrypt.store.records import KeyRecord


@pytest.mark.parametrize(("algorithm", "length"), list(keygen.SYMMETRIC_LENGTHS.items()))
def test_symmetric_lengths(algorithm: str, length: int) -> None:
    assert len(keygen.generate(algorithm)) == length


@pytest.mark.parametrize("algorithm", ["TDES_2KEY", "TDES_3KEY"])
def test_tdes_odd_parity_and_distinct_parts(algorithm: str) -> None:
    for _ in range(50):
        key = keygen.generate(algorithm)
        assert primitives.has_odd_parity(key)
        parts = [key[i : i + 8] for i in range(0, len(key), 8)]
        assert len(set(parts)) == len(parts)


def test_parity_helpers() -> None:
    assert primitives.set_odd_parity(bytes.fromhex("0001FEFF")) == bytes.fromhex("0101FEFE")
    assert primitives.has_odd_parity(bytes.fromhex("0123456789ABCDEF"))
    assert not primitives.has_odd_parity(bytes.fromhex("0023456789ABCDEF"))


@pytest.mark.parametrize("algorithm", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P521"])
def test_asymmetric_keys_are_pkcs8(algorithm: str) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(keygen.generate(algorithm), password=None)
    assert key.key_size >= 256


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


def test_seal_round_trip_and_no_clear_key() -> None:
    sealer = Sealer(secrets.token_bytes(32))
    material = keygen.generate("TDES_2KEY")
    rec = record()
    rec.key_block = sealer.seal(rec, material)
    assert rec.key_block.startswith("D")
    assert material.hex().upper() not in rec.key_block
    assert Sealer(sealer._kbpk).material(rec) == material


def test_seal_detects_tampering_and_swaps() -> None:
    master = secrets.token_bytes(32)
    sealer = Sealer(master)
    rec = record()
    rec.key_block = sealer.seal(rec, keygen.generate("TDES_2KEY"))
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
            Sealer(master).material(broken)
    with pytest.raises(InternalServer):
        Sealer(secrets.token_bytes(32)).material(rec)


def test_mutable_fields_do_not_break_the_seal() -> None:
    master = secrets.token_bytes(32)
    rec = record()
    rec.key_block = Sealer(master).seal(rec, b"\x01" * 16)
    changed = dataclasses.replace(rec, enabled=False, key_state="DELETE_PENDING")
    assert Sealer(master).material(changed) == b"\x01" * 16

"""DES key parity (crypto.primitives.set_odd_parity / has_odd_parity), by a 256-entry table.

Oracle: psec.des.adjust_key_parity, and the definition itself (FIPS 46-3: the low bit of each key
byte makes its count of one-bits odd), over every byte value.
"""

import psec.des

from paycrypt.crypto import primitives as p

EVERY_BYTE = bytes(range(256))


def test_every_byte_value_against_psec_and_the_definition() -> None:
    adjusted = p.set_odd_parity(EVERY_BYTE)
    assert adjusted == psec.des.adjust_key_parity(EVERY_BYTE)
    for before, after in zip(EVERY_BYTE, adjusted, strict=True):
        assert after & 0xFE == before & 0xFE and bin(after).count("1") % 2 == 1


def test_has_odd_parity_is_true_exactly_for_the_adjusted_bytes() -> None:
    for value in EVERY_BYTE:
        byte = bytes([value])
        assert p.has_odd_parity(byte) == (bin(value).count("1") % 2 == 1)
    assert p.has_odd_parity(p.set_odd_parity(bytes(range(256))))
    assert p.has_odd_parity(b"") and p.set_odd_parity(b"") == b""

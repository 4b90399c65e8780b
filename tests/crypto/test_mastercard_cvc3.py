"""Mastercard CVC3 (DynamicCardVerificationCode).

Vector: pyemv.cvv.generate_cvc3 docstring (issuer CVC3 key 01234567899876543210012345678998,
PAN 5123456789012345, PSN 00, track 2 5123456789012345D35121010000000000000F, ATC 005E,
UN 00000899 -> CVC3 29488). pyemv (generate_cvc3, kd.derive_icc_mk_a) is the independent
oracle for random inputs.
"""

import pyemv.cvv
import pyemv.kd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import mastercard_cvc3 as cvc3
from paycrypt.crypto.emv_keys import derive_icc_master_key_option_a

IMK = bytes.fromhex("01234567899876543210012345678998")
TRACK = "5123456789012345D35121010000000000000F"


def test_published_cvc3() -> None:
    assert cvc3.generate_cvc3(IMK, "5123456789012345", "00", TRACK, "00000899", "005E", 5) == "29488"
    assert cvc3.generate_cvc3(IMK, "5123456789012345", "00", TRACK, "00000899", "005E") == "488"
    assert cvc3.generate_cvc3(IMK, "5123456789012345", "00", TRACK, "0899", "5E", 5) == "29488"
    assert cvc3.generate_cvc3(IMK, "5123456789012345", "00", TRACK, "00000899", "005F") != "488"


hexstr = st.binary(min_size=1, max_size=40).map(lambda b: b.hex().upper())


@given(
    imk=st.binary(min_size=16, max_size=16),
    pan=st.text("0123456789", min_size=12, max_size=19),
    psn=st.text("0123456789", min_size=2, max_size=2),
    track=hexstr,
    un=st.binary(min_size=4, max_size=4),
    atc=st.binary(min_size=2, max_size=2),
)
def test_matches_pyemv(imk: bytes, pan: str, psn: str, track: str, un: bytes, atc: bytes) -> None:
    icc = pyemv.kd.derive_icc_mk_a(imk, pan, psn)
    assert derive_icc_master_key_option_a(imk, pan, psn) == icc
    expected = pyemv.cvv.generate_cvc3(icc, bytes.fromhex(track), atc, un).zfill(5)
    assert cvc3.generate_cvc3(imk, pan, psn, track, un.hex(), atc.hex(), 5) == expected


@given(
    imk=st.binary(min_size=16, max_size=16),
    un=st.binary(min_size=4, max_size=4),
    length=st.integers(3, 5),
)
def test_every_length_is_the_rightmost_digits(imk: bytes, un: bytes, length: int) -> None:
    value = cvc3.generate_cvc3(imk, "5413123456784808", "01", TRACK, un.hex(), "000B", length)
    assert len(value) == length and value.isdigit()
    assert cvc3.generate_cvc3(imk, "5413123456784808", "01", TRACK, un.hex(), "000B", 5).endswith(value)


def test_odd_length_track_is_completed_with_f() -> None:
    icc = derive_icc_master_key_option_a(IMK, "5123456789012345", "00")
    assert cvc3.ivcvc3(icc, TRACK[:-1]) == cvc3.ivcvc3(icc, TRACK)


@pytest.mark.parametrize(
    ("psn", "track", "un", "atc"),
    [
        ("0", TRACK, "1", "1"),
        ("00", "XYZ", "1", "1"),
        ("00", TRACK, "123456789", "1"),
        ("00", TRACK, "1", "12345"),
    ],
)
def test_bad_inputs_rejected(psn: str, track: str, un: str, atc: str) -> None:
    with pytest.raises(ValueError):
        cvc3.generate_cvc3(IMK, "5123456789012345", psn, track, un, atc)

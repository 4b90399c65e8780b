"""Visa PVV.

Vector: psec.pin.generate_visa_pvv docstring (PVK 0123456789ABCDEFFEDCBA9876543210, PVKI 3,
PIN 4524, PAN 1122334455667788 -> 4021). psec is the independent oracle for random inputs.
"""

import psec.pin
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import visa_pvv

PVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


def test_published_pvv() -> None:
    assert visa_pvv.generate_pvv(PVK, "1122334455667788", 3, "4524") == "4021"


@given(
    pvk=st.binary(min_size=16, max_size=16),
    pan=st.text("0123456789", min_size=12, max_size=19),
    pvki=st.integers(0, 6),
    pin=st.text("0123456789", min_size=4, max_size=12),
)
def test_matches_psec(pvk: bytes, pan: str, pvki: int, pin: str) -> None:
    assert visa_pvv.generate_pvv(pvk, pan, pvki, pin) == psec.pin.generate_visa_pvv(
        pvk, str(pvki), pin[:4], pan
    )


@given(
    pvk=st.binary(min_size=24, max_size=24),
    pan=st.text("0123456789", min_size=12, max_size=19),
    pin=st.text("0123456789", min_size=4, max_size=4),
)
def test_pvv_is_four_digits(pvk: bytes, pan: str, pin: str) -> None:
    pvv = visa_pvv.generate_pvv(pvk, pan, 1, pin)
    assert len(pvv) == 4 and pvv.isdigit()


@pytest.mark.parametrize(
    ("pan", "pvki", "pin"),
    [
        ("12345678901", 1, "1234"),
        ("1234567890123", 10, "1234"),
        ("1234567890123", 1, "123"),
        ("123456789012A", 1, "1234"),
    ],
)
def test_bad_input_rejected(pan: str, pvki: int, pin: str) -> None:
    with pytest.raises(ValueError):
        visa_pvv.generate_pvv(PVK, pan, pvki, pin)


def test_single_des_key_rejected() -> None:
    with pytest.raises(ValueError, match="TDES"):
        visa_pvv.generate_pvv(PVK[:8], "1122334455667788", 3, "4524")

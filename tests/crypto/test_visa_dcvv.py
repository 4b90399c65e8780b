"""Visa dCVV.

Not independently verified: no published dCVV vector or oracle exists; these tests check the
round trip, the output length and that every input changes the value.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import visa_dcvv

IMK = bytes.fromhex("2315208C9110AD402315208C9110AD40")
BASE = {"pan": "4761739001010010", "psn": "00", "expiry": "1220", "service_code": "101", "atc": "0001"}


def _value(**changes: str) -> str:
    return visa_dcvv.generate_dcvv(IMK, **{**BASE, **changes}, length=5)


@given(
    imk=st.binary(min_size=16, max_size=16),
    pan=st.text("0123456789", min_size=12, max_size=19),
    atc=st.binary(min_size=1, max_size=2).map(bytes.hex),
    length=st.integers(3, 5),
)
def test_every_length(imk: bytes, pan: str, atc: str, length: int) -> None:
    """Not independently verified: `length` digits, the leftmost of the 5-digit value."""
    value = visa_dcvv.generate_dcvv(imk, pan, "01", "2512", "000", atc, length)
    assert len(value) == length and value.isdigit()
    assert visa_dcvv.generate_dcvv(imk, pan, "01", "2512", "000", atc, 5).startswith(value)


@pytest.mark.parametrize(
    "change",
    [
        {"pan": "4761739001010011"},
        {"psn": "01"},
        {"expiry": "1221"},
        {"service_code": "201"},
        {"atc": "0002"},
        {"atc": "000A"},
    ],
)
def test_every_input_matters(change: dict[str, str]) -> None:
    """Not independently verified: each input changes the 5-digit value."""
    assert _value(**change) != _value()


def test_key_matters() -> None:
    """Not independently verified."""
    other = visa_dcvv.generate_dcvv(bytes(16), **BASE, length=5)
    assert other != _value()


def test_atc_hex_is_right_justified() -> None:
    assert _value(atc="1") == _value(atc="0001")


@pytest.mark.parametrize(
    "change", [{"expiry": "12200"}, {"service_code": "1A1"}, {"pan": "47617390"}, {"atc": "00001"}]
)
def test_bad_inputs_rejected(change: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        _value(**change)

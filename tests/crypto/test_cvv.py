"""Visa CVV vectors.

Source of the classic vector (CVK 0123456789ABCDEF/FEDCBA9876543210, PAN 4123456789012345,
expiry 8701, service code 101 -> 561): the Visa CVV worked example reproduced in the HP/Thales
payShield and IBM CCA documentation, and digest seed-A §8.2. psec is the independent oracle.
"""

import psec.cvv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import cvv

CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


@pytest.mark.parametrize(
    ("service_code", "expected"),
    [("101", "561"), ("000", "636"), ("999", "651")],
)
def test_published_cvv(service_code: str, expected: str) -> None:
    assert cvv.cvv(CVK, "4123456789012345", "8701", service_code) == expected


@given(
    key=st.binary(min_size=16, max_size=16),
    pan=st.text("0123456789", min_size=12, max_size=19),
    expiry=st.text("0123456789", min_size=4, max_size=4),
    service_code=st.text("0123456789", min_size=3, max_size=3),
)
def test_matches_psec(key: bytes, pan: str, expiry: str, service_code: str) -> None:
    assert cvv.cvv(key, pan, expiry, service_code) == psec.cvv.generate_cvv(key, pan, expiry, service_code)


def test_decimalise_takes_digits_then_letters() -> None:
    assert cvv.decimalise(bytes.fromhex("A1B2C3")) == "123012"


def test_rejects_non_digits() -> None:
    with pytest.raises(ValueError):
        cvv.cvv(CVK, "41234567890123AB", "8701", "101")

"""Amex CSC versions 1 and 2 (iCSC, AEVV).

Not independently verified: the Amex specification is not public and the AWS guide's examples
use keys that are not given; these tests check the round trip, lengths, that the 3/4/5-digit
codes are disjoint slices, and that every input changes the value.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import amex_csc

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN = "344131234567848"
amex_pans = st.tuples(st.sampled_from(["34", "37"]), st.text("0123456789", min_size=13, max_size=13)).map(
    "".join
)


@given(
    key=st.binary(min_size=16, max_size=16),
    pan=amex_pans,
    expiry=st.text("0123456789", min_size=4, max_size=4),
)
def test_every_length(key: bytes, pan: str, expiry: str) -> None:
    """Not independently verified: lengths 3, 4 and 5 are that many digits."""
    for length in (3, 4, 5):
        for value in (
            amex_csc.csc_v1(key, pan, expiry, length),
            amex_csc.csc_v2(key, pan, expiry, "702", length),
        ):
            assert len(value) == length and value.isdigit()


def test_lengths_are_slices_of_one_computation() -> None:
    """The 5-, 4- and 3-digit codes are disjoint parts of one 12-digit string."""
    twelve = amex_csc.csc_v1(KEY, PAN, "1224", 5) + amex_csc.csc_v1(KEY, PAN, "1224", 4)
    twelve += amex_csc.csc_v1(KEY, PAN, "1224", 3)
    assert len(twelve) == 12 and twelve.isdigit()


@pytest.mark.parametrize(
    ("pan", "expiry", "service_code"),
    [("344131234567858", "2412", "000"), ("344131234567848", "2413", "000"), (PAN, "2412", "999")],
)
@pytest.mark.parametrize("length", [3, 4, 5])
def test_every_v2_input_matters(pan: str, expiry: str, service_code: str, length: int) -> None:
    """Not independently verified: PAN, expiry and service code each change the CSC2 of every
    length, the 4-digit front-of-card code included (docs/decisions/issuer.md: the service code decision)."""
    assert amex_csc.csc_v2(KEY, pan, expiry, service_code, length) != amex_csc.csc_v2(
        KEY, PAN, "2412", "000", length
    )


def test_every_v1_input_matters() -> None:
    """Not independently verified: PAN (both 34 and 37 layouts), expiry and key."""
    base = amex_csc.csc_v1(KEY, PAN, "1224", 5)
    assert amex_csc.csc_v1(KEY, "344131234567858", "1224", 5) != base
    assert amex_csc.csc_v1(KEY, PAN, "1225", 5) != base
    assert amex_csc.csc_v1(bytes(16), PAN, "1224", 5) != base
    assert amex_csc.csc_v1(KEY, "374131234567848", "1224", 5) != amex_csc.csc_v1(
        KEY, "374131234567858", "1224", 5
    )


def test_check_digit_is_not_in_the_block() -> None:
    """ThalesSim layout uses PAN digits 3-14: the final (check) digit does not enter the CSC."""
    assert amex_csc.csc_v1(KEY, PAN, "1224", 5) == amex_csc.csc_v1(KEY, PAN[:-1] + "0", "1224", 5)


@pytest.mark.parametrize(
    ("pan", "expiry", "length"),
    [("4111111111111111", "1224", 4), ("354131234567848", "1224", 4), (PAN, "124", 4), (PAN, "1224", 6)],
)
def test_bad_inputs_rejected(pan: str, expiry: str, length: int) -> None:
    with pytest.raises(ValueError):
        amex_csc.csc_v1(KEY, pan, expiry, length)

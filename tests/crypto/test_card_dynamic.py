"""CardHolderVerificationValue and Discover dynamic CVC.

Not independently verified: no public specification or vector exists for either (see the
module docstring); these tests check the round trip, output length and that every input
changes the value.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import card_dynamic as cd

IMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
CHVV = {"pan": "4761739001010010", "psn": "01", "unpredictable_number": "1234ABCD", "atc": "000B"}
DISC = {"pan": "6011000990139424", "expiry": "2512", "unpredictable_number": "00000899", "atc": "0001"}

pans = st.text("0123456789", min_size=12, max_size=19)


def hex_of(size: int) -> st.SearchStrategy[str]:
    return st.binary(min_size=1, max_size=size).map(bytes.hex)


@given(
    imk=st.binary(min_size=16, max_size=16), pan=pans, un=hex_of(4), atc=hex_of(2), length=st.integers(3, 5)
)
def test_chvv_every_length(imk: bytes, pan: str, un: str, atc: str, length: int) -> None:
    """Not independently verified: `length` digits, the leftmost of the 5-digit value."""
    value = cd.generate_cardholder_verification_value(imk, pan, "00", un, atc, length)
    assert len(value) == length and value.isdigit()
    assert cd.generate_cardholder_verification_value(imk, pan, "00", un, atc, 5).startswith(value)


@given(
    imk=st.binary(min_size=16, max_size=16), pan=pans, un=hex_of(4), atc=hex_of(2), length=st.integers(3, 5)
)
def test_discover_every_length(imk: bytes, pan: str, un: str, atc: str, length: int) -> None:
    """Not independently verified: `length` digits, the leftmost of the 5-digit value."""
    value = cd.discover_dynamic_cvc(imk, pan, "2512", un, atc, length)
    assert len(value) == length and value.isdigit()
    assert cd.discover_dynamic_cvc(imk, pan, "2512", un, atc, 5).startswith(value)


@pytest.mark.parametrize(
    "change",
    [{"pan": "4761739001010011"}, {"psn": "02"}, {"unpredictable_number": "1234ABCE"}, {"atc": "000C"}],
)
def test_chvv_every_input_matters(change: dict[str, str]) -> None:
    """Not independently verified."""
    base = cd.generate_cardholder_verification_value(IMK, **CHVV, length=5)
    assert cd.generate_cardholder_verification_value(IMK, **{**CHVV, **change}, length=5) != base
    assert cd.generate_cardholder_verification_value(bytes(16), **CHVV, length=5) != base


@pytest.mark.parametrize(
    "change",
    [{"pan": "6011000990139425"}, {"expiry": "2612"}, {"unpredictable_number": "00000898"}, {"atc": "0002"}],
)
def test_discover_every_input_matters(change: dict[str, str]) -> None:
    """Not independently verified."""
    base = cd.discover_dynamic_cvc(IMK, **DISC, length=5)
    assert cd.discover_dynamic_cvc(IMK, **{**DISC, **change}, length=5) != base
    assert cd.discover_dynamic_cvc(bytes(16), **DISC, length=5) != base


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValueError):
        cd.generate_cardholder_verification_value(IMK, "123", "01", "12", "01")
    with pytest.raises(ValueError):
        cd.discover_dynamic_cvc(IMK, DISC["pan"], "25", "12", "01")
    with pytest.raises(ValueError):
        cd.generate_cardholder_verification_value(IMK, **CHVV, length=6)
    with pytest.raises(ValueError):
        cd.discover_dynamic_cvc(IMK, **DISC, length=2)

"""IBM 3624 natural PIN and offsets.

Vector sources:
- Published worked example 1 (widely reproduced IBM 3624 tutorial, e.g. the Alibaba Cloud /
  mamicode article citing IBM's z/OS ICSF documentation): account 1234567890123456, PVK
  1313131313131313, table 0123456789012345 -> intermediate 6430851379504444, natural PIN
  (6) 643085, offset 456789 -> customer PIN 099764.
- Published worked example 2 (same article): card 1234567890123445, PIN key 0123456789ABCDEF,
  natural PIN 9046, offset 2298, customer PIN 1234.
- IBM CCA Basic Services (Release 2.54) Appendix E "IBM 3624 PIN-calculation method": encrypted
  validation data E5C1BD67B66AE7C6 with table 8351296477461538 -> 3913656466643416.
- psec.pin docstrings: PVK 0123456789ABCDEFFEDCBA9876543210, table 1234567890123456, PAN
  1122334455667788 -> natural PIN 4524. psec is also the oracle for random inputs.
"""

import psec.pin
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import ibm3624

KEY1 = bytes.fromhex("1313131313131313")
KEY2 = bytes.fromhex("0123456789ABCDEF")
DEC = "0123456789012345"


def test_published_example_1() -> None:
    assert ibm3624.intermediate_pin(KEY1, DEC, "1234567890123456", "F") == "6430851379504444"
    assert ibm3624.natural_pin(KEY1, DEC, "1234567890123456", "F", 6) == "643085"
    assert ibm3624.pin_from_offset(KEY1, DEC, "1234567890123456", "F", "456789") == "099764"
    assert ibm3624.pin_offset(KEY1, DEC, "1234567890123456", "F", "099764") == "456789"


def test_published_example_2() -> None:
    assert ibm3624.natural_pin(KEY2, DEC, "1234567890123445", "F") == "9046"
    assert ibm3624.pin_offset(KEY2, DEC, "1234567890123445", "F", "1234") == "2298"
    assert ibm3624.verify_offset(KEY2, DEC, "1234567890123445", "F", "1234", "2298")
    assert not ibm3624.verify_offset(KEY2, DEC, "1234567890123445", "F", "1235", "2298")


def test_ibm_cca_decimalisation_table() -> None:
    assert ibm3624.decimalise(bytes.fromhex("E5C1BD67B66AE7C6"), "8351296477461538") == "3913656466643416"


def test_psec_docstring_natural_pin() -> None:
    pvk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert ibm3624.natural_pin(pvk, "1234567890123456", "1122334455667788", "F") == "4524"


def test_pad_character_fills_short_validation_data() -> None:
    """Padding on the right with the pad character (AWS guide step 1): 15 digits + 'D'."""
    assert ibm3624.intermediate_pin(KEY2, DEC, "171234567890123", "D") == ibm3624.intermediate_pin(
        KEY2, DEC, "171234567890123D", "0"
    )


tables = st.text("0123456789", min_size=16, max_size=16)
validation = st.text("0123456789", min_size=4, max_size=16)
pads = st.sampled_from("0123456789ABCDEF")


@given(
    pvk=st.binary(min_size=16, max_size=16),
    table=tables,
    vd=validation,
    pad=pads,
    pin=st.text("0123456789", min_size=4, max_size=12),
)
def test_offset_matches_psec(pvk: bytes, table: str, vd: str, pad: str, pin: str) -> None:
    expected = psec.pin.generate_ibm3624_offset(pvk, table, pin, vd, 0, len(vd), pad)
    assert ibm3624.pin_offset(pvk, table, vd, pad, pin) == expected
    assert ibm3624.pin_from_offset(pvk, table, vd, pad, expected) == pin


@given(
    pvk=st.binary(min_size=24, max_size=24),
    table=tables,
    vd=validation,
    pad=pads,
    pin=st.text("0123456789", min_size=4, max_size=12),
    data=st.data(),
)
def test_changed_digit_fails(
    pvk: bytes, table: str, vd: str, pad: str, pin: str, data: st.DataObject
) -> None:
    offset = ibm3624.pin_offset(pvk, table, vd, pad, pin)
    assert ibm3624.verify_offset(pvk, table, vd, pad, pin, offset)
    i = data.draw(st.integers(0, len(pin) - 1))
    wrong_pin = pin[:i] + str((int(pin[i]) + 1) % 10) + pin[i + 1 :]
    assert not ibm3624.verify_offset(pvk, table, vd, pad, wrong_pin, offset)


def test_verify_compares_rightmost_offset_digits() -> None:
    """IBM CCA PIN check length: a 4-digit offset checks the rightmost 4 of a 6-digit PIN's offset."""
    offset6 = ibm3624.pin_offset(KEY2, DEC, "1234567890123445", "F", "123456")
    assert ibm3624.verify_offset(KEY2, DEC, "1234567890123445", "F", "123456", offset6[-4:])
    assert not ibm3624.verify_offset(KEY2, DEC, "1234567890123445", "F", "1234", offset6 + "0")


@pytest.mark.parametrize(
    ("table", "vd", "pad"),
    [
        ("012345678901234", "1234", "F"),
        ("012345678901234A", "1234", "F"),
        (DEC, "12G4", "F"),
        (DEC, "1234", "G"),
    ],
)
def test_bad_inputs_rejected(table: str, vd: str, pad: str) -> None:
    with pytest.raises(ValueError):
        ibm3624.natural_pin(KEY2, table, vd, pad)

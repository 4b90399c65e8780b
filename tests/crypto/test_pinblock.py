"""ISO 9564-1 PIN blocks.

Vector sources:
- Format 0: EFTlab "Complete list of PIN blocks" / ID TECH knowledge base worked example
  (PAN 43219876543210987, PIN 1234 -> clear block 0412AC89ABCDEF67).
- Formats 0 and 3 decode: psec's published test data (PIN block 041261AAAAEDCBA9 /
  341261AAAAEDCBA9 with PAN 5555555551234567 -> 1234).
- Format 1 decode: IBM CCA Basic Services Reference and Guide, Release 2.54, Appendix E,
  "ISO-1 PIN-Block Format" (the ISO 9564-1 format 1 layout ``1 L P…P R…R``: control nibble 1, PIN
  length 4–C, PIN digits, random fill 0–F), worked example PIN 123456 -> 161234566ABCFDE1.
- Format 4: psec.pinblock.decipher_pinblock_iso_4 docstring example (key 00112233…EEFF,
  PAN 1234567890123456, block E4BE5B623AF7E006AC319E5B93544564 -> 1234).
psec is the independent oracle for formats 0, 3 and 4 in the property tests.
"""

import psec.des
import psec.pinblock
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paycrypt.crypto import pinblock
from paycrypt.crypto.pinblock import PinBlockError

pins = st.text("0123456789", min_size=4, max_size=12)
pans = st.text("0123456789", min_size=13, max_size=19)
tdes_keys = st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24)
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


def test_published_format0() -> None:
    assert pinblock.encode_format0("1234", "43219876543210987").hex().upper() == "0412AC89ABCDEF67"
    assert pinblock.decode_format0(bytes.fromhex("0412AC89ABCDEF67"), "43219876543210987") == "1234"


def test_psec_published_format0_and_3_decode() -> None:
    assert pinblock.decode_format0(bytes.fromhex("041261AAAAEDCBA9"), "5555555551234567") == "1234"
    assert pinblock.decode_format3(bytes.fromhex("341261AAAAEDCBA9"), "5555555551234567") == "1234"
    assert pinblock.decode_format0(bytes.fromhex("0C1261032D8226A9"), "5555555551234567") == "123456789012"


ISO1_EXAMPLE = "161234566ABCFDE1"  # IBM CCA 2.54 Appendix E: PIN 123456, fill 6ABCFDE1 (random)


def test_published_format1_decode() -> None:
    """ISO 9564-1 format 1 per IBM CCA 2.54 Appendix E: control 1, length 6, PIN 123456, random fill."""
    assert pinblock.decode_format1(bytes.fromhex(ISO1_EXAMPLE)) == "123456"
    # The same block under a TDES PEK reads back through the API helper for ISO_FORMAT_1 (no PAN).
    pek = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    encrypted = psec.des.encrypt_tdes_ecb(pek, bytes.fromhex(ISO1_EXAMPLE)).hex().upper()
    assert pinblock.decrypt_pin(pek, "ISO_FORMAT_1", encrypted, None) == "123456"


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("2" + ISO1_EXAMPLE[1:], "control field"),  # format 2 control nibble
        ("0" + ISO1_EXAMPLE[1:], "control field"),  # format 0 control nibble
        ("3" + ISO1_EXAMPLE[1:], "control field"),  # format 3 control nibble
        ("1D" + ISO1_EXAMPLE[2:], "length"),  # length 13
        ("1F" + ISO1_EXAMPLE[2:], "length"),  # length 15
    ],
)
def test_format1_rejects_changed_control_or_long_length(block: str, problem: str) -> None:
    with pytest.raises(PinBlockError, match=problem) as info:
        pinblock.decode_format1(bytes.fromhex(block))
    assert "123456" not in str(info.value)


def test_published_format4_decipher() -> None:
    key = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
    block = bytes.fromhex("E4BE5B623AF7E006AC319E5B93544564")
    assert pinblock.decipher_format4(key, block, "1234567890123456") == "1234"
    assert pinblock.decrypt_pin(key, "ISO_FORMAT_4", block.hex(), "1234567890123456") == "1234"


def test_format4_fields_follow_iso_layout() -> None:
    """Layout per ISO 9564-1 §9.4.2 (same as psec.encode_pan_field_iso_4 docstring)."""
    assert (
        pinblock.format4_pan_field("112233445566778899").hex().upper() == "61122334455667788990000000000000"
    )
    field = pinblock.format4_pin_field("1234", bytes(8))
    assert field.hex().upper() == "441234AAAAAAAAAA0000000000000000"
    assert (
        pinblock.format4_pan_field("4111111111111111", legacy_pan=True)
        .hex()
        .upper()
        .startswith("0111111111111")
    )


@given(pin=pins, pan=pans)
def test_format0_matches_psec(pin: str, pan: str) -> None:
    assert pinblock.encode_format0(pin, pan) == psec.pinblock.encode_pinblock_iso_0(pin, pan)
    assert psec.pinblock.decode_pinblock_iso_0(pinblock.encode_format0(pin, pan), pan) == pin


@given(pin=pins, pan=pans)
def test_format3_against_psec(pin: str, pan: str) -> None:
    assert pinblock.decode_format3(psec.pinblock.encode_pinblock_iso_3(pin, pan), pan) == pin
    assert psec.pinblock.decode_pinblock_iso_3(pinblock.encode_format3(pin, pan), pan) == pin


@given(key=aes_keys, pin=pins, pan=pans)
def test_format4_against_psec(key: bytes, pin: str, pan: str) -> None:
    assert psec.pinblock.decipher_pinblock_iso_4(key, pinblock.encipher_format4(key, pin, pan), pan) == pin
    assert pinblock.decipher_format4(key, psec.pinblock.encipher_pinblock_iso_4(key, pin, pan), pan) == pin


@given(pin=pins)
def test_format1_and_2_round_trip(pin: str) -> None:
    assert pinblock.decode_format1(pinblock.encode_format1(pin)) == pin
    assert pinblock.decode_format2(pinblock.encode_format2(pin)) == pin
    assert pinblock.encode_format2(pin) == psec.pinblock.encode_pinblock_iso_2(pin)


@given(
    key=tdes_keys, pin=pins, pan=pans, fmt=st.sampled_from(["ISO_FORMAT_0", "ISO_FORMAT_1", "ISO_FORMAT_3"])
)
def test_tdes_pek_round_trip(key: bytes, pin: str, pan: str, fmt: str) -> None:
    encrypted = pinblock.encrypt_pin(key, fmt, pin, pan)
    assert len(encrypted) == 16
    assert pinblock.decrypt_pin(key, fmt, encrypted, pan) == pin


@given(key=aes_keys, pin=pins, pan=pans)
def test_aes_pek_round_trip(key: bytes, pin: str, pan: str) -> None:
    encrypted = pinblock.encrypt_pin(key, "ISO_FORMAT_4", pin, pan)
    assert len(encrypted) == 32
    assert pinblock.decrypt_pin(key, "ISO_FORMAT_4", encrypted, pan) == pin


def test_random_fill_differs_between_encodings() -> None:
    blocks = {pinblock.encode_format3("1234", "5555555551234567") for _ in range(8)}
    assert len(blocks) > 1
    assert len({pinblock.format4_pin_field("1234")[8:] for _ in range(8)}) > 1


def test_format3_fill_is_letters() -> None:
    pan = "5555555551234567"
    clear = bytes(
        a ^ b
        for a, b in zip(pinblock.encode_format3("1234", pan), pinblock._pan_field_format0(pan), strict=True)
    )
    assert set(clear.hex().upper()[6:]) <= set("ABCDEF")


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ("241261AAAAEDCBA9", "control field"),  # format 2 control nibble in a format 0 slot
        ("0F1261AAAAEDCBA9", "length"),  # length 15
        ("021261AAAAEDCBA9", "length"),  # length 2
        ("041261AAAAEDCBAA", "fill"),  # fill nibble C instead of F
        ("051261AAAAEDCBA9", "non-decimal"),  # fifth PIN digit is F
    ],
)
def test_format0_rejects_malformed(block: str, problem: str) -> None:
    """Malformed blocks from psec's published negative tests; messages must not echo the PIN."""
    with pytest.raises(PinBlockError, match=problem) as info:
        pinblock.decode_format0(bytes.fromhex(block), "5555555551234567")
    assert "1234" not in str(info.value)


def test_format3_rejects_decimal_fill() -> None:
    """A format 3 block whose fill holds decimal digits is malformed (ISO 9564-1: fill is A-F)."""
    pan = "5555555551234567"
    clear = bytes.fromhex("3412340000000000")
    block = bytes(a ^ b for a, b in zip(clear, pinblock._pan_field_format0(pan), strict=True))
    assert pinblock.decode_format3(pinblock.encode_format3("1234", pan), pan) == "1234"
    with pytest.raises(PinBlockError, match="fill"):
        pinblock.decode_format3(block, pan)


def test_format4_rejects_wrong_pan() -> None:
    key = bytes(16)
    block = pinblock.encipher_format4(key, "1234", "1234567890123456")
    with pytest.raises(PinBlockError):
        pinblock.decipher_format4(key, block, "1234567890123457")


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4"])
def test_bad_pins_rejected(pin: str) -> None:
    with pytest.raises(PinBlockError):
        pinblock.encode_format0(pin, "5555555551234567")


def test_api_helpers_validate_inputs() -> None:
    with pytest.raises(PinBlockError, match="primary account number"):
        pinblock.encrypt_pin(bytes(16), "ISO_FORMAT_0", "1234", None)
    with pytest.raises(PinBlockError, match="unsupported"):
        pinblock.encrypt_pin(bytes(16), "ISO_FORMAT_2", "1234", "5555555551234567")
    with pytest.raises(PinBlockError, match="32 hex"):
        pinblock.decrypt_pin(bytes(16), "ISO_FORMAT_4", "00" * 8, "5555555551234567")
    with pytest.raises(PinBlockError, match="hexadecimal"):
        pinblock.decrypt_pin(bytes(16), "ISO_FORMAT_0", "ZZ" * 8, "5555555551234567")
    assert (
        pinblock.decrypt_pin(
            bytes(16), "ISO_FORMAT_1", pinblock.encrypt_pin(bytes(16), "ISO_FORMAT_1", "1234", None), None
        )
        == "1234"
    )


def test_short_pan_is_zero_padded() -> None:
    """ISO 9564-1 §9.3.2: a PAN with fewer than 12 digits (excluding check digit) is left-padded."""
    assert pinblock._pan_field_format0("123456789012").hex() == "0000012345678901"


@given(length=st.integers(4, 12))
def test_random_pin_length(length: int) -> None:
    pin = pinblock.random_pin(length)
    assert len(pin) == length and pin.isdigit()

"""IBM 3624 PIN generation and PIN offsets (the "IBM method").

Why offsets: the natural PIN is a function of the card's validation data under the PIN
verification key; letting the cardholder choose a PIN only needs the digit-wise difference
(mod 10) between the chosen and the natural PIN, which reveals nothing without the key.
Steps (IBM CCA "IBM 3624 PIN-calculation method" and "PIN offset generation algorithm";
AWS user guide "IBM3624"): pad the validation data on the right with the pad character to 16
hex digits, TDES-encrypt it under the PVK, map every hex nibble through the 16-digit
decimalisation table, and keep the leftmost N digits. Offset = PIN − natural (mod 10, no
borrow); PIN = natural + offset (mod 10, no carry). Verification compares the rightmost
len(offset) digits of the offset computed from the presented PIN, as CCA's PIN check length
does; when the PIN and the offset have the same length that is the whole offset.
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p

_HEX = "0123456789ABCDEF"


def decimalise(data: bytes, decimalization_table: str) -> str:
    """Map each hex nibble of `data` to the table digit at that nibble's value."""
    if len(decimalization_table) != 16 or not decimalization_table.isdigit():
        raise ValueError("decimalization table must be 16 decimal digits")
    return data.hex().upper().translate(str.maketrans(_HEX, decimalization_table))


def _validation_block(pin_validation_data: str, pad_character: str) -> bytes:
    if len(pad_character) != 1 or pad_character.upper() not in _HEX:
        raise ValueError("pad character must be one hexadecimal digit")
    if not 1 <= len(pin_validation_data) <= 16 or not set(pin_validation_data.upper()) <= set(_HEX):
        raise ValueError("PIN validation data must be 1 to 16 hexadecimal digits")
    return bytes.fromhex(pin_validation_data.ljust(16, pad_character))


def intermediate_pin(
    pvk: bytes, decimalization_table: str, pin_validation_data: str, pad_character: str
) -> str:
    """All 16 decimalised digits; the natural PIN is their leftmost PIN-length digits."""
    if len(pvk) not in (8, 16, 24):
        raise ValueError("PVK must be a DES or TDES key")
    block = _validation_block(pin_validation_data, pad_character)
    return decimalise(p.tdes_ecb_encrypt(pvk, block), decimalization_table)


def natural_pin(
    pvk: bytes, decimalization_table: str, pin_validation_data: str, pad_character: str, pin_length: int = 4
) -> str:
    if not 4 <= pin_length <= 12:
        raise ValueError("PIN length must be 4 to 12 digits")
    return intermediate_pin(pvk, decimalization_table, pin_validation_data, pad_character)[:pin_length]


def _digits(value: str, what: str) -> str:
    if not 4 <= len(value) <= 12 or not value.isdigit():
        raise ValueError(f"{what} must be 4 to 12 decimal digits")
    return value


def pin_offset(
    pvk: bytes, decimalization_table: str, pin_validation_data: str, pad_character: str, pin: str
) -> str:
    """The offset that turns the natural PIN into `pin` (a chosen or random PIN)."""
    pin = _digits(pin, "PIN")
    natural = natural_pin(pvk, decimalization_table, pin_validation_data, pad_character, len(pin))
    return "".join(str((int(a) - int(b)) % 10) for a, b in zip(pin, natural, strict=True))


def pin_from_offset(
    pvk: bytes, decimalization_table: str, pin_validation_data: str, pad_character: str, offset: str
) -> str:
    """The cardholder PIN for a stored offset; its length is the offset's length."""
    offset = _digits(offset, "PIN offset")
    natural = natural_pin(pvk, decimalization_table, pin_validation_data, pad_character, len(offset))
    return "".join(str((int(a) + int(b)) % 10) for a, b in zip(natural, offset, strict=True))


def verify_offset(
    pvk: bytes,
    decimalization_table: str,
    pin_validation_data: str,
    pad_character: str,
    pin: str,
    offset: str,
) -> bool:
    """True when `pin` matches `offset` on its rightmost len(offset) digits; constant-time compare."""
    offset = _digits(offset, "PIN offset")
    computed = pin_offset(pvk, decimalization_table, pin_validation_data, pad_character, pin)
    if len(offset) > len(computed):
        return False
    return p.constant_time_equal(computed[-len(offset) :], offset)

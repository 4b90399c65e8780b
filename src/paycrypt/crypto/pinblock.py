"""ISO 9564-1 PIN blocks: formats 0, 1, 2 and 3 (TDES, 8 bytes) and format 4 (AES, 16 bytes).

Why strict decoding: a block that decrypts under the wrong key, PAN or format still yields
eight or sixteen bytes, and only the structure (control nibble, length 4–12, decimal PIN
digits, the format's fill rule) tells it apart from a real PIN. AWS answers such a block with
ValidationException ("Pin block provided is invalid"), so every rule is checked here and
failures raise `PinBlockError` whose message names the rule but never the PIN or the PAN.

Formats (ISO 9564-1:2017 §9.3 and §9.4):
- 0: ``0 L PIN F…F`` XOR ``0000`` ‖ 12 rightmost PAN digits excluding the check digit.
- 1: ``1 L PIN R…R`` with random fill 0–F; no PAN (the "transaction field" of §9.3.3).
- 2: ``2 L PIN F…F``; no PAN; ICC offline PIN only (used inside EMV PIN change).
- 3: as format 0 but the fill nibbles are random A–F.
- 4: plain PIN field ``4 L PIN A…A`` ‖ 8 random bytes and a PAN field
  ``M ‖ PAN ‖ 0…0`` (M = PAN length − 12); enciphered as E(K, E(K, PIN field) XOR PAN field)
  (§9.4.2), deciphered by the inverse.

Randomness comes from `secrets`, as DESIGN.md requires for every PIN-related value.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from paycrypt.crypto import primitives as p

MIN_PIN_LENGTH = 4
MAX_PIN_LENGTH = 12

# The API's PinBlockFormat names and the ISO format number each one selects.
API_FORMATS: dict[str, int] = {
    "ISO_FORMAT_0": 0,
    "ISO_FORMAT_1": 1,
    "ISO_FORMAT_3": 3,
    "ISO_FORMAT_4": 4,
}

_NIBBLES = "0123456789ABCDEF"  # a nibble's upper-case hex digit, by value
_HEX_LETTERS = "ABCDEF"


class PinBlockError(ValueError):
    """A PIN, PAN or PIN block that breaks an ISO 9564-1 rule; the message never holds the PIN."""


# --- PIN and PAN fields -------------------------------------------------------------------------


def random_pin(length: int = 4) -> str:
    """A uniformly random decimal PIN, for VisaPin and Ibm3624RandomPin generation."""
    _check_pin_length(length)
    return "".join(secrets.choice("0123456789") for _ in range(length))


def _check_pin_length(length: int) -> None:
    if not MIN_PIN_LENGTH <= length <= MAX_PIN_LENGTH:
        raise PinBlockError(f"PIN length must be {MIN_PIN_LENGTH} to {MAX_PIN_LENGTH} digits")


def _decimal(text: str) -> bool:
    """Only the ASCII digits 0–9 (str.isdigit alone also takes other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _check_pin(pin: str) -> None:
    _check_pin_length(len(pin))
    if not _decimal(pin):
        raise PinBlockError("PIN must be decimal digits")


def _check_pan(pan: str) -> None:
    if not 0 < len(pan) <= 19 or not _decimal(pan):
        raise PinBlockError("PAN must be 1 to 19 decimal digits")


def _pan_number_format0(pan: str) -> int:
    """``0000`` ‖ the 12 rightmost PAN digits excluding the check digit, zero-padded on the left
    when the PAN is shorter (ISO 9564-1 §9.3.2), as the 64-bit number formats 0 and 3 XOR with
    the PIN field (numbers, not bytes: a PIN translation builds and reads two such blocks)."""
    _check_pan(pan)
    return int(pan[-13:-1] or "0", 16)


def _pan_field_format0(pan: str) -> bytes:
    return _pan_number_format0(pan).to_bytes(8, "big")


def _with_pan(field: str, pan: str) -> bytes:
    """A 16-nibble PIN field XOR the format 0 PAN field."""
    return (int(field, 16) ^ _pan_number_format0(pan)).to_bytes(8, "big")


def _without_pan(block: bytes, pan: str) -> str:
    """The clear PIN field (16 upper-case nibbles) of a format 0 or 3 block."""
    return f"{int.from_bytes(block, 'big') ^ _pan_number_format0(pan):016X}"


def _pin_field(control: int, pin: str, fill: str) -> str:
    _check_pin(pin)
    head = f"{control:X}{len(pin):X}{pin}"
    return head + fill[: 16 - len(head)]


def _random_nibbles(alphabet: str, count: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


# --- Formats 0–3 (8-byte blocks) ----------------------------------------------------------------


def encode_format0(pin: str, pan: str) -> bytes:
    return _with_pan(_pin_field(0, pin, "F" * 14), pan)


def encode_format1(pin: str) -> bytes:
    return bytes.fromhex(_pin_field(1, pin, _random_nibbles("0123456789ABCDEF", 14)))


def encode_format2(pin: str) -> bytes:
    return bytes.fromhex(_pin_field(2, pin, "F" * 14))


def encode_format3(pin: str, pan: str) -> bytes:
    return _with_pan(_pin_field(3, pin, _random_nibbles("ABCDEF", 14)), pan)


def _fill_is_f(fill: str) -> bool:
    return not fill.strip("F")


def _fill_is_letter(fill: str) -> bool:
    return not fill.strip(_HEX_LETTERS)


def _fill_is_any(fill: str) -> bool:
    return True


def _fill_is_a(fill: str) -> bool:
    return not fill.strip("A")


# The fill rule each format's decoder enforces on nibbles after the PIN.
_FILL_RULES: dict[int, Callable[[str], bool]] = {
    0: _fill_is_f,
    1: _fill_is_any,
    2: _fill_is_f,
    3: _fill_is_letter,
    4: _fill_is_a,
}


def _parse_pin_field(control: int, field: str) -> str:
    """Read the PIN out of the first 16 nibbles of a clear PIN field, checking every rule."""
    if field[0] != _NIBBLES[control]:
        raise PinBlockError(f"PIN block control field is not ISO format {control}")
    length = _NIBBLES.index(field[1])
    if not MIN_PIN_LENGTH <= length <= MAX_PIN_LENGTH:
        raise PinBlockError("PIN block length field is outside 4 to 12")
    pin = field[2 : 2 + length]
    if not pin.isdigit():  # upper-case hex: the only digits it can hold are 0–9
        raise PinBlockError("PIN block holds a non-decimal PIN digit")
    if not _FILL_RULES[control](field[2 + length : 16]):
        raise PinBlockError(f"PIN block fill digits are invalid for ISO format {control}")
    return pin


def _require_length(block: bytes, size: int) -> None:
    if len(block) != size:
        raise PinBlockError(f"PIN block must be {size} bytes")


def decode_format0(block: bytes, pan: str) -> str:
    _require_length(block, 8)
    return _parse_pin_field(0, _without_pan(block, pan))


def decode_format1(block: bytes) -> str:
    _require_length(block, 8)
    return _parse_pin_field(1, block.hex().upper())


def decode_format2(block: bytes) -> str:
    _require_length(block, 8)
    return _parse_pin_field(2, block.hex().upper())


def decode_format3(block: bytes, pan: str) -> str:
    _require_length(block, 8)
    return _parse_pin_field(3, _without_pan(block, pan))


# --- Format 4 (16-byte blocks, AES) -------------------------------------------------------------


def format4_pin_field(pin: str, random_part: bytes | None = None) -> bytes:
    """``4 L PIN A…A`` to 16 nibbles, then 8 random bytes (ISO 9564-1 §9.4.2.2)."""
    tail = secrets.token_bytes(8) if random_part is None else random_part
    if len(tail) != 8:
        raise PinBlockError("format 4 random part must be 8 bytes")
    return bytes.fromhex(_pin_field(4, pin, "A" * 14)) + tail


def format4_pan_field(pan: str, legacy_pan: bool = False) -> bytes:
    """``M ‖ PAN ‖ 0…0`` to 32 nibbles, M = len(PAN) − 12, PAN left-padded with zeros to 12.

    With `legacy_pan` the field is built from the 12 rightmost digits excluding the check digit,
    the "legacy PAN length" the AWS model says its format 4 translation uses (seed-C A-PIN-4).
    """
    _check_pan(pan)
    digits = pan[:-1][-12:].rjust(12, "0") if legacy_pan else pan
    length_nibble = max(0, len(digits) - 12)
    return bytes.fromhex((f"{length_nibble}" + digits.rjust(12, "0")).ljust(32, "0"))


def decode_format4_pin_field(field: bytes) -> str:
    _require_length(field, 16)
    return _parse_pin_field(4, field.hex().upper()[:16])


def encipher_format4(key: p.Key, pin: str, pan: str, legacy_pan: bool = False) -> bytes:
    """E(K, E(K, PIN field) XOR PAN field): binds the PIN to the PAN under AES (§9.4.2.3)."""
    intermediate = p.aes_ecb_encrypt(key, format4_pin_field(pin))
    return p.aes_ecb_encrypt(key, p.xor(intermediate, format4_pan_field(pan, legacy_pan)))


def decipher_format4(key: p.Key, block: bytes, pan: str, legacy_pan: bool = False) -> str:
    _require_length(block, 16)
    intermediate = p.xor(p.aes_ecb_decrypt(key, block), format4_pan_field(pan, legacy_pan))
    return decode_format4_pin_field(p.aes_ecb_decrypt(key, intermediate))


# --- The API's view: PIN blocks under a PEK, as hex -----------------------------------------------


def _format_number(pin_block_format: str) -> int:
    try:
        return API_FORMATS[pin_block_format]
    except KeyError:
        raise PinBlockError("unsupported PIN block format") from None


def _require_pan(pan: str | None, fmt: int) -> str:
    if pan is None:
        raise PinBlockError(f"ISO format {fmt} needs the primary account number")
    return pan


# Formats 0, 1 and 3 under a TDES PEK: (encode, decode) with the PAN checked where one is needed.
_TDES_FORMATS: dict[int, tuple[Callable[[str, str | None], bytes], Callable[[bytes, str | None], str]]] = {
    0: (
        lambda pin, pan: encode_format0(pin, _require_pan(pan, 0)),
        lambda block, pan: decode_format0(block, _require_pan(pan, 0)),
    ),
    1: (lambda pin, pan: encode_format1(pin), lambda block, pan: decode_format1(block)),
    3: (
        lambda pin, pan: encode_format3(pin, _require_pan(pan, 3)),
        lambda block, pan: decode_format3(block, _require_pan(pan, 3)),
    ),
}


def encrypt_pin(pek: p.Key, pin_block_format: str, pin: str, pan: str | None) -> str:
    """The EncryptedPinBlock (upper-case hex) for a clear PIN under a PEK.

    Formats 0, 1 and 3 are TDES-ECB of the 8-byte block (`pek` 16 or 24 bytes); format 4 is the
    AES encipherment above (`pek` 16, 24 or 32 bytes). Which algorithm the PEK really has is the
    service's check, since TDES_2KEY and AES_128 keys are both 16 bytes.
    """
    fmt = _format_number(pin_block_format)
    if fmt == 4:
        return encipher_format4(pek, pin, _require_pan(pan, 4)).hex().upper()
    encode, _ = _TDES_FORMATS[fmt]
    return p.tdes_ecb_encrypt(pek, encode(pin, pan)).hex().upper()


def decrypt_pin(pek: p.Key, pin_block_format: str, encrypted_pin_block: str, pan: str | None) -> str:
    """The clear PIN from an EncryptedPinBlock; `PinBlockError` if it does not decode."""
    fmt = _format_number(pin_block_format)
    block = _block_from_hex(encrypted_pin_block, 16 if fmt == 4 else 8)
    if fmt == 4:
        return decipher_format4(pek, block, _require_pan(pan, 4))
    _, decode = _TDES_FORMATS[fmt]
    return decode(p.tdes_ecb_decrypt(pek, block), pan)


def _block_from_hex(text: str, size: int) -> bytes:
    if len(text) != 2 * size:
        raise PinBlockError(f"encrypted PIN block must be {2 * size} hex characters for this format")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise PinBlockError("encrypted PIN block must be hexadecimal") from None

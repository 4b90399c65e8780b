"""Visa card verification value (CVV, CVV2, iCVV): one algorithm, three service-code choices.

The data block is PAN ‖ expiry ‖ service code, zero-filled to 32 nibbles. The left half is
DES-encrypted under KA, XORed with the right half, then TDES-encrypted under KA‖KB; the result is
decimalised (digits first, then the letters A–F as 0–5) and cut to the requested length.
CVV2 uses service code 000 and iCVV service code 999; the card's expiry is used as given,
in whatever order the issuer chose (YYMM for CVV on the stripe, often MMYY for CVV2).
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p

# Two translation tables, so decimalisation is two C calls instead of a loop per nibble (it runs
# on every CVV, PVV and IBM 3624 verify): the first drops the letters, the second drops the
# digits and maps the letters a–f to 0–5.
_DIGITS_ONLY = str.maketrans("", "", "abcdef")
_LETTERS_AS_DIGITS = str.maketrans("abcdef", "012345", "0123456789")


def decimalise(data: bytes) -> str:
    """Visa decimalisation: the decimal nibbles in order, then the hex nibbles minus 10."""
    nibbles = data.hex()
    return nibbles.translate(_DIGITS_ONLY) + nibbles.translate(_LETTERS_AS_DIGITS)


def cvv(key: p.Key, pan: str, expiry: str, service_code: str, length: int = 3) -> str:
    """Compute a Visa CVV from a two- or three-key TDES CVK (KA and KB only, as Visa defines it)."""
    if len(key) not in (16, 24):
        raise ValueError("CVK must be a two- or three-key TDES key")
    digits = pan + expiry + service_code
    if not digits.isdigit():
        raise ValueError("PAN, expiry and service code must be decimal digits")
    if len(digits) > 32:
        raise ValueError("PAN, expiry and service code exceed 32 digits")
    block = bytes.fromhex(digits.ljust(32, "0"))
    k = p.cipher_key(key)
    step = p.xor(k.des_encrypt(0, block[:8]), block[8:])
    step = k.tdes_encrypt(step) if len(k) == 16 else p.tdes_ecb_encrypt(k.key[:16], step)
    return decimalise(step)[:length]

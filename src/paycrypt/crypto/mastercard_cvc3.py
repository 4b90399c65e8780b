"""Mastercard dynamic CVC3 (PayPass / M/Chip mag-stripe mode), AWS's DynamicCardVerificationCode.

Why two steps: the card holds a per-card CVC3 key and a static IVCVC3 computed once over its
track data; each tap then proves possession by enciphering IVCVC3 with the terminal's
unpredictable number (UN) and the card's transaction counter (ATC).
- ICC key: EMV Option A derivation from the E4 issuer master key, PAN and PSN (EMV 4.3 Book 2
  Annex A1.4.1).
- IVCVC3 = rightmost 2 bytes of the ISO/IEC 9797-1 MAC algorithm 3 (padding method 2) over the
  track data, under the ICC key.
- CVC3 = rightmost 2 bytes of TDES-ECB(ICC key, IVCVC3 ‖ UN(4 bytes) ‖ ATC(2 bytes)), read as a
  number and written as 5 decimal digits; the service returns the rightmost N (3 by default).
Source: Mastercard PayPass M/Chip mag-stripe specification as implemented by pyemv.cvv
(generate_cvc3), the independent oracle in the tests.

Input decisions (seed-D A11, seed-C A-CARD-3): UN arrives as 2–8 hex and is right-justified into
4 bytes with leading zeros (a numeric UN as the terminal sends it); ATC arrives as 2–4 hex and
is right-justified into 2 bytes; track data of odd length is completed with an ``F`` nibble,
as a track 2 template is.
"""

from __future__ import annotations

from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p
from paycrypt.crypto.emv_keys import derive_icc_master_key_option_a

CVC3_DIGITS = 5


def hex_field(value: str, size: int, what: str) -> bytes:
    """Right-justify a 1..2*size hex string into `size` bytes with leading zeros."""
    if not 1 <= len(value) <= 2 * size:
        raise ValueError(f"{what} must be 1 to {2 * size} hexadecimal digits")
    try:
        return bytes.fromhex(value.rjust(2 * size, "0"))
    except ValueError:
        raise ValueError(f"{what} must be hexadecimal") from None


def ivcvc3(icc_key: bytes, track_data: str) -> bytes:
    """The 2-byte IVCVC3 over the card's track data (hex, odd length completed with F)."""
    if len(track_data) % 2:
        track_data += "F"
    try:
        data = bytes.fromhex(track_data)
    except ValueError:
        raise ValueError("track data must be hexadecimal") from None
    return iso9797.mac_algorithm3(icc_key, iso9797.pad_method2(data))[-2:]


def cvc3_number(icc_key: bytes, iv: bytes, unpredictable_number: str, atc: str) -> str:
    """The full 5-digit CVC3 for one transaction."""
    block = iv + hex_field(unpredictable_number, 4, "unpredictable number") + hex_field(atc, 2, "ATC")
    value = int.from_bytes(p.tdes_ecb_encrypt(icc_key, block)[-2:], "big")
    return f"{value:0{CVC3_DIGITS}d}"


def generate_cvc3(
    imk: bytes, pan: str, psn: str, track_data: str, unpredictable_number: str, atc: str, length: int = 3
) -> str:
    """The rightmost `length` (3–5) digits of the CVC3, as GenerateCardValidationData returns it."""
    if not 1 <= length <= CVC3_DIGITS:
        raise ValueError("CVC3 length must be 1 to 5 digits")
    icc_key = derive_icc_master_key_option_a(imk, pan, psn)
    return cvc3_number(icc_key, ivcvc3(icc_key, track_data), unpredictable_number, atc)[-length:]

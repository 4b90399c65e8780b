"""American Express Card Security Codes (CSC): version 1 ("classic") and version 2 ("enhanced").

Why one computation yields three codes: Amex prints a 4-digit CSC on the front, may encode a
5-digit one and uses a 3-digit one elsewhere; all three come from one enciphered block, so
the 5-, 4- and 3-digit codes are disjoint slices of the same 12 decimal digits and one can
not be derived from another. AWS exposes them through ValidationDataLength 3, 4 or 5; iCSC
(service code 999 contact, 702 contactless) and 3-D Secure AEVV (expiry := 4-digit
unpredictable number, service code := results code ‖ second-factor code) reuse version 2
with those inputs (AWS user guide, seed-D A3/A4).

Source and decisions — NOT INDEPENDENTLY VERIFIED (the Amex specification is not public and no
published vector exists; the AWS guide's examples use unknown keys):
- Block layout and digit extraction follow the open-source payShield simulator ThalesSim
  (command RY, "GenerateCSC"): for a PAN starting 34 the 16-nibble block is PAN[2:14] ‖ YYMM,
  for 37 it is YYMM ‖ PAN[2:14]; IBM CCA's Transaction Validation verb likewise takes a 15-digit
  Amex PAN and a YYMM expiry. Version 1 TDES-encrypts that block under the CSC key.
- Decimalisation (ThalesSim): all decimal nibbles in order, then each letter as A=1 … F=6,
  plus 5 (mod 10) when the letter sits at nibble position 5 or later; 12 digits; CSC5 =
  digits 0–4, CSC4 = 5–8, CSC3 = 9–11.
- Version 2 appends the service code: (block ‖ service code) zero-filled to 32 nibbles. The
  simulator enciphers it in ECB and keeps the right half, which would make the code ignore PAN
  and expiry; here the two blocks are chained (TDES-CBC, zero IV) and the final block is kept,
  so every input counts. This is the most defensible reading, not a confirmed one. The service
  code counts in the 3-, 4- and 5-digit codes alike, as the guide's iCSC (999 vs 702) and AEVV
  require (docs/decisions/issuer.md, for the evidence and the AWS sample that verifies 999 with 000).
- PANs must be 15 digits starting 34 or 37, as the construction needs ("For American Express,
  PANs should be 15 digits and start with 34 or 37", AWS user guide).
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p

# Where each CSC length sits in the 12 extracted digits.
_SLICES: dict[int, slice] = {5: slice(0, 5), 4: slice(5, 9), 3: slice(9, 12)}


def _block(pan: str, expiry: str) -> str:
    if len(pan) != 15 or not pan.isdigit() or pan[:2] not in ("34", "37"):
        raise ValueError("Amex CSC needs a 15-digit PAN starting 34 or 37")
    if len(expiry) != 4 or not expiry.isdigit():
        raise ValueError("expiry must be 4 digits (YYMM)")
    middle = pan[2:14]
    return middle + expiry if pan.startswith("34") else expiry + middle


def _twelve_digits(result: bytes) -> str:
    nibbles = result.hex().upper()
    digits = "".join(c for c in nibbles if c.isdigit())
    letters = "".join(
        str((int(c, 16) - 9 + (5 if i >= 5 else 0)) % 10) for i, c in enumerate(nibbles) if not c.isdigit()
    )
    return (digits + letters)[:12]


def _select(result: bytes, length: int) -> str:
    if length not in _SLICES:
        raise ValueError("CSC length must be 3, 4 or 5")
    return _twelve_digits(result)[_SLICES[length]]


def _check_key(key: bytes) -> None:
    if len(key) not in (16, 24):
        raise ValueError("CSC key must be a two- or three-key TDES key")


def csc_v1(key: bytes, pan: str, expiry: str, length: int = 3) -> str:
    """AmexCardSecurityCodeVersion1: the `length`-digit classic CSC."""
    _check_key(key)
    return _select(p.tdes_ecb_encrypt(key, bytes.fromhex(_block(pan, expiry))), length)


def csc_v2(key: bytes, pan: str, expiry: str, service_code: str, length: int = 3) -> str:
    """AmexCardSecurityCodeVersion2 (also iCSC and AEVV): the `length`-digit enhanced CSC."""
    _check_key(key)
    if len(service_code) != 3 or not service_code.isdigit():
        raise ValueError("service code must be 3 digits")
    data = bytes.fromhex((_block(pan, expiry) + service_code).ljust(32, "0"))
    return _select(p.tdes_cbc_encrypt(key, data)[-8:], length)

"""Visa PIN Verification Value (PVV), the "Visa method" of PIN verification.

Why a PVV rather than a stored PIN: the issuer keeps four digits that only someone holding the
PVK can derive from a PIN, so the PIN itself is never stored. The Transformed Security
Parameter (TSP) is the 11 rightmost PAN digits excluding the check digit ‖ the PIN
Verification Key Index (PVKI) ‖ the 4 leftmost PIN digits; it is TDES-encrypted under the PVK
and decimalised the Visa way (decimal nibbles first, then A–F as 0–5), keeping 4 digits.
Source: Visa PIN Security Program / Visa PVV method as documented in the Thales payShield "DG"
command and IBM CCA "VISA PIN algorithms"; psec.pin.generate_visa_pvv is the test oracle.
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p
from paycrypt.crypto.cvv import decimalise

PVV_LENGTH = 4


def _tsp(pan: str, pvki: int, pin: str) -> bytes:
    if not (pan.isdigit() and pin.isdigit()):
        raise ValueError("PAN and PIN must be decimal digits")
    if len(pan) < 12:
        raise ValueError("PAN must have at least 12 digits for the Visa PVV")
    if len(pin) < 4:
        raise ValueError("PIN must have at least 4 digits for the Visa PVV")
    if not 0 <= pvki <= 9:
        raise ValueError("PIN verification key index must be a single digit")
    return bytes.fromhex(pan[-12:-1] + str(pvki) + pin[:4])


def generate_pvv(pvk: p.Key, pan: str, pvki: int, pin: str) -> str:
    """The 4-digit PVV for `pin` on the card `pan` under PVK index `pvki`."""
    if len(pvk) not in (16, 24):
        raise ValueError("PVK must be a two- or three-key TDES key")
    return decimalise(p.tdes_ecb_encrypt(pvk, _tsp(pan, pvki, pin)))[:PVV_LENGTH]

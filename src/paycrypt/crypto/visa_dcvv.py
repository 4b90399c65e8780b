"""Visa dynamic CVV (dCVV) for contactless mag-stripe (MSD) transactions.

Why: a dCVV replaces the static CVV on each tap, so skimmed track data cannot be replayed.
Algorithm, as published in open-source EMV tooling (e.g. the ``emv.dsc.generate_dcvv`` example
code of public EMV training repositories) and consistent with the CVV-style processing HSM
vendors describe for dCVV:
- the card key (UDK) is derived from the E6 issuer master key with EMV Option A (PAN, PSN);
- the ATC, as 4 hex digits, replaces the 4 leftmost PAN digits: ``ATC ‖ PAN[4:]``;
- that value ‖ expiry ‖ service code, zero-filled to 32 nibbles, goes through the Visa CVV
  steps under the UDK (DES under KA, XOR the right half, TDES under KA‖KB) and is decimalised
  the Visa way; the leftmost N digits (3–5, default 3) are the dCVV.
The ATC is placed as hex nibbles, as the AWS API supplies it ("the 50th transaction is 32").
Not independently verified: Visa's contactless specification is not public and no published
vector exists; the tests check consistency, length and sensitivity only.
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p
from paycrypt.crypto.cvv import decimalise
from paycrypt.crypto.emv_keys import derive_icc_master_key_option_a
from paycrypt.crypto.mastercard_cvc3 import hex_field


def cvv_over_field(key: bytes, field: str) -> bytes:
    """The Visa CVV cipher steps over a 32-nibble hex field (which may hold hex ATC nibbles,
    so `cvv.cvv` with its decimal-only inputs cannot be called directly)."""
    block = bytes.fromhex(field)
    step = p.des_ecb_encrypt(key[:8], block[:8])
    step = p.xor(step, block[8:])
    return p.tdes_ecb_encrypt(key[:16], step)


def generate_dcvv(
    imk: bytes, pan: str, psn: str, expiry: str, service_code: str, atc: str, length: int = 3
) -> str:
    if not 3 <= length <= 5:
        raise ValueError("dCVV length must be 3 to 5 digits")
    if not (expiry.isdigit() and len(expiry) == 4 and service_code.isdigit() and len(service_code) == 3):
        raise ValueError("expiry must be 4 digits and service code 3 digits")
    if not 12 <= len(pan) <= 19 or not pan.isdigit():
        raise ValueError("PAN must be 12 to 19 decimal digits")
    udk = derive_icc_master_key_option_a(imk, pan, psn)
    alternate_pan = hex_field(atc, 2, "ATC").hex().upper() + pan[4:]
    field = (alternate_pan + expiry + service_code).ljust(32, "0")
    return decimalise(cvv_over_field(udk, field))[:length]

"""CardHolderVerificationValue and DiscoverDynamicCardVerificationCode.

NO PUBLIC SOURCE WAS FOUND FOR EITHER ALGORITHM. The AWS guide names them
(CARDHOLDER_AUTHENTICATION_VERIFICATION_VALUE with an E6 key and DeriveKey; Discover's dynamic
code is verify-only and its key type is not tabled) but gives no algorithm, and the scheme
specifications (Discover D-PAS, the network's cardholder-verification value) are not public.
What follows is the most defensible construction: a value computed here will NOT match what a
real HSM or AWS computes, and this module must be replaced when a specification is available.

The construction reuses the Visa dCVV pattern (see `visa_dcvv`), the published dynamic-CVV
design closest to these inputs:
- the card key is derived from the issuer master key with EMV Option A over PAN and PSN
  (Discover's attributes have no PSN, so ``00`` is used, the EMV convention for "no PSN");
- the ATC (4 hex) replaces the 4 leftmost PAN digits, and the unpredictable number (8 hex,
  right-justified) takes the place of the service code — after the expiry for Discover;
- the 32-nibble zero-filled field goes through the Visa CVV cipher steps and Visa
  decimalisation; the leftmost N digits (3–5, default 3) are the value.
Every input therefore changes the output; the tests check only that and the length (each
shorter value the leftmost digits of the 5-digit one): "not independently verified".
"""

from __future__ import annotations

from paycrypt.crypto.cvv import decimalise
from paycrypt.crypto.emv_keys import derive_icc_master_key_option_a
from paycrypt.crypto.mastercard_cvc3 import hex_field
from paycrypt.crypto.visa_dcvv import cvv_over_field

DISCOVER_PSN = "00"


def _check(pan: str, length: int) -> None:
    if not 12 <= len(pan) <= 19 or not pan.isdigit():
        raise ValueError("PAN must be 12 to 19 decimal digits")
    if not 3 <= length <= 5:
        raise ValueError("validation data length must be 3 to 5 digits")


def _value(card_key: bytes, field: str, length: int) -> str:
    return decimalise(cvv_over_field(card_key, field.ljust(32, "0")))[:length]


def generate_cardholder_verification_value(
    imk: bytes, pan: str, psn: str, unpredictable_number: str, atc: str, length: int = 3
) -> str:
    _check(pan, length)
    atc_hex = hex_field(atc, 2, "ATC").hex().upper()
    un_hex = hex_field(unpredictable_number, 4, "unpredictable number").hex().upper()
    return _value(derive_icc_master_key_option_a(imk, pan, psn), atc_hex + pan[4:] + un_hex, length)


def discover_dynamic_cvc(
    imk: bytes, pan: str, expiry: str, unpredictable_number: str, atc: str, length: int = 3
) -> str:
    """The value VerifyCardValidationData compares against (the API has no generate for it)."""
    _check(pan, length)
    if len(expiry) != 4 or not expiry.isdigit():
        raise ValueError("expiry must be 4 digits")
    atc_hex = hex_field(atc, 2, "ATC").hex().upper()
    un_hex = hex_field(unpredictable_number, 4, "unpredictable number").hex().upper()
    return _value(
        derive_icc_master_key_option_a(imk, pan, DISCOVER_PSN), atc_hex + pan[4:] + expiry + un_hex, length
    )

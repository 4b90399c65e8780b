"""EMV application cryptograms (ARQC) and the issuer's response cryptograms (ARPC).

The ARQC is an ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) over the transaction data under the
AC key — a session key, or the ICC master key for Visa CVN10/Amex (EMV 4.3 Book 2 §8.1.2, A1.2).
The issuer proves it saw the ARQC by returning an ARPC (Book 2 §8.2).

Transaction data is MACed exactly as given: the AWS guide tells the caller to pad it (method 1
or method 2, scheme-dependent), and both of its known answers verify only without extra padding.
Data that is not a multiple of 8 bytes is zero-padded (ISO 9797-1 padding method 1), which is
what a caller following Visa's method-1 convention would have added; aligned data is never
extended. Decision recorded because the guide leaves it open.

Cryptograms are returned as upper-case hex, the API's form.
"""

from __future__ import annotations

from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p
from paycrypt.crypto.emv_keys import EmvInputError, hex_field


def generate_arqc(ac_key: p.Key, transaction_data: str) -> str:
    """ARQC = MAC algorithm 3 over the transaction data (zero-padded only if unaligned)."""
    data = hex_field(transaction_data, "TransactionData")
    if not data:
        raise EmvInputError("TransactionData must not be empty")
    return iso9797.mac_algorithm3(ac_key, iso9797.pad_method1(data)).hex().upper()


def verify_arqc(ac_key: p.Key, transaction_data: str, arqc: str) -> bool:
    """Recompute the ARQC and compare in constant time."""
    expected = hex_field(arqc, "AuthRequestCryptogram", 8)
    actual = bytes.fromhex(generate_arqc(ac_key, transaction_data))
    return p.constant_time_equal(actual, expected)


def arpc_method1(ac_key: p.Key, arqc: str, auth_response_code: str) -> str:
    """EMV 4.3 Book 2 §8.2.1: ARPC = TDES(key)[ARQC ⊕ (ARC ‖ 00×6)], 8 bytes.

    Why XOR then encrypt: the card recomputes it from its own ARQC, so the 2-byte response code
    is authenticated without a second MAC. The key is the one that made the ARQC (session key or
    ICC master key); M/Chip 4 CVN16/17 cards expect the ICC master key here, so pass that.
    """
    block = p.xor(
        hex_field(arqc, "AuthRequestCryptogram", 8),
        hex_field(auth_response_code, "AuthResponseCode", 2) + bytes(6),
    )
    return p.tdes_ecb_encrypt(ac_key, block).hex().upper()


def arpc_method2(
    ac_key: p.Key,
    arqc: str,
    card_status_update: str,
    proprietary_authentication_data: str = "",
) -> str:
    """EMV 4.3 Book 2 §8.2.2: ARPC = leftmost 4 bytes of MAC alg 3 (padding method 2) over
    ARQC ‖ CSU ‖ proprietary authentication data (0–8 bytes).

    Why a MAC here: method 2 authenticates the card status update that the issuer sends back.
    """
    pad = hex_field(proprietary_authentication_data, "ProprietaryAuthenticationData")
    if len(pad) > 8:
        raise EmvInputError("ProprietaryAuthenticationData must be at most 8 bytes")
    data = (
        hex_field(arqc, "AuthRequestCryptogram", 8)
        + hex_field(card_status_update, "CardStatusUpdate", 4)
        + pad
    )
    return iso9797.mac_algorithm3(ac_key, iso9797.pad_method2(data))[:4].hex().upper()

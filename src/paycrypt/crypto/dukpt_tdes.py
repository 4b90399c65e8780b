"""TDES DUKPT per ANSI X9.24-1:2009 (Derived Unique Key Per Transaction, §A and Annex A).

A terminal holds an initial PIN encryption key (IPEK) derived from the base derivation key (BDK)
and its key serial number (KSN); the host, which holds only the BDK, re-derives the terminal's
key for any transaction from the KSN alone. The 80-bit KSN is a 59-bit initial KSN followed by a
21-bit transaction counter. The host walks the counter's one-bits from the most significant down,
applying the non-reversible key generation process once per bit: that is the key the terminal
held when it used that counter value. The counter may have at most 10 one-bits (the terminal
skips every other value), and 0 is the value the IPEK itself was loaded under, never a transaction.

Working keys are the transaction key XORed with a variant mask per purpose (X9.24-1:2009 A.6 and
the MAC/data variants added in the 2009 edition). For data encryption the variant key is then
passed once more through TDES under itself ("one-way function", X9.24-1:2009 Annex A A.4 test
data and the common HSM practice: Thales `M0`/`M2` with DUKPT data key, IDTech, Verifone): each
half of the variant key is TDES-ECB encrypted under the whole variant key. The Annex A test
vectors for the data request/response keys are only reproduced with this step.

All keys here are double-length (16 bytes), the only form X9.24-1:2009 defines. A three-key BDK
is refused rather than guessed at: the standard gives no key mask for a third key part, and the
guide's DUKPT key tables list TDES_2KEY BDKs only.
"""

from __future__ import annotations

from enum import Enum

from paycrypt.crypto import primitives as p

KSN_BYTES = 10
COUNTER_BITS = 21
MAX_COUNTER_ONE_BITS = 10
_COUNTER_MASK = (1 << COUNTER_BITS) - 1
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")


class InvalidKsnError(ValueError):
    """A key serial number that cannot name a DUKPT transaction (wrong length or counter).

    Shared with AES DUKPT so the service can name KeySerialNumber with one except clause.
    """


class Usage(Enum):
    """The working keys X9.24-1:2009 derives from one transaction key."""

    PIN = "PIN"
    MAC_REQUEST = "MAC_REQUEST"
    MAC_RESPONSE = "MAC_RESPONSE"
    DATA_REQUEST = "DATA_REQUEST"
    DATA_RESPONSE = "DATA_RESPONSE"


# usage -> (variant mask XORed into the transaction key, data-key one-way step applied)
# X9.24-1:2009: PIN 00..FF, MAC request 00..FF00, MAC response 00..FF000000,
# data request 00..FF0000, data response 00..FF00000000 (each half of the 16-byte key).
_VARIANTS: dict[Usage, tuple[bytes, bool]] = {
    Usage.PIN: (bytes.fromhex("00000000000000FF" * 2), False),
    Usage.MAC_REQUEST: (bytes.fromhex("000000000000FF00" * 2), False),
    Usage.MAC_RESPONSE: (bytes.fromhex("00000000FF000000" * 2), False),
    Usage.DATA_REQUEST: (bytes.fromhex("0000000000FF0000" * 2), True),
    Usage.DATA_RESPONSE: (bytes.fromhex("000000FF00000000" * 2), True),
}


def ksn_counter(ksn: bytes) -> int:
    """Validate a 10-byte KSN and return its 21-bit transaction counter."""
    if len(ksn) != KSN_BYTES:
        raise InvalidKsnError(f"TDES DUKPT key serial number must be {KSN_BYTES} bytes (20 hex)")
    counter = int.from_bytes(ksn, "big") & _COUNTER_MASK
    if counter == 0:
        raise InvalidKsnError("key serial number counter is 0, which names no transaction")
    if counter.bit_count() > MAX_COUNTER_ONE_BITS:
        raise InvalidKsnError(
            f"key serial number counter has more than {MAX_COUNTER_ONE_BITS} one-bits, "
            "which no X9.24-1 terminal produces"
        )
    return counter


def derive_ipek(bdk: bytes, ksn: bytes) -> bytes:
    """IPEK from the BDK and the KSN with its counter cleared (X9.24-1:2009 A.6).

    The counter is ignored, so any KSN of the device gives the same IPEK.
    """
    if len(bdk) != 16:
        raise ValueError("TDES DUKPT BDK must be a two-key (16-byte) TDES key")
    if len(ksn) != KSN_BYTES:
        raise InvalidKsnError(f"TDES DUKPT key serial number must be {KSN_BYTES} bytes (20 hex)")
    initial_ksn = (int.from_bytes(ksn, "big") & ~_COUNTER_MASK).to_bytes(KSN_BYTES, "big")[:8]
    left = p.tdes_ecb_encrypt(bdk, initial_ksn)
    right = p.tdes_ecb_encrypt(p.xor(bdk, _KEY_MASK), initial_ksn)
    return left + right


def derive_transaction_key(ipek: bytes, ksn: bytes) -> bytes:
    """The terminal's key for this KSN's counter: one non-reversible step per counter one-bit."""
    counter = ksn_counter(ksn)
    _require_double_length(ipek)
    register = int.from_bytes(ksn[2:], "big") & ~_COUNTER_MASK
    key = ipek
    for bit in reversed(range(COUNTER_BITS)):
        if counter >> bit & 1:
            register |= 1 << bit
            key = _non_reversible_step(key, register.to_bytes(8, "big"))
    return key


def derive_working_key(bdk: bytes, ksn: bytes, usage: Usage) -> bytes:
    """The PIN, MAC or data key a terminal used for the transaction this KSN names."""
    return working_key_from_ipek(derive_ipek(bdk, ksn), ksn, usage)


def working_key_from_ipek(ipek: bytes, ksn: bytes, usage: Usage) -> bytes:
    """As derive_working_key, from an IPEK the caller may have kept per device."""
    return apply_variant(derive_transaction_key(ipek, ksn), usage)


def apply_variant(transaction_key: bytes, usage: Usage) -> bytes:
    """Turn a transaction key into the working key for one usage."""
    mask, one_way = _VARIANTS[usage]
    key = p.xor(transaction_key, mask)
    if one_way:
        key = p.tdes_ecb_encrypt(key, key[:8]) + p.tdes_ecb_encrypt(key, key[8:])
    return key


def _non_reversible_step(key: bytes, register: bytes) -> bytes:
    """X9.24-1:2009 A.2 "non-reversible key generation process" for one 8-byte register."""
    right = _encrypt_half(key, register)
    left = _encrypt_half(p.xor(key, _KEY_MASK), register)
    return left + right


def _encrypt_half(key: bytes, register: bytes) -> bytes:
    key_left, key_right = key[:8], key[8:]
    return p.xor(p.des_ecb_encrypt(key_left, p.xor(register, key_right)), key_right)


def _require_double_length(key: bytes) -> None:
    if len(key) != 16:
        raise ValueError("TDES DUKPT IPEK must be 16 bytes")

"""AES DUKPT per ANSI X9.24-3-2017 (Derived Unique Key Per Transaction with AES).

Every key in the scheme comes from one primitive (X9.24-3-2017 §6.3): AES-ECB under a derivation
key over 16 bytes of "derivation data", one block per 128 bits of output, truncated to the key's
length. The derivation data names what is being made, so keys for different usages and types
can never collide:

    01 ‖ block counter ‖ key usage (2) ‖ algorithm (2) ‖ length in bits (2) ‖ 8 bytes of context

The context is the 8-byte initial key ID for the initial key, and otherwise the 4-byte derivation
ID (right half of the initial key ID) ‖ the 32-bit counter. The 96-bit KSN is initial key ID (BDK
ID ‖ derivation ID) ‖ counter. As in TDES DUKPT the host walks the counter's one-bits from the
most significant, deriving an intermediate derivation key per bit (usage 8000, typed like the
BDK); the working key is then derived from the last one with the requested usage and type. A
counter of 0 is never used and a terminal never produces one with more than 16 one-bits.

Working keys may be TDES (2- or 3-key) or AES of any size up to the BDK's strength (§6.1): the
algorithm indicators and lengths are in the table below. No DES parity is set on TDES working keys
(the X9.24-3 test vectors carry none).
"""

from __future__ import annotations

from enum import Enum, IntEnum

from paycrypt.crypto import primitives as p
from paycrypt.crypto.dukpt_tdes import InvalidKsnError

KSN_BYTES = 12
INITIAL_KEY_ID_BYTES = 8
MAX_COUNTER_ONE_BITS = 16

__all__ = [
    "InvalidKsnError",
    "KeyType",
    "KeyUsage",
    "bdk_key_type",
    "derive_initial_key",
    "derive_working_key",
    "ksn_counter",
    "working_key_from_derivation_key",
    "working_key_from_initial_key",
]


class KeyUsage(IntEnum):
    """Key usage indicators, X9.24-3-2017 §6.3.2 Table 2."""

    KEY_ENCRYPTION_KEY = 0x0002
    PIN_ENCRYPTION = 0x1000
    MAC_GENERATION = 0x2000
    MAC_VERIFICATION = 0x2001
    MAC_BOTH_WAYS = 0x2002
    DATA_ENCRYPT = 0x3000
    DATA_DECRYPT = 0x3001
    DATA_BOTH_WAYS = 0x3002
    KEY_DERIVATION = 0x8000
    KEY_DERIVATION_INITIAL = 0x8001


class KeyType(Enum):
    """Working and derivation key types, named as the API's DukptDerivationType.

    Value: (algorithm indicator of X9.24-3-2017 §6.3.2 Table 3, length in bits, strength in bits).
    """

    TDES_2KEY = (0x0000, 128, 80)
    TDES_3KEY = (0x0001, 192, 112)
    AES_128 = (0x0002, 128, 128)
    AES_192 = (0x0003, 192, 192)
    AES_256 = (0x0004, 256, 256)

    @property
    def indicator(self) -> int:
        return self.value[0]

    @property
    def bits(self) -> int:
        return self.value[1]

    @property
    def strength(self) -> int:
        return self.value[2]


_AES_BY_LENGTH = {16: KeyType.AES_128, 24: KeyType.AES_192, 32: KeyType.AES_256}


def bdk_key_type(bdk: bytes) -> KeyType:
    """An AES DUKPT BDK is an AES key; its length names its type."""
    try:
        return _AES_BY_LENGTH[len(bdk)]
    except KeyError:
        raise ValueError("AES DUKPT BDK must be a 16-, 24- or 32-byte AES key") from None


def ksn_counter(ksn: bytes) -> int:
    """Validate a 12-byte KSN and return its 32-bit transaction counter."""
    if len(ksn) != KSN_BYTES:
        raise InvalidKsnError(f"AES DUKPT key serial number must be {KSN_BYTES} bytes (24 hex)")
    counter = int.from_bytes(ksn[INITIAL_KEY_ID_BYTES:], "big")
    if counter == 0:
        raise InvalidKsnError("key serial number counter is 0, which names no transaction")
    if counter.bit_count() > MAX_COUNTER_ONE_BITS:
        raise InvalidKsnError(
            f"key serial number counter has more than {MAX_COUNTER_ONE_BITS} one-bits, "
            "which no X9.24-3 terminal produces"
        )
    return counter


def derive_initial_key(bdk: bytes, initial_key_id: bytes) -> bytes:
    """The terminal's initial key (IK) from the BDK and the 8-byte initial key ID (§6.3.3).

    The IK has the BDK's type. Callers holding a full KSN pass its first 8 bytes.
    """
    key_type = bdk_key_type(bdk)
    if len(initial_key_id) != INITIAL_KEY_ID_BYTES:
        raise InvalidKsnError("AES DUKPT initial key ID must be 8 bytes (16 hex)")
    return _derive(bdk, KeyUsage.KEY_DERIVATION_INITIAL, key_type, initial_key_id)


def derive_working_key(bdk: bytes, ksn: bytes, usage: KeyUsage, key_type: KeyType) -> bytes:
    """The working key a terminal used for this KSN, for one usage and key type."""
    ksn_counter(ksn)
    initial_key = derive_initial_key(bdk, ksn[:INITIAL_KEY_ID_BYTES])
    return working_key_from_initial_key(initial_key, ksn, usage, key_type)


def working_key_from_initial_key(initial_key: bytes, ksn: bytes, usage: KeyUsage, key_type: KeyType) -> bytes:
    """As derive_working_key, from an initial key the caller may have kept per device."""
    _check_working_key(bdk_key_type(initial_key), usage, key_type)
    derivation_key = intermediate_derivation_key(initial_key, ksn)
    return working_key_from_derivation_key(derivation_key, ksn, usage, key_type)


def working_key_from_derivation_key(
    derivation_key: bytes, ksn: bytes, usage: KeyUsage, key_type: KeyType
) -> bytes:
    """The working key from this KSN's intermediate derivation key (the last step of §6.4).

    Every usage of one transaction (PIN, MAC, data) comes from the same derivation key, so a
    caller that keeps it for a KSN derives each further working key with one AES call.
    """
    _check_working_key(bdk_key_type(derivation_key), usage, key_type)
    return _derive(derivation_key, usage, key_type, _context(ksn, ksn_counter(ksn)))


def _check_working_key(derivation_type: KeyType, usage: KeyUsage, key_type: KeyType) -> None:
    if key_type.strength > derivation_type.strength:
        raise ValueError(
            f"DUKPT derivation type {key_type.name} is stronger than the {derivation_type.name} BDK"
        )
    if usage in (KeyUsage.KEY_DERIVATION, KeyUsage.KEY_DERIVATION_INITIAL):
        raise ValueError("key derivation usages are internal to DUKPT, not working keys")


def intermediate_derivation_key(initial_key: bytes, ksn: bytes) -> bytes:
    """The derivation key for this KSN's counter: one derivation per counter one-bit (§6.4)."""
    counter = ksn_counter(ksn)
    derivation_type = bdk_key_type(initial_key)
    key = initial_key
    working_counter = 0
    for bit in reversed(range(32)):
        if counter >> bit & 1:
            working_counter |= 1 << bit
            key = _derive(key, KeyUsage.KEY_DERIVATION, derivation_type, _context(ksn, working_counter))
    return key


def _context(ksn: bytes, counter: int) -> bytes:
    return ksn[4:INITIAL_KEY_ID_BYTES] + counter.to_bytes(4, "big")


def _derive(derivation_key: bytes, usage: KeyUsage, key_type: KeyType, context: bytes) -> bytes:
    """X9.24-3-2017 §6.3.1 "Derive Key": AES-ECB over numbered derivation-data blocks."""
    header = (
        usage.to_bytes(2, "big") + key_type.indicator.to_bytes(2, "big") + key_type.bits.to_bytes(2, "big")
    )
    blocks = -(-key_type.bits // 128)
    data = b"".join(bytes([0x01, counter]) + header + context for counter in range(1, blocks + 1))
    return p.aes_ecb_encrypt(derivation_key, data)[: key_type.bits // 8]

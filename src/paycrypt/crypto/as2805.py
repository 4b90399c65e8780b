"""AS 2805 node-to-node key management and message security, as AWS Payment Cryptography computes it.

AS 2805 part 6 protects keys with variants (the KEK XORed with a per-purpose mask) instead of key
blocks, validates a freshly exchanged KEK with a random key and its complement, derives a
per-transaction PIN key (KPE) from the terminal PIN key, the STAN and the amount (AS 2805.6.4), and
MACs messages per AS 2805.4.1. The AWS guide names these functions without defining them; every
definition below follows AWS's public AS2805 examples (tracker issue 7), and is pinned by known
answers computed outside paycrypt from those same definitions. The standard itself is not public:
where it could differ, the docstring says what was chosen.

Every AS 2805 key and RN encryption here is TDES-CBC with a zero IV, chained across the blocks
of a double- or triple-length value (not ECB block by block); only the PIN block under KPE is
TDES-ECB. Values the API carries as hex or digit strings are taken as
strings and checked here, so that an error can name the API member it came from.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p

_T = TypeVar("_T")

# RandomKeySendVariantMask → (mask on the KEK for RandomKeySend, mask for RandomKeyReceive).
# Each pattern is repeated across the whole KEK: VARIANT_MASK_82 puts 0x82 (0x84 for the
# receive leg) in every byte; VARIANT_MASK_82C0 is the two-byte form, 82C0 (84C0) repeated.
KEK_VALIDATION_MASKS: Mapping[str, tuple[bytes, bytes]] = MappingProxyType(
    {
        "VARIANT_MASK_82": (bytes.fromhex("82"), bytes.fromhex("84")),
        "VARIANT_MASK_82C0": (bytes.fromhex("82C0"), bytes.fromhex("84C0")),
    }
)

# As2805KeyVariant → the pattern repeated across the KEK to wrap a key of that type. Variant 00
# (the terminal major key, i.e. a KEK under a KEK) carries no mask: an empty pattern.
KEY_VARIANT_MASKS: Mapping[str, bytes] = MappingProxyType(
    {
        "TERMINAL_MAJOR_KEY_VARIANT_00": b"",
        "PIN_ENCRYPTION_KEY_VARIANT_28": bytes.fromhex("28C0"),
        "MESSAGE_AUTHENTICATION_KEY_VARIANT_24": bytes.fromhex("24C0"),
        "DATA_ENCRYPTION_KEY_VARIANT_22": bytes.fromhex("22C0"),
    }
)

# KekValidationRequest.DeriveKeyAlgorithm → length of the random key RN; AS 2805 is TDES only.
RANDOM_KEY_LENGTHS: Mapping[str, int] = MappingProxyType({"TDES_2KEY": 16, "TDES_3KEY": 24})

# KekValidationRequest.RandomKeyMaxLength → the cap on RN's length.
RANDOM_KEY_MAX_LENGTHS: Mapping[str, int] = MappingProxyType({"BYTES_8": 8, "BYTES_16": 16, "BYTES_24": 24})

TDES_KEY_LENGTHS = (16, 24)
RANDOM_KEY_MATERIAL_LENGTHS = (8, 16, 24)  # As2805RandomKeyMaterial: 16, 32 or 48 hex
STAN_DIGITS = 6
AMOUNT_DIGITS = 12
MAC_BLOCK = 8
MIN_MAC_LENGTH = 4  # the API's MacLength minimum; shorter MACs would be too easy to guess
DEFAULT_MAC_LENGTH = 4  # the leftmost 4 bytes, as in the guide's AS2805_4_1 example (8 hex)


# --- variants -------------------------------------------------------------------------------


def apply_variant(kek: bytes, pattern: bytes) -> bytes:
    """XOR `pattern`, repeated to the KEK's length, into the KEK (an empty pattern is no mask).

    Why repeat: AS 2805 variants mask every byte (or every byte pair) of a double- or
    triple-length KEK, so the same mask survives the K1K2 → K1K2K1 expansion.
    """
    _require_tdes_key(kek, "KEK")
    if not pattern:
        return kek
    mask = (pattern * (len(kek) // len(pattern) + 1))[: len(kek)]
    return p.xor(kek, mask)


def complement_with_parity(key: bytes) -> bytes:
    """The one's complement of a DES key, with odd parity restored on every byte.

    Why restore parity: the peer treats ~RN as a key; complementing an 8-bit byte keeps its
    parity, so this only changes bytes of an RN that did not have odd parity to begin with.
    """
    return p.set_odd_parity(bytes(b ^ 0xFF for b in key))


# --- KEK validation (GenerateAs2805KekValidation) ------------------------------------------------


def random_key_length(derive_key_algorithm: str, random_key_max_length: str | None = None) -> int:
    """RN's length: the DeriveKeyAlgorithm's key length, capped (never extended) by RandomKeyMaxLength."""
    length = _lookup(RANDOM_KEY_LENGTHS, derive_key_algorithm, "DeriveKeyAlgorithm")
    if random_key_max_length is None:
        return length
    return min(length, _lookup(RANDOM_KEY_MAX_LENGTHS, random_key_max_length, "RandomKeyMaxLength"))


def generate_random_key(length: int) -> bytes:
    """A fresh RN with odd parity.

    Why odd parity: RN is a DES key, and with odd parity its one's complement is the same
    whether or not the peer restores parity — the most interoperable choice.
    """
    if length not in RANDOM_KEY_MATERIAL_LENGTHS:
        raise ValueError("random key length must be 8, 16 or 24 bytes")
    return p.set_odd_parity(secrets.token_bytes(length))


def kek_validation_request(kek: bytes, variant_mask: str, random_key: bytes) -> tuple[str, str]:
    """Request mode: (RandomKeySend, RandomKeyReceive) as uppercase hex for a given RN.

    RandomKeySend (KRs) is RN under KEK ⊕ request mask; RandomKeyReceive (KRr) is ~RN under
    KEK ⊕ response mask: the value the peer's response must equal. RN is a parameter (draw it
    with `generate_random_key`) so the computation stays deterministic and testable.
    """
    send_mask, receive_mask = _lookup(KEK_VALIDATION_MASKS, variant_mask, "RandomKeySendVariantMask")
    if len(random_key) not in RANDOM_KEY_MATERIAL_LENGTHS:
        raise ValueError("random key length must be 8, 16 or 24 bytes")
    send = p.tdes_cbc_encrypt(apply_variant(kek, send_mask), random_key)
    receive = p.tdes_cbc_encrypt(apply_variant(kek, receive_mask), complement_with_parity(random_key))
    return send.hex().upper(), receive.hex().upper()


def kek_validation_response(kek: bytes, variant_mask: str, random_key_send: str) -> str:
    """Response mode: the RandomKeyReceive (uppercase hex) answering the peer's RandomKeySend.

    Decrypts KRs under KEK ⊕ request mask, complements RN (parity restored) and encrypts it
    under KEK ⊕ response mask — the same KRr the requesting node computed for itself.
    """
    send_mask, receive_mask = _lookup(KEK_VALIDATION_MASKS, variant_mask, "RandomKeySendVariantMask")
    send = _hex(random_key_send, "RandomKeySend")
    if len(send) not in RANDOM_KEY_MATERIAL_LENGTHS:
        raise ValueError("RandomKeySend must be 16, 32 or 48 hexadecimal characters")
    random_key = p.tdes_cbc_decrypt(apply_variant(kek, send_mask), send)
    receive = p.tdes_cbc_encrypt(apply_variant(kek, receive_mask), complement_with_parity(random_key))
    return receive.hex().upper()


# --- variant key cryptograms (As2805KeyCryptogram on ImportKey / ExportKey) ------------------------


def wrap_key_cryptogram(kek: bytes, key: bytes, variant: str) -> str:
    """The key under TDES-CBC (IV 0) with KEK ⊕ the variant's mask, as uppercase hex (no prefix).

    A cryptogram carries no integrity check: the receiver compares KCVs to detect a wrong KEK,
    variant or a damaged cryptogram.
    """
    pattern = _lookup(KEY_VARIANT_MASKS, variant, "As2805KeyVariant")
    _require_tdes_key(key, "exported key")
    return p.tdes_cbc_encrypt(apply_variant(kek, pattern), key).hex().upper()


def unwrap_key_cryptogram(kek: bytes, cryptogram: str, variant: str) -> bytes:
    """The clear key inside a WrappedKeyCryptogram made by `wrap_key_cryptogram` (or a peer)."""
    pattern = _lookup(KEY_VARIANT_MASKS, variant, "As2805KeyVariant")
    wrapped = _hex(cryptogram, "WrappedKeyCryptogram")
    if len(wrapped) not in TDES_KEY_LENGTHS:
        raise ValueError("WrappedKeyCryptogram must be 32 or 48 hexadecimal characters (a TDES key)")
    return p.tdes_cbc_decrypt(apply_variant(kek, pattern), wrapped)


# --- session PIN key (AS 2805.6.4) --------------------------------------------------------------


def pek_derivation_data(stan: str, amount: str) -> bytes:
    """D = E ‖ F: the 6-digit STAN left-justified and zero-filled to 8 bytes (E), then the
    12-digit amount right-justified and zero-filled to 8 bytes (F), both packed BCD."""
    _require_digits(stan, STAN_DIGITS, "SystemTraceAuditNumber")
    _require_digits(amount, AMOUNT_DIGITS, "TransactionAmount")
    return bytes.fromhex(stan.ljust(16, "0") + amount.rjust(16, "0"))


def one_way_function(key: bytes, data: bytes) -> bytes:
    """OWF(K, D) = TDES-CBC(K, D, IV = M) ⊕ D, where M is the last block of TDES-CBC(K, D, IV 0).

    Why chain twice: feeding the first pass's MAC back as the IV makes every output block
    depend on all of D, and the final XOR with D makes the result non-invertible under K.
    """
    _require_tdes_key(key, "OWF key")
    if not data or len(data) % MAC_BLOCK:
        raise ValueError("OWF data must be a non-empty multiple of 8 bytes")
    m = p.tdes_cbc_encrypt(key, data)[-MAC_BLOCK:]
    return p.xor(p.tdes_cbc_encrypt(key, data, m), data)


def session_pin_key(kpp: bytes, stan: str, amount: str) -> bytes:
    """KPE = OWF(KPP, D): the 16-byte per-transaction PIN key.

    Left as the OWF returns it (no parity adjustment): DES ignores parity, and the issue's
    known answer is unadjusted.
    """
    return one_way_function(kpp, pek_derivation_data(stan, amount))


def decrypt_session_pin_block(kpp: bytes, stan: str, amount: str, encrypted_pin_block: str) -> bytes:
    """The clear PIN block of an EncryptedPinBlock sent under the transaction's KPE (TDES-ECB)."""
    block = _hex(encrypted_pin_block, "EncryptedPinBlock")
    if len(block) != MAC_BLOCK:
        raise ValueError("EncryptedPinBlock must be 16 hexadecimal characters under a TDES key")
    return p.tdes_ecb_decrypt(session_pin_key(kpp, stan, amount), block)


# --- AS 2805.4.1 MAC ----------------------------------------------------------------------------


def generate_mac(key: bytes, message_data: str, mac_length: int | None = None) -> str:
    """ISO 9797-1 MAC algorithm 3 over zero-padded (method 1) data, leftmost MacLength bytes, hex.

    AWS's AS2805 examples compute AS2805_4_1 this way; no independent known answer exists.
    """
    length = DEFAULT_MAC_LENGTH if mac_length is None else mac_length
    if not MIN_MAC_LENGTH <= length <= MAC_BLOCK:
        raise ValueError("MacLength must be between 4 and 8 bytes for AS2805_4_1")
    return _full_mac(key, message_data)[:length].hex().upper()


def _full_mac(key: bytes, message_data: str) -> bytes:
    _require_tdes_key(key, "MAC key")
    data = _hex(message_data, "MessageData")
    return iso9797.mac_algorithm3(key, iso9797.pad_method1(data))


# --- input checks -------------------------------------------------------------------------------


def _lookup(table: Mapping[str, _T], name: str, field: str) -> _T:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"{field} must be one of {', '.join(table)}") from None


def _hex(value: str, field: str) -> bytes:
    if not all(c in string.hexdigits for c in value):
        raise ValueError(f"{field} must be hexadecimal")
    if len(value) % 2:
        raise ValueError(f"{field} must have an even number of hexadecimal characters")
    return bytes.fromhex(value)


def _require_digits(value: str, count: int, field: str) -> None:
    if len(value) != count or not (value.isascii() and value.isdigit()):
        raise ValueError(f"{field} must be exactly {count} decimal digits")


def _require_tdes_key(key: bytes, what: str) -> None:
    if len(key) not in TDES_KEY_LENGTHS:
        raise ValueError(f"{what} must be a TDES_2KEY or TDES_3KEY key (16 or 24 bytes)")

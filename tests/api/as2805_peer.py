"""An AS2805 peer node for the node-to-node tests, written with plain `cryptography` only.

It shares no code with paycrypt (nor with the other test terminals): every value is computed here
from issue 7's definitions, which follow AWS's public AS2805 examples —
- variant cryptograms: the key under TDES-CBC (IV 0) with KEK ⊕ the variant pattern repeated
  (28C0, 22C0, 24C0; none for variant 00);
- KEK validation: KRs = RN under KEK ⊕ 82.. (or 82C0..), KRr = ~RN (odd parity) under KEK ⊕ 84..
  (or 84C0..), TDES-CBC IV 0;
- session PIN key: KPE = OWF(KPP, D), D = STAN left-justified and amount right-justified, each
  zero-filled to 8 bytes; OWF(K, D) = TDES-CBC(K, D, IV = last block of TDES-CBC(K, D)) ⊕ D; the
  PIN block (ISO 9564 format 0) under KPE with TDES-ECB;
- AS2805.4.1 MAC: ISO 9797-1 MAC algorithm 3, zero padding, leftmost 4 bytes;
- KCV: the leftmost 3 bytes of TDES-ECB(key, 0^8).
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

VARIANTS = {
    "TERMINAL_MAJOR_KEY_VARIANT_00": b"",
    "PIN_ENCRYPTION_KEY_VARIANT_28": bytes.fromhex("28C0"),
    "DATA_ENCRYPTION_KEY_VARIANT_22": bytes.fromhex("22C0"),
    "MESSAGE_AUTHENTICATION_KEY_VARIANT_24": bytes.fromhex("24C0"),
}
KEK_VALIDATION = {
    "VARIANT_MASK_82": (bytes.fromhex("82"), bytes.fromhex("84")),
    "VARIANT_MASK_82C0": (bytes.fromhex("82C0"), bytes.fromhex("84C0")),
}


def _tdes(key: bytes, data: bytes, mode: modes.Mode, decrypt: bool = False) -> bytes:
    cipher = Cipher(TripleDES(key), mode)
    worker = cipher.decryptor() if decrypt else cipher.encryptor()
    return worker.update(data) + worker.finalize()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _odd_parity(key: bytes) -> bytes:
    return bytes((b & 0xFE) | (bin(b >> 1).count("1") + 1) % 2 for b in key)


def new_key(length: int = 16) -> bytes:
    return _odd_parity(secrets.token_bytes(length))


def kcv(key: bytes) -> str:
    return _tdes(key, bytes(8), modes.ECB())[:3].hex().upper()


def masked(kek: bytes, pattern: bytes) -> bytes:
    if not pattern:
        return kek
    return _xor(kek, (pattern * len(kek))[: len(kek)])


def wrap(kek: bytes, key: bytes, variant: str) -> str:
    return _tdes(masked(kek, VARIANTS[variant]), key, modes.CBC(bytes(8))).hex().upper()


def unwrap(kek: bytes, cryptogram: str, variant: str) -> bytes:
    return _tdes(masked(kek, VARIANTS[variant]), bytes.fromhex(cryptogram), modes.CBC(bytes(8)), decrypt=True)


def kek_validation_request(kek: bytes, mask: str, length: int = 16) -> tuple[str, str]:
    """(KRs to send, the KRr the answer must equal)."""
    send, receive = KEK_VALIDATION[mask]
    rn = new_key(length)
    complement = _odd_parity(bytes(b ^ 0xFF for b in rn))
    krs = _tdes(masked(kek, send), rn, modes.CBC(bytes(8)))
    krr = _tdes(masked(kek, receive), complement, modes.CBC(bytes(8)))
    return krs.hex().upper(), krr.hex().upper()


def kek_validation_answer(kek: bytes, mask: str, krs: str) -> str:
    send, receive = KEK_VALIDATION[mask]
    rn = _tdes(masked(kek, send), bytes.fromhex(krs), modes.CBC(bytes(8)), decrypt=True)
    complement = _odd_parity(bytes(b ^ 0xFF for b in rn))
    return _tdes(masked(kek, receive), complement, modes.CBC(bytes(8))).hex().upper()


def session_pin_key(kpp: bytes, stan: str, amount: str) -> bytes:
    d = bytes.fromhex(stan.ljust(16, "0") + amount.rjust(16, "0"))
    m = _tdes(kpp, d, modes.CBC(bytes(8)))[-8:]
    return _xor(_tdes(kpp, d, modes.CBC(m)), d)


def _pan_field(pan: str) -> bytes:
    return bytes.fromhex("0000" + pan[-13:-1])


def pin_block(key: bytes, pin: str, pan: str) -> str:
    """An ISO 9564 format 0 PIN block under `key` (TDES-ECB)."""
    clear = _xor(bytes.fromhex(f"0{len(pin)}{pin}".ljust(16, "F")), _pan_field(pan))
    return _tdes(key, clear, modes.ECB()).hex().upper()


def read_pin(key: bytes, block: str, pan: str) -> str:
    clear = _xor(_tdes(key, bytes.fromhex(block), modes.ECB(), decrypt=True), _pan_field(pan)).hex()
    assert clear[0] == "0", "not an ISO 9564 format 0 block"
    return clear[2 : 2 + int(clear[1], 16)]


def as2805_mac(key: bytes, message: bytes, length: int = 4) -> str:
    """ISO 9797-1 algorithm 3: single-DES CBC under K1 over zero-padded data, then D(K2), E(K1)."""
    padded = message + bytes(-len(message) % 8) if message else bytes(8)
    k1, k2 = key[:8], key[8:16]
    last = _tdes(k1 * 3, padded, modes.CBC(bytes(8)))[-8:]
    last = _tdes(k2 * 3, last, modes.ECB(), decrypt=True)
    return _tdes(k1 * 3, last, modes.ECB())[:length].hex().upper()

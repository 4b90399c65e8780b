"""The terminal side of DUKPT, written from the standards for the tests (pin_terminal and
mac_data_terminal both derive their keys here).

Independent of paycrypt's code on purpose: the ciphers are plain `cryptography` calls and the
derivations are written here from their definitions, so a test that passes shows paycrypt
computes what a terminal computes.

- TDES DUKPT, ANSI X9.24-1:2009 A.2/A.6: IPEK, non-reversible key generation per counter
  one-bit, then the working-key variants (PIN 00..FF, MAC request 00..FF00, MAC response
  00..FF000000, data request 00..FF0000, data response 00..FF00000000 in each half), the data
  keys passed once more through TDES-ECB under themselves (each half).
- AES DUKPT, ANSI X9.24-3-2017 §6.3: derivation data 01 ‖ counter ‖ usage ‖ algorithm ‖ bits ‖
  context; initial key (8001), intermediate derivation keys per counter one-bit (8000), then
  the working key of the given usage (1000 PIN, 2000-2002 MAC, 3000-3002 data).
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def tdes_algorithm(key: bytes) -> TripleDES:
    """TripleDES under a double-length (K1 K2 K1) or triple-length key."""
    return TripleDES(key + key[:8] if len(key) == 16 else key)


def run(cipher: Cipher, data: bytes, decrypt: bool = False) -> bytes:
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    return run(Cipher(tdes_algorithm(key), modes.ECB()), data, decrypt)


def aes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    return run(Cipher(algorithms.AES(key), modes.ECB()), data, decrypt)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# --- TDES DUKPT (ANSI X9.24-1:2009) -------------------------------------------------------------

_C0 = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
TDES_VARIANTS = {
    "PIN": bytes.fromhex("00000000000000FF" * 2),
    "MAC_REQUEST": bytes.fromhex("000000000000FF00" * 2),
    "MAC_RESPONSE": bytes.fromhex("00000000FF000000" * 2),
    "DATA_REQUEST": bytes.fromhex("0000000000FF0000" * 2),
    "DATA_RESPONSE": bytes.fromhex("000000FF00000000" * 2),
}


def tdes_dukpt_key(bdk: bytes, ksn: bytes, variant: str) -> bytes:
    """The working key of `variant` (a TDES_VARIANTS name) for the 10-byte KSN under a TDES BDK."""
    counter = int.from_bytes(ksn[-3:], "big") & 0x1FFFFF
    initial = (int.from_bytes(ksn, "big") & ~0x1FFFFF).to_bytes(10, "big")[:8]
    key = tdes_ecb(bdk, initial) + tdes_ecb(xor(bdk, _C0), initial)
    register = int.from_bytes(ksn[2:], "big") & ~0x1FFFFF
    for bit in range(20, -1, -1):
        if counter >> bit & 1:
            register |= 1 << bit
            reg = register.to_bytes(8, "big")

            def half(k: bytes, reg: bytes = reg) -> bytes:
                return xor(tdes_ecb(k[:8] * 3, xor(reg, k[8:])), k[8:])

            key = half(xor(key, _C0)) + half(key)
    key = xor(key, TDES_VARIANTS[variant])
    if variant.startswith("DATA"):
        key = tdes_ecb(key, key[:8]) + tdes_ecb(key, key[8:])
    return key


# --- AES DUKPT (ANSI X9.24-3-2017) --------------------------------------------------------------

# DukptDerivationType -> (algorithm indicator, key length in bits)
AES_DUKPT_TYPES = {
    "TDES_2KEY": (0, 128),
    "TDES_3KEY": (1, 192),
    "AES_128": (2, 128),
    "AES_192": (3, 192),
    "AES_256": (4, 256),
}


def _aes_derive(key: bytes, usage: int, key_type: str, context: bytes) -> bytes:
    algorithm, bits = AES_DUKPT_TYPES[key_type]
    data = b"".join(
        bytes([1, i])
        + usage.to_bytes(2, "big")
        + algorithm.to_bytes(2, "big")
        + bits.to_bytes(2, "big")
        + context
        for i in range(1, -(-bits // 128) + 1)
    )
    return aes_ecb(key, data)[: bits // 8]


def aes_dukpt_key(bdk: bytes, ksn: bytes, usage: int, key_type: str | None = None) -> bytes:
    """The working key of `usage` for the 12-byte KSN; `key_type` defaults to the BDK's type."""
    bdk_type = {16: "AES_128", 24: "AES_192", 32: "AES_256"}[len(bdk)]
    key = _aes_derive(bdk, 0x8001, bdk_type, ksn[:8])
    counter = int.from_bytes(ksn[8:], "big")
    walked = 0
    for bit in range(31, -1, -1):
        if counter >> bit & 1:
            walked |= 1 << bit
            key = _aes_derive(key, 0x8000, bdk_type, ksn[4:8] + walked.to_bytes(4, "big"))
    return _aes_derive(key, usage, key_type or bdk_type, ksn[4:8] + counter.to_bytes(4, "big"))

"""A card-data terminal and a MAC-ing peer, written from the standards for the MAC and data tests.

Independent of paycrypt's code on purpose: every cipher is a plain `cryptography` call and each
derivation is written here from its definition, so a test that passes shows paycrypt computes
what a terminal or a partner computes.

- ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC) and 3 (retail MAC), padding method 1 (zeros, none
  for aligned data) and method 2 (80 00..); NIST SP 800-38B CMAC; RFC 2104 HMAC.
- TDES DUKPT, ANSI X9.24-1:2009 A.2/A.6: IPEK, non-reversible key generation per counter
  one-bit, then the working-key variants (PIN 00..FF, MAC request 00..FF00, MAC response
  00..FF000000, data request 00..FF0000, data response 00..FF00000000 in each half), the data
  keys passed once more through TDES-ECB under themselves (each half).
- AES DUKPT, ANSI X9.24-3-2017 §6.3: derivation data 01 ‖ counter ‖ usage ‖ algorithm ‖ bits ‖
  context; initial key (8001), intermediate derivation keys per counter one-bit (8000), working
  key usages 2000/2001/2002 (MAC generate/verify/both) and 3000/3001/3002 (data).
- The API's DukptKeyVariant read as the message direction (guide L4948): REQUEST terminal →
  host, RESPONSE host → terminal; BIDIRECTIONAL is AES's "both ways" usage and, X9.24-1 having
  no such key, the TDES request variant.
"""

from __future__ import annotations

import hmac as _hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def _tdes(key: bytes) -> TripleDES:
    return TripleDES(key + key[:8] if len(key) == 16 else key)


def _run(cipher: Cipher, data: bytes, decrypt: bool) -> bytes:
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def tdes(key: bytes, data: bytes, mode: modes.Mode, decrypt: bool = False) -> bytes:
    return _run(Cipher(_tdes(key), mode), data, decrypt)


def aes(key: bytes, data: bytes, mode: modes.Mode, decrypt: bool = False) -> bytes:
    return _run(Cipher(algorithms.AES(key), mode), data, decrypt)


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# --- MACs ---------------------------------------------------------------------------------------


def pad1(data: bytes, block: int = 8) -> bytes:
    return data if data and len(data) % block == 0 else data + bytes(block - len(data) % block)


def pad2(data: bytes, block: int = 8) -> bytes:
    data += b"\x80"
    return data + bytes(-len(data) % block)


def cbc_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 1 under the whole TDES key (data already padded)."""
    return tdes(key, data, modes.CBC(bytes(8)))[-8:]


def retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO 9797-1 MAC algorithm 3: DES-CBC under K1, then decrypt K2, encrypt K3 (or K1)."""
    k1, k2 = key[:8], key[8:16]
    k3 = key[16:24] or k1
    h = tdes(k1 * 3, data, modes.CBC(bytes(8)))[-8:]
    h = tdes(k2 * 3, h, modes.ECB(), decrypt=True)
    return tdes(k3 * 3, h, modes.ECB())


def cmac(key: bytes, data: bytes, family: str) -> bytes:
    c = _cmac.CMAC(_tdes(key) if family == "TDES" else algorithms.AES(key))
    c.update(data)
    return c.finalize()


def hmac(key: bytes, data: bytes, hash_name: str) -> bytes:
    return _hmac.new(key, data, hash_name).digest()


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
    counter = int.from_bytes(ksn[-3:], "big") & 0x1FFFFF
    initial = (int.from_bytes(ksn, "big") & ~0x1FFFFF).to_bytes(10, "big")[:8]
    key = tdes(bdk, initial, modes.ECB()) + tdes(xor(bdk, _C0), initial, modes.ECB())
    register = int.from_bytes(ksn[2:], "big") & ~0x1FFFFF
    for bit in range(20, -1, -1):
        if counter >> bit & 1:
            register |= 1 << bit
            reg = register.to_bytes(8, "big")

            def half(k: bytes, reg: bytes = reg) -> bytes:
                return xor(tdes(k[:8] * 3, xor(reg, k[8:]), modes.ECB()), k[8:])

            key = half(xor(key, _C0)) + half(key)
    key = xor(key, TDES_VARIANTS[variant])
    if variant.startswith("DATA"):
        key = tdes(key, key[:8], modes.ECB()) + tdes(key, key[8:], modes.ECB())
    return key


def tdes_terminal_key(bdk: bytes, ksn: bytes, purpose: str, direction: str) -> bytes:
    """purpose MAC or DATA; direction REQUEST, RESPONSE or BIDIRECTIONAL (= request)."""
    return tdes_dukpt_key(bdk, ksn, f"{purpose}_{'RESPONSE' if direction == 'RESPONSE' else 'REQUEST'}")


# --- AES DUKPT (ANSI X9.24-3-2017) --------------------------------------------------------------

AES_TYPES = {
    "TDES_2KEY": (0, 128),
    "TDES_3KEY": (1, 192),
    "AES_128": (2, 128),
    "AES_192": (3, 192),
    "AES_256": (4, 256),
}
AES_USAGES = {
    ("MAC", "REQUEST"): 0x2000,
    ("MAC", "RESPONSE"): 0x2001,
    ("MAC", "BIDIRECTIONAL"): 0x2002,
    ("DATA", "REQUEST"): 0x3000,
    ("DATA", "RESPONSE"): 0x3001,
    ("DATA", "BIDIRECTIONAL"): 0x3002,
}


def _derive(key: bytes, usage: int, key_type: str, context: bytes) -> bytes:
    algorithm, bits = AES_TYPES[key_type]
    data = b"".join(
        bytes([1, i])
        + usage.to_bytes(2, "big")
        + algorithm.to_bytes(2, "big")
        + bits.to_bytes(2, "big")
        + context
        for i in range(1, -(-bits // 128) + 1)
    )
    return aes(key, data, modes.ECB())[: bits // 8]


def aes_terminal_key(
    bdk: bytes, ksn: bytes, purpose: str, direction: str, key_type: str | None = None
) -> bytes:
    bdk_type = {16: "AES_128", 24: "AES_192", 32: "AES_256"}[len(bdk)]
    key = _derive(bdk, 0x8001, bdk_type, ksn[:8])
    counter = int.from_bytes(ksn[8:], "big")
    walked = 0
    for bit in range(31, -1, -1):
        if counter >> bit & 1:
            walked |= 1 << bit
            key = _derive(key, 0x8000, bdk_type, ksn[4:8] + walked.to_bytes(4, "big"))
    return _derive(key, AES_USAGES[(purpose, direction)], key_type or bdk_type, ksn[4:8] + ksn[8:])

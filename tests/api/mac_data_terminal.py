"""A card-data terminal and a MAC-ing peer, written from the standards for the MAC and data tests.

Independent of paycrypt's code on purpose: every cipher is a plain `cryptography` call and each
derivation is written here from its definition, so a test that passes shows paycrypt computes
what a terminal or a partner computes.

- ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC) and 3 (retail MAC), padding method 1 (zeros, none
  for aligned data) and method 2 (80 00..); NIST SP 800-38B CMAC; RFC 2104 HMAC.
- TDES and AES DUKPT working keys as tests/api/dukpt_terminal.py derives them (X9.24-1:2009
  variants, X9.24-3-2017 usages 2000/2001/2002 for MAC generate/verify/both and 3000/3001/3002
  for data).
- The API's DukptKeyVariant read as the message direction (guide L4948): REQUEST terminal →
  host, RESPONSE host → terminal; BIDIRECTIONAL is AES's "both ways" usage and, X9.24-1 having
  no such key, the TDES request variant.
"""

from __future__ import annotations

import hmac as _hmac

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.api import dukpt_terminal as dukpt

_tdes, _run, xor = dukpt.tdes_algorithm, dukpt.run, dukpt.xor


def tdes(key: bytes, data: bytes, mode: modes.Mode, decrypt: bool = False) -> bytes:
    return _run(Cipher(_tdes(key), mode), data, decrypt)


def aes(key: bytes, data: bytes, mode: modes.Mode, decrypt: bool = False) -> bytes:
    return _run(Cipher(algorithms.AES(key), mode), data, decrypt)


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


# --- DUKPT (the derivations are tests/api/dukpt_terminal.py's) -----------------------------------

TDES_VARIANTS = dukpt.TDES_VARIANTS
tdes_dukpt_key = dukpt.tdes_dukpt_key


def tdes_terminal_key(bdk: bytes, ksn: bytes, purpose: str, direction: str) -> bytes:
    """purpose MAC or DATA; direction REQUEST, RESPONSE or BIDIRECTIONAL (= request)."""
    return tdes_dukpt_key(bdk, ksn, f"{purpose}_{'RESPONSE' if direction == 'RESPONSE' else 'REQUEST'}")


# --- AES DUKPT (ANSI X9.24-3-2017) --------------------------------------------------------------

AES_TYPES = dukpt.AES_DUKPT_TYPES
AES_USAGES = {
    ("MAC", "REQUEST"): 0x2000,
    ("MAC", "RESPONSE"): 0x2001,
    ("MAC", "BIDIRECTIONAL"): 0x2002,
    ("DATA", "REQUEST"): 0x3000,
    ("DATA", "RESPONSE"): 0x3001,
    ("DATA", "BIDIRECTIONAL"): 0x3002,
}


def aes_terminal_key(
    bdk: bytes, ksn: bytes, purpose: str, direction: str, key_type: str | None = None
) -> bytes:
    return dukpt.aes_dukpt_key(bdk, ksn, AES_USAGES[(purpose, direction)], key_type)

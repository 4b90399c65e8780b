"""Key check values, as AWS Payment Cryptography computes them for each KeyCheckValueAlgorithm.

ANSI X9.24: TDES-ECB of eight zero bytes. CMAC: AES-CMAC of sixteen zero bytes. HMAC: HMAC of the
empty message with the key's own hash. Each keeps the leftmost three bytes. SHA-1 (asymmetric keys):
the first four bytes of SHA-1 over the DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import hashlib

from paycrypt.crypto import primitives as p


def ansi_x9_24(key: bytes) -> bytes:
    return p.tdes_ecb_encrypt(key, bytes(8))[:3]


def aes_cmac(key: bytes) -> bytes:
    return p.aes_cmac(key, bytes(16))[:3]


def tdes_cmac(key: bytes) -> bytes:
    return p.tdes_cmac(key, bytes(8))[:3]


def hmac(key: bytes, hash_name: str) -> bytes:
    return p.hmac_digest(key, b"", hash_name)[:3]


def sha1_public_key(spki_der: bytes) -> bytes:
    return hashlib.sha1(spki_der).digest()[:4]

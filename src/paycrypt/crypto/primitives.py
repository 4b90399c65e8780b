"""Block-cipher primitives: the one place that touches TDES and AES in `cryptography`.

Why one module: `cryptography` has moved TripleDES to `hazmat.decrepit` and deprecates
16-byte (two-key) TDES keys. Every TDES key is expanded to K1K2K1 here, so a future change
of library or of its deprecations touches this file only.
"""

from __future__ import annotations

import hmac as _hmac
import warnings

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

DES_BLOCK = 8
AES_BLOCK = 16
_ECB = modes.ECB()  # stateless: one instance serves every ECB cipher


def tdes_key(key: bytes) -> bytes:
    """Expand a DES, two-key or three-key TDES key to the 24-byte K1K2K3 form."""
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return key
    raise ValueError("TDES key must be 8, 16 or 24 bytes")


def _tdes(key: bytes) -> TripleDES:
    return TripleDES(tdes_key(key))


def _run(cipher: Cipher, data: bytes, encrypt: bool) -> bytes:
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return ctx.update(data) + ctx.finalize()


def tdes_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    return _run(Cipher(_tdes(key), _ECB), data, True)


def tdes_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    return _run(Cipher(_tdes(key), _ECB), data, False)


def tdes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    return _run(Cipher(_tdes(key), modes.CBC(iv)), data, True)


def tdes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    return _run(Cipher(_tdes(key), modes.CBC(iv)), data, False)


def des_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    """Single DES as TDES with K1=K2=K3 (the only way OpenSSL 3 still offers it)."""
    if len(key) != 8:
        raise ValueError("DES key must be 8 bytes")
    return tdes_ecb_encrypt(key, data)


def des_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    if len(key) != 8:
        raise ValueError("DES key must be 8 bytes")
    return tdes_ecb_decrypt(key, data)


def aes_ecb_encrypt(key: bytes, data: bytes) -> bytes:
    return _run(Cipher(algorithms.AES(key), _ECB), data, True)


def aes_ecb_decrypt(key: bytes, data: bytes) -> bytes:
    return _run(Cipher(algorithms.AES(key), _ECB), data, False)


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    return _run(Cipher(algorithms.AES(key), modes.CBC(iv)), data, True)


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    return _run(Cipher(algorithms.AES(key), modes.CBC(iv)), data, False)


def tdes_cipher(key: bytes, mode: modes.Mode) -> Cipher:
    """A TDES Cipher for callers that need a mode not wrapped above (CFB, OFB)."""
    return Cipher(_tdes(key), mode)


def aes_cipher(key: bytes, mode: modes.Mode) -> Cipher:
    return Cipher(algorithms.AES(key), mode)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    c = _cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def tdes_cmac(key: bytes, data: bytes) -> bytes:
    c = _cmac.CMAC(_tdes(key))
    c.update(data)
    return c.finalize()


def hmac_digest(key: bytes, data: bytes, hash_name: str) -> bytes:
    """HMAC with a hashlib name ('sha256', ...)."""
    return _hmac.new(key, data, hash_name).digest()


def xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("xor operands differ in length")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def set_odd_parity(key: bytes) -> bytes:
    """Give every byte odd parity, as DES keys carry it in the low bit."""
    return bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in key)


def has_odd_parity(key: bytes) -> bool:
    return all(bin(b).count("1") % 2 == 1 for b in key)


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """Compare MACs, CVVs and PINs without leaking where they differ."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return _hmac.compare_digest(a, b)

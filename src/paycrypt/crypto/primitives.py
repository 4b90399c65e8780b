"""Block-cipher primitives: the one place that touches TDES and AES in `cryptography`.

Why one module: `cryptography` has moved TripleDES to `hazmat.decrepit` and deprecates
16-byte (two-key) TDES keys. Every TDES key is expanded to K1K2K1 here, so a future change
of library or of its deprecations touches this file only.

Why `CipherKey`: building a cipher context costs far more than the cipher (about 11 µs for a TDES
context against 1 µs to encrypt a block with one, most of it OpenSSL's key schedule and algorithm
fetch), and a data-plane call uses the same few keys over and over. A `CipherKey` is a key with
the ECB contexts built from it on first use and kept; the key cache (vault.keycache) holds one
per unsealed key, in the key's own entry, so the contexts live and die with the material. The
ECB functions below take a `CipherKey` or plain bytes (a `Key`); plain bytes get contexts built
for the one call, as before.
"""

from __future__ import annotations

import hmac as _hmac
import threading
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

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


# --- keys with their ECB contexts -----------------------------------------------------------------

_NOT_WHOLE_BLOCKS = "The length of the provided data is not a multiple of the block length."

# The contexts a CipherKey may hold, by slot: TDES under the whole key (K1K2K3), AES, and single
# DES under each 8-byte part of the K1K2K3 expansion (CVV's first step and the retail MAC's).
_TDES_ENCRYPT, _TDES_DECRYPT, _AES_ENCRYPT, _AES_DECRYPT = range(4)
_DES_ENCRYPT, _DES_DECRYPT = 4, 7  # + part (0, 1, 2)


def _des_part(key: bytes, part: int) -> TripleDES:
    return TripleDES(tdes_key(key)[8 * part : 8 * part + 8] * 3)


_BUILD: tuple[Callable[[bytes], Any], ...] = (
    lambda key: Cipher(_tdes(key), _ECB).encryptor(),
    lambda key: Cipher(_tdes(key), _ECB).decryptor(),
    lambda key: Cipher(algorithms.AES(key), _ECB).encryptor(),
    lambda key: Cipher(algorithms.AES(key), _ECB).decryptor(),
    *(lambda key, part=part: Cipher(_des_part(key, part), _ECB).encryptor() for part in range(3)),
    *(lambda key, part=part: Cipher(_des_part(key, part), _ECB).decryptor() for part in range(3)),
)


class CipherKey:
    """A key and the ECB cipher contexts built from it, each on first use and then kept.

    Why a kept ECB context gives the right answer: ECB carries nothing from one block to the next,
    so a context fed whole blocks and never finalized enciphers each call's blocks exactly as a
    fresh context would. A partial block would stay buffered in it and spoil the next call, so
    every method refuses data that is not whole blocks (with the message a fresh context's
    `finalize` gives). Threads share one (the event loop and the heavy-call pool use the same
    cached key): `update` releases the GIL while OpenSSL works, and a context entered by a second
    thread meanwhile raises "Already borrowed", so each call holds the key's lock (uncontended, a
    fraction of a microsecond; tests/crypto/test_cipher_key.py runs threads together).

    It holds clear key material: its repr shows only the key's length, it refuses to be pickled,
    and the key cache drops it with the key's entry (forget, eviction, forget_all).
    """

    __slots__ = ("__weakref__", "_contexts", "_lock", "key")  # a weak reference lets tests see one dropped

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._contexts: list[Any] = [None] * len(_BUILD)
        self._lock = threading.Lock()

    def _ecb(self, slot: int, data: bytes, block: int) -> bytes:
        if len(data) % block:
            raise ValueError(_NOT_WHOLE_BLOCKS)
        with self._lock:
            context = self._contexts[slot]
            if context is None:
                context = self._contexts[slot] = _BUILD[slot](self.key)
            return context.update(data)  # type: ignore[no-any-return]

    def tdes_encrypt(self, data: bytes) -> bytes:
        return self._ecb(_TDES_ENCRYPT, data, DES_BLOCK)

    def tdes_decrypt(self, data: bytes) -> bytes:
        return self._ecb(_TDES_DECRYPT, data, DES_BLOCK)

    def aes_encrypt(self, data: bytes) -> bytes:
        return self._ecb(_AES_ENCRYPT, data, AES_BLOCK)

    def aes_decrypt(self, data: bytes) -> bytes:
        return self._ecb(_AES_DECRYPT, data, AES_BLOCK)

    def des_encrypt(self, part: int, data: bytes) -> bytes:
        """Single DES under K1, K2 or K3 (`part` 0, 1, 2) of the key's K1K2K3 form."""
        return self._ecb(_DES_ENCRYPT + part, data, DES_BLOCK)

    def des_decrypt(self, part: int, data: bytes) -> bytes:
        return self._ecb(_DES_DECRYPT + part, data, DES_BLOCK)

    def __len__(self) -> int:
        return len(self.key)

    def __repr__(self) -> str:
        return f"CipherKey(<{len(self.key)} bytes>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a CipherKey holds clear key material and is not pickled")


Key = bytes | CipherKey


def cipher_key(key: Key) -> CipherKey:
    """`key` itself if it is a CipherKey, else one for plain bytes (its contexts built for this use)."""
    return key if type(key) is CipherKey else CipherKey(key)  # type: ignore[arg-type]


def key_bytes(key: Key) -> bytes:
    """The material of a Key, for the steps that slice or combine it."""
    return key.key if type(key) is CipherKey else key  # type: ignore[union-attr,return-value]


def tdes_ecb_encrypt(key: Key, data: bytes) -> bytes:
    return cipher_key(key).tdes_encrypt(data)


def tdes_ecb_decrypt(key: Key, data: bytes) -> bytes:
    return cipher_key(key).tdes_decrypt(data)


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


def aes_ecb_encrypt(key: Key, data: bytes) -> bytes:
    return cipher_key(key).aes_encrypt(data)


def aes_ecb_decrypt(key: Key, data: bytes) -> bytes:
    return cipher_key(key).aes_decrypt(data)


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


# Each byte value with its low bit set so the byte has odd parity: one C call per key instead of
# a generator per byte (EMV derives two parity-adjusted keys per ARQC).
_ODD_PARITY = bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in range(256))


def set_odd_parity(key: bytes) -> bytes:
    """Give every byte odd parity, as DES keys carry it in the low bit."""
    return key.translate(_ODD_PARITY)


def has_odd_parity(key: bytes) -> bool:
    return key.translate(_ODD_PARITY) == key


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """Compare MACs, CVVs and PINs without leaking where they differ."""
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return _hmac.compare_digest(a, b)

"""ISO/IEC 9797-1 MAC algorithms 1 and 3 with DES/TDES, and its padding methods.

Algorithm 1 is a CBC-MAC under the whole (T)DES key; algorithm 3 (the "retail MAC") runs
single DES under K1 over every block and finishes with decrypt-K2 / encrypt-K1 (or K3).
Both appear throughout payments: EMV cryptograms, AS2805 and DUKPT MACs.
"""

from __future__ import annotations

from paycrypt.crypto import primitives as p

BLOCK = 8


def pad_method1(data: bytes, block: int = BLOCK) -> bytes:
    """Zero-pad to a multiple of the block; empty data becomes one zero block."""
    if data and len(data) % block == 0:
        return data
    return data + bytes(block - len(data) % block)


def pad_method2(data: bytes, block: int = BLOCK) -> bytes:
    """Append 0x80 then zeros to a multiple of the block (always adds at least one byte)."""
    data = data + b"\x80"
    return data + bytes(-len(data) % block)


def mac_algorithm1(key: bytes, data: bytes) -> bytes:
    """CBC-MAC with IV zero under the full key; `data` must already be padded."""
    _require_aligned(data)
    return p.tdes_cbc_encrypt(key, data)[-BLOCK:]


# Up to this many bytes the CBC chaining runs block by block through the key's single-DES K1
# context (kept in a CipherKey, and needed for the final step anyway); longer data is chained by
# a CBC context built for it, which costs about as much as eight blocks chained in Python.
_CHAIN_BY_BLOCKS = 8 * BLOCK


def mac_algorithm3(key: p.Key, data: bytes) -> bytes:
    """Retail MAC: single-DES CBC under K1, then D(K2), E(K3 or K1) on the last block.

    `key` is a DES, two- or three-key TDES key; a `CipherKey` keeps its contexts for the next MAC
    under the same key (an ARQC and its ARPC share one). `data` must already be padded.
    """
    _require_aligned(data)
    k = p.cipher_key(key)
    if len(data) <= _CHAIN_BY_BLOCKS:
        h = 0
        for i in range(0, len(data), BLOCK):
            chained = (h ^ int.from_bytes(data[i : i + BLOCK], "big")).to_bytes(BLOCK, "big")
            h = int.from_bytes(k.des_encrypt(0, chained), "big")
        last = h.to_bytes(BLOCK, "big")
    else:
        last = p.tdes_cbc_encrypt(p.tdes_key(k.key)[:BLOCK], data)[-BLOCK:]
    return k.des_encrypt(2 if len(k) == 24 else 0, k.des_decrypt(1, last))  # K3 is K1 unless given


def _require_aligned(data: bytes) -> None:
    if not data or len(data) % BLOCK:
        raise ValueError("MAC input must be a non-empty multiple of 8 bytes")

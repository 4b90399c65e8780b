"""A PIN-entry terminal and an AS 2805 peer node, written from the standards for the tests.

Independent of paycrypt's code on purpose: the ciphers are plain `cryptography` calls, the ISO
9564 PIN blocks are psec's, and the key derivations are written here from their definitions, so
a test that passes proves paycrypt computes what a terminal or a partner node computes.

- TDES DUKPT, ANSI X9.24-1:2009 A.2/A.6 (IPEK, non-reversible key generation, PIN variant).
- AES DUKPT, ANSI X9.24-3-2017 §6.3 (derivation data; initial key, intermediate derivation
  keys per counter one-bit, working key).
- AS 2805.6.4 session PIN key as AWS's AS2805 examples define it (tracker issue 7):
  KPE = OWF(KPP, D), OWF(K, D) = TDES-CBC(K, D, IV = M) ⊕ D, M the last block of
  TDES-CBC(K, D, IV 0), D = STAN left-justified to 8 bytes ‖ amount right-justified to 8 bytes.
- AS 2805 KEK validation as issue 7 defines it: RN under KEK ⊕ 82.. (send), ~RN (odd parity)
  under KEK ⊕ 84.. (receive), TDES-CBC with a zero IV.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from psec import pinblock as psec_pinblock

# --- ciphers ------------------------------------------------------------------------------------


def _tdes_key(key: bytes) -> bytes:
    return key + key[:8] if len(key) == 16 else key


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    cipher = Cipher(TripleDES(_tdes_key(key)), modes.ECB())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def tdes_cbc(key: bytes, data: bytes, iv: bytes = bytes(8), decrypt: bool = False) -> bytes:
    cipher = Cipher(TripleDES(_tdes_key(key)), modes.CBC(iv))
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def des_ecb(key: bytes, data: bytes) -> bytes:
    return tdes_ecb(key * 3, data)


def aes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def aes_cmac_kcv(key: bytes) -> str:
    """The AES key check value: the first 3 bytes of AES-CMAC over 16 zero bytes."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:3].hex().upper()


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def odd_parity(key: bytes) -> bytes:
    return bytes(b & 0xFE | (bin(b >> 1).count("1") + 1) % 2 for b in key)


# --- TDES DUKPT (ANSI X9.24-1:2009) -------------------------------------------------------------

_C0_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")
_PIN_VARIANT = bytes.fromhex("00000000000000FF00000000000000FF")


def tdes_dukpt_pin_key(bdk: bytes, ksn: bytes) -> bytes:
    counter = int.from_bytes(ksn[-3:], "big") & 0x1FFFFF
    initial_ksn = (int.from_bytes(ksn, "big") & ~0x1FFFFF).to_bytes(10, "big")
    key = tdes_ecb(bdk, initial_ksn[:8]) + tdes_ecb(xor(bdk, _C0_MASK), initial_ksn[:8])
    register = int.from_bytes(initial_ksn[2:], "big")
    for bit in range(20, -1, -1):
        if counter >> bit & 1:
            register |= 1 << bit
            reg = register.to_bytes(8, "big")

            def half(k: bytes, reg: bytes = reg) -> bytes:
                return xor(des_ecb(k[:8], xor(reg, k[8:])), k[8:])

            key = half(xor(key, _C0_MASK)) + half(key)
    return xor(key, _PIN_VARIANT)


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


def aes_dukpt_pin_key(bdk: bytes, ksn: bytes, key_type: str = "AES_128") -> bytes:
    bdk_type = {16: "AES_128", 24: "AES_192", 32: "AES_256"}[len(bdk)]
    key = _aes_derive(bdk, 0x8001, bdk_type, ksn[:8])
    counter = int.from_bytes(ksn[8:], "big")
    working = 0
    for bit in range(31, -1, -1):
        if counter >> bit & 1:
            working |= 1 << bit
            key = _aes_derive(key, 0x8000, bdk_type, ksn[4:8] + working.to_bytes(4, "big"))
    return _aes_derive(key, 0x1000, key_type, ksn[4:8] + counter.to_bytes(4, "big"))


# --- ISO 9564-1 PIN blocks ----------------------------------------------------------------------


def encrypt_pin_block(key: bytes, fmt: int, pin: str, pan: str | None) -> str:
    """EncryptedPinBlock hex for ISO format 0, 1, 3 (TDES) or 4 (AES, full-PAN field)."""
    if fmt == 4:
        return psec_pinblock.encipher_pinblock_iso_4(key, pin, pan).hex().upper()
    if fmt == 0:
        clear = psec_pinblock.encode_pinblock_iso_0(pin, pan)
    elif fmt == 3:
        clear = psec_pinblock.encode_pinblock_iso_3(pin, pan)
    else:
        field = f"1{len(pin):X}{pin}" + secrets.token_hex(8).upper()
        clear = bytes.fromhex(field[:16])
    return tdes_ecb(key, clear).hex().upper()


def decrypt_pin_block(key: bytes, fmt: int, block_hex: str, pan: str | None) -> str:
    block = bytes.fromhex(block_hex)
    if fmt == 4:
        return psec_pinblock.decipher_pinblock_iso_4(key, block, pan)
    clear = tdes_ecb(key, block, decrypt=True)
    if fmt == 0:
        return psec_pinblock.decode_pinblock_iso_0(clear, pan)
    if fmt == 3:
        return psec_pinblock.decode_pinblock_iso_3(clear, pan)
    field = clear.hex().upper()
    assert field[0] == "1", "not an ISO format 1 block"
    return field[2 : 2 + int(field[1], 16)]


# --- AS 2805 ------------------------------------------------------------------------------------


def as2805_kpe(kpp: bytes, stan: str, amount: str) -> bytes:
    d = bytes.fromhex(stan.ljust(16, "0") + amount.rjust(16, "0"))
    m = tdes_cbc(kpp, d)[-8:]
    return xor(tdes_cbc(kpp, d, iv=m), d)


def _variant(kek: bytes, pattern: bytes) -> bytes:
    return xor(kek, (pattern * len(kek))[: len(kek)])


KEK_MASKS = {"VARIANT_MASK_82": (b"\x82", b"\x84"), "VARIANT_MASK_82C0": (b"\x82\xc0", b"\x84\xc0")}


def kek_validation_answer(kek: bytes, mask: str, random_key_send: str) -> str:
    """What the peer node answers to a RandomKeySend: ~RN under the response variant."""
    send_mask, receive_mask = KEK_MASKS[mask]
    rn = tdes_cbc(_variant(kek, send_mask), bytes.fromhex(random_key_send), decrypt=True)
    complement = odd_parity(bytes(b ^ 0xFF for b in rn))
    return tdes_cbc(_variant(kek, receive_mask), complement).hex().upper()


def kek_validation_request(kek: bytes, mask: str, rn: bytes) -> tuple[str, str]:
    """The peer node asking: (RandomKeySend, the RandomKeyReceive it expects back)."""
    send_mask, receive_mask = KEK_MASKS[mask]
    send = tdes_cbc(_variant(kek, send_mask), rn).hex().upper()
    expected = tdes_cbc(_variant(kek, receive_mask), odd_parity(bytes(b ^ 0xFF for b in rn))).hex().upper()
    return send, expected

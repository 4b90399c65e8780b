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

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from psec import pinblock as psec_pinblock

from tests.api import dukpt_terminal as dukpt

# --- ciphers ------------------------------------------------------------------------------------

tdes_ecb, aes_ecb, xor = dukpt.tdes_ecb, dukpt.aes_ecb, dukpt.xor


def tdes_cbc(key: bytes, data: bytes, iv: bytes = bytes(8), decrypt: bool = False) -> bytes:
    return dukpt.run(Cipher(dukpt.tdes_algorithm(key), modes.CBC(iv)), data, decrypt)


def des_ecb(key: bytes, data: bytes) -> bytes:
    return tdes_ecb(key * 3, data)


def aes_cmac_kcv(key: bytes) -> str:
    """The AES key check value: the first 3 bytes of AES-CMAC over 16 zero bytes."""
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(bytes(16))
    return mac.finalize()[:3].hex().upper()


def odd_parity(key: bytes) -> bytes:
    return bytes(b & 0xFE | (bin(b >> 1).count("1") + 1) % 2 for b in key)


# --- DUKPT (tests/api/dukpt_terminal.py) -------------------------------------------------------


def tdes_dukpt_pin_key(bdk: bytes, ksn: bytes) -> bytes:
    """The X9.24-1 PIN working key (variant 00..FF) for the KSN."""
    return dukpt.tdes_dukpt_key(bdk, ksn, "PIN")


def aes_dukpt_pin_key(bdk: bytes, ksn: bytes, key_type: str = "AES_128") -> bytes:
    """The X9.24-3 PIN encryption working key (usage 1000) for the KSN."""
    return dukpt.aes_dukpt_key(bdk, ksn, 0x1000, key_type)


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

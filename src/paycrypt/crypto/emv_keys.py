"""EMV key derivation: ICC master keys from issuer master keys, and per-transaction session keys.

An issuer holds one issuer master key (IMK) per purpose (AC, SMI, SMC); each card holds a unique
ICC master key derived from it with the PAN and PAN sequence number (EMV 4.3 Book 2 Annex A1.4).
Most schemes then derive a fresh session key per transaction from the ATC (Annex A1.3); older
ones (Visa CVN10, JCB CVN01, Amex) use the ICC master key directly.

What each API member of `SessionKeyDerivation` (ARQC) does, as implemented here:

* ``EmvCommon`` — EMV common session key (Book 2 A1.3.1), R = ATC ‖ 00×6 (Visa CVN18/22,
  Mastercard CVN14/15, JCB CVN04). Verified against the guide's CVN18 known answer.
* ``Mastercard`` — M/Chip session key: the common session key with R = ATC ‖ 00 00 ‖ UN
  (Mastercard CVN12/13/16/17).
* ``Emv2000`` — EMV 2000 tree derivation (EMV 4.0 Book 2 A1.3) with b = 4, H = 8, IV = 0, the
  recommended parameters (b = 2, H = 16 is the other allowed pair); the AWS guide does not name
  them (decision, not verified against AWS).
* ``Amex`` — no session key: the ICC master key itself (the API member carries no ATC).
* ``Visa`` — no session key: the ICC master key itself (Visa CVN10, JCB CVN01). Verified against
  the guide's CVN10 known answer.
* ``UnionPay`` — PBOC/UICS process key: SK_L = TDES(MK, 00×6 ‖ ATC), SK_R = TDES(MK, 00×6 ‖ ¬ATC),
  checked against a published PBOC worked example.

Every derived key gets odd DES parity, as an HSM stores it; DES ignores parity, so MACs and
ciphertexts do not depend on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from paycrypt.crypto import primitives as p
from paycrypt.crypto.cvv import decimalise


class EmvInputError(ValueError):
    """An EMV input has the wrong form; the message names the field, never its value."""


def hex_field(value: str, name: str, length: int | None = None) -> bytes:
    """Decode an API hex field, optionally of an exact byte length.

    Odd-length hex is rejected rather than padded: the standard defines no nibble padding for
    any EMV field, so guessing one would turn a caller's typo into a silent wrong answer.
    """
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise EmvInputError(f"{name} must be an even number of hex digits") from None
    if length is not None and len(raw) != length:
        raise EmvInputError(f"{name} must be {length} bytes ({2 * length} hex digits)")
    return raw


def _check_card(pan: str, psn: str) -> None:
    if not pan.isdigit() or not 1 <= len(pan) <= 19:
        raise EmvInputError("PrimaryAccountNumber must be 1 to 19 decimal digits")
    if len(psn) != 2 or not psn.isdigit():
        raise EmvInputError("PanSequenceNumber must be 2 decimal digits")


def _check_double_length(key: bytes, name: str) -> None:
    if len(key) != 16:
        raise EmvInputError(f"{name} must be a double-length (16-byte) TDES key")


def _check_imk(imk: p.Key) -> None:
    if len(imk) not in (16, 24):
        raise EmvInputError("issuer master key must be a 16- or 24-byte TDES key")


def _key_from_y(imk: p.Key, y: bytes) -> bytes:
    """Z_L = TDES(IMK)[Y], Z_R = TDES(IMK)[Y ⊕ FF…FF], with odd parity (Book 2 A1.4.1 step 2)."""
    return p.set_odd_parity(p.tdes_ecb_encrypt(imk, y + p.xor(y, b"\xff" * 8)))


def derive_icc_master_key_option_a(imk: p.Key, pan: str, psn: str) -> bytes:
    """EMV 4.3 Book 2 A1.4.1: Y = rightmost 16 digits of PAN ‖ PSN, zero-filled on the left."""
    _check_imk(imk)
    _check_card(pan, psn)
    return _key_from_y(imk, bytes.fromhex((pan + psn)[-16:].rjust(16, "0")))


def derive_icc_master_key_option_b(imk: p.Key, pan: str, psn: str) -> bytes:
    """EMV 4.3 Book 2 A1.4.2: for PANs over 16 digits, Y comes from SHA-1 of PAN ‖ PSN.

    Why: option A would drop the leading PAN digits of a 17–19 digit PAN, so two cards could
    share a key. The hash (of PAN ‖ PSN, left-padded with a zero nibble to whole bytes) is
    decimalised — decimal nibbles first, then A–F as 0–5 — and its first 16 digits form Y.
    For PANs of 16 digits or fewer option B is option A by definition.
    """
    _check_imk(imk)
    _check_card(pan, psn)
    if len(pan) <= 16:
        return derive_icc_master_key_option_a(imk, pan, psn)
    x = pan + psn
    digest = hashlib.sha1(bytes.fromhex(x.rjust(len(x) + len(x) % 2, "0"))).digest()
    return _key_from_y(imk, bytes.fromhex(decimalise(digest)[:16]))


_OPTIONS: dict[str, Callable[[p.Key, str, str], bytes]] = {
    "A": derive_icc_master_key_option_a,
    "B": derive_icc_master_key_option_b,
    "EMV_OPTION_A": derive_icc_master_key_option_a,
    "EMV_OPTION_B": derive_icc_master_key_option_b,
}


def derive_icc_master_key(imk: p.Key, pan: str, psn: str, mode: str) -> bytes:
    """ICC master key by MajorKeyDerivationMode ('EMV_OPTION_A'/'EMV_OPTION_B', or 'A'/'B')."""
    try:
        derive = _OPTIONS[mode]
    except KeyError:
        raise EmvInputError("MajorKeyDerivationMode must be EMV_OPTION_A or EMV_OPTION_B") from None
    return derive(imk, pan, psn)


def common_session_key(icc_mk: bytes, r: bytes) -> bytes:
    """EMV 4.3 Book 2 A1.3.1: SK = TDES(MK)[R with byte 3 := F0] ‖ TDES(MK)[R with byte 3 := 0F].

    R is the 8-byte diversification value: ATC ‖ 00×6 for application cryptograms, the ARQC for
    secure messaging, ATC ‖ 00 00 ‖ UN for Mastercard.
    """
    _check_double_length(icc_mk, "ICC master key")
    if len(r) != 8:
        raise EmvInputError("session key diversification value must be 8 bytes")
    left = r[:2] + b"\xf0" + r[3:]
    right = r[:2] + b"\x0f" + r[3:]
    return p.set_odd_parity(p.tdes_ecb_encrypt(icc_mk, left + right))


def emv_common_session_key(icc_mk: bytes, atc: str) -> bytes:
    """EMV common session key for application cryptograms: R = ATC ‖ 00×6."""
    return common_session_key(icc_mk, hex_field(atc, "ApplicationTransactionCounter", 2) + bytes(6))


def mastercard_session_key(icc_mk: bytes, atc: str, unpredictable_number: str) -> bytes:
    """Mastercard M/Chip session key: R = ATC ‖ 00 00 ‖ UN (the terminal's 4-byte UN).

    Why the UN: it makes the session key unique per terminal challenge, not only per ATC. Older
    models allowed a UN of 2–8 hex digits; a shorter UN is right-justified (zero-filled on the
    left) as the number it is.
    """
    un = hex_field(unpredictable_number, "UnpredictableNumber")
    if not 1 <= len(un) <= 4:
        raise EmvInputError("UnpredictableNumber must be 1 to 4 bytes")
    r = hex_field(atc, "ApplicationTransactionCounter", 2) + bytes(2) + un.rjust(4, b"\x00")
    return common_session_key(icc_mk, r)


def emv2000_tree_session_key(
    icc_mk: bytes,
    atc: str,
    branch_factor: int = 4,
    height: int = 8,
    iv: bytes = bytes(16),
) -> bytes:
    """EMV 4.0 Book 2 Annex A1.3 tree-based session key (EMV 2000), keyed by the ATC.

    Why a tree: each ATC selects a path of intermediate keys, so a card can walk forward without
    storing one key per counter value. F(X, Y, j) = TDES(X)[Y_L ⊕ (j mod b)] ‖
    TDES(X)[Y_R ⊕ (j mod b) ⊕ F0]; level i uses j = ATC div b^(H−i), its parent and grandparent
    (MK and IV at the root); SK = F(level H) ⊕ grandparent. Replaced by the common session key in
    EMVCo bulletin SU-46; b^H must cover every 16-bit ATC.
    """
    _check_double_length(icc_mk, "ICC master key")
    if branch_factor < 2 or height < 1 or branch_factor**height < 0xFFFF:
        raise EmvInputError("EMV2000 tree must give at least 65535 session keys (b**H)")
    if len(iv) != 16:
        raise EmvInputError("EMV2000 tree IV must be 16 bytes")
    counter = int.from_bytes(hex_field(atc, "ApplicationTransactionCounter", 2), "big")
    parent, grandparent = icc_mk, iv
    for level in range(1, height):
        j = counter // branch_factor ** (height - level)
        parent, grandparent = _tree_step(parent, grandparent, j % branch_factor), parent
    return p.set_odd_parity(p.xor(_tree_step(parent, grandparent, counter % branch_factor), grandparent))


def _tree_step(x: bytes, y: bytes, j: int) -> bytes:
    jj = j.to_bytes(8, "big")
    left = p.xor(y[:8], jj)
    right = p.xor(p.xor(y[8:], jj), bytes(7) + b"\xf0")
    return p.tdes_ecb_encrypt(x, left + right)


def union_pay_session_key(icc_mk: bytes, atc: str) -> bytes:
    """UnionPay (PBOC 2.0/3.0, UICS) process key: TDES(MK)[00×6 ‖ ATC] ‖ TDES(MK)[00×6 ‖ ATC ⊕ FFFF].

    Why not the EMV common key: UnionPay cards kept the PBOC derivation, which places the ATC in
    the rightmost bytes and complements it for the right half.
    """
    _check_double_length(icc_mk, "ICC master key")
    raw = hex_field(atc, "ApplicationTransactionCounter", 2)
    data = bytes(6) + raw + bytes(6) + p.xor(raw, b"\xff\xff")
    return p.set_odd_parity(p.tdes_ecb_encrypt(icc_mk, data))


def card_key(icc_mk: bytes) -> bytes:
    """Visa CVN10 / JCB CVN01 / Amex: no session key — the ICC master key is the AC key."""
    _check_double_length(icc_mk, "ICC master key")
    return icc_mk


def _needs(value: str | None, name: str, member: str) -> str:
    if value is None:
        raise EmvInputError(f"{member} session key derivation needs {name}")
    return value


# API SessionKeyDerivation member -> AC key from (ICC MK, ATC, UN).
AC_SESSION_KEYS: dict[str, Callable[[bytes, str | None, str | None], bytes]] = {
    "EmvCommon": lambda mk, atc, un: emv_common_session_key(
        mk, _needs(atc, "ApplicationTransactionCounter", "EmvCommon")
    ),
    "Mastercard": lambda mk, atc, un: mastercard_session_key(
        mk,
        _needs(atc, "ApplicationTransactionCounter", "Mastercard"),
        _needs(un, "UnpredictableNumber", "Mastercard"),
    ),
    "Emv2000": lambda mk, atc, un: emv2000_tree_session_key(
        mk, _needs(atc, "ApplicationTransactionCounter", "Emv2000")
    ),
    "Amex": lambda mk, atc, un: card_key(mk),
    "Visa": lambda mk, atc, un: card_key(mk),
    "UnionPay": lambda mk, atc, un: union_pay_session_key(
        mk, _needs(atc, "ApplicationTransactionCounter", "UnionPay")
    ),
}


def derive_ac_key(
    imk: bytes,
    major_mode: str,
    member: str,
    pan: str,
    psn: str,
    atc: str | None = None,
    unpredictable_number: str | None = None,
) -> bytes:
    """The key an ARQC/ARPC is computed with, from the IMK-AC and the API's derivation inputs."""
    try:
        derive = AC_SESSION_KEYS[member]
    except KeyError:
        raise EmvInputError("unknown SessionKeyDerivation member") from None
    icc_mk = derive_icc_master_key(imk, pan, psn, major_mode)
    return derive(icc_mk, atc, unpredictable_number)

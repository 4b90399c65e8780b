"""Offline PIN change by issuer script: the building blocks of GenerateMacEmvPinChange.

The issuer sends the card a PIN CHANGE/UNBLOCK command whose data is the new PIN block
enciphered under a confidentiality session key (from the IMK-SMC) and whose MAC, under an
integrity session key (from the IMK-SMI), covers the command header and that ciphertext
(EMV 4.4 Book 2 §9.2–§9.3, A1.1–A1.2). The service has already decrypted the incoming ISO 0/1/3
block; this module takes the clear PIN and returns the values the API outputs (the KCVs of the
three or four master keys are the caller's, from `paycrypt.crypto.kcv`).

Per DerivationMethodAttributes member (the session keys are those of `emv_mac.SM_SESSION_KEYS`):

==========  ======================  ===============  ==========================================
Member      Session keys from       PIN block        Encipherment
==========  ======================  ===============  ==========================================
EmvCommon   common SK, R = AC       ISO 9564 fmt 2   Mode, PinBlockPaddingType and
                                                     PinBlockLengthPosition as requested
Mastercard  common SK, R = AC       ISO 9564 fmt 2   CBC, IV 0, no padding (M/Chip)
Emv2000     EMV 2000 tree, ATC      ISO 9564 fmt 2   CBC, IV 0, no padding
Visa        VIS SM key, ATC         VIS PIN block    ECB, length byte in front, ISO/IEC 7816-4
Amex        VIS SM key, ATC         VIS PIN block    as Visa (AEIPS follows VIS; not verified)
==========  ======================  ===============  ==========================================

The VIS PIN block ties the PIN to the card: it is XORed with the rightmost four bytes of the
left half of the card's AC master key (from the IMK-AC), and with the current PIN if given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from paycrypt.crypto import emv_keys as k
from paycrypt.crypto import iso9797, pinblock
from paycrypt.crypto import primitives as p
from paycrypt.crypto.emv_keys import EmvInputError, hex_field
from paycrypt.crypto.emv_mac import derive_sm_session_key, sm_mac


def _check_pin(pin: str, name: str) -> None:
    if not pin.isdigit() or not 4 <= len(pin) <= 12:
        raise EmvInputError(f"{name} must be 4 to 12 decimal digits")


def _vis_pin_field(pin: str) -> bytes:
    return bytes.fromhex(f"0{len(pin):X}{pin}".ljust(16, "F"))


def iso_format2_pin_block(pin: str) -> bytes:
    """ISO 9564-1 format 2: 2 ‖ L ‖ PIN ‖ F-fill — the ICC offline-PIN block, no PAN.

    The new PIN arrives in ISO 0/1/3 under a PEK (decode it with `pinblock.decrypt_pin`); the
    card only understands format 2, so it is re-formatted before encipherment.
    """
    return pinblock.encode_format2(pin)


def vis_pin_block(icc_mk_ac: bytes, new_pin: str, current_pin: str | None = None) -> bytes:
    """VIS 1.5 PIN change block: (0 ‖ L ‖ PIN ‖ F-fill) ⊕ (00×4 ‖ MK-AC bytes 5–8)
    [⊕ current PIN left-justified, zero-filled].

    Why the card key: the block is useless on any other card; why the current PIN: the card
    only accepts the change if the cardholder's current PIN is known to the issuer.
    """
    if len(icc_mk_ac) != 16:
        raise EmvInputError("ICC AC master key must be a double-length (16-byte) TDES key")
    _check_pin(new_pin, "new PIN")
    block = p.xor(_vis_pin_field(new_pin), bytes(4) + icc_mk_ac[4:8])
    if current_pin is None:
        return block
    _check_pin(current_pin, "current PIN")
    return p.xor(block, bytes.fromhex(current_pin.ljust(16, "0")))


_MODES = {
    "ECB": lambda key, data: p.tdes_ecb_encrypt(key, data),
    "CBC": lambda key, data: p.tdes_cbc_encrypt(key, data, bytes(8)),
}
_PADDINGS = {"NO_PADDING": lambda data: data, "ISO_IEC_7816_4": iso9797.pad_method2}
_LENGTH_POSITIONS = {"NONE": lambda data: data, "FRONT_OF_PIN_BLOCK": lambda data: bytes([len(data)]) + data}


def encrypt_pin_data(
    session_key: bytes,
    pin_block: bytes,
    mode: str,
    padding_type: str,
    length_position: str,
) -> bytes:
    """Encipher the PIN block for the script (EMV Book 2 A1.1): optional length byte in front,
    optional ISO/IEC 7816-4 padding (80 00…, as ISO 9797-1 method 2), then TDES ECB or CBC, IV 0."""
    try:
        cipher, pad, prefix = _MODES[mode], _PADDINGS[padding_type], _LENGTH_POSITIONS[length_position]
    except KeyError:
        raise EmvInputError("unknown Mode, PinBlockPaddingType or PinBlockLengthPosition") from None
    data = pad(prefix(pin_block))
    if len(data) % 8:
        raise EmvInputError("FRONT_OF_PIN_BLOCK needs PinBlockPaddingType ISO_IEC_7816_4")
    return cipher(session_key, data)


class Encipherment(NamedTuple):
    """How the PIN block is enciphered for the card: the API's Mode, PinBlockPaddingType and
    PinBlockLengthPosition (`encrypt_pin_data` takes them in this order)."""

    mode: str
    padding_type: str
    length_position: str


_CBC_ONLY = Encipherment("CBC", "NO_PADDING", "NONE")
_VIS = Encipherment("ECB", "ISO_IEC_7816_4", "FRONT_OF_PIN_BLOCK")


@dataclass(frozen=True)
class _Scheme:
    sm_mode: str
    uses_ac: bool
    vis_block: bool
    encipherment: Encipherment | None  # None: taken from the request (EmvCommon)


SCHEMES: dict[str, _Scheme] = {
    "EmvCommon": _Scheme("EMV_COMMON_SESSION_KEY", True, False, None),
    "Mastercard": _Scheme("MASTERCARD_SESSION_KEY", True, False, _CBC_ONLY),
    "Emv2000": _Scheme("EMV2000", False, False, _CBC_ONLY),
    "Visa": _Scheme("VISA", False, True, _VIS),
    "Amex": _Scheme("AMEX", False, True, _VIS),
}


@dataclass(frozen=True)
class IssuerKeys:
    """The issuer master keys the card's own keys derive from: IMK-SMI (the MAC), IMK-SMC (the
    encipherment) and, for the VIS PIN block (Visa, Amex), IMK-AC."""

    smi: bytes
    smc: bytes
    ac: bytes | None = None


@dataclass(frozen=True)
class Card:
    """The card and the transaction its script answers: its ICC master keys derive from PAN and
    PSN by `major_mode`; its session keys from the AC (common session key members) or the ATC."""

    pan: str
    psn: str
    major_mode: str
    application_cryptogram: str | None = None
    application_transaction_counter: str | None = None

    def master_key(self, imk: bytes) -> bytes:
        return k.derive_icc_master_key(imk, self.pan, self.psn, self.major_mode)


@dataclass(frozen=True)
class PinChange:
    """What the script tells the card: the new PIN (and, for the VIS block, the current one), in
    a command whose header and data are MessageData."""

    new_pin: str
    message_data: str
    current_pin: str | None = None


@dataclass(frozen=True)
class PinChangeResult:
    """The crypto outputs of GenerateMacEmvPinChange, upper-case hex."""

    mac: str
    encrypted_pin_block: str


def generate_mac_emv_pin_change(
    member: str,
    keys: IssuerKeys,
    card: Card,
    change: PinChange,
    encipherment: Encipherment | None = None,
) -> PinChangeResult:
    """Encipher the new PIN for the card and MAC MessageData ‖ enciphered PIN block (8 bytes).

    `encipherment` is EmvCommon's, from the request; the other members fix their own."""
    try:
        scheme = SCHEMES[member]
    except KeyError:
        raise EmvInputError("unknown DerivationMethodAttributes member") from None
    value = card.application_cryptogram if scheme.uses_ac else card.application_transaction_counter
    if value is None:
        needed = "ApplicationCryptogram" if scheme.uses_ac else "ApplicationTransactionCounter"
        raise EmvInputError(f"{member} PIN change needs {needed}")
    ac, atc = (value, None) if scheme.uses_ac else (None, value)
    sk_smi = derive_sm_session_key(scheme.sm_mode, card.master_key(keys.smi), ac, atc)
    sk_smc = derive_sm_session_key(scheme.sm_mode, card.master_key(keys.smc), ac, atc)
    block = _pin_block(scheme, member, keys, card, change)
    encipherment = scheme.encipherment or encipherment
    if encipherment is None:
        raise EmvInputError("EmvCommon PIN change needs Mode, PinBlockPaddingType and PinBlockLengthPosition")
    encrypted = encrypt_pin_data(sk_smc, block, *encipherment)
    mac = sm_mac(sk_smi, hex_field(change.message_data, "MessageData") + encrypted)
    return PinChangeResult(mac=mac.hex().upper(), encrypted_pin_block=encrypted.hex().upper())


def _pin_block(scheme: _Scheme, member: str, keys: IssuerKeys, card: Card, change: PinChange) -> bytes:
    if not scheme.vis_block:
        return iso_format2_pin_block(change.new_pin)
    if keys.ac is None:
        raise EmvInputError(f"{member} PIN change needs the IMK-AC (AuthorizationRequestKeyIdentifier)")
    return vis_pin_block(card.master_key(keys.ac), change.new_pin, change.current_pin)

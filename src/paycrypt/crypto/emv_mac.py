"""EMV secure-messaging MACs for issuer scripts (GenerateMac / VerifyMac with EmvMac).

An issuer script command (PIN unblock, application block, PUT DATA…) carries a MAC the card
checks with a one-time key: the ICC master key for integrity (from the IMK-SMI, option A or B)
diversified per transaction. The MAC itself is ISO/IEC 9797-1 algorithm 3 with padding method 2
(EMV 4.3 Book 2 §9.2.3, A1.2.1); the guide says the service pads automatically.

What each SessionKeyDerivationMode does here, with the SessionKeyDerivationValue it accepts:

=========================  ======================  ==========================================
Mode                       Value                   Session key
=========================  ======================  ==========================================
EMV_COMMON_SESSION_KEY     ApplicationCryptogram   common session key, R = AC (Book 2 A1.3.1)
                           ApplicationTransaction  common session key, R = ATC ‖ 00×6
                           Counter
MASTERCARD_SESSION_KEY     ApplicationCryptogram   common session key, R = AC (M/Chip SM)
                           ApplicationTransaction  common session key, R = ATC ‖ 00×6
                           Counter
VISA                       ApplicationTransaction  VIS: MK_L ⊕ (00×6 ‖ ATC) ‖ MK_R ⊕ (00×6 ‖ ¬ATC)
                           Counter
AMEX                       ApplicationTransaction  as VISA (AEIPS follows VIS; not verified)
                           Counter
EMV2000                    ApplicationTransaction  EMV 2000 tree (b = 4, H = 8, IV = 0)
                           Counter
UNION_PAY                  ApplicationTransaction  PBOC process key from the ATC
                           Counter
=========================  ======================  ==========================================

The ATC-only modes reject an ApplicationCryptogram: their standards define no AC-based key, and
guessing one would produce MACs no card accepts.
"""

from __future__ import annotations

from collections.abc import Callable

from paycrypt.crypto import emv_keys as k
from paycrypt.crypto import iso9797
from paycrypt.crypto import primitives as p
from paycrypt.crypto.emv_keys import EmvInputError, hex_field


def visa_sm_session_key(icc_mk: bytes, atc: str) -> bytes:
    """VIS 1.5 secure-messaging session key: the ATC XORed into the right of each MK half.

    Why XOR and not encryption: VIS derives the script keys cheaply on the card from the
    counter; the right half uses the complemented ATC so the halves never coincide.
    """
    if len(icc_mk) != 16:
        raise EmvInputError("ICC master key must be a double-length (16-byte) TDES key")
    raw = hex_field(atc, "ApplicationTransactionCounter", 2)
    mask = bytes(6) + raw + bytes(6) + p.xor(raw, b"\xff\xff")
    return p.set_odd_parity(p.xor(icc_mk, mask))


def _common(icc_mk: bytes, ac: bytes | None, atc: str | None) -> bytes:
    if ac is not None:
        return k.common_session_key(icc_mk, ac)
    return k.emv_common_session_key(icc_mk, _atc(atc, "EMV_COMMON_SESSION_KEY"))


def _atc(atc: str | None, mode: str) -> str:
    if atc is None:
        raise EmvInputError(f"{mode} derives the session key from ApplicationTransactionCounter")
    return atc


def _atc_only(
    derive: Callable[[bytes, str], bytes], mode: str
) -> Callable[[bytes, bytes | None, str | None], bytes]:
    def run(icc_mk: bytes, ac: bytes | None, atc: str | None) -> bytes:
        if ac is not None:
            raise EmvInputError(f"{mode} derives the session key from ApplicationTransactionCounter")
        return derive(icc_mk, _atc(atc, mode))

    return run


# API SessionKeyDerivationMode -> SM session key from (ICC MK, AC or None, ATC or None).
SM_SESSION_KEYS: dict[str, Callable[[bytes, bytes | None, str | None], bytes]] = {
    "EMV_COMMON_SESSION_KEY": _common,
    "MASTERCARD_SESSION_KEY": _common,
    "VISA": _atc_only(visa_sm_session_key, "VISA"),
    "AMEX": _atc_only(visa_sm_session_key, "AMEX"),
    "EMV2000": _atc_only(k.emv2000_tree_session_key, "EMV2000"),
    "UNION_PAY": _atc_only(k.union_pay_session_key, "UNION_PAY"),
}


def derive_sm_session_key(
    mode: str,
    icc_mk: bytes,
    application_cryptogram: str | None = None,
    application_transaction_counter: str | None = None,
) -> bytes:
    """Secure-messaging session key for a SessionKeyDerivationMode; exactly one value is given."""
    if (application_cryptogram is None) == (application_transaction_counter is None):
        raise EmvInputError("give exactly one of ApplicationCryptogram and ApplicationTransactionCounter")
    try:
        derive = SM_SESSION_KEYS[mode]
    except KeyError:
        raise EmvInputError("unknown SessionKeyDerivationMode") from None
    ac = (
        None
        if application_cryptogram is None
        else hex_field(application_cryptogram, "ApplicationCryptogram", 8)
    )
    return derive(icc_mk, ac, application_transaction_counter)


def sm_mac(session_key: bytes, message: bytes) -> bytes:
    """EMV Book 2 A1.2.1 MAC: algorithm 3 over the message with padding method 2, 8 bytes."""
    return iso9797.mac_algorithm3(session_key, iso9797.pad_method2(message))


def generate_emv_mac(
    imk_smi: bytes,
    major_mode: str,
    pan: str,
    psn: str,
    session_mode: str,
    message_data: str,
    application_cryptogram: str | None = None,
    application_transaction_counter: str | None = None,
) -> str:
    """The full 8-byte EmvMac as upper-case hex; the caller truncates to MacLength."""
    icc_mk = k.derive_icc_master_key(imk_smi, pan, psn, major_mode)
    sk = derive_sm_session_key(session_mode, icc_mk, application_cryptogram, application_transaction_counter)
    return sm_mac(sk, hex_field(message_data, "MessageData")).hex().upper()

"""EncryptData / DecryptData with EmvEncryptionAttributes: data under a card's session key.

An issuer enciphers script data (e.g. PUT DATA values) for one card and one transaction: the
ICC master key comes from the IMK (E1 or E6) by option A or B, the session key is the EMV common
session key with R = SessionDerivationData ("the ATC or the previous ARQC, padded with zeros,
as per EMV 4.3 Book 2" — the model's own words, i.e. Book 2 A1.3.1), and the data is TDES ECB
or CBC with the given IV (zero if omitted). The service never pads: TDES data must be whole
8-byte blocks. EMV encryption is TDES only, so the IV is 8 bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from paycrypt.crypto import emv_keys as k
from paycrypt.crypto import primitives as p
from paycrypt.crypto.emv_keys import EmvInputError, hex_field

_ENCRYPT, _DECRYPT = 0, 1
_CIPHERS: dict[str, tuple[Callable[[bytes, bytes, bytes], bytes], Callable[[bytes, bytes, bytes], bytes]]] = {
    "ECB": (
        lambda key, data, iv: p.tdes_ecb_encrypt(key, data),
        lambda key, data, iv: p.tdes_ecb_decrypt(key, data),
    ),
    "CBC": (p.tdes_cbc_encrypt, p.tdes_cbc_decrypt),
}


def derive_emv_data_key(
    imk: bytes, major_mode: str, pan: str, psn: str, session_derivation_data: str
) -> bytes:
    """Session key = common session key of the ICC master key with R = SessionDerivationData."""
    icc_mk = k.derive_icc_master_key(imk, pan, psn, major_mode)
    return k.common_session_key(icc_mk, hex_field(session_derivation_data, "SessionDerivationData", 8))


def _run(
    direction: int,
    imk: bytes,
    major_mode: str,
    pan: str,
    psn: str,
    session_derivation_data: str,
    data: str,
    name: str,
    mode: str,
    iv: str | None,
) -> str:
    try:
        cipher = _CIPHERS[mode][direction]
    except KeyError:
        raise EmvInputError("Mode must be ECB or CBC") from None
    raw = hex_field(data, name)
    if not raw or len(raw) % 8:
        raise EmvInputError(f"{name} must be a non-empty multiple of 8 bytes for TDES")
    vector = bytes(8) if iv is None else hex_field(iv, "InitializationVector", 8)
    key = derive_emv_data_key(imk, major_mode, pan, psn, session_derivation_data)
    return cipher(key, raw, vector).hex().upper()


def encrypt(
    imk: bytes,
    major_mode: str,
    pan: str,
    psn: str,
    session_derivation_data: str,
    plaintext: str,
    mode: str = "CBC",
    iv: str | None = None,
) -> str:
    """Encipher PlainText (hex) under the card session key; returns CipherText hex.

    Mode is optional in the model; CBC is the default here, as for DUKPT encryption.
    """
    return _run(
        _ENCRYPT, imk, major_mode, pan, psn, session_derivation_data, plaintext, "PlainText", mode, iv
    )


def decrypt(
    imk: bytes,
    major_mode: str,
    pan: str,
    psn: str,
    session_derivation_data: str,
    ciphertext: str,
    mode: str = "CBC",
    iv: str | None = None,
) -> str:
    """Decipher CipherText (hex) under the card session key; returns PlainText hex."""
    return _run(
        _DECRYPT, imk, major_mode, pan, psn, session_derivation_data, ciphertext, "CipherText", mode, iv
    )

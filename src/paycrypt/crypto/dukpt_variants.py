"""The one table from the API's DUKPT members to the keys the standards define.

The API names a DUKPT key by DukptKeyVariant (BIDIRECTIONAL, REQUEST, RESPONSE) and
DukptDerivationType; the operation supplies the purpose (PIN, MAC, data). The model documents
the variant as "MAC generation, MAC verification, or both" (MacAlgorithmDukpt) and "incoming data
decryption, outgoing data encryption, or both" (DukptEncryptionAttributes); the guide (L4948) says
"REQUEST will typically be used from terminal to backend, [RESPONSE] from backend to terminal and
BIDIRECTIONAL when a single key is used in both directions". So the variant names the *message
direction*, not what this call does with the key: the host verifying a terminal's request MAC
uses the same REQUEST key the terminal generated it with.

    variant        TDES (X9.24-1:2009)            AES (X9.24-3-2017 key usage)
    PIN, any       PIN variant                    1000 PIN encryption
    MAC REQUEST    MAC request variant            2000 MAC generation
    MAC RESPONSE   MAC response variant           2001 MAC verification
    MAC BIDIR.     MAC request variant (*)        2002 MAC both ways
    DATA REQUEST   data request variant + 1-way   3000 data encryption, encrypt
    DATA RESPONSE  data response variant + 1-way  3001 data encryption, decrypt
    DATA BIDIR.    data request variant + 1-way(*) 3002 data encryption, both ways

(*) X9.24-1 has no bidirectional key; its 2004 edition had one MAC and one data variant, which the
2009 edition kept as the request variants. A terminal using "a single key in both directions"
therefore uses the request variant, and so does paycrypt.

Defaults for omitted members (seed-C A-DUKPT-3):
    DukptKeyVariant         BIDIRECTIONAL
    DukptDerivationType     the BDK's own type (TDES_2KEY BDK -> TDES_2KEY, AES_n -> AES_n)
    Mode (DukptEncryption)  CBC, as the model documents; InitializationVector all zeros

KSN length selects the standard: 20 hex = TDES (X9.24-1), 24 hex = AES (X9.24-3); a KSN whose
length does not match the BDK's algorithm is refused. A 16-hex KSN (one of the three lengths the
model's pattern names) with a TDES BDK is the 64-bit KSN most terminals send: X9.24-1 pads a KSN
shorter than the 80-bit register on the left with 1-bits (hex F), so it is read as `FFFF` ‖ KSN
(`full_ksn`). The X9.24-1 test KSN `FFFF9876543210E00001` is such a KSN. AES DUKPT has no such
convention (its 96-bit KSN is the 64-bit initial key ID and a 32-bit counter), so a 16-hex KSN
with an AES BDK is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from paycrypt.crypto import dukpt_aes, dukpt_tdes
from paycrypt.crypto.dukpt_tdes import InvalidKsnError


class Purpose(Enum):
    PIN = "PIN"
    MAC = "MAC"
    DATA = "DATA"


VARIANTS = ("BIDIRECTIONAL", "REQUEST", "RESPONSE")
DEFAULT_VARIANT = "BIDIRECTIONAL"
DEFAULT_DUKPT_MODE = "CBC"

_T = dukpt_tdes.Usage
_A = dukpt_aes.KeyUsage

# (purpose, DukptKeyVariant) -> (TDES X9.24-1 working key, AES X9.24-3 key usage)
TABLE: dict[tuple[Purpose, str], tuple[dukpt_tdes.Usage, dukpt_aes.KeyUsage]] = {
    (Purpose.PIN, "BIDIRECTIONAL"): (_T.PIN, _A.PIN_ENCRYPTION),
    (Purpose.PIN, "REQUEST"): (_T.PIN, _A.PIN_ENCRYPTION),
    (Purpose.PIN, "RESPONSE"): (_T.PIN, _A.PIN_ENCRYPTION),
    (Purpose.MAC, "BIDIRECTIONAL"): (_T.MAC_REQUEST, _A.MAC_BOTH_WAYS),
    (Purpose.MAC, "REQUEST"): (_T.MAC_REQUEST, _A.MAC_GENERATION),
    (Purpose.MAC, "RESPONSE"): (_T.MAC_RESPONSE, _A.MAC_VERIFICATION),
    (Purpose.DATA, "BIDIRECTIONAL"): (_T.DATA_REQUEST, _A.DATA_BOTH_WAYS),
    (Purpose.DATA, "REQUEST"): (_T.DATA_REQUEST, _A.DATA_ENCRYPT),
    (Purpose.DATA, "RESPONSE"): (_T.DATA_RESPONSE, _A.DATA_DECRYPT),
}

# BDK KeyAlgorithm -> (standard, default DukptDerivationType)
_BDK_DEFAULTS = {
    "TDES_2KEY": ("TDES", "TDES_2KEY"),
    "AES_128": ("AES", "AES_128"),
    "AES_192": ("AES", "AES_192"),
    "AES_256": ("AES", "AES_256"),
}
_KSN_BYTES = {"TDES": dukpt_tdes.KSN_BYTES, "AES": dukpt_aes.KSN_BYTES}
_SHORT_TDES_KSN_BYTES = 8  # the 16-hex KSN: the 80-bit register less its leading FFFF


@dataclass(frozen=True)
class DukptKey:
    """A derived DUKPT working key and what it is, for the cipher or MAC that uses it."""

    key: bytes = field(repr=False)
    key_type: str  # a DukptDerivationType name: TDES_2KEY, TDES_3KEY, AES_128, ...

    @property
    def family(self) -> str:
        return "TDES" if self.key_type.startswith("TDES") else "AES"


def full_ksn(ksn: bytes, bdk_algorithm: str) -> bytes:
    """The KSN register a BDK's standard reads: a 64-bit KSN under a TDES BDK is F-padded to 80 bits.

    Any other length is returned as given, for the derivation to accept or refuse.
    """
    standard = _BDK_DEFAULTS.get(bdk_algorithm, ("", ""))[0]
    if standard == "TDES" and len(ksn) == _SHORT_TDES_KSN_BYTES:
        return b"\xff" * (dukpt_tdes.KSN_BYTES - len(ksn)) + ksn
    return ksn


def derive(
    bdk: bytes,
    bdk_algorithm: str,
    ksn: bytes,
    purpose: Purpose,
    variant: str | None = None,
    derivation_type: str | None = None,
) -> DukptKey:
    """Derive the working key the API members name, applying the documented defaults.

    Raises InvalidKsnError for a KSN that cannot name a transaction under the BDK's standard and
    ValueError for a variant or derivation type that does not apply.
    """
    ksn = full_ksn(ksn, bdk_algorithm)
    return working_key(
        transaction_secret(bdk, bdk_algorithm, ksn), bdk_algorithm, ksn, purpose, variant, derivation_type
    )


def transaction_secret(bdk: bytes, bdk_algorithm: str, ksn: bytes) -> bytes:
    """The per-transaction key every working key of this KSN comes from (the costly part).

    TDES: the X9.24-1 transaction key (before its variant); AES: the X9.24-3 intermediate
    derivation key. One terminal transaction uses one KSN for its PIN, MAC and data keys, so a
    caller may keep this for a KSN and derive each working key from it with `working_key`.
    Raises InvalidKsnError for a KSN that cannot name a transaction under the BDK's standard.
    """
    standard, _ = _bdk_defaults(bdk_algorithm)
    _require_ksn_length(ksn, standard)
    if standard == "TDES":
        return dukpt_tdes.derive_transaction_key(dukpt_tdes.derive_ipek(bdk, ksn), ksn)
    initial_key = dukpt_aes.derive_initial_key(bdk, ksn[: dukpt_aes.INITIAL_KEY_ID_BYTES])
    return dukpt_aes.intermediate_derivation_key(initial_key, ksn)


def working_key(
    secret: bytes,
    bdk_algorithm: str,
    ksn: bytes,
    purpose: Purpose,
    variant: str | None = None,
    derivation_type: str | None = None,
) -> DukptKey:
    """The working key from a `transaction_secret` of the same BDK and KSN, with the defaults.

    Raises ValueError for a variant or derivation type that does not apply.
    """
    standard, default_type = _bdk_defaults(bdk_algorithm)
    _require_ksn_length(ksn, standard)
    variant = variant or DEFAULT_VARIANT
    if variant not in VARIANTS:
        raise ValueError(f"unknown DukptKeyVariant {variant}")
    derivation_type = derivation_type or default_type
    tdes_usage, aes_usage = TABLE[(purpose, variant)]
    if standard == "TDES":
        if derivation_type != "TDES_2KEY":
            raise ValueError("TDES DUKPT (X9.24-1) derives TDES_2KEY working keys only")
        return DukptKey(dukpt_tdes.apply_variant(secret, tdes_usage), derivation_type)
    key_type = _aes_key_type(derivation_type)
    return DukptKey(
        dukpt_aes.working_key_from_derivation_key(secret, ksn, aes_usage, key_type), derivation_type
    )


def _bdk_defaults(bdk_algorithm: str) -> tuple[str, str]:
    try:
        return _BDK_DEFAULTS[bdk_algorithm]
    except KeyError:
        raise ValueError(f"a {bdk_algorithm} key cannot be a DUKPT BDK") from None


def _require_ksn_length(ksn: bytes, standard: str) -> None:
    expected = _KSN_BYTES[standard]
    if len(ksn) != expected:
        raise InvalidKsnError(
            f"{standard} DUKPT needs a {expected * 2}-hex key serial number, not {len(ksn) * 2} hex"
        )


def _aes_key_type(derivation_type: str) -> dukpt_aes.KeyType:
    try:
        return dukpt_aes.KeyType[derivation_type]
    except KeyError:
        raise ValueError(f"unknown DukptDerivationType {derivation_type}") from None

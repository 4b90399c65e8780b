"""Which key attribute combinations a key may have: one table, used by CreateKey and ImportKey.

Source: the guide's key-attribute validity table (seed-B §12), with the open cases decided as the
decisions in docs/decisions/keys.md record (M7 = HMAC only, M0 = TDES MAC modes, P1 = PIN-key modes plus
the E/D/W/U set the guide's own examples show, E5 like the other EMV master keys, K2 = the wrap
sets, K3 = DeriveKey with an optional DeriveKeyUsage, CreateKey classes SYMMETRIC_KEY and
ASYMMETRIC_KEY_PAIR only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from paycrypt.crypto import keygen
from paycrypt.errors import ValidationError

MODES = ("Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify", "DeriveKey", "NoRestrictions")

TDES = frozenset({"TDES_2KEY", "TDES_3KEY"})
AES = frozenset({"AES_128", "AES_192", "AES_256"})
HMAC = frozenset({"HMAC_SHA224", "HMAC_SHA256", "HMAC_SHA384", "HMAC_SHA512"})
RSA = frozenset({"RSA_2048", "RSA_3072", "RSA_4096"})
ECC = frozenset({"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"})
SYMMETRIC = TDES | AES | HMAC
ASYMMETRIC = RSA | ECC


def _sets(*groups: Iterable[str]) -> frozenset[frozenset[str]]:
    return frozenset(frozenset(g) for g in groups)


WRAP = _sets(
    {"Encrypt", "Decrypt", "Wrap", "Unwrap"}, {"Encrypt", "Wrap"}, {"Decrypt", "Unwrap"}, {"NoRestrictions"}
)
GEN_VERIFY = _sets({"Generate"}, {"Verify"}, {"Generate", "Verify"}, {"NoRestrictions"})
DERIVE = _sets({"DeriveKey"}, {"NoRestrictions"})
ASYM_WRAP = _sets({"Encrypt", "Decrypt", "Wrap", "Unwrap"}, {"Encrypt", "Wrap"}, {"Decrypt", "Unwrap"})


@dataclass(frozen=True)
class UsageRule:
    algorithms: frozenset[str]
    modes: frozenset[frozenset[str]]
    key_class: str  # the class CreateKey gives such a key


RULES: dict[str, UsageRule] = {
    "TR31_B0_BASE_DERIVATION_KEY": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_C0_CARD_VERIFICATION_KEY": UsageRule(TDES | AES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY": UsageRule(TDES | AES, WRAP, "SYMMETRIC_KEY"),
    "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_E1_EMV_MKEY_CONFIDENTIALITY": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_E2_EMV_MKEY_INTEGRITY": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_E6_EMV_MKEY_OTHER": UsageRule(TDES | AES, DERIVE, "SYMMETRIC_KEY"),
    "TR31_K0_KEY_ENCRYPTION_KEY": UsageRule(TDES | AES, WRAP, "SYMMETRIC_KEY"),
    "TR31_K1_KEY_BLOCK_PROTECTION_KEY": UsageRule(TDES | AES, WRAP, "SYMMETRIC_KEY"),
    "TR31_M0_ISO_16609_MAC_KEY": UsageRule(TDES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_M1_ISO_9797_1_MAC_KEY": UsageRule(TDES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_M3_ISO_9797_3_MAC_KEY": UsageRule(TDES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_M6_ISO_9797_5_CMAC_KEY": UsageRule(TDES | AES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_M7_HMAC_KEY": UsageRule(HMAC, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_P0_PIN_ENCRYPTION_KEY": UsageRule(TDES | AES, WRAP, "SYMMETRIC_KEY"),
    "TR31_P1_PIN_GENERATION_KEY": UsageRule(TDES | AES, GEN_VERIFY | WRAP, "SYMMETRIC_KEY"),
    "TR31_V1_IBM3624_PIN_VERIFICATION_KEY": UsageRule(TDES | AES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_V2_VISA_PIN_VERIFICATION_KEY": UsageRule(TDES | AES, GEN_VERIFY, "SYMMETRIC_KEY"),
    "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION": UsageRule(RSA, ASYM_WRAP, "ASYMMETRIC_KEY_PAIR"),
    "TR31_K2_TR34_ASYMMETRIC_KEY": UsageRule(RSA, ASYM_WRAP, "ASYMMETRIC_KEY_PAIR"),
    "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT": UsageRule(ECC, _sets({"DeriveKey"}), "ASYMMETRIC_KEY_PAIR"),
    "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE": UsageRule(
        RSA | ECC, _sets({"Sign"}, {"Verify"}, {"Sign", "Verify"}), "ASYMMETRIC_KEY_PAIR"
    ),
}

# KeyUsage values whose keys take a DeriveKeyUsage (fixed at creation: it names what the agreed
# key will be used for).
DERIVE_KEY_USAGE_ALLOWED = frozenset({"TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT"})


def modes_set(modes: dict[str, Any]) -> frozenset[str]:
    return frozenset(name for name in MODES if modes.get(name))


def normalized_modes(modes: dict[str, Any]) -> dict[str, bool]:
    """All nine KeyModesOfUse booleans, as AWS returns them."""
    return {name: bool(modes.get(name)) for name in MODES}


def check_create(attributes: dict[str, Any], derive_key_usage: str | None) -> None:
    """Reject attribute combinations the validity table does not allow, naming the attribute."""
    usage = attributes["KeyUsage"]
    algorithm = attributes["KeyAlgorithm"]
    key_class = attributes["KeyClass"]
    rule = RULES.get(usage)
    if rule is None:
        raise ValidationError(f"KeyUsage {usage} is not supported for key creation.")
    if algorithm not in rule.algorithms:
        raise ValidationError(
            f"KeyAlgorithm {algorithm} is not valid for KeyUsage {usage}; "
            f"valid algorithms: {', '.join(sorted(rule.algorithms))}."
        )
    if key_class != rule.key_class:
        raise ValidationError(
            f"KeyClass {key_class} is not valid for KeyUsage {usage}; use {rule.key_class}."
        )
    modes = modes_set(attributes.get("KeyModesOfUse") or {})
    if modes not in rule.modes:
        allowed = "; ".join("{" + ", ".join(sorted(s)) + "}" for s in sorted(rule.modes, key=sorted))
        shown = "{" + ", ".join(sorted(modes)) + "}"
        raise ValidationError(
            f"KeyModesOfUse {shown} is not valid for KeyUsage {usage}; valid combinations: {allowed}."
        )
    if derive_key_usage is not None and usage not in DERIVE_KEY_USAGE_ALLOWED:
        raise ValidationError(
            f"DeriveKeyUsage applies only to KeyUsage TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT, not {usage}."
        )


# ImportKey of a certificate (RootCertificatePublicKey, TrustedCertificatePublicKey) stores the
# public half only, so only the public operations are valid (seed-B §12: "Importing a public key:
# {Encrypt, Wrap} is the only valid option" for D1 and K2, {Verify} for S0; an ECC K3 certificate
# is kept for storage with DeriveKey, its only mode). Roots are S0 with Verify (the API's
# ImportKey documentation).
PUBLIC_KEY_RULES: dict[str, UsageRule] = {
    "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE": UsageRule(RSA | ECC, _sets({"Verify"}), "PUBLIC_KEY"),
    "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION": UsageRule(RSA, _sets({"Encrypt", "Wrap"}), "PUBLIC_KEY"),
    "TR31_K2_TR34_ASYMMETRIC_KEY": UsageRule(RSA, _sets({"Encrypt", "Wrap"}), "PUBLIC_KEY"),
    "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT": UsageRule(ECC, _sets({"DeriveKey"}), "PUBLIC_KEY"),
}
ROOT_USAGES = frozenset({"TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"})


def check_public_key(attributes: dict[str, Any], *, root: bool) -> None:
    """The attribute rules for an imported certificate, naming the attribute that does not fit."""
    usage = attributes["KeyUsage"]
    rule = PUBLIC_KEY_RULES.get(usage)
    if rule is None or (root and usage not in ROOT_USAGES):
        allowed = ROOT_USAGES if root else PUBLIC_KEY_RULES
        raise ValidationError(
            f"KeyUsage {usage} is not valid for an imported certificate; use {', '.join(sorted(allowed))}."
        )
    if attributes["KeyClass"] != "PUBLIC_KEY":
        raise ValidationError(
            f"KeyClass {attributes['KeyClass']} is not valid for an imported certificate; use PUBLIC_KEY."
        )
    if attributes["KeyAlgorithm"] not in rule.algorithms:
        raise ValidationError(
            f"KeyAlgorithm {attributes['KeyAlgorithm']} is not valid for KeyUsage {usage}; "
            f"valid algorithms: {', '.join(sorted(rule.algorithms))}."
        )
    modes = modes_set(attributes.get("KeyModesOfUse") or {})
    if modes not in rule.modes:
        allowed_modes = "; ".join("{" + ", ".join(sorted(s)) + "}" for s in sorted(rule.modes, key=sorted))
        raise ValidationError(
            f"KeyModesOfUse {{{', '.join(sorted(modes))}}} is not valid for an imported {usage} certificate; "
            f"valid: {allowed_modes}."
        )


# The guide's cryptographic-primitives section: "HMAC with an approved hash function and a key size
# greater than or equal to 128" bits. An HMAC key's length is its own (HMAC takes any length); TDES
# and AES keys have the one length their KeyAlgorithm names.
HMAC_MIN_KEY_BYTES = 16


def check_material_length(algorithm: str, length: int, what: str) -> None:
    """The one key-length rule for key material brought in from outside (every ImportKey path,
    TranslateKeyMaterial, WrappedKey); `what` names the input that carried the key."""
    if algorithm in HMAC:
        if length < HMAC_MIN_KEY_BYTES:
            raise ValidationError(
                f"{what} carries an HMAC key of {length} bytes ({length * 8} bits); an HMAC key must be "
                f"at least {HMAC_MIN_KEY_BYTES} bytes ({HMAC_MIN_KEY_BYTES * 8} bits)."
            )
        return
    expected = keygen.SYMMETRIC_LENGTHS.get(algorithm)
    if expected is not None and length != expected:
        raise ValidationError(
            f"{what} does not carry a {algorithm} key ({expected} bytes, {expected * 2} hex characters)."
        )

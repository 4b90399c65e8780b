"""Which keys each data-plane operation (and union member) accepts: one table.

A key is usable when it is CREATE_COMPLETE and enabled; then its KeyUsage, KeyAlgorithm and
KeyModesOfUse must fit the rule for the operation and the member chosen. A key with
NoRestrictions passes any mode check. Later operations add their rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from paycrypt.errors import ValidationError
from paycrypt.service.rules.combinations import AES, ECC, HMAC, RSA, TDES
from paycrypt.store.records import KeyRecord

C0 = "TR31_C0_CARD_VERIFICATION_KEY"
# Issuer keys (issue 4): EMV master keys for dynamic values, PIN verification and encryption keys.
E4 = "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS"
E6 = "TR31_E6_EMV_MKEY_OTHER"
V1 = "TR31_V1_IBM3624_PIN_VERIFICATION_KEY"
V2 = "TR31_V2_VISA_PIN_VERIFICATION_KEY"
P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
B0 = "TR31_B0_BASE_DERIVATION_KEY"
DUKPT_BDK = frozenset({"TDES_2KEY"}) | AES  # the BDKs crypto.dukpt_variants derives from
# MACs and data encryption (issues 5, 6, 7): MAC keys by TR-31 usage, EMV master keys for
# integrity and confidentiality, data encryption keys (symmetric and RSA).
M0 = "TR31_M0_ISO_16609_MAC_KEY"
M1 = "TR31_M1_ISO_9797_1_MAC_KEY"
M3 = "TR31_M3_ISO_9797_3_MAC_KEY"
M6 = "TR31_M6_ISO_9797_5_CMAC_KEY"
M7 = "TR31_M7_HMAC_KEY"
E1 = "TR31_E1_EMV_MKEY_CONFIDENTIALITY"
E2 = "TR31_E2_EMV_MKEY_INTEGRITY"
D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
D1 = "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION"
E0 = "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS"
# EMV issuer master keys: TDES_2KEY only, as the guide's EMV key tables list them.
EMV_IMK = frozenset({"TDES_2KEY"})


@dataclass(frozen=True)
class KeyRule:
    usages: frozenset[str]
    algorithms: frozenset[str]
    modes: frozenset[str]  # the key needs one of these (or NoRestrictions)


def _rule(usages: set[str], algorithms: frozenset[str], modes: set[str]) -> KeyRule:
    return KeyRule(frozenset(usages), algorithms, frozenset(modes))


def _mac(
    member: str, usages: set[str], algorithms: frozenset[str], modes: set[str] | None = None
) -> dict[tuple[str, str, str], KeyRule]:
    """The GenerateMac and VerifyMac rows of one MacAttributes member: Generate for one and
    Verify for the other, unless the key derives the MAC key (`modes`, e.g. DeriveKey)."""
    return {
        ("GenerateMac", member, "KeyIdentifier"): _rule(usages, algorithms, modes or {"Generate"}),
        ("VerifyMac", member, "KeyIdentifier"): _rule(usages, algorithms, modes or {"Verify"}),
    }


def _key_exchange_rows() -> dict[tuple[str, str, str], KeyRule]:
    keks = {"TR31_K0_KEY_ENCRYPTION_KEY", "TR31_K1_KEY_BLOCK_PROTECTION_KEY"}
    ca = _rule({"TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"}, RSA | ECC, {"Verify"})
    k3 = _rule({"TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT"}, ECC, {"DeriveKey"})
    unwrap = _rule(keks, TDES | AES, {"Unwrap", "Decrypt"})
    wrap = _rule(keks, TDES | AES, {"Wrap", "Encrypt"})
    as2805_unwrap = _rule({"TR31_K0_KEY_ENCRYPTION_KEY"}, TDES, {"Unwrap", "Decrypt"})
    as2805_wrap = _rule({"TR31_K0_KEY_ENCRYPTION_KEY"}, TDES, {"Wrap", "Encrypt"})
    ca_role = "CertificateAuthorityPublicKeyIdentifier"
    return {
        ("WrappedKey", "Tr31KeyBlock", "KEK"): unwrap,
        ("WrappedKey", "DiffieHellmanSymmetricKey", "K3"): k3,
        ("WrappedKey", "DiffieHellmanSymmetricKey", ca_role): ca,
        ("ImportKey", "Tr31KeyBlock", "WrappingKeyIdentifier"): unwrap,
        ("ImportKey", "TrustedCertificatePublicKey", ca_role): ca,
        ("ImportKey", "Tr34KeyBlock", ca_role): ca,
        ("ImportKey", "Tr34KeyBlock", "WrappingKeyIdentifier"): _rule(
            {"TR31_K2_TR34_ASYMMETRIC_KEY"}, RSA, {"Unwrap", "Decrypt"}
        ),
        ("ImportKey", "DiffieHellmanTr31KeyBlock", "PrivateKeyIdentifier"): k3,
        ("ImportKey", "DiffieHellmanTr31KeyBlock", ca_role): ca,
        ("ExportKey", "Tr31KeyBlock", "WrappingKeyIdentifier"): wrap,
        # AS2805 variant cryptograms (issue 7): the KEK is a TR31_K0 TDES key.
        ("ImportKey", "As2805KeyCryptogram", "WrappingKeyIdentifier"): as2805_unwrap,
        ("ExportKey", "As2805KeyCryptogram", "WrappingKeyIdentifier"): as2805_wrap,
        ("ExportKey", "Tr34KeyBlock", ca_role): ca,
        ("ExportKey", "Tr34KeyBlock", "SigningKeyIdentifier"): _rule(
            {"TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"}, RSA, {"Sign"}
        ),
        ("ExportKey", "KeyCryptogram", ca_role): ca,
        ("ExportKey", "DiffieHellmanTr31KeyBlock", "PrivateKeyIdentifier"): k3,
        ("ExportKey", "DiffieHellmanTr31KeyBlock", ca_role): ca,
        ("ExportKey", "ExportDukptInitialKey", "ExportKeyIdentifier"): _rule(
            {"TR31_B0_BASE_DERIVATION_KEY"}, frozenset({"TDES_2KEY"}) | AES, {"DeriveKey"}
        ),
        ("TranslateKeyMaterial", "DiffieHellmanTr31KeyBlock", "PrivateKeyIdentifier"): k3,
        ("TranslateKeyMaterial", "DiffieHellmanTr31KeyBlock", ca_role): ca,
        ("TranslateKeyMaterial", "Tr31KeyBlock", "WrappingKeyIdentifier"): wrap,
    }


# (operation, union member or "", key role) -> rule. The role names the input member that
# identifies the key ("KeyIdentifier" for single-key operations; e.g. "EncryptionKeyIdentifier",
# "IncomingKeyIdentifier" where an operation uses several keys).
RULES: dict[tuple[str, str, str], KeyRule] = {
    ("GenerateCardValidationData", "CardVerificationValue1", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("GenerateCardValidationData", "CardVerificationValue2", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("VerifyCardValidationData", "CardVerificationValue1", "KeyIdentifier"): _rule({C0}, TDES, {"Verify"}),
    ("VerifyCardValidationData", "CardVerificationValue2", "KeyIdentifier"): _rule({C0}, TDES, {"Verify"}),
    # MACs (issues 5, 6, 7). The Algorithm member is keyed by its value: each algorithm takes its
    # own TR-31 usage (seed-C A-KEY-7), and HMAC_SHAnnn only the HMAC key of that hash.
    **_mac("Algorithm=ISO9797_ALGORITHM1", {M1}, TDES),
    **_mac("Algorithm=ISO9797_ALGORITHM3", {M3}, TDES),
    **_mac("Algorithm=CMAC", {M6}, TDES | AES),
    **_mac("Algorithm=HMAC", {M7}, HMAC),
    **_mac("Algorithm=HMAC_SHA224", {M7}, frozenset({"HMAC_SHA224"})),
    **_mac("Algorithm=HMAC_SHA256", {M7}, frozenset({"HMAC_SHA256"})),
    **_mac("Algorithm=HMAC_SHA384", {M7}, frozenset({"HMAC_SHA384"})),
    **_mac("Algorithm=HMAC_SHA512", {M7}, frozenset({"HMAC_SHA512"})),
    **_mac("Algorithm=AS2805_4_1", {M0}, TDES),
    **_mac("EmvMac", {E2}, EMV_IMK, {"DeriveKey"}),
    **_mac("DukptIso9797Algorithm1", {B0}, DUKPT_BDK, {"DeriveKey"}),
    **_mac("DukptIso9797Algorithm3", {B0}, DUKPT_BDK, {"DeriveKey"}),
    **_mac("DukptCmac", {B0}, DUKPT_BDK, {"DeriveKey"}),
    # Data encryption (issues 5, 6): encrypting needs Encrypt, decrypting Decrypt; DUKPT and EMV
    # master keys derive the data key. ReEncryptData decrypts with the incoming key and
    # encrypts with the outgoing one.
    ("EncryptData", "Symmetric", "KeyIdentifier"): _rule({D0}, TDES | AES, {"Encrypt"}),
    ("DecryptData", "Symmetric", "KeyIdentifier"): _rule({D0}, TDES | AES, {"Decrypt"}),
    ("EncryptData", "Asymmetric", "KeyIdentifier"): _rule({D1}, RSA, {"Encrypt"}),
    ("DecryptData", "Asymmetric", "KeyIdentifier"): _rule({D1}, RSA, {"Decrypt"}),
    ("EncryptData", "Dukpt", "KeyIdentifier"): _rule({B0}, DUKPT_BDK, {"DeriveKey"}),
    ("DecryptData", "Dukpt", "KeyIdentifier"): _rule({B0}, DUKPT_BDK, {"DeriveKey"}),
    ("EncryptData", "Emv", "KeyIdentifier"): _rule({E1, E6}, EMV_IMK, {"DeriveKey"}),
    ("DecryptData", "Emv", "KeyIdentifier"): _rule({E1, E6}, EMV_IMK, {"DeriveKey"}),
    ("ReEncryptData", "Symmetric", "IncomingKeyIdentifier"): _rule({D0}, TDES | AES, {"Decrypt"}),
    ("ReEncryptData", "Symmetric", "OutgoingKeyIdentifier"): _rule({D0}, TDES | AES, {"Encrypt"}),
    ("ReEncryptData", "Asymmetric", "IncomingKeyIdentifier"): _rule({D1}, RSA, {"Decrypt"}),
    ("ReEncryptData", "Asymmetric", "OutgoingKeyIdentifier"): _rule({D1}, RSA, {"Encrypt"}),
    ("ReEncryptData", "Dukpt", "IncomingKeyIdentifier"): _rule({B0}, DUKPT_BDK, {"DeriveKey"}),
    ("ReEncryptData", "Dukpt", "OutgoingKeyIdentifier"): _rule({B0}, DUKPT_BDK, {"DeriveKey"}),
    # A dynamic key (WrappedKey) is a D0 data key with Symmetric attributes only (the model's
    # docs: "key purpose of D0"); the role is the member that carries it.
    ("EncryptData", "Symmetric", "WrappedKey"): _rule({D0}, TDES | AES, {"Encrypt"}),
    ("DecryptData", "Symmetric", "WrappedKey"): _rule({D0}, TDES | AES, {"Decrypt"}),
    ("ReEncryptData", "Symmetric", "IncomingWrappedKey"): _rule({D0}, TDES | AES, {"Decrypt"}),
    ("ReEncryptData", "Symmetric", "OutgoingWrappedKey"): _rule({D0}, TDES | AES, {"Encrypt"}),
    # Issuer card values (issue 4): CSC keys generate/verify; EMV master keys derive per card.
    ("GenerateCardValidationData", "AmexCardSecurityCodeVersion1", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("VerifyCardValidationData", "AmexCardSecurityCodeVersion1", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Verify"}
    ),
    ("GenerateCardValidationData", "AmexCardSecurityCodeVersion2", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Generate"}
    ),
    ("VerifyCardValidationData", "AmexCardSecurityCodeVersion2", "KeyIdentifier"): _rule(
        {C0}, TDES, {"Verify"}
    ),
    ("GenerateCardValidationData", "DynamicCardVerificationCode", "KeyIdentifier"): _rule(
        {E4}, EMV_IMK, {"DeriveKey"}
    ),
    ("VerifyCardValidationData", "DynamicCardVerificationCode", "KeyIdentifier"): _rule(
        {E4}, EMV_IMK, {"DeriveKey"}
    ),
    ("GenerateCardValidationData", "DynamicCardVerificationValue", "KeyIdentifier"): _rule(
        {E6}, EMV_IMK, {"DeriveKey"}
    ),
    ("VerifyCardValidationData", "DynamicCardVerificationValue", "KeyIdentifier"): _rule(
        {E6}, EMV_IMK, {"DeriveKey"}
    ),
    ("GenerateCardValidationData", "CardHolderVerificationValue", "KeyIdentifier"): _rule(
        {E6}, EMV_IMK, {"DeriveKey"}
    ),
    ("VerifyCardValidationData", "CardHolderVerificationValue", "KeyIdentifier"): _rule(
        {E6}, EMV_IMK, {"DeriveKey"}
    ),
    ("VerifyCardValidationData", "DiscoverDynamicCardVerificationCode", "KeyIdentifier"): _rule(
        {E6}, EMV_IMK, {"DeriveKey"}
    ),
    # PIN data (issue 4): the PVK generates or verifies; the PEK encrypts a PIN block it produces
    # (Encrypt/Wrap) and decrypts one it reads (Decrypt/Unwrap); a BDK derives DUKPT PIN keys.
    ("GeneratePinData", "VisaPin", "GenerationKeyIdentifier"): _rule({V2}, TDES, {"Generate"}),
    ("GeneratePinData", "VisaPinVerificationValue", "GenerationKeyIdentifier"): _rule(
        {V2}, TDES, {"Generate"}
    ),
    ("GeneratePinData", "Ibm3624PinOffset", "GenerationKeyIdentifier"): _rule({V1}, TDES, {"Generate"}),
    ("GeneratePinData", "Ibm3624NaturalPin", "GenerationKeyIdentifier"): _rule({V1}, TDES, {"Generate"}),
    ("GeneratePinData", "Ibm3624RandomPin", "GenerationKeyIdentifier"): _rule({V1}, TDES, {"Generate"}),
    ("GeneratePinData", "Ibm3624PinFromOffset", "GenerationKeyIdentifier"): _rule({V1}, TDES, {"Generate"}),
    ("GeneratePinData", "VisaPin", "EncryptionKeyIdentifier"): _rule({P0}, TDES | AES, {"Encrypt", "Wrap"}),
    ("GeneratePinData", "Ibm3624NaturalPin", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Encrypt", "Wrap"}
    ),
    ("GeneratePinData", "Ibm3624RandomPin", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Encrypt", "Wrap"}
    ),
    ("GeneratePinData", "Ibm3624PinFromOffset", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Encrypt", "Wrap"}
    ),
    ("GeneratePinData", "VisaPinVerificationValue", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Decrypt", "Unwrap"}
    ),
    ("GeneratePinData", "Ibm3624PinOffset", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Decrypt", "Unwrap"}
    ),
    ("VerifyPinData", "VisaPin", "VerificationKeyIdentifier"): _rule({V2}, TDES, {"Verify"}),
    ("VerifyPinData", "Ibm3624Pin", "VerificationKeyIdentifier"): _rule({V1}, TDES, {"Verify"}),
    ("VerifyPinData", "VisaPin", "EncryptionKeyIdentifier"): _rule({P0}, TDES | AES, {"Decrypt", "Unwrap"}),
    ("VerifyPinData", "Ibm3624Pin", "EncryptionKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Decrypt", "Unwrap"}
    ),
    ("VerifyPinData", "DukptAttributes", "EncryptionKeyIdentifier"): _rule({B0}, DUKPT_BDK, {"DeriveKey"}),
    # EMV (issue 5): the IMK-AC derives the ARQC/ARPC key for every SessionKeyDerivation member;
    # PIN change uses the IMK-SMI, the IMK-SMC, TDES PEKs that decrypt the incoming PIN blocks
    # and, for Visa and Amex, the IMK-AC (the card key the VIS PIN block is bound to).
    **{
        (op, member, "KeyIdentifier"): _rule({E0}, EMV_IMK, {"DeriveKey"})
        for op in ("VerifyAuthRequestCryptogram", "GenerateAuthRequestCryptogram")
        for member in ("EmvCommon", "Mastercard", "Emv2000", "Amex", "Visa", "UnionPay")
    },
    **{
        ("GenerateMacEmvPinChange", member, role): rule
        for member in ("EmvCommon", "Mastercard", "Emv2000", "Amex", "Visa")
        for role, rule in (
            ("SecureMessagingIntegrityKeyIdentifier", _rule({E2}, EMV_IMK, {"DeriveKey"})),
            ("SecureMessagingConfidentialityKeyIdentifier", _rule({E1}, EMV_IMK, {"DeriveKey"})),
            ("NewPinPekIdentifier", _rule({P0}, TDES, {"Decrypt", "Unwrap"})),
        )
    },
    **{
        ("GenerateMacEmvPinChange", member, role): rule
        for member in ("Visa", "Amex")
        for role, rule in (
            ("AuthorizationRequestKeyIdentifier", _rule({E0}, EMV_IMK, {"DeriveKey"})),
            ("CurrentPinPekIdentifier", _rule({P0}, TDES, {"Decrypt", "Unwrap"})),
        )
    },
    # PIN translation (issues 6, 7): the incoming PEK decrypts, the outgoing one encrypts; a BDK
    # derives DUKPT PIN keys; an AS2805 terminal PIN key (KPP, TDES) derives the session KPE;
    # a dynamic (wrapped) PEK is checked as a key of the same usage once unwrapped.
    ("TranslatePinData", "", "IncomingKeyIdentifier"): _rule({P0}, TDES | AES, {"Decrypt", "Unwrap"}),
    ("TranslatePinData", "", "OutgoingKeyIdentifier"): _rule({P0}, TDES | AES, {"Encrypt", "Wrap"}),
    ("TranslatePinData", "IncomingDukptAttributes", "IncomingKeyIdentifier"): _rule(
        {B0}, DUKPT_BDK, {"DeriveKey"}
    ),
    ("TranslatePinData", "OutgoingDukptAttributes", "OutgoingKeyIdentifier"): _rule(
        {B0}, DUKPT_BDK, {"DeriveKey"}
    ),
    ("TranslatePinData", "IncomingAs2805Attributes", "IncomingKeyIdentifier"): _rule(
        {P0}, TDES, {"Decrypt", "Unwrap"}
    ),
    ("TranslatePinData", "IncomingWrappedKey", "IncomingKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Decrypt", "Unwrap"}
    ),
    ("TranslatePinData", "OutgoingWrappedKey", "OutgoingKeyIdentifier"): _rule(
        {P0}, TDES | AES, {"Encrypt", "Wrap"}
    ),
    # AS2805 KEK validation (issue 7): a TDES KEK; asking only encrypts, answering decrypts.
    ("GenerateAs2805KekValidation", "KekValidationRequest", "KeyIdentifier"): _rule(
        {"TR31_K0_KEY_ENCRYPTION_KEY"}, TDES, {"Encrypt", "Wrap"}
    ),
    ("GenerateAs2805KekValidation", "KekValidationResponse", "KeyIdentifier"): _rule(
        {"TR31_K0_KEY_ENCRYPTION_KEY"}, TDES, {"Decrypt", "Unwrap"}
    ),
    # Key exchange (issue 3): the stored keys that ImportKey, ExportKey, TranslateKeyMaterial and
    # dynamic keys (pseudo-operation "WrappedKey") name. KEKs unwrap to import and wrap to export;
    # CAs are imported certificates that verify; K3 key pairs derive; BYOCA keys sign or unwrap.
    **_key_exchange_rows(),
}


def check_usable(record: KeyRecord) -> None:
    if record.key_state != "CREATE_COMPLETE":
        raise ValidationError(f"Key {record.arn} cannot be used: KeyState is {record.key_state}.")
    if not record.enabled:
        raise ValidationError(f"Key {record.arn} cannot be used: it is disabled (Enabled is false).")


def check_key(operation: str, member: str, record: KeyRecord, role: str = "KeyIdentifier") -> None:
    """Raise ValidationException naming the stored key's attribute that does not fit the operation.

    Every data-plane call runs this for each key it uses: a key that fits costs a few lookups, and
    the messages are built only for one that does not."""
    if record.key_state != "CREATE_COMPLETE" or not record.enabled:
        check_usable(record)
    attributes = record.key_attributes
    if not _fits(RULES[(operation, member, role)], attributes):
        _refuse(operation, member, role, attributes, f"Key {record.arn}")


def check_attributes(operation: str, member: str, role: str, attributes: dict[str, Any], label: str) -> None:
    """The same check for a key that is not stored (a dynamic key unwrapped for one request)."""
    if not _fits(RULES[(operation, member, role)], attributes):
        _refuse(operation, member, role, attributes, label)


def _fits(rule: KeyRule, attributes: dict[str, Any]) -> bool:
    if attributes["KeyUsage"] not in rule.usages or attributes["KeyAlgorithm"] not in rule.algorithms:
        return False
    modes = attributes["KeyModesOfUse"]
    if modes.get("NoRestrictions"):
        return True
    for mode in rule.modes:  # noqa: SIM110 - a loop, not any() over a generator: the hot path
        if modes.get(mode):
            return True
    return False


def _refuse(operation: str, member: str, role: str, attributes: dict[str, Any], label: str) -> NoReturn:
    """The ValidationException naming the first attribute of a key that does not fit the rule."""
    rule = RULES[(operation, member, role)]
    doing = f"{operation} with {member}" if member else operation
    if role != "KeyIdentifier":
        doing += f" ({role})"
    if attributes["KeyUsage"] not in rule.usages:
        raise ValidationError(
            f"{label} has KeyUsage {attributes['KeyUsage']}; {doing} requires "
            f"{' or '.join(sorted(rule.usages))}."
        )
    if attributes["KeyAlgorithm"] not in rule.algorithms:
        raise ValidationError(
            f"{label} has KeyAlgorithm {attributes['KeyAlgorithm']}; {doing} requires "
            f"{' or '.join(sorted(rule.algorithms))}."
        )
    raise ValidationError(
        f"{label} KeyModesOfUse does not allow {doing}; it requires "
        f"{' or '.join(sorted(rule.modes))} (or NoRestrictions)."
    )

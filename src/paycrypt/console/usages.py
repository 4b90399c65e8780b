"""What each key usage is for, in a line, for the create form (the rules themselves are
service/rules/combinations.py's table, which the form reads)."""

from __future__ import annotations

EXPLAINED = {
    "TR31_B0_BASE_DERIVATION_KEY": "DUKPT base derivation key: derives a key per terminal transaction.",
    "TR31_C0_CARD_VERIFICATION_KEY": "Card verification key: generates and verifies CVV, CVV2, iCVV, CSC.",
    "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY": "Data encryption key: encrypts and decrypts data.",
    "TR31_E0_EMV_MKEY_APP_CRYPTOGRAMS": "EMV issuer master key for application cryptograms (ARQC/ARPC).",
    "TR31_E1_EMV_MKEY_CONFIDENTIALITY": "EMV issuer master key for secure messaging confidentiality.",
    "TR31_E2_EMV_MKEY_INTEGRITY": "EMV issuer master key for secure messaging integrity (MACs).",
    "TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS": "EMV issuer master key for dynamic numbers (dCVV, CVC3).",
    "TR31_E5_EMV_MKEY_CARD_PERSONALIZATION": "EMV master key for card personalization.",
    "TR31_E6_EMV_MKEY_OTHER": "EMV master key for other uses (e.g. PIN change).",
    "TR31_K0_KEY_ENCRYPTION_KEY": "Key encryption key (KEK): wraps other keys for import and export.",
    "TR31_K1_KEY_BLOCK_PROTECTION_KEY": "Key block protection key: protects TR-31 key blocks.",
    "TR31_M0_ISO_16609_MAC_KEY": "MAC key for ISO 16609 (TDES) MACs.",
    "TR31_M1_ISO_9797_1_MAC_KEY": "MAC key for ISO 9797-1 algorithm 1 MACs.",
    "TR31_M3_ISO_9797_3_MAC_KEY": "MAC key for ISO 9797-1 algorithm 3 (retail) MACs.",
    "TR31_M6_ISO_9797_5_CMAC_KEY": "MAC key for CMAC (ISO 9797-1 algorithm 5).",
    "TR31_M7_HMAC_KEY": "HMAC key.",
    "TR31_P0_PIN_ENCRYPTION_KEY": "PIN encryption key: protects PIN blocks in transit.",
    "TR31_P1_PIN_GENERATION_KEY": "PIN generation key.",
    "TR31_V1_IBM3624_PIN_VERIFICATION_KEY": "PIN verification key for IBM 3624 PIN offsets.",
    "TR31_V2_VISA_PIN_VERIFICATION_KEY": "PIN verification key for Visa PVVs.",
    "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION": "RSA key pair for data encryption.",
    "TR31_K2_TR34_ASYMMETRIC_KEY": "RSA key pair for TR-34 key transport and RSA key wrapping.",
    "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT": "ECC key pair for ECDH key agreement.",
    "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE": "Key pair for digital signatures.",
}

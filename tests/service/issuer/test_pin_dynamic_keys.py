"""GeneratePinData / VerifyPinData with EncryptionWrappedKey: both WrappedKeyMaterial members.

- Tr31KeyBlock: the published third-party blocks of seed-B §5.2 (as in test_dynamic_keys: a TDES
  version B block and an AES version D block, both TR31_P0 with mode E, key 3F419E1C…F8B8), and
  blocks with mode B built here with psec.tr31 (an implementation independent of paycrypt's).
- DiffieHellmanSymmetricKey: the partner side (ECDH + NIST SP 800-56 concatenation KDF) is plain
  `cryptography`, so the PIN the partner decrypts proves both ends agreed on the key ("reveal
  PIN", and a cardholder-selected PIN coming in).
The PIN blocks a dynamic key writes are decoded with psec where psec has the format.
"""

from __future__ import annotations

import secrets

import psec.des
import psec.pinblock
import psec.tr31
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from paycrypt.crypto import ibm3624, pinblock, visa_pvv
from paycrypt.errors import ValidationError
from paycrypt.service.core import Service
from paycrypt.service.issuer import pin_data
from tests.service.issuer.test_issuer_service import PAN, create, material
from tests.service.stored_keys import context as ctx
from tests.service.working_keys.test_dynamic_keys import (
    AES_KBPK,
    B_BLOCK,
    CLEAR,
    D_BLOCK,
    TDES_KBPK,
    _b64,
    _ca,
    _import_root,
    _k3,
    _leaf,
    _service_public_key,
    aes_kcv,
    kek,
    tdes_kcv,
)

GEN_VERIFY = {"Generate": True, "Verify": True}


def visa_generate(svc: Service, pvk: str, kek_arn: str, wrapped: dict, fmt: str) -> dict:
    return pin_data.generate_pin_data(
        svc,
        ctx(svc),
        {
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": kek_arn,
            "EncryptionWrappedKey": wrapped,
            "GenerationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 2}},
            "PinBlockFormat": fmt,
            "PrimaryAccountNumber": PAN,
        },
    )


def visa_verify(svc: Service, pvk: str, kek_arn: str, wrapped: dict, fmt: str, block: str, pvv: str) -> dict:
    return pin_data.verify_pin_data(
        svc,
        ctx(svc),
        {
            "VerificationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": kek_arn,
            "EncryptionWrappedKey": wrapped,
            "VerificationAttributes": {"VisaPin": {"PinVerificationKeyIndex": 2, "VerificationValue": pvv}},
            "PinBlockFormat": fmt,
            "EncryptedPinBlock": block,
            "PrimaryAccountNumber": PAN,
        },
    )


def test_published_tdes_block_writes_iso0_pin_blocks(svc) -> None:
    pvk = create(svc, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    kek_arn = kek(svc, TDES_KBPK, "TDES_2KEY")
    wrapped = {"WrappedKeyMaterial": {"Tr31KeyBlock": B_BLOCK}}
    out = visa_generate(svc, pvk, kek_arn, wrapped, "ISO_FORMAT_0")
    assert out["EncryptionKeyArn"] == kek_arn and out["EncryptionKeyCheckValue"] == tdes_kcv(CLEAR)
    clear_block = psec.des.decrypt_tdes_ecb(CLEAR, bytes.fromhex(out["EncryptedPinBlock"]))
    pin = psec.pinblock.decode_pinblock_iso_0(clear_block, PAN)
    assert out["PinData"]["VerificationValue"] == visa_pvv.generate_pvv(material(svc, pvk), PAN, 2, pin)
    # The block's mode of use is E (encrypt only): it cannot read a PIN block.
    with pytest.raises(ValidationError) as info:
        visa_verify(svc, pvk, kek_arn, wrapped, "ISO_FORMAT_0", out["EncryptedPinBlock"], "0000")
    assert "WrappedKeyMaterial.Tr31KeyBlock" in info.value.message and "Decrypt" in info.value.message
    # ISO_FORMAT_4 is the AES format: a TDES PEK is refused, in the message's own words.
    with pytest.raises(ValidationError) as info:
        visa_generate(svc, pvk, kek_arn, wrapped, "ISO_FORMAT_4")
    assert "ISO_FORMAT_4 needs an AES PIN key" in info.value.message


def test_published_aes_block_writes_iso4_and_format_rule(svc) -> None:
    pvk = create(svc, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    kek_arn = kek(svc, AES_KBPK, "AES_256")
    wrapped = {"WrappedKeyMaterial": {"Tr31KeyBlock": D_BLOCK}}
    out = visa_generate(svc, pvk, kek_arn, wrapped, "ISO_FORMAT_4")
    assert out["EncryptionKeyCheckValue"] == aes_kcv(CLEAR) and len(out["EncryptedPinBlock"]) == 32
    pin = psec.pinblock.decipher_pinblock_iso_4(CLEAR, bytes.fromhex(out["EncryptedPinBlock"]), PAN)
    assert out["PinData"]["VerificationValue"] == visa_pvv.generate_pvv(material(svc, pvk), PAN, 2, pin)
    with pytest.raises(ValidationError) as info:
        visa_generate(svc, pvk, kek_arn, wrapped, "ISO_FORMAT_0")
    assert "PinBlockFormat" in info.value.message and "EncryptionWrappedKey" in info.value.message


@pytest.mark.parametrize(
    ("header", "fmt"), [("B0000P0TB00N0000", "ISO_FORMAT_3"), ("D0000P0AB00N0000", "ISO_FORMAT_4")]
)
def test_mode_b_block_generates_and_verifies(svc, header: str, fmt: str) -> None:
    """A dynamic PEK with mode B (both ways) writes a block and reads it back; a wrong PVV fails."""
    algorithm, kbpk = (
        ("TDES_2KEY", secrets.token_bytes(16)) if header[0] == "B" else ("AES_256", secrets.token_bytes(32))
    )
    kek_arn = kek(svc, kbpk, algorithm)
    pek = secrets.token_bytes(16)
    wrapped = {"WrappedKeyMaterial": {"Tr31KeyBlock": psec.tr31.wrap(kbpk, header, pek)}}
    pvk = create(svc, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_3KEY", GEN_VERIFY)
    out = visa_generate(svc, pvk, kek_arn, wrapped, fmt)
    pvv = out["PinData"]["VerificationValue"]
    assert (
        visa_verify(svc, pvk, kek_arn, wrapped, fmt, out["EncryptedPinBlock"], pvv)["EncryptionKeyArn"]
        == kek_arn
    )
    with pytest.raises(pin_data.VerificationFailed):
        visa_verify(
            svc, pvk, kek_arn, wrapped, fmt, out["EncryptedPinBlock"], f"{(int(pvv) + 1) % 10000:04d}"
        )
    # The block must hold a PIN encryption key: a data key is refused by the same rule as a stored one.
    data_key = {"WrappedKeyMaterial": {"Tr31KeyBlock": psec.tr31.wrap(kbpk, header.replace("P0", "D0"), pek)}}
    with pytest.raises(ValidationError) as info:
        visa_generate(svc, pvk, kek_arn, data_key, fmt)
    assert "TR31_P0_PIN_ENCRYPTION_KEY" in info.value.message


def test_kek_rules_apply(svc) -> None:
    pvk = create(svc, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    pek = create(
        svc,
        "TR31_P0_PIN_ENCRYPTION_KEY",
        "TDES_2KEY",
        {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    )
    with pytest.raises(ValidationError) as info:  # a PEK is not a key-wrapping key
        visa_generate(svc, pvk, pek, {"WrappedKeyMaterial": {"Tr31KeyBlock": B_BLOCK}}, "ISO_FORMAT_0")
    assert "TR31_K" in info.value.message


def _ecdh(svc: Service):
    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", "TR31_P0_PIN_ENCRYPTION_KEY")
    partner_certificate, partner_key = _leaf(ca, ec.SECP256R1())
    shared = "0A0B0C0D"
    wrapped = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "PublicKeyCertificate": _b64(partner_certificate),
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": shared,
            }
        }
    }
    z = partner_key.exchange(ec.ECDH(), _service_public_key(svc, k3))
    partner_pek = ConcatKDFHash(algorithm=hashes.SHA256(), length=16, otherinfo=bytes.fromhex(shared)).derive(
        z
    )
    return k3, wrapped, partner_pek


def test_ecdh_reveal_pin_and_selected_pin(svc) -> None:
    """Reveal PIN: the generated PIN goes out under the ECDH key, and the partner's own derivation of
    that key decrypts it. PIN select: a block the partner made under the key is read for the offset."""
    k3, wrapped, partner_pek = _ecdh(svc)
    pvk = create(svc, "TR31_V1_IBM3624_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    base = {
        "DecimalizationTable": "0123456789012345",
        "PinValidationDataPadCharacter": "F",
        "PinValidationData": PAN,
    }
    out = pin_data.generate_pin_data(
        svc,
        ctx(svc),
        {
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": k3,
            "EncryptionWrappedKey": wrapped,
            "GenerationAttributes": {"Ibm3624RandomPin": base},
            "PinBlockFormat": "ISO_FORMAT_4",
            "PrimaryAccountNumber": PAN,
            "PinDataLength": 6,
        },
    )
    assert out["EncryptionKeyArn"] == k3 and out["EncryptionKeyCheckValue"] == aes_kcv(partner_pek)
    pin = psec.pinblock.decipher_pinblock_iso_4(partner_pek, bytes.fromhex(out["EncryptedPinBlock"]), PAN)
    assert out["PinData"]["PinOffset"] == ibm3624.pin_offset(
        material(svc, pvk), "0123456789012345", PAN, "F", pin
    )
    selected = pinblock.encrypt_pin(partner_pek, "ISO_FORMAT_4", "97531", PAN)
    chosen = pin_data.generate_pin_data(
        svc,
        ctx(svc),
        {
            "GenerationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": k3,
            "EncryptionWrappedKey": wrapped,
            "GenerationAttributes": {"Ibm3624PinOffset": {**base, "EncryptedPinBlock": selected}},
            "PinBlockFormat": "ISO_FORMAT_4",
            "PrimaryAccountNumber": PAN,
        },
    )
    offset = chosen["PinData"]["PinOffset"]
    assert offset == ibm3624.pin_offset(material(svc, pvk), "0123456789012345", PAN, "F", "97531")
    pin_data.verify_pin_data(
        svc,
        ctx(svc),
        {
            "VerificationKeyIdentifier": pvk,
            "EncryptionKeyIdentifier": k3,
            "EncryptionWrappedKey": wrapped,
            "VerificationAttributes": {"Ibm3624Pin": {**base, "PinOffset": offset}},
            "PinBlockFormat": "ISO_FORMAT_4",
            "EncryptedPinBlock": selected,
            "PrimaryAccountNumber": PAN,
        },
    )


def test_ecdh_key_of_another_usage_is_refused(svc) -> None:
    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY")
    pvk = create(svc, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    wrapped = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "PublicKeyCertificate": _b64(_leaf(ca, ec.SECP256R1())[0]),
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": "0A0B",
            }
        }
    }
    with pytest.raises(ValidationError) as info:
        visa_generate(svc, pvk, k3, wrapped, "ISO_FORMAT_4")
    assert "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY" in info.value.message

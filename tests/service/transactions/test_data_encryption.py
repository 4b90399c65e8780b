"""EncryptData / DecryptData / ReEncryptData service functions.

Sources: NIST SP 800-38A Appendix F (AES-128 ECB F.1.1, CBC F.2.1, CFB1 F.3.1, CFB8 F.3.7,
CFB128 F.3.13, OFB F.4.1); ANSI X9.24-1:2009 Annex A.4 (TDES DUKPT data request key at counter 1,
first CBC block FC0D53B7EA1FDA9E); ANSI X9.24-3-2017 supplement (AES DUKPT data keys at counter
1); pyemv for the EMV card session key; `cryptography` for RSA.
"""

from __future__ import annotations

import pyemv
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from paycrypt.crypto import iso9797
from paycrypt.errors import ValidationError
from paycrypt.service.transactions import data_encryption
from tests.service.stored_keys import DERIVE, ENC_DEC, context, put

AES_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
IV = bytes(range(16)).hex()
BLOCK = "6bc1bee22e409f96e93d7e117393172a"
TDES_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
TDES_KSN = "FFFF9876543210E00001"
AES_KSN = "123456789012345600000001"


def encrypt(svc, key: str, plaintext: str, attributes: dict) -> dict:
    params = {"KeyIdentifier": key, "PlainText": plaintext, "EncryptionAttributes": attributes}
    return data_encryption.encrypt_data(svc, context(svc), params)


def decrypt(svc, key: str, ciphertext: str, attributes: dict) -> dict:
    params = {"KeyIdentifier": key, "CipherText": ciphertext, "DecryptionAttributes": attributes}
    return data_encryption.decrypt_data(svc, context(svc), params)


@pytest.mark.parametrize(
    ("mode", "plaintext", "ciphertext"),
    [
        ("ECB", BLOCK, "3AD77BB40D7A3660A89ECAF32466EF97"),
        ("CBC", BLOCK, "7649ABAC8119B246CEE98E9B12E9197D"),
        ("CFB", BLOCK, "3B3FD92EB72DAD20333449F8E83CFB4A"),
        ("CFB128", BLOCK, "3B3FD92EB72DAD20333449F8E83CFB4A"),
        ("CFB8", BLOCK + "ae2d", "3B79424C9C0DD436BACE9E0ED4586A4F32B9"),
        ("CFB1", "6bc1", "68B3"),
        ("OFB", BLOCK, "3B3FD92EB72DAD20333449F8E83CFB4A"),
    ],
)
def test_symmetric_sp800_38a(svc, mode: str, plaintext: str, ciphertext: str) -> None:
    key = put(svc, AES_KEY, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", ENC_DEC)
    attrs = {"Symmetric": {"Mode": mode, "InitializationVector": IV}}
    out = encrypt(svc, key, plaintext, attrs)
    assert out["CipherText"] == ciphertext
    assert out["KeyArn"] == key and out["KeyCheckValue"]
    assert decrypt(svc, key, ciphertext, attrs)["PlainText"] == plaintext.upper()


def test_symmetric_rules_name_the_member(svc) -> None:
    aes = put(svc, AES_KEY, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", ENC_DEC)
    tdes = put(svc, TDES_BDK, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "TDES_2KEY", ENC_DEC)
    cases = [
        (aes, BLOCK[:30], {"Mode": "CBC"}, "PlainText", "multiple of 16"),
        (tdes, BLOCK[:12], {"Mode": "ECB"}, "PlainText", "multiple of 8"),
        (aes, BLOCK, {"Mode": "CBC", "InitializationVector": "00" * 8}, "InitializationVector", "16 bytes"),
        (tdes, BLOCK, {"Mode": "CBC", "InitializationVector": IV}, "InitializationVector", "8 bytes"),
        (tdes, BLOCK, {"Mode": "CFB128"}, "Mode", "64 bits"),
        (aes, BLOCK, {"Mode": "CBC", "PaddingType": "PKCS1"}, "PaddingType", "Asymmetric"),
    ]
    for key, plaintext, attrs, member, fragment in cases:
        with pytest.raises(ValidationError) as info:
            encrypt(svc, key, plaintext, {"Symmetric": attrs})
        assert member in info.value.message and fragment in info.value.message, info.value.message
    # CFB8, CFB1 and OFB take any length; CFB64 with AES is SP 800-38A's CFB-64
    for mode in ("CFB8", "CFB1", "OFB"):
        out = encrypt(svc, aes, "0102", {"Symmetric": {"Mode": mode}})["CipherText"]
        assert decrypt(svc, aes, out, {"Symmetric": {"Mode": mode}})["PlainText"] == "0102"
    out = encrypt(svc, aes, BLOCK[:16], {"Symmetric": {"Mode": "CFB64"}})["CipherText"]
    assert len(out) == 16


def test_wrong_key_usage_and_mode(svc) -> None:
    encrypt_only = put(
        svc, AES_KEY, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", {"Encrypt": True, "Wrap": True}
    )
    out = encrypt(svc, encrypt_only, BLOCK, {"Symmetric": {"Mode": "ECB"}})["CipherText"]
    with pytest.raises(ValidationError, match="KeyModesOfUse"):
        decrypt(svc, encrypt_only, out, {"Symmetric": {"Mode": "ECB"}})
    pek = put(svc, AES_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", ENC_DEC)
    with pytest.raises(ValidationError, match="requires TR31_D0"):
        encrypt(svc, pek, BLOCK, {"Symmetric": {"Mode": "ECB"}})


def test_dukpt_tdes_x9_24_1(svc) -> None:
    bdk = put(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    message = iso9797.pad_method1(b"4012345678909D987").hex()
    attrs = {"Dukpt": {"KeySerialNumber": TDES_KSN, "DukptKeyVariant": "REQUEST"}}
    out = encrypt(svc, bdk, message, attrs)
    assert out["CipherText"][:16] == "FC0D53B7EA1FDA9E"
    assert out["KeyCheckValue"] == "08D7B4"  # the BDK's
    assert decrypt(svc, bdk, out["CipherText"], attrs)["PlainText"] == message.upper()
    # defaults: BIDIRECTIONAL is the request variant for TDES, CBC with a zero IV
    assert (
        encrypt(svc, bdk, message, {"Dukpt": {"KeySerialNumber": TDES_KSN}})["CipherText"]
        == out["CipherText"]
    )


@pytest.mark.parametrize(
    ("variant", "key"),
    [
        ("REQUEST", "A35C412EFD41FDB98B69797C02DCD08F"),
        ("RESPONSE", "16292C6EA8F64C5420A0584BFBC577BE"),
        (None, "A308E080DD15A1B741F1721BF67DE11C"),
    ],
)
def test_dukpt_aes_x9_24_3(svc, variant: str | None, key: str) -> None:
    bdk = put(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    attrs = {"KeySerialNumber": AES_KSN, "Mode": "CBC", "InitializationVector": IV}
    if variant:
        attrs["DukptKeyVariant"] = variant
    enc = Cipher(algorithms.AES(bytes.fromhex(key)), modes.CBC(bytes.fromhex(IV))).encryptor()
    expected = (enc.update(bytes.fromhex(BLOCK * 2)) + enc.finalize()).hex().upper()
    assert encrypt(svc, bdk, BLOCK * 2, {"Dukpt": attrs})["CipherText"] == expected


def test_dukpt_bad_input(svc) -> None:
    tdes = put(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    aes = put(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    cases = [
        (tdes, {"KeySerialNumber": "FFFF9876543210E00000"}, BLOCK, "KeySerialNumber"),
        (tdes, {"KeySerialNumber": AES_KSN}, BLOCK, "KeySerialNumber"),
        (aes, {"KeySerialNumber": TDES_KSN}, BLOCK, "KeySerialNumber"),
        (aes, {"KeySerialNumber": "12345678901234560001FFFF"}, BLOCK, "KeySerialNumber"),
        (
            tdes,
            {"KeySerialNumber": TDES_KSN, "DukptKeyDerivationType": "AES_128"},
            BLOCK,
            "DukptKeyDerivationType",
        ),
        (
            aes,
            {"KeySerialNumber": AES_KSN, "DukptKeyDerivationType": "AES_256"},
            BLOCK,
            "DukptKeyDerivationType",
        ),
        (aes, {"KeySerialNumber": AES_KSN}, BLOCK[:16], "PlainText"),
        (tdes, {"KeySerialNumber": TDES_KSN, "InitializationVector": IV}, BLOCK, "InitializationVector"),
    ]
    for key, attrs, plaintext, member in cases:
        with pytest.raises(ValidationError) as info:
            encrypt(svc, key, plaintext, {"Dukpt": attrs})
        assert f"EncryptionAttributes.Dukpt.{member}" in info.value.message or member == "PlainText"
        assert member in info.value.message
    # an AES BDK may derive TDES data keys; 8-byte blocks then
    out = encrypt(
        svc, aes, BLOCK[:16], {"Dukpt": {"KeySerialNumber": AES_KSN, "DukptKeyDerivationType": "TDES_2KEY"}}
    )
    assert len(out["CipherText"]) == 16


def test_emv_against_pyemv(svc) -> None:
    imk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    key = put(svc, imk, "TR31_E1_EMV_MKEY_CONFIDENTIALITY", "TDES_2KEY", DERIVE)
    pan, psn, sdd = "5413330089600010", "01", "000B000000000000"
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, pan, psn)
    session_key = pyemv.kd.derive_common_sk(icc_mk, bytes.fromhex(sdd))
    iv = "1500000000000999"
    attrs = {
        "Emv": {
            "MajorKeyDerivationMode": "EMV_OPTION_A",
            "PrimaryAccountNumber": pan,
            "PanSequenceNumber": psn,
            "SessionDerivationData": sdd,
            "Mode": "CBC",
            "InitializationVector": iv,
        }
    }
    enc = Cipher(
        algorithms.TripleDES(session_key + session_key[:8]), modes.CBC(bytes.fromhex(iv))
    ).encryptor()
    expected = (enc.update(bytes.fromhex(BLOCK)) + enc.finalize()).hex().upper()
    assert encrypt(svc, key, BLOCK, attrs)["CipherText"] == expected
    assert decrypt(svc, key, expected, attrs)["PlainText"] == BLOCK.upper()
    with pytest.raises(ValidationError, match="InitializationVector"):
        encrypt(svc, key, BLOCK, {"Emv": {**attrs["Emv"], "InitializationVector": IV}})
    with pytest.raises(ValidationError, match="PlainText"):
        encrypt(svc, key, BLOCK[:10], attrs)
    e6 = put(svc, imk, "TR31_E6_EMV_MKEY_OTHER", "TDES_2KEY", DERIVE)
    assert encrypt(svc, e6, BLOCK, attrs)["CipherText"] == expected


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pkcs8(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_asymmetric(svc, rsa_key) -> None:
    key = put(svc, _pkcs8(rsa_key), "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    out = encrypt(svc, key, BLOCK, {"Asymmetric": {"PaddingType": "OAEP_SHA256"}})
    assert len(out["KeyCheckValue"]) == 8  # SHA_1 KCV of an RSA key
    assert rsa_key.decrypt(bytes.fromhex(out["CipherText"]), oaep).hex() == BLOCK
    theirs = rsa_key.public_key().encrypt(bytes.fromhex(BLOCK), padding.PKCS1v15()).hex()
    assert decrypt(svc, key, theirs, {"Asymmetric": {"PaddingType": "PKCS1"}})["PlainText"] == BLOCK.upper()
    # the guide's maximum plaintext: OAEP_SHA256 428 hex for RSA-2048, PKCS1 488
    encrypt(svc, key, "00" * 190, {"Asymmetric": {"PaddingType": "OAEP_SHA256"}})
    with pytest.raises(ValidationError, match="PlainText"):
        encrypt(svc, key, "00" * 191, {"Asymmetric": {"PaddingType": "OAEP_SHA256"}})
    encrypt(svc, key, "00" * 244, {"Asymmetric": {"PaddingType": "PKCS1"}})
    with pytest.raises(ValidationError, match="PlainText"):
        encrypt(svc, key, "00" * 245, {"Asymmetric": {"PaddingType": "PKCS1"}})
    # raw RSA: exactly the modulus length, below the modulus
    raw = "00" + "11" * 255
    ciphertext = encrypt(svc, key, raw, {"Asymmetric": {}})["CipherText"]
    assert decrypt(svc, key, ciphertext, {"Asymmetric": {}})["PlainText"] == raw
    with pytest.raises(ValidationError, match="PlainText"):
        encrypt(svc, key, "11" * 255, {"Asymmetric": {}})
    with pytest.raises(ValidationError, match="CipherText"):
        decrypt(svc, key, "00" * 256, {"Asymmetric": {"PaddingType": "OAEP_SHA1"}})


def re_encrypt(svc, incoming: str, outgoing: str, ciphertext: str, inc: dict, out: dict) -> dict:
    params = {
        "IncomingKeyIdentifier": incoming,
        "OutgoingKeyIdentifier": outgoing,
        "CipherText": ciphertext,
        "IncomingEncryptionAttributes": inc,
        "OutgoingEncryptionAttributes": out,
    }
    return data_encryption.re_encrypt_data(svc, context(svc), params)


def test_re_encrypt_between_every_kind(svc, rsa_key) -> None:
    aes = put(svc, AES_KEY, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", ENC_DEC)
    tdes = put(svc, TDES_BDK, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "TDES_2KEY", ENC_DEC)
    bdk = put(svc, AES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", DERIVE)
    pair = put(svc, _pkcs8(rsa_key), "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION", "RSA_2048", ENC_DEC)
    dukpt = {"Dukpt": {"KeySerialNumber": AES_KSN, "DukptKeyVariant": "REQUEST"}}
    sym = {"Symmetric": {"Mode": "CBC", "InitializationVector": IV}}
    tdes_sym = {"Symmetric": {"Mode": "ECB"}}
    under_dukpt = encrypt(svc, bdk, BLOCK, dukpt)["CipherText"]
    moved = re_encrypt(svc, bdk, aes, under_dukpt, dukpt, sym)
    assert moved["KeyArn"] == aes
    assert moved["CipherText"] == "7649ABAC8119B246CEE98E9B12E9197D"  # SP 800-38A F.2.1
    back = re_encrypt(svc, aes, bdk, moved["CipherText"], sym, dukpt)["CipherText"]
    assert back == under_dukpt
    to_tdes = re_encrypt(svc, aes, tdes, moved["CipherText"], sym, tdes_sym)["CipherText"]
    assert decrypt(svc, tdes, to_tdes, tdes_sym)["PlainText"] == BLOCK.upper()
    oaep = {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}
    to_rsa = re_encrypt(svc, aes, pair, moved["CipherText"], sym, oaep)["CipherText"]
    assert decrypt(svc, pair, to_rsa, oaep)["PlainText"] == BLOCK.upper()
    from_rsa = re_encrypt(svc, pair, tdes, to_rsa, oaep, tdes_sym)["CipherText"]
    assert from_rsa == to_tdes
    # RSA on both sides (docs/decisions/refusals.md, E8): the same pair, OAEP in, PKCS1 out.
    pkcs1 = {"Asymmetric": {"PaddingType": "PKCS1"}}
    rsa_to_rsa = re_encrypt(svc, pair, pair, to_rsa, oaep, pkcs1)["CipherText"]
    assert decrypt(svc, pair, rsa_to_rsa, pkcs1)["PlainText"] == BLOCK.upper()
    with pytest.raises(ValidationError, match=r"OutgoingEncryptionAttributes\.Asymmetric\.PaddingType"):
        re_encrypt(svc, aes, pair, moved["CipherText"], sym, {"Asymmetric": {}})
    with pytest.raises(ValidationError, match="decrypted from CipherText"):
        re_encrypt(svc, tdes, aes, to_tdes[:16], tdes_sym, sym)
    with pytest.raises(
        ValidationError, match="OutgoingKeyIdentifier"
    ):  # a D0 key must not encrypt for the BDK role
        re_encrypt(svc, aes, aes, moved["CipherText"], sym, dukpt)


def test_dynamic_key_needs_symmetric_attributes(svc) -> None:
    bdk = put(svc, TDES_BDK, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", DERIVE)
    params = {
        "KeyIdentifier": bdk,
        "PlainText": BLOCK,
        "EncryptionAttributes": {"Dukpt": {"KeySerialNumber": TDES_KSN}},
        "WrappedKey": {"WrappedKeyMaterial": {"Tr31KeyBlock": "D0112D0TN00E0000" + "0" * 96}},
    }
    with pytest.raises(ValidationError, match=r"Invalid WrappedKey: .*Symmetric attributes only"):
        data_encryption.encrypt_data(svc, context(svc), params)


def test_ecdh_dynamic_key_encrypts_for_the_partner(svc) -> None:
    """DiffieHellmanSymmetricKey: the partner derives the same AES key with plain `cryptography`
    (ECDH + NIST SP 800-56A ConcatKDF) and decrypts what EncryptData produced under it; the
    response names the K3 key pair."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

    from tests.service.working_keys.test_dynamic_keys import (
        _b64,
        _ca,
        _import_root,
        _k3,
        _leaf,
        _service_public_key,
    )

    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY")
    certificate, partner = _leaf(ca, ec.SECP256R1())
    z = partner.exchange(ec.ECDH(), _service_public_key(svc, k3))
    key = ConcatKDFHash(algorithm=hashes.SHA256(), length=16, otherinfo=bytes.fromhex("0A0B")).derive(z)
    wrapped = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "PublicKeyCertificate": _b64(certificate),
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": "0A0B",
            }
        }
    }
    params = {
        "KeyIdentifier": k3,
        "PlainText": BLOCK * 2,
        "EncryptionAttributes": {"Symmetric": {"Mode": "CBC", "InitializationVector": IV}},
        "WrappedKey": wrapped,
    }
    out = data_encryption.encrypt_data(svc, context(svc), params)
    assert out["KeyArn"] == k3
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(IV))).decryptor()
    assert (decryptor.update(bytes.fromhex(out["CipherText"])) + decryptor.finalize()).hex() == BLOCK * 2

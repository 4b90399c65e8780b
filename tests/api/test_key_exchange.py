"""Key exchange end to end through boto3: the guide's flows, export to a partner by each method,
TranslateKeyMaterial, and bad input with the AWS error, its HTTP status and an unchanged store.

The partner is independent of paycrypt: tests/kx_partner.py (plain cryptography, psec for TR-31)
and the asn1crypto TR-34 KDH/KRD of tests/crypto/test_tr34.py. Vectors: the X9.24-1 IPEK vector
(BDK 0123456789ABCDEFFEDCBA9876543210, KSN FFFF9876543210E00000 → 6AC292FAA1315B4D858AB3A3D7D5933A)
and the KCV 08D7B4 of that key (ANSI X9.24); the seed-B §5.2 D block (TR-31:2018 example).
"""

from __future__ import annotations

import secrets

import psec
import pytest

from tests import kx_partner as kp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import create_k3, import_known_key_via_api
from tests.crypto.test_tr34 import _kdh_build, _krd_read

# Every heavy call these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
WRAP = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
KNOWN_TDES = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


def create_symmetric(control, algorithm: str, usage: str, modes: dict, exportable: bool = True) -> dict:
    """CreateKey of a symmetric key through boto3; the Key it answers."""
    attributes = {
        "KeyAlgorithm": algorithm,
        "KeyUsage": usage,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": modes,
    }
    return control.create_key(Exportable=exportable, KeyAttributes=attributes)["Key"]


def _root(control, party: kp.Party, algorithm: str) -> str:
    return control.import_key(
        KeyMaterial={"RootCertificatePublicKey": kp.ca_certificate_member(party, algorithm)}
    )["Key"]["KeyArn"]


@pytest.fixture(scope="module")
def partner(control) -> dict:
    """A partner HSM: an RSA CA and an ECC CA, both trusted by paycrypt as roots."""
    rsa_root = kp.ca("RSA_2048", "Partner RSA Root")
    ec_root = kp.ca("ECC_NIST_P521", "Partner EC Root")
    return {
        "rsa_root": rsa_root,
        "rsa_root_arn": _root(control, rsa_root, "RSA_2048"),
        "ec_root": ec_root,
        "ec_root_arn": _root(control, ec_root, "ECC_NIST_P521"),
    }


@pytest.fixture(scope="module")
def k3(control) -> tuple[str, object]:
    """A P-521 K3 key pair deriving K1 keys, and its certificate from the service CA."""
    arn = create_k3(control)
    out = control.get_public_key_certificate(KeyIdentifier=arn)
    assert out["KeyCertificate"].startswith("LS0tLS1CRUdJTi")
    certificate = kp.load_b64(out["KeyCertificate"])
    certificate.verify_directly_issued_by(kp.load_b64(out["KeyCertificateChain"]))
    return arn, certificate


# --- the guide's import flows -------------------------------------------------------------------


def test_kek_by_tr34_then_working_key_by_tr31(control, partner) -> None:
    """Guide: GetParametersForImport, the KDH's CA as a root, ImportKey Tr34KeyBlock, then Tr31KeyBlock."""
    params = control.get_parameters_for_import(
        KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm="RSA_2048"
    )
    assert params["ImportToken"].startswith("import-token-")
    assert params["WrappingKeyCertificate"].startswith("LS0tLS1CRUdJTi")
    krd = kp.load_b64(params["WrappingKeyCertificate"])
    krd.verify_directly_issued_by(kp.load_b64(params["WrappingKeyCertificateChain"]))
    kdh = kp.leaf(partner["rsa_root"], name="Partner KDH")
    kek = secrets.token_bytes(16)
    nonce = secrets.token_bytes(8)
    block = _kdh_build(kek, "D9999K1TB00E0000", (kdh.certificate, kdh.key), krd, nonce=nonce)
    imported = control.import_key(
        KeyMaterial={
            "Tr34KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
                "ImportToken": params["ImportToken"],
                "KeyBlockFormat": "X9_TR34_2012",
                "SigningKeyCertificate": kdh.b64,
                "WrappedKeyBlock": block.hex().upper(),
                "RandomNonce": nonce.hex().upper(),
            }
        },
        KeyCheckValueAlgorithm="ANSI_X9_24",
    )["Key"]
    assert imported["KeyCheckValue"] == kp.kcv_tdes(kek)
    assert imported["KeyOrigin"] == "EXTERNAL"
    assert imported["KeyAttributes"]["KeyUsage"] == "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    assert imported["KeyAttributes"]["KeyAlgorithm"] == "TDES_2KEY"
    # working key from the partner, built with psec under the KEK
    cvk = secrets.token_bytes(16)
    working = control.import_key(
        KeyMaterial={
            "Tr31KeyBlock": {
                "WrappingKeyIdentifier": imported["KeyArn"],
                "WrappedKeyBlock": psec.tr31.wrap(kek, "B0000C0TC00E0000", cvk),
            }
        },
        Tags=[{"Key": "BIN", "Value": "123456"}],
    )["Key"]
    assert working["KeyCheckValue"] == kp.kcv_tdes(cvk)
    assert (
        working["KeyAttributes"]["KeyModesOfUse"]["Generate"]
        and working["KeyAttributes"]["KeyModesOfUse"]["Verify"]
    )
    assert control.list_tags_for_resource(ResourceArn=working["KeyArn"])["Tags"] == [
        {"Key": "BIN", "Value": "123456"}
    ]
    assert control.get_key(KeyIdentifier=working["KeyArn"])["Key"] == working


def test_rsa_unwrap_import(control) -> None:
    params = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_4096"
    )
    aes = secrets.token_bytes(16)
    key = control.import_key(
        KeyMaterial={
            "KeyCryptogram": {
                "Exportable": True,
                "ImportToken": params["ImportToken"],
                "KeyAttributes": {
                    "KeyAlgorithm": "AES_128",
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyModesOfUse": WRAP,
                    "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                },
                "WrappedKeyCryptogram": kp.rsa_wrap(kp.load_b64(params["WrappingKeyCertificate"]), aes),
                "WrappingSpec": "RSA_OAEP_SHA_256",
            }
        }
    )["Key"]
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (kp.kcv_aes(aes), "CMAC")


def test_ecdh_import(control, partner, k3) -> None:
    k3_arn, service_certificate = k3
    other = kp.leaf(partner["ec_root"], "ECC_NIST_P521", name="Partner ECDH")
    kbpk = kp.ecdh_key(other.key, service_certificate, algorithm="AES_256", shared_information="1234567890")
    kek = secrets.token_bytes(24)
    key = control.import_key(
        KeyMaterial={
            "DiffieHellmanTr31KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": partner["ec_root_arn"],
                "DerivationData": {"SharedInformation": "1234567890"},
                "DeriveKeyAlgorithm": "AES_256",
                "KeyDerivationFunction": "NIST_SP800",
                "KeyDerivationHashAlgorithm": "SHA_256",
                "PrivateKeyIdentifier": k3_arn,
                "PublicKeyCertificate": other.b64,
                "WrappedKeyBlock": psec.tr31.wrap(kbpk, "D0000K1TB00E0000", kek),
            }
        }
    )["Key"]
    assert (key["KeyAttributes"]["KeyAlgorithm"], key["KeyCheckValue"]) == ("TDES_3KEY", kp.kcv_tdes(kek))


def test_import_known_key_helper(control, data) -> None:
    """The way docs/usage/known-keys.md loads a known key; the CVK then computes in the data plane."""
    cvk = import_known_key_via_api(
        control, KNOWN_TDES, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate": True, "Verify": True}
    )
    assert cvk["KeyCheckValue"] == "08D7B4"
    out = data.generate_card_validation_data(
        KeyIdentifier=cvk["KeyArn"],
        PrimaryAccountNumber="4123456789012345",
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "8701"}},
    )
    assert len(out["ValidationData"]) == 3
    hmac_key = secrets.token_bytes(32)
    hmac = import_known_key_via_api(
        control, hmac_key, "TR31_M7_HMAC_KEY", "HMAC_SHA256", {"Generate": True, "Verify": True}
    )
    assert hmac["KeyAttributes"]["KeyAlgorithm"] == "HMAC_SHA256"
    aes = import_known_key_via_api(
        control, secrets.token_bytes(32), "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_256", WRAP
    )
    assert aes["KeyAttributes"]["KeyAlgorithm"] == "AES_256"


# --- export to a partner by each method ---------------------------------------------------------


@pytest.fixture(scope="module")
def partner_kek(control) -> tuple[str, bytes]:
    """A KEK shared with the partner (imported the user's way), AES-256."""
    kek = secrets.token_bytes(32)
    arn = import_known_key_via_api(control, kek, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP)[
        "KeyArn"
    ]
    return arn, kek


def test_export_tr31_to_partner(control, partner_kek) -> None:
    kek_arn, kek = partner_kek
    key = create_symmetric(control, "TDES_3KEY", "TR31_P0_PIN_ENCRYPTION_KEY", WRAP)
    wrapped = control.export_key(
        ExportKeyIdentifier=key["KeyArn"],
        KeyMaterial={
            "Tr31KeyBlock": {
                "WrappingKeyIdentifier": kek_arn,
                "KeyBlockHeaders": {"KeyModesOfUse": {"Encrypt": True, "Wrap": True}, "KeyVersion": "02"},
            }
        },
    )["WrappedKey"]
    assert wrapped["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK" and wrapped["WrappingKeyArn"] == kek_arn
    header, clear = psec.tr31.unwrap(kek, wrapped["KeyMaterial"])
    assert (header.key_usage, header.algorithm, header.mode_of_use, header.version_num) == (
        "P0",
        "T",
        "E",
        "02",
    )
    assert kp.kcv_tdes(clear) == key["KeyCheckValue"] == wrapped["KeyCheckValue"]


def test_export_tr34_to_partner(control, partner) -> None:
    key = import_known_key_via_api(control, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    params = control.get_parameters_for_export(
        KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048"
    )
    kdh_certificate = kp.load_b64(params["SigningKeyCertificate"])
    kdh_certificate.verify_directly_issued_by(kp.load_b64(params["SigningKeyCertificateChain"]))
    krd = kp.leaf(partner["rsa_root"], name="Partner KRD")
    wrapped = control.export_key(
        ExportKeyIdentifier=key["KeyArn"],
        KeyMaterial={
            "Tr34KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
                "ExportToken": params["ExportToken"],
                "KeyBlockFormat": "X9_TR34_2012",
                "WrappingKeyCertificate": krd.b64,
                "RandomNonce": "1122334455667788",
            }
        },
    )["WrappedKey"]
    assert wrapped["WrappedKeyMaterialFormat"] == "TR34_KEY_BLOCK"
    assert wrapped["KeyMaterial"].startswith("3082")
    read = _krd_read(bytes.fromhex(wrapped["KeyMaterial"]), kdh_certificate, (krd.certificate, krd.key))
    assert (read["key"], read["header"], read["nonce"].hex()) == (
        KNOWN_TDES,
        "D0112K0TB00E0000",
        "1122334455667788",
    )
    assert wrapped["KeyCheckValue"] == "08D7B4"


def test_export_key_cryptogram_to_partner(control, partner) -> None:
    key = import_known_key_via_api(control, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    assert key["KeyCheckValue"] == "08D7B4"
    receiver = kp.leaf(partner["rsa_root"], name="Partner RSA receiver")
    # a key imported by TR-31 with exportability E leaves in key blocks only
    expect_error(
        control.export_key,
        "ValidationException",
        400,
        ExportKeyIdentifier=key["KeyArn"],
        KeyMaterial={
            "KeyCryptogram": {
                "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
                "WrappingKeyCertificate": receiver.b64,
            }
        },
    )
    created = create_symmetric(control, "TDES_2KEY", "TR31_K0_KEY_ENCRYPTION_KEY", WRAP)
    wrapped = control.export_key(
        ExportKeyIdentifier=created["KeyArn"],
        KeyMaterial={
            "KeyCryptogram": {
                "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
                "WrappingKeyCertificate": receiver.b64,
                "WrappingSpec": "RSA_OAEP_SHA_512",
            }
        },
    )["WrappedKey"]
    assert wrapped["WrappedKeyMaterialFormat"] == "KEY_CRYPTOGRAM"
    clear = receiver.key.decrypt(bytes.fromhex(wrapped["KeyMaterial"]), kp.oaep("RSA_OAEP_SHA_512"))
    assert kp.kcv_tdes(clear) == created["KeyCheckValue"]


def test_export_ecdh_to_partner(control, partner, k3) -> None:
    k3_arn, service_certificate = k3
    other = kp.leaf(partner["ec_root"], "ECC_NIST_P521", name="Partner ECDH receiver")
    key = create_symmetric(control, "AES_256", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", WRAP)
    wrapped = control.export_key(
        ExportKeyIdentifier=key["KeyArn"],
        KeyMaterial={
            "DiffieHellmanTr31KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": partner["ec_root_arn"],
                "DerivationData": {"SharedInformation": "ADEF567890"},
                "DeriveKeyAlgorithm": "AES_256",
                "KeyDerivationFunction": "ANSI_X963",
                "KeyDerivationHashAlgorithm": "SHA_384",
                "PrivateKeyIdentifier": k3_arn,
                "PublicKeyCertificate": other.b64,
            }
        },
    )["WrappedKey"]
    kbpk = kp.ecdh_key(
        other.key,
        service_certificate,
        algorithm="AES_256",
        kdf="ANSI_X963",
        hash_name="SHA_384",
        shared_information="ADEF567890",
    )
    _, clear = psec.tr31.unwrap(kbpk, wrapped["KeyMaterial"])
    assert wrapped["KeyMaterial"].startswith("D0144D0AB00E0000")
    assert kp.kcv_aes(clear) == key["KeyCheckValue"]


def test_export_ipek(control, partner_kek) -> None:
    """Guide: ExportKey of a BDK with ExportDukptInitialKey; the BDK itself is not exportable."""
    kek_arn, kek = partner_kek
    bdk = import_known_key_via_api(
        control, KNOWN_TDES, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True}, exportable=False
    )
    assert bdk["Exportable"] is False
    wrapped = control.export_key(
        ExportKeyIdentifier=bdk["KeyArn"],
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
        ExportAttributes={
            "ExportDukptInitialKey": {"KeySerialNumber": "FFFF9876543210E00000"},
            "KeyCheckValueAlgorithm": "ANSI_X9_24",
        },
    )["WrappedKey"]
    assert wrapped["KeyMaterial"].startswith("D0112B1TX00S0000")
    ipek = psec.tr31.unwrap(kek, wrapped["KeyMaterial"])[1]
    assert ipek.hex().upper() == "6AC292FAA1315B4D858AB3A3D7D5933A"
    assert wrapped["KeyCheckValue"] == kp.kcv_tdes(ipek)
    # the BDK itself does not leave
    expect_error(
        control.export_key,
        "ValidationException",
        400,
        ExportKeyIdentifier=bdk["KeyArn"],
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
    )


def test_translate_key_material(control, data, partner, k3, partner_kek) -> None:
    k3_arn, service_certificate = k3
    kek_arn, kek = partner_kek
    other = kp.leaf(partner["ec_root"], "ECC_NIST_P521", name="Partner translate")
    kbpk = kp.ecdh_key(other.key, service_certificate, algorithm="AES_192", shared_information="0A0B0C")
    pek = secrets.token_bytes(16)
    incoming = {
        "DiffieHellmanTr31KeyBlock": {
            "CertificateAuthorityPublicKeyIdentifier": partner["ec_root_arn"],
            "DerivationData": {"SharedInformation": "0A0B0C"},
            "DeriveKeyAlgorithm": "AES_192",
            "KeyDerivationFunction": "NIST_SP800",
            "KeyDerivationHashAlgorithm": "SHA_256",
            "PrivateKeyIdentifier": k3_arn,
            "PublicKeyCertificate": other.b64,
            "WrappedKeyBlock": psec.tr31.wrap(kbpk, "D0000P0AB03E0000", pek),
        }
    }
    keys_before = len(control.list_keys(MaxResults=100)["Keys"])
    out = data.translate_key_material(
        IncomingKeyMaterial=incoming,
        OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
        KeyCheckValueAlgorithm="CMAC",
    )["WrappedKey"]
    assert out["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK" and out["KeyCheckValue"] == kp.kcv_aes(pek)
    header, clear = psec.tr31.unwrap(kek, out["WrappedKeyMaterial"])
    assert clear == pek and (header.key_usage, header.mode_of_use, header.version_num) == ("P0", "B", "03")
    assert len(control.list_keys(MaxResults=100)["Keys"]) == keys_before  # never stored
    bad = {
        "DiffieHellmanTr31KeyBlock": {
            **incoming["DiffieHellmanTr31KeyBlock"],
            "KeyDerivationHashAlgorithm": "SHA_512",
        }
    }
    expect_error(
        data.translate_key_material,
        "ValidationException",
        400,
        IncomingKeyMaterial=bad,
        OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
    )
    # A block marked N (non-exportable) is not re-wrapped for someone else (docs/decisions/refusals.md, X13).
    sealed = {
        "DiffieHellmanTr31KeyBlock": {
            **incoming["DiffieHellmanTr31KeyBlock"],
            "WrappedKeyBlock": psec.tr31.wrap(kbpk, "D0000P0AB03N0000", pek),
        }
    }
    response = expect_error(
        data.translate_key_material,
        "ValidationException",
        400,
        IncomingKeyMaterial=sealed,
        OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
    )
    assert "marked non-exportable (N)" in response["Error"]["Message"]
    missing = {
        "DiffieHellmanTr31KeyBlock": {
            **incoming["DiffieHellmanTr31KeyBlock"],
            "PrivateKeyIdentifier": "alias/no-such-k3",
        }
    }
    expect_error(
        data.translate_key_material,
        "ResourceNotFoundException",
        404,
        IncomingKeyMaterial=missing,
        OutgoingKeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}},
    )


def test_csr_email_address_outside_ascii_is_a_validation_error(control, server) -> None:
    """The model's EmailAddress pattern lets ’ through; a CSR cannot carry it (an IA5String), so the
    answer is a 400 naming the member, not the 500 the fuzz suite first got, and nothing is stored."""
    signer = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "ECC_NIST_P256",
            "KeyUsage": S0,
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"Sign": True},
        },
    )["Key"]["KeyArn"]
    before = db_snapshot(server.data_dir)
    response = expect_error(
        control.get_certificate_signing_request,
        "ValidationException",
        400,
        KeyIdentifier=signer,
        SigningAlgorithm="SHA256",
        CertificateSubject={"CommonName": "Partner", "EmailAddress": "o\u2019brien@example.com"},
    )
    assert "EmailAddress" in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


def test_byoca_csr_round_trip(control, partner) -> None:
    signer = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "RSA_2048",
            "KeyUsage": S0,
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"Sign": True},
        },
    )["Key"]
    assert signer["KeyCheckValueAlgorithm"] == "SHA_1"
    csr = control.get_certificate_signing_request(
        KeyIdentifier=signer["KeyArn"],
        SigningAlgorithm="SHA256",
        CertificateSubject={
            "CommonName": "MyCertificateAWSUSEAST",
            "Country": "US",
            "StateOrProvince": "Virginia",
        },
    )["CertificateSigningRequest"]
    assert csr.startswith("LS0tLS1CRUdJTi")
    certificate = kp.sign_csr(partner["rsa_root"], csr)
    krd = kp.leaf(partner["rsa_root"], name="Partner KRD")
    key = import_known_key_via_api(control, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    wrapped = control.export_key(
        ExportKeyIdentifier=key["KeyArn"],
        KeyMaterial={
            "Tr34KeyBlock": {
                "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
                "KeyBlockFormat": "X9_TR34_2012",
                "WrappingKeyCertificate": krd.b64,
                "SigningKeyIdentifier": signer["KeyArn"],
                "SigningKeyCertificate": kp.b64(certificate),
            }
        },
    )["WrappedKey"]
    read = _krd_read(bytes.fromhex(wrapped["KeyMaterial"]), certificate, (krd.certificate, krd.key))
    assert read["key"] == KNOWN_TDES and read["nonce"] is None and read["signing_time"] is not None


# --- bad input ----------------------------------------------------------------------------------


def _flip(text: str, position: int) -> str:
    return text[:position] + ("0" if text[position] != "0" else "1") + text[position + 1 :]


def test_tampered_and_malformed_tr31_blocks(server, control, partner_kek) -> None:
    kek_arn, kek = partner_kek
    clear = secrets.token_bytes(16)
    block = psec.tr31.wrap(kek, "D0000D0AB00E0000", clear)
    header_end, mac_start = 16, len(block) - 32
    other_kek = import_known_key_via_api(
        control, secrets.token_bytes(32), "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP
    )
    weak_kek = import_known_key_via_api(
        control, secrets.token_bytes(16), "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", WRAP
    )
    cases = [
        (kek_arn, _flip(block, 6)),  # header
        (kek_arn, _flip(block, header_end + 3)),  # encrypted key
        (kek_arn, _flip(block, mac_start + 5)),  # MAC
        (other_kek["KeyArn"], block),  # wrong KBPK
        (weak_kek["KeyArn"], block),  # a TDES KEK cannot open version D
        (kek_arn, block[:-32]),  # truncated
        (kek_arn, "F" + block[1:]),  # unknown version
        (kek_arn, psec.tr31.wrap(kek, "D0000C0AB00E0000", clear)),  # a CVK that encrypts
        (kek_arn, block[:56]),  # cut to the model's minimum length
    ]
    before = db_snapshot(server.data_dir)
    for wrapping, bad in cases:
        response = expect_error(
            control.import_key,
            "ValidationException",
            400,
            KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": wrapping, "WrappedKeyBlock": bad}},
        )
        message = response["Error"]["Message"]
        assert clear.hex().upper() not in message and kek.hex().upper() not in message
    assert db_snapshot(server.data_dir) == before


def test_weaker_kek_and_non_exportable(server, control) -> None:
    tdes_kek = secrets.token_bytes(16)
    kek = import_known_key_via_api(control, tdes_kek, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", WRAP)
    locked = create_symmetric(
        control, "TDES_2KEY", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", WRAP, exportable=False
    )
    strong = create_symmetric(control, "AES_128", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", WRAP)
    before = db_snapshot(server.data_dir)
    block = psec.tr31.wrap(tdes_kek, "B0000D0TB00E0000", secrets.token_bytes(24))
    response = expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "WrappedKeyBlock": block}},
    )
    assert "weaker" in response["Error"]["Message"]
    for key in (locked, strong):
        expect_error(
            control.export_key,
            "ValidationException",
            400,
            ExportKeyIdentifier=key["KeyArn"],
            KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}},
        )
    assert db_snapshot(server.data_dir) == before


def test_tokens_and_certificates_refused(server, control, partner) -> None:
    before = db_snapshot(server.data_dir)
    kdh = kp.leaf(partner["rsa_root"], name="KDH")
    params = control.get_parameters_for_import(
        KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm="RSA_2048"
    )
    krd = kp.load_b64(params["WrappingKeyCertificate"])
    block = _kdh_build(KNOWN_TDES, "D0000K1TB00E0000", (kdh.certificate, kdh.key), krd, nonce=bytes(8))
    base = {
        "CertificateAuthorityPublicKeyIdentifier": partner["rsa_root_arn"],
        "ImportToken": params["ImportToken"],
        "KeyBlockFormat": "X9_TR34_2012",
        "SigningKeyCertificate": kdh.b64,
        "WrappedKeyBlock": block.hex().upper(),
        "RandomNonce": "0000000000000000",
    }
    expect_error(
        control.import_key,
        "ResourceNotFoundException",
        400,
        KeyMaterial={"Tr34KeyBlock": {**base, "ImportToken": "import-token-zzzzzzzzzzzzzzzz"}},
    )
    cryptogram_token = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048", ReuseLastGeneratedToken=True
    )["ImportToken"]
    expect_error(  # a KEY_CRYPTOGRAM token used for TR-34
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={"Tr34KeyBlock": {**base, "ImportToken": cryptogram_token}},
    )
    expired = kp.leaf(partner["rsa_root"], name="Expired KDH", not_after=kp.NOT_BEFORE.replace(year=2021))
    expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={"Tr34KeyBlock": {**base, "SigningKeyCertificate": expired.b64}},
    )
    stranger = kp.leaf(kp.ca(name="Stranger"), name="KDH")
    response = expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={"Tr34KeyBlock": {**base, "SigningKeyCertificate": stranger.b64}},
    )
    assert "does not chain" in response["Error"]["Message"]
    expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={"Tr34KeyBlock": {**base, "RandomNonce": "0102030405060708"}},
    )
    expect_error(
        control.get_parameters_for_import,
        "ValidationException",
        400,
        KeyMaterialType="TR31_KEY_BLOCK",
        WrappingKeyAlgorithm="RSA_2048",
    )
    expect_error(
        control.get_parameters_for_export,
        "ValidationException",
        400,
        KeyMaterialType="TR34_KEY_BLOCK",
        SigningKeyAlgorithm="RSA_4096",
    )
    expect_error(  # an AS2805 cryptogram under a KEK that does not exist (tests/api/test_as2805_node.py)
        control.import_key,
        "ResourceNotFoundException",
        400,
        KeyMaterial={
            "As2805KeyCryptogram": {
                "As2805KeyVariant": "TERMINAL_MAJOR_KEY_VARIANT_00",
                "KeyModesOfUse": {"Encrypt": True, "Wrap": True},
                "KeyAlgorithm": "TDES_2KEY",
                "Exportable": True,
                "WrappingKeyIdentifier": "alias/x",
                "WrappedKeyCryptogram": "00" * 16,
            }
        },
    )
    assert db_snapshot(server.data_dir) == before

"""Dynamic keys (service/working_keys/dynamic_keys.py): a WrappedKey becomes a working key,
checked, never stored.

Vectors: the TR-31 blocks are the published third-party examples of seed-B §5.2 (psec's
tests/test_tr31.py "known values from 3rd parties" for B, the TR-31:2018 example block for D).
KCVs are recomputed here with plain `cryptography`; the ECDH partner is plain `cryptography`
(ECDH + ConcatKDFHash / X963KDF), not paycrypt's code.
"""

from __future__ import annotations

import datetime as dt
import secrets

import psec
import pytest
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.x509.oid import NameOID

from paycrypt.errors import NotImplementedOperation, ResourceNotFound, ValidationError
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import import_key
from paycrypt.service.keys import lifecycle
from paycrypt.service.rules import key_usage
from paycrypt.service.rules.combinations import AES, TDES
from paycrypt.service.working_keys import dynamic_keys
from tests.service.stored_keys import context as ctx

AES_KBPK = bytes.fromhex("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
TDES_KBPK = bytes.fromhex("DD7515F2BFC17F85CE48F3CA25CB21F6")
CLEAR = bytes.fromhex("3F419E1CB7079442AA37474C2EFBF8B8")
D_BLOCK = (
    "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D2"
    "07E2E417C07156A27E8E31DA05F7425509593D03A457DC34"
)
B_BLOCK = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E"
ROW = ("TestOp", "Member", "KeyIdentifier")


@pytest.fixture
def svc(svc: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    """The shared Service, with a key-usage row for a test operation that takes a WrappedKey."""
    monkeypatch.setitem(
        key_usage.RULES,
        ROW,
        key_usage.KeyRule(
            frozenset({"TR31_P0_PIN_ENCRYPTION_KEY", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"}),
            TDES | AES,
            frozenset({"Encrypt"}),
        ),
    )
    return svc


def kek(svc: Service, material: bytes, algorithm: str, modes_of_use: dict | None = None) -> str:
    new = lifecycle.NewKey(
        attributes={
            "KeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            "KeyAlgorithm": algorithm,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": modes_of_use or {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
        },
        material=material,
        exportable=True,
        enabled=True,
        origin="EXTERNAL",
    )
    return lifecycle.store_key(svc, ctx(svc), new).arn


def aes_kcv(key: bytes) -> str:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    return c.finalize()[:3].hex().upper()


def tdes_kcv(key: bytes) -> str:
    encryptor = Cipher(TripleDES(key + key[:8]), modes.ECB()).encryptor()
    return (encryptor.update(bytes(8)) + encryptor.finalize())[:3].hex().upper()


def resolve(
    svc: Service, wrapped: dict, identifier: str, c: Context | None = None
) -> dynamic_keys.WorkingKey:
    return dynamic_keys.resolve(svc, c or ctx(svc), wrapped, *ROW, identifier)


def resolve_tr31(
    svc: Service, block: str, identifier: str, c: Context | None = None
) -> dynamic_keys.WorkingKey:
    """resolve() of a WrappedKey holding the TR-31 `block` under the KEK `identifier`."""
    return resolve(svc, {"WrappedKeyMaterial": {"Tr31KeyBlock": block}}, identifier, c)


def test_published_d_block_under_aes_kek(svc) -> None:
    arn = kek(svc, AES_KBPK, "AES_256")
    rows = len(svc.store.list_keys("111122223333", "us-east-1", None, 0, 100))
    working = resolve_tr31(svc, D_BLOCK, arn)
    assert working.material == CLEAR
    assert working.arn == arn
    assert working.attributes["KeyUsage"] == "TR31_P0_PIN_ENCRYPTION_KEY"
    assert working.attributes["KeyAlgorithm"] == "AES_128"
    assert (
        working.attributes["KeyModesOfUse"]["Encrypt"] and not working.attributes["KeyModesOfUse"]["Decrypt"]
    )
    assert working.key_check_value == aes_kcv(CLEAR)
    assert CLEAR.hex() not in repr(working).lower()
    assert len(svc.store.list_keys("111122223333", "us-east-1", None, 0, 100)) == rows  # never stored


def test_published_b_block_under_tdes_kek_and_kcv_algorithm(svc) -> None:
    arn = kek(svc, TDES_KBPK, "TDES_2KEY")
    working = resolve_tr31(svc, B_BLOCK, arn)
    assert (working.material, working.attributes["KeyAlgorithm"]) == (CLEAR, "TDES_2KEY")
    assert working.key_check_value == tdes_kcv(CLEAR)
    # HMAC is not a TDES key's method: its default (ANSI X9.24) is computed (docs/decisions/lifecycle.md).
    asked_hmac = resolve(
        svc, {"WrappedKeyMaterial": {"Tr31KeyBlock": B_BLOCK}, "KeyCheckValueAlgorithm": "HMAC"}, arn
    )
    assert asked_hmac.key_check_value == tdes_kcv(CLEAR)


def test_psec_block_round_trip(svc) -> None:
    kbpk = secrets.token_bytes(32)
    arn = kek(svc, kbpk, "AES_256")
    key = secrets.token_bytes(32)
    block = psec.tr31.wrap(kbpk, "D0000D0AB00N0000", key)
    working = resolve_tr31(svc, block, arn)
    assert (working.material, working.attributes["KeyAlgorithm"]) == (key, "AES_256")


@pytest.mark.parametrize(
    ("block", "algorithm", "match"),
    [
        (D_BLOCK[:-2] + ("00" if D_BLOCK[-2:] != "00" else "11"), "AES_256", "MAC verification failed"),
        (D_BLOCK[:40], "AES_256", "truncated|length"),
        (D_BLOCK, "TDES_2KEY", "needs an AES wrapping key"),
        (B_BLOCK, "AES_256", "needs a TDES wrapping key"),
        ("E" + D_BLOCK[1:], "AES_256", "version"),
    ],
)
def test_bad_blocks(svc, block: str, algorithm: str, match: str) -> None:
    material = AES_KBPK if algorithm == "AES_256" else TDES_KBPK
    arn = kek(svc, material, algorithm)
    with pytest.raises(ValidationError, match=match) as info:
        resolve_tr31(svc, block, arn)
    assert CLEAR.hex().upper() not in info.value.message


def test_wrong_kek_fails_mac(svc) -> None:
    arn = kek(svc, secrets.token_bytes(32), "AES_256")
    with pytest.raises(ValidationError, match="MAC"):
        resolve_tr31(svc, D_BLOCK, arn)


def test_kek_weaker_than_key_is_refused(svc) -> None:
    kbpk = secrets.token_bytes(16)
    arn = kek(svc, kbpk, "AES_128")
    block = psec.tr31.wrap(kbpk, "D0000D0AB00N0000", secrets.token_bytes(32))
    with pytest.raises(ValidationError, match="weaker"):
        resolve_tr31(svc, block, arn)


def test_working_key_usage_checked_against_the_operation_row(svc) -> None:
    kbpk = secrets.token_bytes(32)
    arn = kek(svc, kbpk, "AES_256")
    decrypt_only = psec.tr31.wrap(kbpk, "D0000P0AD00N0000", secrets.token_bytes(16))
    with pytest.raises(ValidationError, match="KeyModesOfUse does not allow TestOp"):
        resolve_tr31(svc, decrypt_only, arn)
    mac_key = psec.tr31.wrap(kbpk, "D0000M6AC00N0000", secrets.token_bytes(16))
    with pytest.raises(ValidationError, match="KeyUsage TR31_M6"):
        resolve_tr31(svc, mac_key, arn)


def test_kek_must_be_a_kek_that_unwraps(svc) -> None:
    arn = kek(svc, AES_KBPK, "AES_256", {"Encrypt": True, "Wrap": True})
    with pytest.raises(ValidationError, match="KeyModesOfUse does not allow WrappedKey"):
        resolve_tr31(svc, D_BLOCK, arn)
    cvk = lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "Exportable": True,
            "KeyAttributes": {
                "KeyAlgorithm": "TDES_2KEY",
                "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                "KeyClass": "SYMMETRIC_KEY",
                "KeyModesOfUse": {"Generate": True, "Verify": True},
            },
        },
    )["Key"]["KeyArn"]
    with pytest.raises(ValidationError, match="KeyUsage TR31_C0"):
        resolve_tr31(svc, D_BLOCK, cvk)


def test_unknown_or_foreign_kek(svc) -> None:
    arn = kek(svc, AES_KBPK, "AES_256")
    with pytest.raises(ResourceNotFound):
        resolve_tr31(svc, D_BLOCK, arn, ctx(svc, account="444455556666"))
    with pytest.raises(ResourceNotFound):
        resolve_tr31(svc, D_BLOCK, "alias/nothing")


def test_unknown_member_is_501(svc) -> None:
    with pytest.raises(NotImplementedOperation, match=r"WrappedKeyMaterial\.Future"):
        resolve(svc, {"WrappedKeyMaterial": {"Future": "x"}}, "alias/x")


# --- DiffieHellmanSymmetricKey -------------------------------------------------------------------


def _ca(curve: ec.EllipticCurve, name: str = "Partner Root"):
    key = ec.generate_private_key(curve)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def _leaf(ca, curve: ec.EllipticCurve):
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(curve)
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partner")]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    return certificate, key


def _b64(certificate: x509.Certificate) -> str:
    import base64

    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


def _import_root(svc: Service, certificate: x509.Certificate, algorithm: str) -> str:
    params = {
        "KeyMaterial": {
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": algorithm,
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": _b64(certificate),
            }
        }
    }
    return import_key.import_key(svc, ctx(svc), params)["Key"]["KeyArn"]


def _k3(svc: Service, algorithm: str, derive: str | None) -> str:
    """A K3 key pair; `derive` None creates it without DeriveKeyUsage, as AWS's ECDH PIN samples do."""
    return lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "Exportable": True,
            **({"DeriveKeyUsage": derive} if derive else {}),
            "KeyAttributes": {
                "KeyAlgorithm": algorithm,
                "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"DeriveKey": True},
            },
        },
    )["Key"]["KeyArn"]


def _service_public_key(svc: Service, arn: str) -> ec.EllipticCurvePublicKey:
    material = svc.keycache.material(svc.store.get_key(arn))
    return serialization.load_der_private_key(material, password=None).public_key()


@pytest.mark.parametrize(("kdf", "function"), [("NIST_SP800", ConcatKDFHash), ("ANSI_X963", X963KDF)])
def test_ecdh_working_key_matches_partner(svc, kdf: str, function) -> None:
    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY")
    partner_certificate, partner_key = _leaf(ca, ec.SECP256R1())
    shared = "1234567890"
    z = partner_key.exchange(ec.ECDH(), _service_public_key(svc, k3))
    info = {"otherinfo" if function is ConcatKDFHash else "sharedinfo": bytes.fromhex(shared)}
    expected = function(algorithm=hashes.SHA256(), length=16, **info).derive(z)
    wrapped = {
        "WrappedKeyMaterial": {
            "DiffieHellmanSymmetricKey": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "PublicKeyCertificate": _b64(partner_certificate),
                "KeyAlgorithm": "AES_128",
                "KeyDerivationFunction": kdf,
                "KeyDerivationHashAlgorithm": "SHA_256",
                "SharedInformation": shared,
            }
        }
    }
    working = resolve(svc, wrapped, k3)
    assert working.material == expected
    assert working.arn == k3
    assert working.attributes["KeyUsage"] == "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
    assert working.attributes["KeyModesOfUse"]["Encrypt"] and working.attributes["KeyModesOfUse"]["Unwrap"]
    assert working.key_check_value == aes_kcv(expected)


def test_ecdh_key_without_derive_key_usage_takes_the_rows_usage(svc) -> None:
    """DeriveKeyUsage is optional in the model: a K3 key without it derives the key the operation's
    row needs (a P0 PEK for TranslatePinData, a D0 key for EncryptData), with every mode that usage
    allows; the curve still bounds the derived key's strength (the guide's matrix)."""
    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", None)
    partner_certificate, partner_key = _leaf(ca, ec.SECP256R1())
    z = partner_key.exchange(ec.ECDH(), _service_public_key(svc, k3))
    expected = ConcatKDFHash(algorithm=hashes.SHA512(), length=16, otherinfo=bytes.fromhex("C0FFEE")).derive(
        z
    )
    params = {
        "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "PublicKeyCertificate": _b64(partner_certificate),
        "KeyAlgorithm": "AES_128",
        "KeyDerivationFunction": "NIST_SP800",
        "KeyDerivationHashAlgorithm": "SHA_512",
        "SharedInformation": "C0FFEE",
    }
    wrapped = {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": params}}
    rows = {
        ("TranslatePinData", "IncomingWrappedKey", "IncomingKeyIdentifier"): "TR31_P0_PIN_ENCRYPTION_KEY",
        ("TranslatePinData", "OutgoingWrappedKey", "OutgoingKeyIdentifier"): "TR31_P0_PIN_ENCRYPTION_KEY",
        ("VerifyPinData", "VisaPin", "EncryptionKeyIdentifier"): "TR31_P0_PIN_ENCRYPTION_KEY",
        ("EncryptData", "Symmetric", "WrappedKey"): "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    }
    for row, usage in rows.items():
        working = dynamic_keys.resolve(svc, ctx(svc), wrapped, *row, k3)
        assert (working.material, working.arn, working.key_check_value) == (expected, k3, aes_kcv(expected))
        assert working.attributes["KeyUsage"] == usage
        modes = working.attributes["KeyModesOfUse"]
        assert [m for m in modes if modes[m]] == ["Encrypt", "Decrypt", "Wrap", "Unwrap"]
    row = ("TranslatePinData", "IncomingWrappedKey", "IncomingKeyIdentifier")
    with pytest.raises(
        ValidationError, match=r"\(ECC_NIST_P256\) is weaker than the key it protects \(AES_256\)"
    ):
        dynamic_keys.resolve(
            svc,
            ctx(svc),
            {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": {**params, "KeyAlgorithm": "AES_256"}}},
            *row,
            k3,
        )


def test_ecdh_refusals(svc) -> None:
    ca = _ca(ec.SECP256R1())
    ca_arn = _import_root(svc, ca[0], "ECC_NIST_P256")
    k3 = _k3(svc, "ECC_NIST_P256", "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY")
    partner_certificate, _ = _leaf(ca, ec.SECP256R1())
    stranger_certificate, _ = _leaf(_ca(ec.SECP256R1(), "Stranger"), ec.SECP256R1())
    other_curve = _leaf(ca, ec.SECP384R1())[0]

    def attempt(**changes) -> None:
        params = {
            "CertificateAuthorityPublicKeyIdentifier": ca_arn,
            "PublicKeyCertificate": _b64(partner_certificate),
            "KeyAlgorithm": "AES_128",
            "KeyDerivationFunction": "NIST_SP800",
            "KeyDerivationHashAlgorithm": "SHA_256",
            "SharedInformation": "ABCDEF",
            **changes,
        }
        key = params.pop("_key", k3)
        resolve(svc, {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": params}}, key)

    with pytest.raises(ValidationError, match="does not chain"):
        attempt(PublicKeyCertificate=_b64(stranger_certificate))
    with pytest.raises(ValidationError, match=r"stronger than the CA|different curves"):
        attempt(PublicKeyCertificate=_b64(other_curve))
    with pytest.raises(ValidationError, match="weaker"):
        attempt(KeyAlgorithm="AES_256")  # P-256 derives at most AES-128
    mac_k3 = _k3(svc, "ECC_NIST_P256", "TR31_M1_ISO_9797_1_MAC_KEY")
    with pytest.raises(ValidationError, match="AES_128 is not valid for the derived KeyUsage"):
        attempt(_key=mac_k3)  # M1 keys are TDES only
    with pytest.raises(ValidationError, match="KeyUsage TR31_K3"):
        attempt(CertificateAuthorityPublicKeyIdentifier=k3)
    with pytest.raises(ValidationError, match="KeyUsage TR31_S0"):
        resolve(
            svc,
            {
                "WrappedKeyMaterial": {
                    "DiffieHellmanSymmetricKey": {
                        "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                        "PublicKeyCertificate": _b64(partner_certificate),
                        "KeyAlgorithm": "AES_128",
                        "KeyDerivationFunction": "NIST_SP800",
                        "KeyDerivationHashAlgorithm": "SHA_256",
                        "SharedInformation": "ABCDEF",
                    }
                }
            },
            ca_arn,
        )

"""Key exchange service functions called directly: parameters, ImportKey, ExportKey, certificates,
TranslateKeyMaterial. The partner side is tests/kx_partner.py (plain cryptography, psec) and the
asn1crypto TR-34 KDH/KRD of tests/crypto/test_tr34.py.

Vectors, each named where used: seed-B §5.2 published TR-31 blocks (psec's "known values from 3rd
parties" and the TR-31:2018 example), the X9.24-1 IPEK vector (BDK 0123456789ABCDEFFEDCBA9876543210,
KSN FFFF9876543210E00000 → 6AC292FAA1315B4D858AB3A3D7D5933A), the X9.24-3 AES IK vector (BDK
FEDCBA9876543210F1F1F1F1F1F1F1F1, initial key ID 1234567890123456 → 1273671EA26AC29AFA4D1084127652A1),
and the well-known KCV 08D7B4 of 0123456789ABCDEFFEDCBA9876543210.
"""

from __future__ import annotations

import datetime as dt
import secrets

import psec
import pytest

from paycrypt.errors import Conflict, ResourceNotFound, ValidationError
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.service.exchange import (
    export_key,
    import_key,
    key_certificates,
    parameters,
    translate_key_material,
)
from paycrypt.service.keys import lifecycle
from tests import kx_partner as kp
from tests.crypto.test_tr34 import _kdh_build, _krd_read
from tests.service.stored_keys import context as ctx
from tests.service.stored_keys import new_service

ACCOUNT = "111122223333"
KNOWN_TDES = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # KCV 08D7B4 (ANSI X9.24)
S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
WRAP = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DIFFIE = "DiffieHellmanTr31KeyBlock"


@pytest.fixture(scope="module")
def svc(tmp_path_factory) -> Service:
    """One service for the module: the account's RSA-4096 CA is made once (tests count rows relatively)."""
    return new_service(tmp_path_factory.mktemp("kx") / "db")


def rows(svc: Service) -> int:
    return len(svc.store.list_keys(ACCOUNT, "us-east-1", None, 0, 1000))


def store(
    svc: Service, material: bytes, usage: str, algorithm: str, modes: dict, exportable: bool = True
) -> str:
    new = lifecycle.NewKey(
        attributes={
            "KeyUsage": usage,
            "KeyAlgorithm": algorithm,
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": modes,
        },
        material=material,
        exportable=exportable,
        enabled=True,
        origin="EXTERNAL",
    )
    return lifecycle.store_key(svc, ctx(svc), new).arn


def import_root(svc: Service, party: kp.Party, algorithm: str = "RSA_2048", c: Context | None = None) -> str:
    material = {"RootCertificatePublicKey": kp.ca_certificate_member(party, algorithm)}
    return import_key.import_key(svc, c or ctx(svc), {"KeyMaterial": material})["Key"]["KeyArn"]


def trusted_material(
    certificate_b64: str, authority_arn: str, usage: str = S0, modes: dict | None = None
) -> dict:
    """ImportKey's TrustedCertificatePublicKey member for an RSA-2048 certificate under a stored CA."""
    return {
        "TrustedCertificatePublicKey": {
            "KeyAttributes": {
                "KeyUsage": usage,
                "KeyClass": "PUBLIC_KEY",
                "KeyAlgorithm": "RSA_2048",
                "KeyModesOfUse": modes or {"Verify": True},
            },
            "PublicKeyCertificate": certificate_b64,
            "CertificateAuthorityPublicKeyIdentifier": authority_arn,
        }
    }


def import_tr31(svc: Service, kek: str, block: str, **extra) -> dict:
    material = {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek, "WrappedKeyBlock": block}}
    return import_key.import_key(svc, ctx(svc), {"KeyMaterial": material, **extra})["Key"]


def export(svc: Service, key: str, material: dict, **extra) -> dict:
    return export_key.export_key(
        svc, ctx(svc), {"ExportKeyIdentifier": key, "KeyMaterial": material, **extra}
    )["WrappedKey"]


@pytest.fixture(scope="module")
def root() -> kp.Party:
    return kp.ca("RSA_2048")


# --- parameters and tokens ----------------------------------------------------------------------


def test_parameters_for_import(svc) -> None:
    c = ctx(svc)
    out = parameters.get_parameters_for_import(
        svc, c, {"KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    assert out["ImportToken"].startswith("import-token-") and len(out["ImportToken"]) == 29
    assert out["WrappingKeyCertificate"].startswith("LS0tLS1CRUdJTi")
    assert out["ParametersValidUntilTimestamp"] == c.now + dt.timedelta(days=30)
    certificate = kp.load_b64(out["WrappingKeyCertificate"])
    (authority,) = kp.load_b64_chain(out["WrappingKeyCertificateChain"])
    certificate.verify_directly_issued_by(authority)
    assert certificate.public_key().key_size == 2048
    # the seed-B §6 issuer DN, in the observed RDN order
    assert authority.subject.rfc4514_string() == (
        f"L=Arlington,CN={ACCOUNT},ST=Virginia,OU=AWS Payment Cryptography,O=AWS Cryptography,C=US"
    )


def test_reuse_last_generated_token(svc) -> None:
    params = {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_3072"}
    first = parameters.get_parameters_for_import(svc, ctx(svc), params)
    again = parameters.get_parameters_for_import(svc, ctx(svc), {**params, "ReuseLastGeneratedToken": True})
    assert again == first
    fresh = parameters.get_parameters_for_import(svc, ctx(svc), params)
    assert fresh["ImportToken"] != first["ImportToken"]
    other_type = parameters.get_parameters_for_import(
        svc,
        ctx(svc),
        {
            "KeyMaterialType": "KEY_CRYPTOGRAM",
            "WrappingKeyAlgorithm": "RSA_2048",
            "ReuseLastGeneratedToken": True,
        },
    )
    assert other_type["ImportToken"] not in (first["ImportToken"], fresh["ImportToken"])
    svc.clock.advance(dt.timedelta(days=23, hours=1))  # 6 days 23 h left: not reused
    later = parameters.get_parameters_for_import(svc, ctx(svc), {**params, "ReuseLastGeneratedToken": True})
    assert later["ImportToken"] != fresh["ImportToken"]


@pytest.mark.parametrize(
    ("material_type", "algorithm", "match"),
    [
        ("TR31_KEY_BLOCK", "RSA_2048", "KeyMaterialType TR31_KEY_BLOCK"),
        ("ROOT_PUBLIC_KEY_CERTIFICATE", "RSA_2048", "KeyMaterialType ROOT"),
        ("TR34_KEY_BLOCK", "ECC_NIST_P256", "WrappingKeyAlgorithm ECC_NIST_P256"),
        ("KEY_CRYPTOGRAM", "AES_256", "WrappingKeyAlgorithm AES_256"),
    ],
)
def test_parameters_for_import_refusals(svc, material_type: str, algorithm: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        parameters.get_parameters_for_import(
            svc, ctx(svc), {"KeyMaterialType": material_type, "WrappingKeyAlgorithm": algorithm}
        )


def test_parameters_for_export(svc) -> None:
    out = parameters.get_parameters_for_export(
        svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048"}
    )
    assert out["ExportToken"].startswith("export-token-")
    kp.load_b64(out["SigningKeyCertificate"]).verify_directly_issued_by(
        kp.load_b64(out["SigningKeyCertificateChain"])
    )
    for bad in ({"SigningKeyAlgorithm": "RSA_4096"}, {"KeyMaterialType": "KEY_CRYPTOGRAM"}):
        with pytest.raises(ValidationError):
            parameters.get_parameters_for_export(
                svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048", **bad}
            )


def _cryptogram_params(token: str, wrapped: str, algorithm: str = "AES_128", **extra) -> dict:
    return {
        "KeyMaterial": {
            "KeyCryptogram": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": algorithm,
                    "KeyModesOfUse": WRAP,
                },
                "Exportable": True,
                "ImportToken": token,
                "WrappedKeyCryptogram": wrapped,
                **extra,
            }
        }
    }


def test_tokens_are_bound_and_expire(svc) -> None:
    tr34_token = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    out = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_3072"}
    )
    key = secrets.token_bytes(16)
    wrapped = kp.rsa_wrap(kp.load_b64(out["WrappingKeyCertificate"]), key)
    with pytest.raises(ValidationError, match="was issued for TR34_KEY_BLOCK, not KEY_CRYPTOGRAM"):
        import_key.import_key(svc, ctx(svc), _cryptogram_params(tr34_token["ImportToken"], wrapped))
    with pytest.raises(ResourceNotFound):
        import_key.import_key(
            svc, ctx(svc, account="444455556666"), _cryptogram_params(out["ImportToken"], wrapped)
        )
    with pytest.raises(ResourceNotFound):
        import_key.import_key(
            svc, ctx(svc, region="eu-west-1"), _cryptogram_params(out["ImportToken"], wrapped)
        )
    with pytest.raises(ResourceNotFound):
        import_key.import_key(svc, ctx(svc), _cryptogram_params("import-token-aaaaaaaaaaaaaaaa", wrapped))
    first = import_key.import_key(svc, ctx(svc), _cryptogram_params(out["ImportToken"], wrapped))["Key"]
    second = import_key.import_key(svc, ctx(svc), _cryptogram_params(out["ImportToken"], wrapped))["Key"]
    assert first["KeyCheckValue"] == second["KeyCheckValue"] == kp.kcv_aes(key)  # one token, many keys
    svc.clock.advance(dt.timedelta(days=30, seconds=1))
    before = rows(svc)
    with pytest.raises(ValidationError, match="has expired"):
        import_key.import_key(svc, ctx(svc), _cryptogram_params(out["ImportToken"], wrapped))
    assert rows(svc) == before


# --- RSA unwrap (KeyCryptogram) -----------------------------------------------------------------


@pytest.mark.parametrize("spec", ["RSA_OAEP_SHA_256", "RSA_OAEP_SHA_512"])
def test_key_cryptogram_import(svc, spec: str) -> None:
    out = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    key = KNOWN_TDES
    wrapped = kp.rsa_wrap(kp.load_b64(out["WrappingKeyCertificate"]), key, spec)
    imported = import_key.import_key(
        svc, ctx(svc), _cryptogram_params(out["ImportToken"], wrapped, "TDES_2KEY", WrappingSpec=spec)
    )["Key"]
    assert (imported["KeyCheckValue"], imported["KeyOrigin"], imported["Exportable"]) == (
        "08D7B4",
        "EXTERNAL",
        True,
    )


def test_key_cryptogram_refusals(svc) -> None:
    out = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    certificate = kp.load_b64(out["WrappingKeyCertificate"])
    aes = secrets.token_bytes(16)
    before = rows(svc)
    with pytest.raises(ValidationError, match=r"RSA_2048\) is weaker than the key it protects \(AES_128"):
        import_key.import_key(
            svc, ctx(svc), _cryptogram_params(out["ImportToken"], kp.rsa_wrap(certificate, aes))
        )
    with pytest.raises(ValidationError, match="does not decrypt"):
        import_key.import_key(
            svc,
            ctx(svc),
            _cryptogram_params(
                out["ImportToken"],
                kp.rsa_wrap(certificate, KNOWN_TDES),
                "TDES_2KEY",
                WrappingSpec="RSA_OAEP_SHA_512",
            ),
        )
    with pytest.raises(ValidationError, match="does not carry a TDES_3KEY key"):
        import_key.import_key(
            svc,
            ctx(svc),
            _cryptogram_params(out["ImportToken"], kp.rsa_wrap(certificate, KNOWN_TDES), "TDES_3KEY"),
        )
    bad_modes = _cryptogram_params(out["ImportToken"], kp.rsa_wrap(certificate, KNOWN_TDES), "TDES_2KEY")
    bad_modes["KeyMaterial"]["KeyCryptogram"]["KeyAttributes"]["KeyModesOfUse"] = {"Generate": True}
    with pytest.raises(ValidationError, match="KeyModesOfUse"):
        import_key.import_key(svc, ctx(svc), bad_modes)
    assert rows(svc) == before


# --- certificates -------------------------------------------------------------------------------


def test_root_and_trusted_certificates(svc, root) -> None:
    root_arn = import_root(svc, root)
    intermediate = kp.leaf(root, name="Partner Issuing CA", is_ca=True)
    trusted = trusted_material(intermediate.b64, root_arn)
    intermediate_arn = import_key.import_key(svc, ctx(svc), {"KeyMaterial": trusted})["Key"]["KeyArn"]
    wrap_leaf = kp.leaf(intermediate, name="Partner wrapping key")
    d1 = trusted_material(
        wrap_leaf.b64,
        intermediate_arn,
        "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        {"Encrypt": True, "Wrap": True},
    )
    leaf_key = import_key.import_key(svc, ctx(svc), {"KeyMaterial": d1})["Key"]
    assert (
        leaf_key["KeyAttributes"]["KeyClass"] == "PUBLIC_KEY"
        and leaf_key["KeyCheckValueAlgorithm"] == "SHA_1"
    )
    out = key_certificates.get_public_key_certificate(svc, ctx(svc), {"KeyIdentifier": leaf_key["KeyArn"]})
    assert kp.load_b64(out["KeyCertificate"]) == wrap_leaf.certificate
    assert kp.load_b64_chain(out["KeyCertificateChain"]) == [intermediate.certificate, root.certificate]
    out = key_certificates.get_public_key_certificate(svc, ctx(svc), {"KeyIdentifier": root_arn})
    assert kp.load_b64_chain(out["KeyCertificateChain"]) == [root.certificate]


def test_certificate_refusals(svc, root) -> None:
    root_arn = import_root(svc, root)
    before = rows(svc)
    expired = kp.ca(
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    )
    with pytest.raises(ValidationError, match="expired"):
        import_root(svc, expired)
    not_ca = kp.leaf(root)
    with pytest.raises(ValidationError, match="not a CA"):
        import_root(svc, not_ca)
    with pytest.raises(ValidationError, match="does not match the certificate's key"):
        import_root(svc, root, "RSA_4096")
    stranger = kp.leaf(kp.ca(name="Stranger"), is_ca=True)
    trusted = trusted_material(stranger.b64, root_arn)
    with pytest.raises(ValidationError, match="does not chain"):
        import_key.import_key(svc, ctx(svc), {"KeyMaterial": trusted})
    stronger = kp.leaf(root, "RSA_3072", is_ca=True)
    trusted["TrustedCertificatePublicKey"]["PublicKeyCertificate"] = stronger.b64
    trusted["TrustedCertificatePublicKey"]["KeyAttributes"]["KeyAlgorithm"] = "RSA_3072"
    with pytest.raises(ValidationError, match="stronger than the CA"):
        import_key.import_key(svc, ctx(svc), {"KeyMaterial": trusted})
    with pytest.raises(ValidationError, match="not a valid certificate"):
        trusted["TrustedCertificatePublicKey"]["PublicKeyCertificate"] = "TUlJQm9ndXM="
        import_key.import_key(svc, ctx(svc), {"KeyMaterial": trusted})
    assert rows(svc) == before


# --- TR-31 import -------------------------------------------------------------------------------

PUBLISHED = [  # (KBPK, algorithm, clear key, block): seed-B §5.2
    (
        "89E88CF7931444F334BD7547FC3F380C",
        "TDES_2KEY",
        "F039121BEC83D26B169BDCD5B22AAF8F",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
    ),
    (
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "TDES_2KEY",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
    ),
    (
        "B8ED59E0A279A295E9F5ED7944FD06B9",
        "TDES_2KEY",
        "EDB380DD340BC2620247D445F5B8D678",
        "C0096B0TX12S0100KS1800604B120F9292800000BFB9B689CB567E66FC3FEE5AD5F52161FC6545B9D60989015D02155C",
    ),
    (
        "1D22BF32387C600AD97F9B97A51311AC",
        "TDES_2KEY",
        "E8BC63E5479455E26577F715D587FE68",
        "B0104B0TX12S0100KS1800604B120F9292800000BB68BE8680A400D9191AD4ECE45B6E6C0D21C4738A52190E248719E24B433627",
    ),
    (
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "AES_256",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
    ),
]


@pytest.mark.parametrize(
    ("kbpk", "algorithm", "clear", "block"), PUBLISHED, ids=["A", "B", "C-KS", "B-KS", "D"]
)
def test_published_tr31_blocks_import(svc, kbpk: str, algorithm: str, clear: str, block: str) -> None:
    kek = store(svc, bytes.fromhex(kbpk), "TR31_K0_KEY_ENCRYPTION_KEY", algorithm, WRAP)
    key = import_tr31(svc, kek, block, Tags=[{"Key": "Source", "Value": "published"}], Enabled=False)
    clear_key = bytes.fromhex(clear)
    expected_kcv = kp.kcv_aes(clear_key) if block[7] == "A" else kp.kcv_tdes(clear_key)
    assert key["KeyCheckValue"] == expected_kcv
    assert key["KeyOrigin"] == "EXTERNAL" and key["Enabled"] is False
    assert key["KeyAttributes"]["KeyUsage"].startswith(f"TR31_{block[5:7]}_")
    assert key["Exportable"] is True  # E and S
    record = svc.store.get_key(key["KeyArn"])
    assert svc.keycache.material(record) == clear_key
    assert record.extra["Tr31Exportability"] == block[11]
    if "KS" in block:
        assert record.extra["OptionalBlocks"] == {"KS": "00604B120F9292800000"}
        assert key["KeyAttributes"]["KeyModesOfUse"]["DeriveKey"]
    assert svc.store.get_tags(key["KeyArn"]) == [{"Key": "Source", "Value": "published"}]


def test_tr31_import_hmac_with_hm_and_kcv_algorithm(svc) -> None:
    kbpk = secrets.token_bytes(32)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP)
    hmac_key = secrets.token_bytes(32)
    block = psec.tr31.wrap(kbpk, "D0000M7HC00N0100HM0621", hmac_key)
    key = import_tr31(svc, kek, block, KeyCheckValueAlgorithm="HMAC")
    assert key["KeyAttributes"]["KeyAlgorithm"] == "HMAC_SHA256" and key["Exportable"] is False
    # CMAC is not an HMAC key's method: the HMAC KCV is computed and named (docs/decisions/lifecycle.md).
    cmac_asked = import_tr31(svc, kek, block, KeyCheckValueAlgorithm="CMAC")
    assert (cmac_asked["KeyCheckValue"], cmac_asked["KeyCheckValueAlgorithm"]) == (
        key["KeyCheckValue"],
        "HMAC",
    )
    no_hm = psec.tr31.wrap(kbpk, "D0000M7HC00N0000", hmac_key)
    with pytest.raises(ValidationError, match="HM optional block"):
        import_tr31(svc, kek, no_hm)
    sha1 = psec.tr31.wrap(kbpk, "D0000M7HC00N0100HM0610", hmac_key)
    with pytest.raises(ValidationError, match="HM 10"):
        import_tr31(svc, kek, sha1)


def test_tr31_kp_block_is_dropped(svc) -> None:
    kbpk = secrets.token_bytes(16)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_128", WRAP)
    block = psec.tr31.wrap(
        kbpk, "D0000D0AB00E0200KP0C01FFFFFFKS18FFFF9876543210E00000", secrets.token_bytes(16)
    )
    key = import_tr31(svc, kek, block)
    assert svc.store.get_key(key["KeyArn"]).extra["OptionalBlocks"] == {"KS": "FFFF9876543210E00000"}


def _flip(block: str, position: int) -> str:
    char = block[position]
    replacement = "0" if char != "0" else "1"
    return block[:position] + replacement + block[position + 1 :]


def test_tr31_tampering_wrong_kbpk_and_structure(svc) -> None:
    kbpk, algorithm, clear, block = PUBLISHED[4]
    kek = store(svc, bytes.fromhex(kbpk), "TR31_K0_KEY_ENCRYPTION_KEY", algorithm, WRAP)
    other = store(svc, secrets.token_bytes(32), "TR31_K0_KEY_ENCRYPTION_KEY", "AES_256", WRAP)
    tdes_kek = store(svc, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    before = rows(svc)
    for position in range(len(block)):  # every character: header, encrypted key, MAC
        with pytest.raises(ValidationError) as info:
            import_tr31(svc, kek, _flip(block, position))
        assert clear not in info.value.message and kbpk not in info.value.message
    for bad, kek_arn, match in [
        (block, other, "MAC verification failed"),
        (block, tdes_kek, "needs an AES wrapping key"),
        (block[:-16], kek, "length"),
        (block[:100], kek, "length"),
        ("E" + block[1:], kek, "version"),
        ("D0112P0AE00E0000" + "G" * 96, kek, "hex"),
    ]:
        with pytest.raises(ValidationError, match=match):
            import_tr31(svc, kek_arn, bad)
    assert rows(svc) == before


def test_tr31_import_contradictions(svc) -> None:
    kbpk = secrets.token_bytes(16)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", WRAP)
    before = rows(svc)
    for header, match in [
        ("B0000C0TB00E0000", "KeyModesOfUse"),  # a CVK cannot encrypt
        ("B0000M7TC00E0000", "KeyAlgorithm TDES_2KEY is not valid for KeyUsage TR31_M7"),
        ("B0000ZZTB00E0000", "key usage ZZ"),
        ("B0000D0TQ00E0000", "mode of use Q"),
    ]:
        with pytest.raises(ValidationError, match=match):
            import_tr31(svc, kek, psec.tr31.wrap(kbpk, header, secrets.token_bytes(16)))
    with pytest.raises(ValidationError, match=r"TDES_2KEY\) is weaker"):
        import_tr31(svc, kek, psec.tr31.wrap(kbpk, "B0000D0TB00E0000", secrets.token_bytes(24)))
    encrypt_only = store(
        svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", {"Encrypt": True, "Wrap": True}
    )
    with pytest.raises(ValidationError, match="KeyModesOfUse does not allow ImportKey"):
        import_tr31(svc, encrypt_only, psec.tr31.wrap(kbpk, "B0000D0TB00E0000", secrets.token_bytes(16)))
    assert rows(svc) == before + 1


# --- AS2805 variant key cryptograms (issue 7) ----------------------------------------------------

AS2805_WORKING_KEY = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")  # KCV EB7A8D
# Issue 7's known answers: the working key under KNOWN_TDES ⊕ each variant's mask (TDES-CBC, IV 0).
AS2805_CRYPTOGRAMS = {
    "PIN_ENCRYPTION_KEY_VARIANT_28": ("TR31_P0_PIN_ENCRYPTION_KEY", "283353B15171638522838EC58E0643AA"),
    "DATA_ENCRYPTION_KEY_VARIANT_22": (
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "170BD5F59BCACDDA4A70C0D1CA65ECA2",
    ),
    "MESSAGE_AUTHENTICATION_KEY_VARIANT_24": (
        "TR31_M0_ISO_16609_MAC_KEY",
        "A63809FB674229575BB772160397F198",
    ),
    "TERMINAL_MAJOR_KEY_VARIANT_00": ("TR31_K0_KEY_ENCRYPTION_KEY", "4230EF1CB26849557D6E1DACA7432525"),
}
K0 = "TR31_K0_KEY_ENCRYPTION_KEY"


def as2805_import(svc: Service, kek: str, variant: str, cryptogram: str, **overrides) -> dict:
    value = {
        "As2805KeyVariant": variant,
        "KeyModesOfUse": {"Generate": True, "Verify": True}
        if variant.startswith("MESSAGE")
        else {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
        "KeyAlgorithm": "TDES_2KEY",
        "Exportable": True,
        "WrappingKeyIdentifier": kek,
        "WrappedKeyCryptogram": cryptogram,
        **overrides,
    }
    return import_key.import_key(svc, ctx(svc), {"KeyMaterial": {"As2805KeyCryptogram": value}})["Key"]


def as2805_export(svc: Service, key: str, kek: str, variant: str) -> dict:
    material = {"As2805KeyCryptogram": {"WrappingKeyIdentifier": kek, "As2805KeyVariant": variant}}
    return export_key.export_key(svc, ctx(svc), {"ExportKeyIdentifier": key, "KeyMaterial": material})[
        "WrappedKey"
    ]


@pytest.mark.parametrize("variant", AS2805_CRYPTOGRAMS)
def test_as2805_cryptogram_known_answers_both_ways(svc, variant) -> None:
    usage, cryptogram = AS2805_CRYPTOGRAMS[variant]
    kek = store(svc, KNOWN_TDES, K0, "TDES_2KEY", WRAP)
    key = as2805_import(svc, kek, variant, cryptogram)
    assert key["KeyCheckValue"] == "EB7A8D"
    assert key["KeyOrigin"] == "EXTERNAL" and key["KeyAttributes"]["KeyUsage"] == usage
    wrapped = as2805_export(svc, key["KeyArn"], kek, variant)
    assert wrapped["KeyMaterial"] == cryptogram and wrapped["KeyCheckValue"] == "EB7A8D"
    assert wrapped["WrappedKeyMaterialFormat"] == "KEY_CRYPTOGRAM" and wrapped["WrappingKeyArn"] == kek


def test_as2805_cryptogram_rules(svc) -> None:
    kek = store(svc, KNOWN_TDES, K0, "TDES_2KEY", WRAP)
    p0_28 = AS2805_CRYPTOGRAMS["PIN_ENCRYPTION_KEY_VARIANT_28"][1]
    pek = store(svc, AS2805_WORKING_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    before = rows(svc)
    for overrides, match in [
        ({"KeyAlgorithm": "AES_128"}, "carry TDES_2KEY or TDES_3KEY"),
        ({"KeyAlgorithm": "TDES_3KEY"}, r"TDES_2KEY\) is weaker"),  # the KEK is TDES_2KEY
        ({"KeyModesOfUse": {"Generate": True}}, "As2805KeyVariant PIN_ENCRYPTION_KEY_VARIANT_28 gives"),
        ({"WrappedKeyCryptogram": p0_28[:16]}, "32 or 48 hexadecimal"),
    ]:
        with pytest.raises(ValidationError, match=match):
            as2805_import(svc, kek, "PIN_ENCRYPTION_KEY_VARIANT_28", p0_28, **overrides)
    tdes3_kek = store(svc, KNOWN_TDES + KNOWN_TDES[:8], K0, "TDES_3KEY", WRAP)
    with pytest.raises(ValidationError, match="does not carry a TDES_3KEY key"):
        as2805_import(svc, tdes3_kek, "PIN_ENCRYPTION_KEY_VARIANT_28", p0_28, KeyAlgorithm="TDES_3KEY")
    # the KEK: TR31_K0 TDES that unwraps to import and wraps to export
    k1 = store(svc, KNOWN_TDES, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", WRAP)
    encrypt_only = store(svc, KNOWN_TDES, K0, "TDES_2KEY", {"Encrypt": True, "Wrap": True})
    decrypt_only = store(svc, KNOWN_TDES, K0, "TDES_2KEY", {"Decrypt": True, "Unwrap": True})
    aes_kek = store(svc, secrets.token_bytes(16), K0, "AES_128", WRAP)
    for bad_kek, match in [(k1, "KeyUsage TR31_K1"), (encrypt_only, "KeyModesOfUse"), (aes_kek, "AES_128")]:
        with pytest.raises(ValidationError, match=match):
            as2805_import(svc, bad_kek, "PIN_ENCRYPTION_KEY_VARIANT_28", p0_28)
    with pytest.raises(ResourceNotFound):
        as2805_import(svc, "alias/no-such-kek", "PIN_ENCRYPTION_KEY_VARIANT_28", p0_28)
    assert rows(svc) == before + 5  # only the KEKs stored above
    for bad_kek, match in [(k1, "KeyUsage TR31_K1"), (decrypt_only, "KeyModesOfUse"), (aes_kek, "AES_128")]:
        with pytest.raises(ValidationError, match=match):
            as2805_export(svc, pek, bad_kek, "PIN_ENCRYPTION_KEY_VARIANT_28")
    # the variant must fit the key's usage (one table: 28 P0, 22 D0, 24 M0, 00 K0)
    for variant in ("DATA_ENCRYPTION_KEY_VARIANT_22", "MESSAGE_AUTHENTICATION_KEY_VARIANT_24"):
        with pytest.raises(ValidationError, match="carries TR31_"):
            as2805_export(svc, pek, kek, variant)
    m3 = store(svc, AS2805_WORKING_KEY, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", {"Generate": True})
    with pytest.raises(ValidationError, match="carries TR31_M0_ISO_16609_MAC_KEY keys only"):
        as2805_export(svc, m3, kek, "MESSAGE_AUTHENTICATION_KEY_VARIANT_24")
    aes_pek = store(svc, secrets.token_bytes(16), "TR31_P0_PIN_ENCRYPTION_KEY", "AES_128", WRAP)
    with pytest.raises(ValidationError, match="carry TDES_2KEY or TDES_3KEY"):
        as2805_export(svc, aes_pek, kek, "PIN_ENCRYPTION_KEY_VARIANT_28")
    tdes3_pek = store(svc, secrets.token_bytes(24), "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_3KEY", WRAP)
    with pytest.raises(ValidationError, match=r"TDES_2KEY\) is weaker"):
        as2805_export(svc, tdes3_pek, kek, "PIN_ENCRYPTION_KEY_VARIANT_28")
    assert as2805_export(svc, tdes3_pek, tdes3_kek, "PIN_ENCRYPTION_KEY_VARIANT_28")["KeyMaterial"]
    locked = store(svc, AS2805_WORKING_KEY, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", WRAP, exportable=False)
    with pytest.raises(ValidationError, match="not exportable"):
        as2805_export(svc, locked, kek, "PIN_ENCRYPTION_KEY_VARIANT_28")


# --- TR-34 import -------------------------------------------------------------------------------


def _tr34_import(svc, ca_arn: str, kdh: kp.Party, block: bytes, token: str | None, **extra) -> dict:
    material = {
        "Tr34KeyBlock": {
            "CertificateAuthorityPublicKeyIdentifier": ca_arn,
            "SigningKeyCertificate": kdh.b64,
            "WrappedKeyBlock": block.hex().upper(),
            "KeyBlockFormat": "X9_TR34_2012",
            **({"ImportToken": token} if token else {}),
            **extra,
        }
    }
    return import_key.import_key(svc, ctx(svc), {"KeyMaterial": material})["Key"]


def test_tr34_import_two_and_one_pass(svc, root) -> None:
    ca_arn = import_root(svc, root)
    kdh = kp.leaf(root, name="KDH")
    params = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_2048"}
    )
    krd = kp.load_b64(params["WrappingKeyCertificate"])
    nonce = secrets.token_bytes(8)
    block = _kdh_build(KNOWN_TDES, "D9999K1TB00E0000", (kdh.certificate, kdh.key), krd, nonce=nonce)
    key = _tr34_import(svc, ca_arn, kdh, block, params["ImportToken"], RandomNonce=nonce.hex().upper())
    assert (
        key["KeyCheckValue"] == "08D7B4"
        and key["KeyAttributes"]["KeyUsage"] == "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    )
    one_pass = _kdh_build(
        KNOWN_TDES, "D0112K0TB00E0000", (kdh.certificate, kdh.key), krd, signing_time=ctx(svc).now
    )
    assert _tr34_import(svc, ca_arn, kdh, one_pass, params["ImportToken"])["KeyAttributes"]["KeyUsage"] == (
        "TR31_K0_KEY_ENCRYPTION_KEY"
    )
    before = rows(svc)
    with pytest.raises(ValidationError, match="requires the RandomNonce"):
        _tr34_import(svc, ca_arn, kdh, block, params["ImportToken"])
    with pytest.raises(ValidationError, match="nonce does not match"):
        _tr34_import(svc, ca_arn, kdh, block, params["ImportToken"], RandomNonce="00" * 8)
    aes_block = _kdh_build(
        secrets.token_bytes(16), "D0000K1AB00E0000", (kdh.certificate, kdh.key), krd, nonce=nonce, aes=True
    )
    with pytest.raises(ValidationError, match=r"RSA_2048\) is weaker"):
        _tr34_import(svc, ca_arn, kdh, aes_block, params["ImportToken"], RandomNonce=nonce.hex())
    stranger_kdh = kp.leaf(kp.ca(name="Stranger"), name="KDH")
    stranger_block = _kdh_build(
        KNOWN_TDES, "D0000K1TB00E0000", (stranger_kdh.certificate, stranger_kdh.key), krd, nonce=nonce
    )
    with pytest.raises(ValidationError, match="does not chain"):
        _tr34_import(
            svc, ca_arn, stranger_kdh, stranger_block, params["ImportToken"], RandomNonce=nonce.hex()
        )
    tampered = bytearray(block)
    tampered[-10] ^= 1
    with pytest.raises(ValidationError, match="signature"):
        _tr34_import(svc, ca_arn, kdh, bytes(tampered), params["ImportToken"], RandomNonce=nonce.hex())
    with pytest.raises(ValidationError, match="needs an ImportToken"):
        _tr34_import(svc, ca_arn, kdh, block, None, RandomNonce=nonce.hex())
    assert rows(svc) == before


def test_tr34_import_aes_kek_with_rsa_3072_token(svc, root) -> None:
    """RSA_3072 import parameters for TR-34 (a decision: the strength rule needs it for AES-128)."""
    ca_arn = import_root(svc, root)
    kdh = kp.leaf(root, name="KDH")
    params = parameters.get_parameters_for_import(
        svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "WrappingKeyAlgorithm": "RSA_3072"}
    )
    aes = secrets.token_bytes(16)
    nonce = secrets.token_bytes(16)
    block = _kdh_build(
        aes,
        "D0000K1AB00E0000",
        (kdh.certificate, kdh.key),
        kp.load_b64(params["WrappingKeyCertificate"]),
        nonce=nonce,
        aes=True,
    )
    key = _tr34_import(svc, ca_arn, kdh, block, params["ImportToken"], RandomNonce=nonce.hex())
    assert (key["KeyAttributes"]["KeyAlgorithm"], key["KeyCheckValue"]) == ("AES_128", kp.kcv_aes(aes))


def test_tr34_import_byoca_receiver(svc, root) -> None:
    ca_arn = import_root(svc, root)
    kdh = kp.leaf(root, name="KDH")
    krd_key = lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "Exportable": False,
            "KeyAttributes": {
                "KeyAlgorithm": "RSA_2048",
                "KeyUsage": "TR31_K2_TR34_ASYMMETRIC_KEY",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"Decrypt": True, "Unwrap": True},
            },
        },
    )["Key"]["KeyArn"]
    csr = key_certificates.get_certificate_signing_request(
        svc,
        ctx(svc),
        {"KeyIdentifier": krd_key, "SigningAlgorithm": "SHA256", "CertificateSubject": {"CommonName": "KRD"}},
    )["CertificateSigningRequest"]
    krd_certificate = kp.sign_csr(root, csr)
    nonce = secrets.token_bytes(8)
    block = _kdh_build(
        KNOWN_TDES, "D0000K1TB00E0000", (kdh.certificate, kdh.key), krd_certificate, nonce=nonce
    )
    key = _tr34_import(
        svc,
        ca_arn,
        kdh,
        block,
        None,
        WrappingKeyIdentifier=krd_key,
        WrappingKeyCertificate=kp.b64(krd_certificate),
        RandomNonce=nonce.hex(),
    )
    assert key["KeyCheckValue"] == "08D7B4"
    with pytest.raises(ValidationError, match="does not hold the public key"):
        _tr34_import(
            svc,
            ca_arn,
            kdh,
            block,
            None,
            WrappingKeyIdentifier=krd_key,
            WrappingKeyCertificate=kdh.b64,
            RandomNonce=nonce.hex(),
        )


# --- ECDH import / export / translate -----------------------------------------------------------


def _k3(
    svc: Service, curve: str = "ECC_NIST_P521", derive: str = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
) -> tuple[str, object]:
    arn = lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "Exportable": True,
            "DeriveKeyUsage": derive,
            "KeyAttributes": {
                "KeyAlgorithm": curve,
                "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"DeriveKey": True},
            },
        },
    )["Key"]["KeyArn"]
    out = key_certificates.get_public_key_certificate(svc, ctx(svc), {"KeyIdentifier": arn})
    certificate = kp.load_b64(out["KeyCertificate"])
    certificate.verify_directly_issued_by(kp.load_b64(out["KeyCertificateChain"]))
    return arn, certificate


@pytest.fixture(scope="module")
def ec_root() -> kp.Party:
    return kp.ca("ECC_NIST_P521", "Partner EC Root")


def _dh(k3: str, ca_arn: str, partner: kp.Party, algorithm: str = "AES_256", **extra) -> dict:
    return {
        "PrivateKeyIdentifier": k3,
        "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "PublicKeyCertificate": partner.b64,
        "DeriveKeyAlgorithm": algorithm,
        "KeyDerivationFunction": extra.pop("kdf", "NIST_SP800"),
        "KeyDerivationHashAlgorithm": extra.pop("hash", "SHA_512"),
        "DerivationData": {"SharedInformation": "ADEF567890"},
        **extra,
    }


@pytest.mark.parametrize(("kdf", "hash_name"), [("NIST_SP800", "SHA_512"), ("ANSI_X963", "SHA_256")])
def test_ecdh_import_export_and_translate(svc, ec_root, kdf: str, hash_name: str) -> None:
    ca_arn = import_root(svc, ec_root, "ECC_NIST_P521")
    k3, service_certificate = _k3(svc)
    partner = kp.leaf(ec_root, "ECC_NIST_P521")
    kbpk = kp.ecdh_key(
        partner.key,
        service_certificate,
        algorithm="AES_256",
        kdf=kdf,
        hash_name=hash_name,
        shared_information="ADEF567890",
    )
    kek_clear = secrets.token_bytes(32)
    block = psec.tr31.wrap(kbpk, "D0000K1AB00E0000", kek_clear)
    dh = _dh(k3, ca_arn, partner, kdf=kdf, hash=hash_name)
    kek = import_key.import_key(svc, ctx(svc), {"KeyMaterial": {DIFFIE: {**dh, "WrappedKeyBlock": block}}})[
        "Key"
    ]
    assert (kek["KeyAttributes"]["KeyAlgorithm"], kek["KeyCheckValue"]) == ("AES_256", kp.kcv_aes(kek_clear))
    # export a working key back to the partner under the same agreement
    working = store(svc, secrets.token_bytes(16), "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    out = export(svc, working, {DIFFIE: dh})
    assert out["WrappingKeyArn"] == k3 and out["KeyMaterial"].startswith("D0112P0TB00E")
    _, clear = psec.tr31.unwrap(kbpk, out["KeyMaterial"])
    assert kp.kcv_tdes(clear) == out["KeyCheckValue"]
    # translate: the partner's block re-wrapped under the stored KEK, never stored
    before = rows(svc)
    translated = translate_key_material.translate_key_material(
        svc,
        ctx(svc),
        {
            "IncomingKeyMaterial": {DIFFIE: {**dh, "WrappedKeyBlock": block}},
            "OutgoingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}},
        },
    )["WrappedKey"]
    assert rows(svc) == before
    assert translated["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK"
    assert psec.tr31.unwrap(kek_clear, translated["WrappedKeyMaterial"])[1] == kek_clear
    assert translated["KeyCheckValue"] == kp.kcv_aes(kek_clear)


def test_ecdh_refusals(svc, ec_root) -> None:
    ca_arn = import_root(svc, ec_root, "ECC_NIST_P521")
    k3, service_certificate = _k3(svc)
    partner = kp.leaf(ec_root, "ECC_NIST_P521")
    kbpk = kp.ecdh_key(
        partner.key,
        service_certificate,
        algorithm="AES_256",
        hash_name="SHA_512",
        shared_information="ADEF567890",
    )
    block = psec.tr31.wrap(kbpk, "D0000K1AB00E0000", secrets.token_bytes(32))
    before = rows(svc)
    with pytest.raises(ValidationError, match="MAC"):  # the other side used another hash
        import_key.import_key(
            svc,
            ctx(svc),
            {"KeyMaterial": {DIFFIE: {**_dh(k3, ca_arn, partner, hash="SHA_256"), "WrappedKeyBlock": block}}},
        )
    with pytest.raises(ValidationError, match="cannot protect a TR-31 key block"):
        import_key.import_key(
            svc,
            ctx(svc),
            {"KeyMaterial": {DIFFIE: {**_dh(k3, ca_arn, partner, "HMAC_SHA256"), "WrappedKeyBlock": block}}},
        )
    d0_k3, _ = _k3(svc, derive="TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY")
    with pytest.raises(ValidationError, match="derives TR31_D0"):
        import_key.import_key(
            svc,
            ctx(svc),
            {"KeyMaterial": {DIFFIE: {**_dh(d0_k3, ca_arn, partner), "WrappedKeyBlock": block}}},
        )
    assert rows(svc) == before + 1


def test_ecdh_strength_compares_the_carried_key(svc, ec_root) -> None:
    """Seed-B §2: the curve (by the guide's matrix) and the derived KBPK are each compared with the
    key the block carries, never with each other: a P-256 pair may derive an AES_256 KBPK (the
    guide's own example) to carry a TDES key, but not carry an AES_256 key under any KBPK."""
    ca_arn = import_root(svc, ec_root, "ECC_NIST_P521")
    p256_k3, p256_certificate = _k3(svc, "ECC_NIST_P256")
    p256_partner = kp.leaf(ec_root, "ECC_NIST_P256")

    def block(partner, certificate, derive: str, header: str, key: bytes) -> str:
        kbpk = kp.ecdh_key(
            partner.key, certificate, algorithm=derive, hash_name="SHA_512", shared_information="ADEF567890"
        )
        return psec.tr31.wrap(kbpk, header, key)

    tdes = secrets.token_bytes(24)
    carried = block(p256_partner, p256_certificate, "AES_256", "D0000K1TB00E0000", tdes)
    params = {**_dh(p256_k3, ca_arn, p256_partner), "WrappedKeyBlock": carried}
    imported = import_key.import_key(svc, ctx(svc), {"KeyMaterial": {DIFFIE: params}})["Key"]
    assert imported["KeyCheckValue"] == kp.kcv_tdes(tdes)
    before = rows(svc)
    aes = block(p256_partner, p256_certificate, "AES_256", "D0000K1AB00E0000", secrets.token_bytes(32))
    with pytest.raises(
        ValidationError, match=r"\(ECC_NIST_P256\) is weaker than the key it protects \(AES_256\)"
    ):
        import_key.import_key(svc, ctx(svc), {"KeyMaterial": {DIFFIE: {**params, "WrappedKeyBlock": aes}}})
    k3, certificate = _k3(svc)  # P-521
    partner = kp.leaf(ec_root, "ECC_NIST_P521")
    weak_kbpk = block(partner, certificate, "AES_128", "D0000K1AB00E0000", secrets.token_bytes(32))
    with pytest.raises(ValidationError, match=r"wrapping key \(AES_128\) is weaker .* \(AES_256\)"):
        import_key.import_key(
            svc,
            ctx(svc),
            {"KeyMaterial": {DIFFIE: {**_dh(k3, ca_arn, partner, "AES_128"), "WrappedKeyBlock": weak_kbpk}}},
        )
    assert rows(svc) == before + 1  # the P-521 K3 key only


# --- export -------------------------------------------------------------------------------------


def test_tr31_export_reads_in_psec_with_headers(svc) -> None:
    kbpk = secrets.token_bytes(32)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP)
    clear = secrets.token_bytes(16)
    key = store(svc, clear, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate": True, "Verify": True})
    plain = export(svc, key, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
    assert plain["KeyMaterial"].startswith("D0112C0TC00E0000")
    assert psec.tr31.unwrap(kbpk, plain["KeyMaterial"])[1] == clear
    headers = {
        "KeyModesOfUse": {"Verify": True},
        "KeyExportability": "NON_EXPORTABLE",
        "KeyVersion": "07",
        "OptionalBlocks": {"BI": "00ABCDEFABCD"},
    }
    out = export(svc, key, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek, "KeyBlockHeaders": headers}})
    header, unwrapped = psec.tr31.unwrap(kbpk, out["KeyMaterial"])
    assert unwrapped == clear
    assert out["KeyMaterial"][5:16] == "C0TV07N0100"  # BI (16 characters: no PB needed)
    assert header.blocks["BI"] == "00ABCDEFABCD"
    for bad, match in [
        ({"KeyModesOfUse": {"Generate": True, "Encrypt": True}}, "subset"),
        ({"OptionalBlocks": {"PB": "ABC"}}, "computed"),
        ({"OptionalBlocks": {"AA": "A" * 60, "BB": "B" * 60}}, "112"),
    ]:
        with pytest.raises(ValidationError, match=match):
            export(svc, key, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek, "KeyBlockHeaders": bad}})


def test_tr31_export_version_b_and_exportability_ceiling(svc) -> None:
    kbpk = secrets.token_bytes(24)
    kek = store(svc, kbpk, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_3KEY", WRAP)
    imported = import_tr31(svc, kek, psec.tr31.wrap(kbpk, "B0000D0TB00E0000", secrets.token_bytes(16)))
    out = export(svc, imported["KeyArn"], {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
    assert out["KeyMaterial"].startswith("B0096D0TB00E0000")
    with pytest.raises(ValidationError, match="less restrictive"):
        export(
            svc,
            imported["KeyArn"],
            {
                "Tr31KeyBlock": {
                    "WrappingKeyIdentifier": kek,
                    "KeyBlockHeaders": {"KeyExportability": "SENSITIVE"},
                }
            },
        )
    aes = store(svc, secrets.token_bytes(16), "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "AES_128", WRAP)
    with pytest.raises(ValidationError, match=r"TDES_3KEY\) is weaker"):
        export(svc, aes, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
    locked = store(
        svc,
        secrets.token_bytes(16),
        "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
        "TDES_2KEY",
        WRAP,
        exportable=False,
    )
    with pytest.raises(ValidationError, match="not exportable"):
        export(svc, locked, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
    lifecycle.delete_key(svc, ctx(svc), {"KeyIdentifier": imported["KeyArn"]})
    with pytest.raises(Conflict):
        export(svc, imported["KeyArn"], {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})


def test_ipek_and_ik_export_published_vectors(svc) -> None:
    kbpk = secrets.token_bytes(32)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP)
    bdk = store(
        svc, KNOWN_TDES, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True}, exportable=False
    )
    out = export(
        svc,
        bdk,
        {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}},
        ExportAttributes={"ExportDukptInitialKey": {"KeySerialNumber": "FFFF9876543210E00000"}},
    )
    assert out["KeyMaterial"].startswith("D0112B1TX00S0000")
    ipek = psec.tr31.unwrap(kbpk, out["KeyMaterial"])[1]
    assert ipek.hex().upper() == "6AC292FAA1315B4D858AB3A3D7D5933A"  # X9.24-1 published IPEK
    assert (out["KeyCheckValue"], out["KeyCheckValueAlgorithm"]) == (kp.kcv_tdes(ipek), "ANSI_X9_24")
    aes_bdk = store(
        svc,
        bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1"),
        "TR31_B0_BASE_DERIVATION_KEY",
        "AES_128",
        {"DeriveKey": True},
    )
    out = export(
        svc,
        aes_bdk,
        {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}},
        ExportAttributes={
            "ExportDukptInitialKey": {"KeySerialNumber": "123456789012345600000001"},
            "KeyCheckValueAlgorithm": "CMAC",
        },
    )
    ik = psec.tr31.unwrap(kbpk, out["KeyMaterial"])[1]
    assert ik.hex().upper() == "1273671EA26AC29AFA4D1084127652A1"  # X9.24-3 published IK
    assert out["KeyCheckValue"] == kp.kcv_aes(ik)
    with pytest.raises(ValidationError, match="24 hex characters"):
        export(
            svc,
            aes_bdk,
            {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}},
            ExportAttributes={"ExportDukptInitialKey": {"KeySerialNumber": "FFFF9876543210E00000"}},
        )
    not_bdk = store(svc, KNOWN_TDES, "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    with pytest.raises(ValidationError, match="KeyUsage TR31_D0"):
        export(
            svc,
            not_bdk,
            {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}},
            ExportAttributes={"ExportDukptInitialKey": {"KeySerialNumber": "FFFF9876543210E00000"}},
        )


def test_key_cryptogram_export(svc, root) -> None:
    ca_arn = import_root(svc, root)
    receiver = kp.leaf(root, "RSA_2048", name="Receiver")
    clear = secrets.token_bytes(16)
    key = store(svc, clear, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    for spec in ("RSA_OAEP_SHA_256", "RSA_OAEP_SHA_512"):
        out = export(
            svc,
            key,
            {
                "KeyCryptogram": {
                    "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                    "WrappingKeyCertificate": receiver.b64,
                    "WrappingSpec": spec,
                }
            },
        )
        assert out["WrappedKeyMaterialFormat"] == "KEY_CRYPTOGRAM" and out["WrappingKeyArn"] == ca_arn
        assert receiver.key.decrypt(bytes.fromhex(out["KeyMaterial"]), kp.oaep(spec)) == clear
    aes = store(svc, secrets.token_bytes(16), "TR31_K0_KEY_ENCRYPTION_KEY", "AES_128", WRAP)
    with pytest.raises(ValidationError, match="weaker"):
        export(
            svc,
            aes,
            {
                "KeyCryptogram": {
                    "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                    "WrappingKeyCertificate": receiver.b64,
                }
            },
        )
    kbpk = secrets.token_bytes(16)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "TDES_2KEY", WRAP)
    e_key = import_tr31(svc, kek, psec.tr31.wrap(kbpk, "B0000D0TB00E0000", secrets.token_bytes(16)))["KeyArn"]
    with pytest.raises(ValidationError, match="key blocks only"):
        export(
            svc,
            e_key,
            {
                "KeyCryptogram": {
                    "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                    "WrappingKeyCertificate": receiver.b64,
                }
            },
        )
    s_key = import_tr31(svc, kek, psec.tr31.wrap(kbpk, "B0000D0TB00S0000", secrets.token_bytes(16)))["KeyArn"]
    export(
        svc,
        s_key,
        {
            "KeyCryptogram": {
                "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                "WrappingKeyCertificate": receiver.b64,
            }
        },
    )


def test_tr34_export_token_and_byoca(svc, root) -> None:
    ca_arn = import_root(svc, root)
    krd = kp.leaf(root, name="KRD")
    key = store(svc, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    token = parameters.get_parameters_for_export(
        svc, ctx(svc), {"KeyMaterialType": "TR34_KEY_BLOCK", "SigningKeyAlgorithm": "RSA_2048"}
    )
    kdh_certificate = kp.load_b64(token["SigningKeyCertificate"])
    base = {
        "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "WrappingKeyCertificate": krd.b64,
        "KeyBlockFormat": "X9_TR34_2012",
    }
    one_pass = export(svc, key, {"Tr34KeyBlock": {**base, "ExportToken": token["ExportToken"]}})
    read = _krd_read(bytes.fromhex(one_pass["KeyMaterial"]), kdh_certificate, (krd.certificate, krd.key))
    assert (read["key"], read["header"], read["nonce"]) == (KNOWN_TDES, "D0112K0TB00E0000", None)
    assert read["signing_time"] is not None and one_pass["KeyCheckValue"] == "08D7B4"
    two_pass = export(
        svc,
        key,
        {"Tr34KeyBlock": {**base, "ExportToken": token["ExportToken"], "RandomNonce": "0102030405060708"}},
    )
    read = _krd_read(bytes.fromhex(two_pass["KeyMaterial"]), kdh_certificate, (krd.certificate, krd.key))
    assert read["nonce"] == bytes.fromhex("0102030405060708")
    # BYOCA: the caller's own RSA S0 signing key with a certificate from the partner CA
    signer = lifecycle.create_key(
        svc,
        ctx(svc),
        {
            "Exportable": True,
            "KeyAttributes": {
                "KeyAlgorithm": "RSA_2048",
                "KeyUsage": S0,
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"Sign": True},
            },
        },
    )["Key"]["KeyArn"]
    csr = key_certificates.get_certificate_signing_request(
        svc,
        ctx(svc),
        {
            "KeyIdentifier": signer,
            "SigningAlgorithm": "SHA512",
            "CertificateSubject": {"CommonName": "paycrypt KDH", "Country": "US", "Organization": "Test"},
        },
    )["CertificateSigningRequest"]
    signer_certificate = kp.sign_csr(root, csr)
    byoca = export(
        svc,
        key,
        {
            "Tr34KeyBlock": {
                **base,
                "SigningKeyIdentifier": signer,
                "SigningKeyCertificate": kp.b64(signer_certificate),
            }
        },
    )
    assert (
        _krd_read(bytes.fromhex(byoca["KeyMaterial"]), signer_certificate, (krd.certificate, krd.key))["key"]
        == KNOWN_TDES
    )
    with pytest.raises(ValidationError, match="does not hold the public key"):
        export(
            svc,
            key,
            {"Tr34KeyBlock": {**base, "SigningKeyIdentifier": signer, "SigningKeyCertificate": krd.b64}},
        )
    with pytest.raises(ValidationError, match="not both"):
        export(
            svc,
            key,
            {
                "Tr34KeyBlock": {
                    **base,
                    "ExportToken": token["ExportToken"],
                    "SigningKeyIdentifier": signer,
                    "SigningKeyCertificate": kp.b64(signer_certificate),
                }
            },
        )
    with pytest.raises(ValidationError, match="needs an ExportToken"):
        export(svc, key, {"Tr34KeyBlock": base})
    stranger = kp.leaf(kp.ca(name="Stranger"), name="KRD")
    with pytest.raises(ValidationError, match="does not chain"):
        export(
            svc,
            key,
            {
                "Tr34KeyBlock": {
                    **base,
                    "WrappingKeyCertificate": stranger.b64,
                    "ExportToken": token["ExportToken"],
                }
            },
        )


def test_public_key_certificate_and_csr(svc) -> None:
    k3, certificate = _k3(svc, "ECC_NIST_P384")
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc >= dt.timedelta(days=90)
    symmetric = store(svc, KNOWN_TDES, "TR31_K0_KEY_ENCRYPTION_KEY", "TDES_2KEY", WRAP)
    with pytest.raises(ValidationError, match="only asymmetric keys"):
        key_certificates.get_public_key_certificate(svc, ctx(svc), {"KeyIdentifier": symmetric})
    with pytest.raises(ValidationError, match="needs an asymmetric key pair"):
        key_certificates.get_certificate_signing_request(
            svc,
            ctx(svc),
            {
                "KeyIdentifier": symmetric,
                "SigningAlgorithm": "SHA256",
                "CertificateSubject": {"CommonName": "x"},
            },
        )
    for algorithm in ("SHA224", "SHA256", "SHA384", "SHA512"):
        csr = key_certificates.get_certificate_signing_request(
            svc,
            ctx(svc),
            {
                "KeyIdentifier": k3,
                "SigningAlgorithm": algorithm,
                "CertificateSubject": {
                    "CommonName": "CN1",
                    "Country": "US",
                    "StateOrProvince": "Virginia",
                    "City": "Arlington",
                    "Organization": "O",
                    "OrganizationUnit": "OU",
                    "EmailAddress": "a@b.example",
                },
            },
        )["CertificateSigningRequest"]
        request = kp.x509.load_pem_x509_csr(kp.base64.b64decode(csr))
        assert request.is_signature_valid and request.signature_hash_algorithm.name == algorithm.lower()
        assert request.subject.rfc4514_string().startswith(
            "1.2.840.113549.1.9.1=a@b.example,CN=CN1,OU=OU,O=O,L=Arlington,ST=Virginia,C=US"
        )


def test_hmac_key_export_carries_hm_and_needs_a_strong_kek(svc, root) -> None:
    kbpk = secrets.token_bytes(32)
    kek = store(svc, kbpk, "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_256", WRAP)
    hmac_key = secrets.token_bytes(48)
    key = store(svc, hmac_key, "TR31_M7_HMAC_KEY", "HMAC_SHA384", {"Generate": True, "Verify": True})
    out = export(svc, key, {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek}})
    header, clear = psec.tr31.unwrap(kbpk, out["KeyMaterial"])
    assert (clear, header.algorithm, header.blocks["HM"]) == (hmac_key, "H", "22")
    assert out["KeyCheckValueAlgorithm"] == "HMAC"
    weak = store(svc, secrets.token_bytes(16), "TR31_K1_KEY_BLOCK_PROTECTION_KEY", "AES_128", WRAP)
    with pytest.raises(ValidationError, match=r"AES_128\) is weaker than the key it protects \(HMAC_SHA384"):
        export(svc, key, {"Tr31KeyBlock": {"WrappingKeyIdentifier": weak}})
    ca_arn = import_root(svc, root)
    krd = kp.leaf(root, name="KRD")
    token = parameters.get_parameters_for_export(
        svc,
        ctx(svc),
        {
            "KeyMaterialType": "TR34_KEY_BLOCK",
            "SigningKeyAlgorithm": "RSA_2048",
            "ReuseLastGeneratedToken": True,
        },
    )
    aes = store(svc, secrets.token_bytes(16), "TR31_K0_KEY_ENCRYPTION_KEY", "AES_128", WRAP)
    with pytest.raises(ValidationError, match=r"RSA_2048\) is weaker"):
        export(
            svc,
            aes,
            {
                "Tr34KeyBlock": {
                    "CertificateAuthorityPublicKeyIdentifier": ca_arn,
                    "WrappingKeyCertificate": krd.b64,
                    "KeyBlockFormat": "X9_TR34_2012",
                    "ExportToken": token["ExportToken"],
                }
            },
        )

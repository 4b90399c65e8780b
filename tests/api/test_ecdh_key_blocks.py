"""DiffieHellmanTr31KeyBlock through boto3: the guide's own ECDH import and export examples, and
the strength rules that remain.

The guide's examples (user guide "Import keys using asymmetric techniques (ECDH)" steps 1-8 and
"Export keys using asymmetric techniques (ECDH)" steps 1-7; seed-B V-03, V-04, V-11, V-12) create
a P-256 K3 key pair deriving K1 keys and agree an **AES_256** KBPK (NIST_SP800, SHA_256,
SharedInformation 1234567890 on import, ADEF567890 on export) to move a TDES K1 key in a
`D0112K1TB00E0000` block. The block and certificates in the guide are truncated and its private
keys unknown, so the values are re-made here with the same parameters; the partner HSM is
tests/kx_partner.py (`cryptography` ECDH + ConcatKDFHash, psec TR-31), not paycrypt's code.

The strength rules are the guide's: its matrix (seed-B §2: P-256 protects TDES and AES_128, P-384
up to AES_192, P-521 up to AES_256) for the curve, and "as long as the wrapping key is at least as
strong as the key to be exported" for the derived KBPK, each compared with the key moved; the
curve is never compared with DeriveKeyAlgorithm.
"""

from __future__ import annotations

import secrets

import psec
import pytest

from tests import kx_partner as kp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_partner_ca

# Every ECDH agreement these calls make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

K1 = "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
WRAP = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DH = "DiffieHellmanTr31KeyBlock"


def _k3(control, curve: str, **derive) -> tuple[str, object]:
    """The guide's step 1 and 2: CreateKey of a K3 key pair, GetPublicKeyCertificate."""
    arn = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": curve,
            "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
            "KeyClass": "ASYMMETRIC_KEY_PAIR",
            "KeyModesOfUse": {"DeriveKey": True},
        },
        **derive,
    )["Key"]["KeyArn"]
    out = control.get_public_key_certificate(KeyIdentifier=arn)
    certificate = kp.load_b64(out["KeyCertificate"])
    certificate.verify_directly_issued_by(kp.load_b64(out["KeyCertificateChain"]))
    return arn, certificate


@pytest.fixture(scope="module")
def ca(control) -> dict:
    """The partner's CA, imported as a root (the guide's step 4), one per curve size."""
    p256 = kp.ca("ECC_NIST_P256", "ECDH partner root P-256")
    p521 = kp.ca("ECC_NIST_P521", "ECDH partner root P-521")
    return {
        "ECC_NIST_P256": (p256, import_partner_ca(control, "RootCertificatePublicKey", p256)),
        "ECC_NIST_P521": (
            p521,
            import_partner_ca(control, "RootCertificatePublicKey", p521, algorithm="ECC_NIST_P521"),
        ),
    }


@pytest.fixture(scope="module")
def guide_k3(control) -> tuple[str, object]:
    """The guide's key pair: P-256, DeriveKeyUsage TR31_K1_KEY_BLOCK_PROTECTION_KEY."""
    return _k3(control, "ECC_NIST_P256", DeriveKeyUsage=K1)


def _params(k3: str, ca_arn: str, partner: kp.Party, shared: str, derive: str = "AES_256") -> dict:
    return {
        "CertificateAuthorityPublicKeyIdentifier": ca_arn,
        "DerivationData": {"SharedInformation": shared},
        "DeriveKeyAlgorithm": derive,
        "KeyDerivationFunction": "NIST_SP800",
        "KeyDerivationHashAlgorithm": "SHA_256",
        "PrivateKeyIdentifier": k3,
        "PublicKeyCertificate": partner.b64,
    }


def _kbpk(partner: kp.Party, certificate, shared: str, derive: str = "AES_256") -> bytes:
    return kp.ecdh_key(partner.key, certificate, algorithm=derive, shared_information=shared)


def _symmetric(control, algorithm: str) -> dict:
    attributes = {
        "KeyAlgorithm": algorithm,
        "KeyUsage": K1,
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": WRAP,
    }
    return control.create_key(Exportable=True, KeyAttributes=attributes)["Key"]


def test_guide_ecdh_import_example(control, ca, guide_k3) -> None:
    """Steps 5-8: party U derives the AES_256 KBPK and sends a TDES_3KEY K1 key; the answer is the
    guide's (its KeyUsage TR31_K1_KEY_ENCRYPTION_KEY is no enum value, seed-B §16: K1 is meant)."""
    k3, certificate = guide_k3
    root, root_arn = ca["ECC_NIST_P256"]
    party_u = kp.leaf(root, "ECC_NIST_P256", "Partner HSM (party U)")
    kek = secrets.token_bytes(24)
    block = psec.tr31.wrap(_kbpk(party_u, certificate, "1234567890"), "D0000K1TB00E0000", kek)
    assert block.startswith("D0112K1TB00E0000")  # the guide's header, length included
    key = control.import_key(
        KeyMaterial={DH: {**_params(k3, root_arn, party_u, "1234567890"), "WrappedKeyBlock": block}}
    )["Key"]
    assert key["KeyAttributes"] == {
        "KeyAlgorithm": "TDES_3KEY",
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": {
            "Decrypt": True,
            "DeriveKey": False,
            "Encrypt": True,
            "Generate": False,
            "NoRestrictions": False,
            "Sign": False,
            "Unwrap": True,
            "Verify": False,
            "Wrap": True,
        },
        "KeyUsage": K1,
    }
    assert (key["KeyCheckValue"], key["KeyCheckValueAlgorithm"]) == (kp.kcv_tdes(kek), "ANSI_X9_24")
    assert (key["KeyOrigin"], key["KeyState"], key["Enabled"]) == ("EXTERNAL", "CREATE_COMPLETE", True)


def test_guide_ecdh_export_example(control, ca, guide_k3) -> None:
    """Steps 5-7: the service derives the AES_256 KBPK and sends a TDES K1 key as the guide's
    D0112K1TB00E0000 block; party V derives the same KBPK and opens it."""
    k3, certificate = guide_k3
    root, root_arn = ca["ECC_NIST_P256"]
    party_v = kp.leaf(root, "ECC_NIST_P256", "Partner HSM (party V)")
    key = _symmetric(control, "TDES_3KEY")
    wrapped = control.export_key(
        ExportKeyIdentifier=key["KeyArn"], KeyMaterial={DH: _params(k3, root_arn, party_v, "ADEF567890")}
    )["WrappedKey"]
    assert wrapped["WrappedKeyMaterialFormat"] == "TR31_KEY_BLOCK"
    assert wrapped["KeyMaterial"].startswith("D0112K1TB00E0000")
    assert (wrapped["KeyCheckValue"], wrapped["KeyCheckValueAlgorithm"]) == (
        key["KeyCheckValue"],
        "ANSI_X9_24",
    )
    _, clear = psec.tr31.unwrap(_kbpk(party_v, certificate, "ADEF567890"), wrapped["KeyMaterial"])
    assert kp.kcv_tdes(clear) == key["KeyCheckValue"]


def test_curve_weaker_than_the_moved_key_is_refused(server, control, data, ca, guide_k3) -> None:
    """By the matrix P-256 protects at most AES_128: an AES_192 or AES_256 key is refused on import,
    export and TranslateKeyMaterial, though the derived AES_256 KBPK would be strong enough."""
    k3, certificate = guide_k3
    root, root_arn = ca["ECC_NIST_P256"]
    partner = kp.leaf(root, "ECC_NIST_P256", "Partner HSM")
    params = _params(k3, root_arn, partner, "0A0B0C")
    aes_192 = psec.tr31.wrap(
        _kbpk(partner, certificate, "0A0B0C"), "D0000K1AB00E0000", secrets.token_bytes(24)
    )
    aes_256 = _symmetric(control, "AES_256")
    kek = _symmetric(control, "AES_256")
    before = db_snapshot(server.data_dir)
    refused = [
        (control.import_key, {"KeyMaterial": {DH: {**params, "WrappedKeyBlock": aes_192}}}, "AES_192"),
        (
            control.export_key,
            {"ExportKeyIdentifier": aes_256["KeyArn"], "KeyMaterial": {DH: params}},
            "AES_256",
        ),
        (
            data.translate_key_material,
            {
                "IncomingKeyMaterial": {DH: {**params, "WrappedKeyBlock": aes_192}},
                "OutgoingKeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}},
            },
            "AES_192",
        ),
    ]
    for call, kwargs, moved in refused:
        message = expect_error(call, "ValidationException", 400, **kwargs)["Error"]["Message"]
        assert (
            f"the ECC key pair {k3} (ECC_NIST_P256) is weaker than the key it protects ({moved})" in message
        )
    assert db_snapshot(server.data_dir) == before


def test_derived_kbpk_weaker_than_the_moved_key_is_refused(server, control, ca) -> None:
    """A P-521 curve may move an AES_256 key, but not under a derived AES_128 KBPK (export), nor a
    TDES_3KEY key under a derived TDES_2KEY KBPK (import)."""
    k3, certificate = _k3(control, "ECC_NIST_P521", DeriveKeyUsage=K1)
    root, root_arn = ca["ECC_NIST_P521"]
    partner = kp.leaf(root, "ECC_NIST_P521", "Partner HSM P-521")
    aes_256 = _symmetric(control, "AES_256")
    tdes_2key_kbpk = _kbpk(partner, certificate, "0D0E0F", "TDES_2KEY")
    block = psec.tr31.wrap(tdes_2key_kbpk, "B0000K1TB00E0000", secrets.token_bytes(24))
    before = db_snapshot(server.data_dir)
    export = expect_error(
        control.export_key,
        "ValidationException",
        400,
        ExportKeyIdentifier=aes_256["KeyArn"],
        KeyMaterial={DH: _params(k3, root_arn, partner, "0D0E0F", "AES_128")},
    )
    assert (
        "the wrapping key (AES_128) is weaker than the key it protects (AES_256)"
        in export["Error"]["Message"]
    )
    imported = expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={DH: {**_params(k3, root_arn, partner, "0D0E0F", "TDES_2KEY"), "WrappedKeyBlock": block}},
    )
    message = imported["Error"]["Message"]
    assert "the wrapping key (TDES_2KEY) is weaker than the key it protects (TDES_3KEY)" in message
    assert db_snapshot(server.data_dir) == before


def test_k3_without_derive_key_usage_cannot_wrap_key_blocks(server, control, ca) -> None:
    """ImportKey and ExportKey have no member naming the derived key's usage: their K3 key must
    derive K0 or K1 keys, as the guide's flows create it (issue 12 item 3 keeps this refusal)."""
    k3, certificate = _k3(control, "ECC_NIST_P256")
    root, root_arn = ca["ECC_NIST_P256"]
    partner = kp.leaf(root, "ECC_NIST_P256", "Partner HSM")
    block = psec.tr31.wrap(_kbpk(partner, certificate, "0A0B0C"), "D0000K1TB00E0000", secrets.token_bytes(24))
    key = _symmetric(control, "TDES_3KEY")
    before = db_snapshot(server.data_dir)
    params = _params(k3, root_arn, partner, "0A0B0C")
    for call, kwargs in (
        (control.import_key, {"KeyMaterial": {DH: {**params, "WrappedKeyBlock": block}}}),
        (control.export_key, {"ExportKeyIdentifier": key["KeyArn"], "KeyMaterial": {DH: params}}),
    ):
        message = expect_error(call, "ValidationException", 400, **kwargs)["Error"]["Message"]
        assert f"the ECC key pair {k3} has no DeriveKeyUsage" in message
        assert (
            "needs DeriveKeyUsage TR31_K1_KEY_BLOCK_PROTECTION_KEY or TR31_K0_KEY_ENCRYPTION_KEY" in message
        )
    assert db_snapshot(server.data_dir) == before

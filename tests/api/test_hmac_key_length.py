"""HMAC key length on every path that can bring an HMAC key in (issue 12, item 6).

The guide's cryptographic-primitives section allows "HMAC with an approved hash function and a key
size greater than or equal to 128" bits: an HMAC key shorter than 16 bytes is ValidationException
naming its length, and nothing is stored. The paths that can carry an HMAC key are the TR-31
blocks: ImportKey Tr31KeyBlock and DiffieHellmanTr31KeyBlock, and TranslateKeyMaterial. A
KeyCryptogram or Tr34KeyBlock cannot: their RSA wrapping keys are weaker than any HMAC key, so the
strength rule refuses first (tested here too). The partner side is psec and `cryptography`.
"""

from __future__ import annotations

import secrets

import pytest

from tests import kx_partner as kp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import ecdh_partner, import_known_key_via_api, known_aes256_kek

# Every ECDH agreement and RSA unwrap these calls make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

M7 = "TR31_M7_HMAC_KEY"
GEN_VERIFY = {"Generate": True, "Verify": True}
HMAC_SHA256_HEADER = "D0000M7HC00N0100HM0621"


@pytest.mark.parametrize("length", [4, 8, 15])
def test_tr31_import_refuses_a_short_hmac_key(server, control, length: int) -> None:
    known_aes256_kek(control)  # the KEK exists before the snapshot
    before = db_snapshot(server.data_dir)
    response = expect_error(
        import_known_key_via_api,
        "ValidationException",
        400,
        control,
        secrets.token_bytes(length),
        M7,
        "HMAC_SHA256",
        GEN_VERIFY,
    )
    message = response["Error"]["Message"]
    assert f"{length} bytes" in message and "Tr31KeyBlock" in message, message
    assert db_snapshot(server.data_dir) == before


@pytest.mark.parametrize("length", [16, 32, 100])
def test_tr31_import_accepts_hmac_keys_of_16_bytes_and_more(control, length: int) -> None:
    material = secrets.token_bytes(length)
    key = import_known_key_via_api(control, material, M7, "HMAC_SHA256", GEN_VERIFY)
    assert key["KeyAttributes"]["KeyAlgorithm"] == "HMAC_SHA256"
    assert key["KeyCheckValue"] == kp.kcv_hmac(material, "sha256")


def test_ecdh_import_refuses_a_short_hmac_key_and_accepts_16_bytes(server, control) -> None:
    partner = ecdh_partner(control)
    before = db_snapshot(server.data_dir)
    short = partner.member(HMAC_SHA256_HEADER, secrets.token_bytes(8))
    response = expect_error(
        control.import_key, "ValidationException", 400, KeyMaterial={"DiffieHellmanTr31KeyBlock": short}
    )
    message = response["Error"]["Message"]
    assert "8 bytes" in message and "DiffieHellmanTr31KeyBlock" in message, message
    assert db_snapshot(server.data_dir) == before
    material = secrets.token_bytes(16)
    member = partner.member(HMAC_SHA256_HEADER, material)
    key = control.import_key(KeyMaterial={"DiffieHellmanTr31KeyBlock": member})["Key"]
    assert key["KeyCheckValue"] == kp.kcv_hmac(material, "sha256")


def test_translate_key_material_refuses_a_short_hmac_key(control, data) -> None:
    partner = ecdh_partner(control)
    kek_arn, _ = known_aes256_kek(control)
    outgoing = {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek_arn}}
    short = {"DiffieHellmanTr31KeyBlock": partner.member("D0000M7HC00E0100HM0621", secrets.token_bytes(4))}
    response = expect_error(
        data.translate_key_material,
        "ValidationException",
        400,
        IncomingKeyMaterial=short,
        OutgoingKeyMaterial=outgoing,
    )
    assert "4 bytes" in response["Error"]["Message"], response
    material = secrets.token_bytes(16)
    ok = {"DiffieHellmanTr31KeyBlock": partner.member("D0000M7HC00E0100HM0621", material)}
    out = data.translate_key_material(IncomingKeyMaterial=ok, OutgoingKeyMaterial=outgoing)["WrappedKey"]
    assert out["KeyCheckValue"] == kp.kcv_hmac(material, "sha256")


def test_key_cryptogram_cannot_carry_an_hmac_key(control) -> None:
    """RSA-OAEP under the import token's RSA_4096 key: any HMAC key is refused by the strength rule
    before its length matters."""
    params = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_4096"
    )
    response = expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={
            "KeyCryptogram": {
                "KeyAttributes": {
                    "KeyUsage": M7,
                    "KeyClass": "SYMMETRIC_KEY",
                    "KeyAlgorithm": "HMAC_SHA256",
                    "KeyModesOfUse": GEN_VERIFY,
                },
                "Exportable": False,
                "ImportToken": params["ImportToken"],
                "WrappedKeyCryptogram": kp.rsa_wrap(kp.load_b64(params["WrappingKeyCertificate"]), bytes(8)),
            }
        },
    )
    assert "weaker" in response["Error"]["Message"], response

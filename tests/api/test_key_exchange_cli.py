"""Key exchange with the real `aws` CLI: RSA unwrap of a KEK, a TR-31 working key, TR-31 export."""

from __future__ import annotations

import json

import psec
import pytest

from tests import kx_partner as kp
from tests.api.cli import AwsCli

pytestmark = pytest.mark.cli

KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # KCV 08D7B4 (ANSI X9.24)


def test_cli_rsa_unwrap_tr31_import_and_export(server, tmp_path) -> None:
    cli = AwsCli(server.endpoint, tmp_path)

    def aws(*args: str) -> dict:
        return cli("payment-cryptography", *args)[1]

    params = aws(
        "get-parameters-for-import",
        "--key-material-type",
        "KEY_CRYPTOGRAM",
        "--wrapping-key-algorithm",
        "RSA_2048",
    )
    request = tmp_path / "import-key-cryptogram.json"
    request.write_text(
        json.dumps(
            {
                "KeyMaterial": {
                    "KeyCryptogram": {
                        "Exportable": True,
                        "ImportToken": params["ImportToken"],
                        "KeyAttributes": {
                            "KeyAlgorithm": "TDES_2KEY",
                            "KeyClass": "SYMMETRIC_KEY",
                            "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
                            "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
                        },
                        "WrappedKeyCryptogram": kp.rsa_wrap(
                            kp.load_b64(params["WrappingKeyCertificate"]), KEK
                        ),
                        "WrappingSpec": "RSA_OAEP_SHA_256",
                    }
                }
            }
        )
    )
    kek = aws("import-key", "--cli-input-json", f"file://{request}")["Key"]
    assert (kek["KeyCheckValue"], kek["KeyOrigin"]) == ("08D7B4", "EXTERNAL")
    working = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F")
    block = psec.tr31.wrap(KEK, "B0000P0TB00E0000", working)
    material = {"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"], "WrappedKeyBlock": block}}
    key = aws("import-key", "--key-material", json.dumps(material))["Key"]
    assert key["KeyCheckValue"] == kp.kcv_tdes(working)
    wrapped = aws(
        "export-key",
        "--export-key-identifier",
        key["KeyArn"],
        "--key-material",
        json.dumps({"Tr31KeyBlock": {"WrappingKeyIdentifier": kek["KeyArn"]}}),
    )["WrappedKey"]
    assert wrapped["KeyMaterial"].startswith("B0096P0TB00E0000")
    assert psec.tr31.unwrap(KEK, wrapped["KeyMaterial"])[1] == working

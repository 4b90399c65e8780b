"""GenerateMac / VerifyMac and EncryptData / DecryptData with the real `aws` CLI (shorthand syntax
as the guide writes it, seed-C M1–M3, E1/D1, E2/D2 normalized)."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.ciphers import modes

from tests.api import mac_data_terminal as terminal
from tests.api.known_keys import put_known_key

pytestmark = pytest.mark.cli

MESSAGE = "3b313038383439303031303733393431353d32343038323236303030373030303f33"  # seed-C §4.8


def data_plane(aws, command: str, key: str, *args: str, ok: bool = True) -> tuple[int, dict, str]:
    """`aws payment-cryptography-data <command> --key-identifier <key> <args>`."""
    return aws("payment-cryptography-data", command, "--key-identifier", key, *args, ok=ok)


def test_generate_and_verify_mac(aws, server) -> None:
    material = secrets.token_bytes(16)
    arn = put_known_key(
        server, material, "TR31_M3_ISO_9797_3_MAC_KEY", "TDES_2KEY", {"Generate": True, "Verify": True}
    )["KeyArn"]
    _, out, _ = data_plane(
        aws,
        "generate-mac",
        arn,
        "--message-data",
        MESSAGE,
        "--generation-attributes=Algorithm=ISO9797_ALGORITHM3",
    )
    expected = terminal.retail_mac(material, terminal.pad1(bytes.fromhex(MESSAGE))).hex().upper()
    assert out["Mac"] == expected and out["KeyArn"] == arn
    _, verified, _ = data_plane(
        aws,
        "verify-mac",
        arn,
        "--message-data",
        MESSAGE,
        "--mac",
        expected,
        "--verification-attributes",
        "Algorithm=ISO9797_ALGORITHM3",
    )
    assert verified["KeyArn"] == arn
    code, _, stderr = data_plane(
        aws,
        "verify-mac",
        arn,
        "--message-data",
        MESSAGE,
        "--mac",
        expected[:-2] + ("00" if expected[-2:] != "00" else "11"),
        "--verification-attributes",
        "Algorithm=ISO9797_ALGORITHM3",
        ok=False,
    )
    assert code != 0 and "VerificationFailedException" in stderr and "MAC verification failed" in stderr


def test_dukpt_cmac_shorthand(aws, server) -> None:
    """Seed-C M6 normalized: the guide's `DukptCmac='{"KeySerialNumber":…}'` is refused by the CLI's
    own shorthand parser (as seed-E notes for WrappedKeyMaterial), so shorthand and JSON forms."""
    bdk = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
    arn = put_known_key(server, bdk, "TR31_B0_BASE_DERIVATION_KEY", "AES_128", {"DeriveKey": True})["KeyArn"]
    ksn = "123456789012345600000001"
    key = terminal.aes_terminal_key(bdk, bytes.fromhex(ksn), "MAC", "BIDIRECTIONAL")
    mac = terminal.cmac(key, bytes.fromhex(MESSAGE), "AES").hex().upper()
    for attributes in (
        f"DukptCmac={{KeySerialNumber={ksn},DukptKeyVariant=BIDIRECTIONAL}}",
        f'{{"DukptCmac":{{"KeySerialNumber":"{ksn}","DukptKeyVariant":"BIDIRECTIONAL"}}}}',
    ):
        data_plane(
            aws,
            "verify-mac",
            arn,
            "--message-data",
            MESSAGE,
            "--mac",
            mac,
            "--verification-attributes",
            attributes,
        )


def test_encrypt_and_decrypt(aws, server) -> None:
    material = secrets.token_bytes(16)
    usage = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
    modes_of_use = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
    arn = put_known_key(server, material, usage, "AES_128", modes_of_use)["KeyArn"]
    plaintext = "31323334313233343132333431323334"
    _, out, _ = data_plane(
        aws, "encrypt-data", arn, "--plain-text", plaintext, "--encryption-attributes", "Symmetric={Mode=CBC}"
    )
    assert (
        out["CipherText"]
        == terminal.aes(material, bytes.fromhex(plaintext), modes.CBC(bytes(16))).hex().upper()
    )
    _, back, _ = data_plane(
        aws,
        "decrypt-data",
        arn,
        "--cipher-text",
        out["CipherText"],
        "--decryption-attributes",
        "Symmetric={Mode=CBC}",
    )
    assert back["PlainText"] == plaintext and back["KeyCheckValue"] == out["KeyCheckValue"]
    bdk = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    bdk_arn = put_known_key(server, bdk, "TR31_B0_BASE_DERIVATION_KEY", "TDES_2KEY", {"DeriveKey": True})[
        "KeyArn"
    ]
    _, dukpt, _ = data_plane(
        aws,
        "encrypt-data",
        bdk_arn,
        "--plain-text",
        plaintext,
        "--encryption-attributes",
        "Dukpt={KeySerialNumber=FFFF9876543210E00001}",
    )
    key = terminal.tdes_terminal_key(bdk, bytes.fromhex("FFFF9876543210E00001"), "DATA", "REQUEST")
    assert (
        dukpt["CipherText"] == terminal.tdes(key, bytes.fromhex(plaintext), modes.CBC(bytes(8))).hex().upper()
    )
    assert dukpt["KeyCheckValue"] == "08D7B4"
    code, _, stderr = data_plane(
        aws,
        "encrypt-data",
        bdk_arn,
        "--plain-text",
        plaintext,
        "--encryption-attributes",
        "Dukpt={KeySerialNumber=FFFF9876543210E00000}",
        ok=False,
    )
    assert code != 0 and "ValidationException" in stderr and "KeySerialNumber" in stderr

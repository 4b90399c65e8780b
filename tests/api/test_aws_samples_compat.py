"""Calls from AWS's public sample and example code that paycrypt once answered unlike AWS.

Each test names the public file its call sequence comes from and restates that call in our own
words against a test server; the expected answers come from the standards (published vectors)
or from what the sample itself checks.
"""

from __future__ import annotations

import pytest

from tests.api import pin_terminal as term
from tests.api.helpers import expect_error
from tests.api.known_keys import put_known_key

B0 = "TR31_B0_BASE_DERIVATION_KEY"
P0 = "TR31_P0_PIN_ENCRYPTION_KEY"
D0 = "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY"
EDWU = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
DERIVE = {"DeriveKey": True}
# ANSI X9.24-1:2009 Annex A: the test BDK, its first KSN and the published ISO-0 block for PIN 1234
# of PAN 4012345678909 at that KSN.
X924_BDK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
X924_KSN = "FFFF9876543210E00001"
X924_PIN_BLOCK = "1B9C1845EB993A7A"
X924_PAN = "4012345678909"
AES_BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")  # X9.24-3-2017 supplement


@pytest.fixture(scope="module")
def tdes_bdk(server) -> str:
    return put_known_key(server, X924_BDK, B0, "TDES_2KEY", DERIVE)["KeyArn"]


@pytest.fixture(scope="module")
def zone_pek(server) -> tuple[str, bytes]:
    material = term.odd_parity(bytes.fromhex("1F2E3D4C5B6A79880F1E2D3C4B5A6978"))
    return put_known_key(server, material, P0, "TDES_2KEY", EDWU)["KeyArn"], material


def test_sixteen_hex_ksn_is_the_x9_24_ksn_filled_with_f(data, server, tdes_bdk, zone_pek) -> None:
    """awscli/examples/payment-cryptography-data/re-encrypt-data.rst sends
    `Dukpt={Mode=ECB,KeySerialNumber=0123456789111111}`: a 16-hex KSN, which the model's
    HexLength16Or20Or24 allows. It is the 64-bit KSN terminals send, filled on the left with F to
    X9.24-1's 80 bits, so 9876543210E00001 is Annex A's FFFF9876543210E00001 and opens its
    published PIN block."""
    zone_arn, zone_key = zone_pek
    short_ksn = X924_KSN[4:]
    out = data.translate_pin_data(
        IncomingKeyIdentifier=tdes_bdk,
        OutgoingKeyIdentifier=zone_arn,
        IncomingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": X924_PAN}},
        OutgoingTranslationAttributes={"IsoFormat0": {"PrimaryAccountNumber": X924_PAN}},
        EncryptedPinBlock=X924_PIN_BLOCK,
        IncomingDukptAttributes={"KeySerialNumber": short_ksn},
    )
    assert term.decrypt_pin_block(zone_key, 0, out["PinBlock"], X924_PAN) == "1234"

    # The example's own call shape: DUKPT ECB in, a symmetric key in ECB out. The 16-hex and the
    # filled 20-hex KSN name the same data key, so the re-encrypted text is the same.
    dek = put_known_key(server, bytes.fromhex("89ABCDEF01234567FEDCBA9876543210"), D0, "TDES_2KEY", EDWU)
    cipher_text = "4D2B0BDBA192D5AEFEAA5B3EC28E4A65383C313FFA25140101560F75FE1B99F27192A90980AB9334"
    answers = [
        data.re_encrypt_data(
            IncomingKeyIdentifier=tdes_bdk,
            OutgoingKeyIdentifier=dek["KeyArn"],
            CipherText=cipher_text,
            IncomingEncryptionAttributes={"Dukpt": {"Mode": "ECB", "KeySerialNumber": ksn}},
            OutgoingEncryptionAttributes={"Symmetric": {"Mode": "ECB"}},
        )["CipherText"]
        for ksn in (short_ksn, X924_KSN)
    ]
    assert answers[0] == answers[1]


def test_sixteen_hex_ksn_stays_refused_for_an_aes_bdk(server, data) -> None:
    """X9.24-3 names a transaction by a 96-bit KSN (initial key ID and a 32-bit counter); no
    standard fills a 64-bit one, so an AES BDK still refuses it, naming the member."""
    aes_bdk = put_known_key(server, AES_BDK, B0, "AES_128", DERIVE)["KeyArn"]
    error = expect_error(
        data.decrypt_data,
        "ValidationException",
        400,
        KeyIdentifier=aes_bdk,
        CipherText="00" * 16,
        DecryptionAttributes={"Dukpt": {"Mode": "ECB", "KeySerialNumber": "1234567890123456"}},
    )
    assert "DecryptionAttributes.Dukpt.KeySerialNumber" in error["Error"]["Message"]

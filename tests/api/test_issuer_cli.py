"""GeneratePinData / VerifyPinData and a dynamic card value with the real `aws` CLI (seed-D G1 and
M1, corrected requests), including the CLI's report of a failed verification."""

from __future__ import annotations


def create_key(aws, attributes: str) -> str:
    _, out, _ = aws("payment-cryptography", "create-key", "--exportable", "--key-attributes", attributes)
    return out["Key"]["KeyArn"]


def test_pin_generate_and_verify_with_the_cli(aws) -> None:
    pek = create_key(
        aws,
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
    )
    pvk = create_key(
        aws,
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_V2_VISA_PIN_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Generate=true,Verify=true}",
    )
    _, generated, _ = aws(
        "payment-cryptography-data",
        "generate-pin-data",
        "--generation-key-identifier",
        pvk,
        "--encryption-key-identifier",
        pek,
        "--primary-account-number",
        "171234567890123",
        "--pin-block-format",
        "ISO_FORMAT_0",
        "--generation-attributes",
        "VisaPin={PinVerificationKeyIndex=1}",
    )
    assert generated["GenerationKeyArn"] == pvk and generated["EncryptionKeyArn"] == pek
    pvv = generated["PinData"]["VerificationValue"]
    block = generated["EncryptedPinBlock"]
    verify = [
        "payment-cryptography-data",
        "verify-pin-data",
        "--verification-key-identifier",
        pvk,
        "--encryption-key-identifier",
        pek,
        "--primary-account-number",
        "171234567890123",
        "--pin-block-format",
        "ISO_FORMAT_0",
        "--encrypted-pin-block",
        block,
    ]
    _, verified, _ = aws(
        *verify, "--verification-attributes", f"VisaPin={{PinVerificationKeyIndex=1,VerificationValue={pvv}}}"
    )
    assert set(verified) == {
        "VerificationKeyArn",
        "VerificationKeyCheckValue",
        "EncryptionKeyArn",
        "EncryptionKeyCheckValue",
    }
    wrong = f"{(int(pvv) + 1) % 10000:04d}"
    code, _, stderr = aws(
        *verify,
        "--verification-attributes",
        f"VisaPin={{PinVerificationKeyIndex=1,VerificationValue={wrong}}}",
        ok=False,
    )
    assert code != 0
    assert (
        "An error occurred (VerificationFailedException) when calling the VerifyPinData operation: "
        "Pin block verification failed." in stderr
    )


def test_ibm_offset_and_dcvc3_with_the_cli(aws) -> None:
    pek = create_key(
        aws,
        "KeyAlgorithm=AES_128,KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
    )
    pvk = create_key(
        aws,
        "KeyAlgorithm=TDES_3KEY,KeyUsage=TR31_V1_IBM3624_PIN_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Generate=true,Verify=true}",
    )
    ibm = (
        "DecimalizationTable=9876543210654321,PinValidationDataPadCharacter=D,"
        "PinValidationData=171234567890123"
    )
    _, generated, _ = aws(
        "payment-cryptography-data",
        "generate-pin-data",
        "--generation-key-identifier",
        pvk,
        "--encryption-key-identifier",
        pek,
        "--primary-account-number",
        "171234567890123",
        "--pin-block-format",
        "ISO_FORMAT_4",
        "--pin-data-length",
        "6",
        "--generation-attributes",
        f"Ibm3624RandomPin={{{ibm}}}",
    )
    offset = generated["PinData"]["PinOffset"]
    assert len(offset) == 6 and len(generated["EncryptedPinBlock"]) == 32
    aws(
        "payment-cryptography-data",
        "verify-pin-data",
        "--verification-key-identifier",
        pvk,
        "--encryption-key-identifier",
        pek,
        "--primary-account-number",
        "171234567890123",
        "--pin-block-format",
        "ISO_FORMAT_4",
        "--encrypted-pin-block",
        generated["EncryptedPinBlock"],
        "--verification-attributes",
        f"Ibm3624Pin={{{ibm},PinOffset={offset}}}",
    )
    e4 = create_key(
        aws,
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_E4_EMV_MKEY_DYNAMIC_NUMBERS,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={DeriveKey=true}",
    )
    dcvc3 = (
        "DynamicCardVerificationCode={ApplicationTransactionCounter=000B,PanSequenceNumber=00,"
        "UnpredictableNumber=00000899,TrackData=5241060000000069D13052010000000000000F}"
    )
    _, value, _ = aws(
        "payment-cryptography-data",
        "generate-card-validation-data",
        "--key-identifier",
        e4,
        "--primary-account-number=5413123456784808",
        "--generation-attributes",
        dcvc3,
    )
    aws(
        "payment-cryptography-data",
        "verify-card-validation-data",
        "--key-identifier",
        e4,
        "--primary-account-number=5413123456784808",
        "--verification-attributes",
        dcvc3,
        "--validation-data",
        value["ValidationData"],
    )

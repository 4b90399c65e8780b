"""GeneratePinData / VerifyPinData and a dynamic card value with the real `aws` CLI (seed-D G1 and
M1, corrected requests), including the CLI's report of a failed verification."""

from __future__ import annotations


def create_key(aws, attributes: str) -> str:
    _, out, _ = aws("payment-cryptography", "create-key", "--exportable", "--key-attributes", attributes)
    return out["Key"]["KeyArn"]


def pin_keys(aws, pek_algorithm: str, pvk_algorithm: str, pvk_usage: str) -> tuple[str, str]:
    """(PVK ARN, PEK ARN): a new PIN verification key and a new PIN encryption key."""
    pek = create_key(
        aws,
        f"KeyAlgorithm={pek_algorithm},KeyUsage=TR31_P0_PIN_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
    )
    pvk = create_key(
        aws,
        f"KeyAlgorithm={pvk_algorithm},KeyUsage={pvk_usage},KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Generate=true,Verify=true}",
    )
    return pvk, pek


def pin_data(verb: str, pvk: str, pek: str, fmt: str) -> list[str]:
    """The arguments `aws` takes for generate-pin-data or verify-pin-data on PAN 171234567890123."""
    return [
        "payment-cryptography-data",
        f"{verb}-pin-data",
        "--generation-key-identifier" if verb == "generate" else "--verification-key-identifier",
        pvk,
        "--encryption-key-identifier",
        pek,
        "--primary-account-number",
        "171234567890123",
        "--pin-block-format",
        fmt,
    ]


def test_pin_generate_and_verify_with_the_cli(aws) -> None:
    pvk, pek = pin_keys(aws, "TDES_2KEY", "TDES_2KEY", "TR31_V2_VISA_PIN_VERIFICATION_KEY")
    _, generated, _ = aws(
        *pin_data("generate", pvk, pek, "ISO_FORMAT_0"),
        "--generation-attributes",
        "VisaPin={PinVerificationKeyIndex=1}",
    )
    assert generated["GenerationKeyArn"] == pvk and generated["EncryptionKeyArn"] == pek
    pvv = generated["PinData"]["VerificationValue"]
    block = generated["EncryptedPinBlock"]
    verify = [*pin_data("verify", pvk, pek, "ISO_FORMAT_0"), "--encrypted-pin-block", block]
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
    pvk, pek = pin_keys(aws, "AES_128", "TDES_3KEY", "TR31_V1_IBM3624_PIN_VERIFICATION_KEY")
    ibm = (
        "DecimalizationTable=9876543210654321,PinValidationDataPadCharacter=D,"
        "PinValidationData=171234567890123"
    )
    _, generated, _ = aws(
        *pin_data("generate", pvk, pek, "ISO_FORMAT_4"),
        "--pin-data-length",
        "6",
        "--generation-attributes",
        f"Ibm3624RandomPin={{{ibm}}}",
    )
    offset = generated["PinData"]["PinOffset"]
    assert len(offset) == 6 and len(generated["EncryptedPinBlock"]) == 32
    aws(
        *pin_data("verify", pvk, pek, "ISO_FORMAT_4"),
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

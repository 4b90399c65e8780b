"""The guide's getting-started walkthrough (seed-F §6.2, corrected) with the real `aws` CLI."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cli


def test_getting_started_walkthrough(aws) -> None:
    _, created, _ = aws(
        "payment-cryptography",
        "create-key",
        "--exportable",
        "--key-attributes",
        "KeyAlgorithm=TDES_2KEY,KeyUsage=TR31_C0_CARD_VERIFICATION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Generate=true,Verify=true}",
    )
    key = created["Key"]
    assert key["KeyState"] == "CREATE_COMPLETE" and len(key["KeyCheckValue"]) == 6
    arn = key["KeyArn"]
    _, generated, _ = aws(
        "payment-cryptography-data",
        "generate-card-validation-data",
        "--key-identifier",
        arn,
        "--primary-account-number=171234567890123",
        "--generation-attributes",
        "CardVerificationValue2={CardExpiryDate=0123}",
    )
    value = generated["ValidationData"]
    assert len(value) == 3 and generated["KeyArn"] == arn

    def verify_cvv2(given: str, ok: bool = True) -> tuple[int, dict, str]:
        """aws verify-card-validation-data of `given` as the CVV2 of the test card."""
        return aws(
            "payment-cryptography-data",
            "verify-card-validation-data",
            "--key-identifier",
            arn,
            "--primary-account-number=171234567890123",
            "--verification-attributes",
            "CardVerificationValue2={CardExpiryDate=0123}",
            "--validation-data",
            given,
            ok=ok,
        )

    _, verified, _ = verify_cvv2(value)
    assert verified["KeyCheckValue"] == key["KeyCheckValue"]
    wrong = f"{(int(value) + 1) % 1000:03d}"
    code, _, stderr = verify_cvv2(wrong, ok=False)
    assert code != 0
    assert "VerificationFailedException" in stderr and "Card validation data verification failed" in stderr
    _, deleted, _ = aws("payment-cryptography", "delete-key", f"--key-identifier={arn}")
    assert deleted["Key"]["KeyState"] == "DELETE_PENDING" and "DeletePendingTimestamp" in deleted["Key"]
    _, restored, _ = aws("payment-cryptography", "restore-key", f"--key-identifier={arn}")
    assert restored["Key"]["KeyState"] == "CREATE_COMPLETE"


def test_cli_every_foundation_operation(aws) -> None:
    _, created, _ = aws(
        "payment-cryptography",
        "create-key",
        "--no-exportable",
        "--key-attributes",
        "KeyAlgorithm=AES_128,KeyUsage=TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY,KeyClass=SYMMETRIC_KEY,"
        "KeyModesOfUse={Encrypt=true,Decrypt=true,Wrap=true,Unwrap=true}",
        "--tags",
        "Key=Project,Value=Alpha",
        "Key=BIN,Value=123456",
    )
    arn = created["Key"]["KeyArn"]
    assert (
        aws("payment-cryptography", "get-key", "--key-identifier", arn)[1]["Key"]["KeyCheckValueAlgorithm"]
        == "CMAC"
    )
    assert arn in [
        k["KeyArn"] for k in aws("payment-cryptography", "list-keys", "--page-size", "1")[1]["Keys"]
    ]
    aws("payment-cryptography", "stop-key-usage", "--key-identifier", arn)
    assert (
        aws("payment-cryptography", "start-key-usage", "--key-identifier", arn)[1]["Key"]["Enabled"] is True
    )
    aws("payment-cryptography", "create-alias", "--alias-name", "alias/cli-test", "--key-arn", arn)
    assert (
        aws("payment-cryptography", "get-alias", "--alias-name", "alias/cli-test")[1]["Alias"]["KeyArn"]
        == arn
    )
    listed = aws("payment-cryptography", "list-aliases", "--key-arn", arn)[1]["Aliases"]
    assert [a["AliasName"] for a in listed] == ["alias/cli-test"]
    aws("payment-cryptography", "update-alias", "--alias-name", "alias/cli-test")
    aws("payment-cryptography", "delete-alias", "--alias-name", "alias/cli-test")
    aws("payment-cryptography", "tag-resource", "--resource-arn", arn, "--tags", "Key=Project,Value=Noe")
    aws("payment-cryptography", "untag-resource", "--resource-arn", arn, "--tag-keys", "BIN")
    tags = aws("payment-cryptography", "list-tags-for-resource", "--resource-arn", arn)[1]["Tags"]
    assert tags == [{"Key": "Project", "Value": "Noe"}]
    code, _, stderr = aws(
        "payment-cryptography", "delete-key", "--key-identifier", arn, "--delete-key-in-days", "2", ok=False
    )
    assert code != 0 and "DeleteKeyInDays" in stderr


def test_cli_sts_get_caller_identity(aws) -> None:
    _, identity, _ = aws("sts", "get-caller-identity")
    assert identity["Account"] == "111122223333"
    assert identity["Arn"].startswith("arn:aws:iam::111122223333:")

"""CVV and CVV2 through the data-plane client, with known keys and with generated ones."""

from __future__ import annotations

import pytest

from paycrypt.crypto import cvv
from tests.api.helpers import absent_key_arn, db_snapshot, expect_error
from tests.api.known_keys import import_known_key_via_api, put_known_key
from tests.conftest import CVK_ATTRIBUTES

PAN = "171234567890123"


def _cvv2(data, key: str, pan: str = PAN, expiry: str = "0123") -> str:
    return data.generate_card_validation_data(
        KeyIdentifier=key,
        PrimaryAccountNumber=pan,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": expiry}},
    )["ValidationData"]


def cvv2_generate_error(data, code: str, status: int, key: str) -> dict:
    """The error response of a CVV2 GenerateCardValidationData on `key` that must fail."""
    return expect_error(
        data.generate_card_validation_data,
        code,
        status,
        KeyIdentifier=key,
        PrimaryAccountNumber=PAN,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
    )


def test_cvv2_generate_verify_and_negative(data, cvk) -> None:
    value = _cvv2(data, cvk)
    assert len(value) == 3 and value.isdigit()
    ok = data.verify_card_validation_data(
        KeyIdentifier=cvk,
        PrimaryAccountNumber=PAN,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        ValidationData=value,
    )
    assert ok["KeyArn"] == cvk and len(ok["KeyCheckValue"]) == 6
    wrong = f"{(int(value) + 1) % 1000:03d}"
    response = expect_error(
        data.verify_card_validation_data,
        "VerificationFailedException",
        400,
        KeyIdentifier=cvk,
        PrimaryAccountNumber=PAN,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        ValidationData=wrong,
    )
    assert response["Reason"] == "INVALID_VALIDATION_DATA"


def test_values_match_the_visa_algorithm_on_the_stored_key(server, data, cvk) -> None:
    """The served value is the Visa CVV of the key's real material (independently recomputed)."""
    material = server.parts.service.keycache.material(server.parts.service.store.get_key(cvk))
    assert _cvv2(data, cvk, "4123456789012345", "8701") == cvv.cvv(
        material, "4123456789012345", "8701", "000"
    )
    cvv1 = data.generate_card_validation_data(
        KeyIdentifier=cvk,
        PrimaryAccountNumber="4123456789012345",
        GenerationAttributes={"CardVerificationValue1": {"CardExpiryDate": "8701", "ServiceCode": "101"}},
        ValidationDataLength=5,
    )["ValidationData"]
    assert cvv1 == cvv.cvv(material, "4123456789012345", "8701", "101", 5)


def test_cvv1_verify_with_alias(control, data, cvk) -> None:
    control.create_alias(AliasName="alias/BIN_123456_CVK", KeyArn=cvk)
    attrs = {"CardVerificationValue1": {"CardExpiryDate": "2512", "ServiceCode": "101"}}
    value = data.generate_card_validation_data(
        KeyIdentifier="alias/BIN_123456_CVK", PrimaryAccountNumber=PAN, GenerationAttributes=attrs
    )["ValidationData"]
    data.verify_card_validation_data(
        KeyIdentifier="alias/BIN_123456_CVK",
        PrimaryAccountNumber=PAN,
        VerificationAttributes=attrs,
        ValidationData=value,
    )
    other_service_code = {"CardVerificationValue1": {"CardExpiryDate": "2512", "ServiceCode": "201"}}
    generated = data.generate_card_validation_data(
        KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes=other_service_code
    )["ValidationData"]
    if generated != value:
        expect_error(
            data.verify_card_validation_data,
            "VerificationFailedException",
            400,
            KeyIdentifier=cvk,
            PrimaryAccountNumber=PAN,
            VerificationAttributes=other_service_code,
            ValidationData=value,
        )


def test_generate_only_key_cannot_verify(control, data) -> None:
    attributes = {**CVK_ATTRIBUTES, "KeyModesOfUse": {"Generate": True}}
    key = control.create_key(Exportable=True, KeyAttributes=attributes)["Key"]["KeyArn"]
    value = _cvv2(data, key)
    response = expect_error(
        data.verify_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=key,
        PrimaryAccountNumber=PAN,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        ValidationData=value,
    )
    assert "Verify" in response["Error"]["Message"]


def test_no_restrictions_key_does_both(control, data) -> None:
    attributes = {**CVK_ATTRIBUTES, "KeyModesOfUse": {"NoRestrictions": True}}
    key = control.create_key(Exportable=True, KeyAttributes=attributes)["Key"]["KeyArn"]
    value = _cvv2(data, key)
    data.verify_card_validation_data(
        KeyIdentifier=key,
        PrimaryAccountNumber=PAN,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        ValidationData=value,
    )


def test_wrong_key_usage_rejected(control, data) -> None:
    attributes = {
        "KeyAlgorithm": "TDES_2KEY",
        "KeyUsage": "TR31_V2_VISA_PIN_VERIFICATION_KEY",
        "KeyClass": "SYMMETRIC_KEY",
        "KeyModesOfUse": {"Generate": True, "Verify": True},
    }
    key = control.create_key(Exportable=True, KeyAttributes=attributes)["Key"]["KeyArn"]
    response = cvv2_generate_error(data, "ValidationException", 400, key)
    assert "TR31_V2_VISA_PIN_VERIFICATION_KEY" in response["Error"]["Message"]


def test_aes_cvk_rejected_for_cvv(control, data) -> None:
    attributes = {**CVK_ATTRIBUTES, "KeyAlgorithm": "AES_128"}
    key = control.create_key(Exportable=True, KeyAttributes=attributes)["Key"]["KeyArn"]
    response = cvv2_generate_error(data, "ValidationException", 400, key)
    assert "AES_128" in response["Error"]["Message"]


@pytest.mark.parametrize("state", ["disabled", "pending"])
def test_unusable_key_states(server, control, data, cvk, state) -> None:
    if state == "disabled":
        control.stop_key_usage(KeyIdentifier=cvk)
    else:
        control.delete_key(KeyIdentifier=cvk)
    response = cvv2_generate_error(data, "ValidationException", 400, cvk)
    assert ("disabled" if state == "disabled" else "DELETE_PENDING") in response["Error"]["Message"]


def test_unknown_key_is_404(server, data, cvk) -> None:
    missing = absent_key_arn(cvk)
    response = cvv2_generate_error(data, "ResourceNotFoundException", 404, missing)
    assert response["ResourceId"] == missing
    cvv2_generate_error(data, "ResourceNotFoundException", 404, "alias/nothing-here")


def test_dynamic_member_needs_an_emv_master_key(data, cvk) -> None:
    """Every member is served since issue 4; a CVK is refused for dCVV, which needs an E6 key."""
    response = expect_error(
        data.generate_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=cvk,
        PrimaryAccountNumber=PAN,
        GenerationAttributes={
            "DynamicCardVerificationValue": {
                "PanSequenceNumber": "00",
                "CardExpiryDate": "2512",
                "ServiceCode": "101",
                "ApplicationTransactionCounter": "0001",
            }
        },
    )
    assert "DynamicCardVerificationValue" in response["Error"]["Message"]
    assert "TR31_E6_EMV_MKEY_OTHER" in response["Error"]["Message"]


def test_data_plane_validation_has_field_list(server, data, cvk) -> None:
    before = db_snapshot(server.data_dir)
    response = expect_error(
        data.verify_card_validation_data,
        "ValidationException",
        400,
        KeyIdentifier=cvk,
        PrimaryAccountNumber="12AB4567890123",
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        ValidationData="12",
    )
    paths = {field["path"] for field in response["Error"].get("fieldList", [])} or {
        f["path"] for f in response.get("fieldList", [])
    }
    assert "/PrimaryAccountNumber" in paths and "/ValidationData" in paths
    assert "12AB4567890123" not in response["Error"]["Message"]
    assert db_snapshot(server.data_dir) == before


@pytest.mark.parametrize("path", ["stored", "ImportKey"])
def test_published_cvv_vector_end_to_end(server, control, data, path: str) -> None:
    """Visa CVV vector (CVK 0123456789ABCDEF FEDCBA9876543210, PAN 4123456789012345, expiry 8701,
    service code 101 -> 561; CVV2 with 000 -> 636; iCVV with 999 -> 651), published in the Visa CVV
    worked example and digest seed-A §8.2, served through boto3 from the known key loaded both ways:
    stored through the service's own path, and imported through boto3 ImportKey (a TR-31 block
    under an RSA-unwrapped KEK, tests/api/known_keys.py)."""
    material = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    usage, algorithm, modes = "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", {"Generate": True, "Verify": True}
    if path == "stored":
        key = put_known_key(server, material, usage, algorithm, modes)
    else:
        key = import_known_key_via_api(control, material, usage, algorithm, modes)
        assert key["KeyOrigin"] == "EXTERNAL" and key["KeyAttributes"]["KeyUsage"] == usage
    assert key["KeyCheckValue"] == "08D7B4"
    pan = "4123456789012345"
    for service_code, expected in (("101", "561"), ("999", "651")):
        attributes = {"CardVerificationValue1": {"CardExpiryDate": "8701", "ServiceCode": service_code}}
        value = data.generate_card_validation_data(
            KeyIdentifier=key["KeyArn"], PrimaryAccountNumber=pan, GenerationAttributes=attributes
        )["ValidationData"]
        assert value == expected
        data.verify_card_validation_data(
            KeyIdentifier=key["KeyArn"],
            PrimaryAccountNumber=pan,
            VerificationAttributes=attributes,
            ValidationData=expected,
        )
    assert _cvv2(data, key["KeyArn"], pan, "8701") == "636"
    data.verify_card_validation_data(
        KeyIdentifier=key["KeyArn"],
        PrimaryAccountNumber=pan,
        VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "8701"}},
        ValidationData="636",
    )

"""The audit trail of a running server: one event per call, in the fixed layout, with no secrets."""

from __future__ import annotations

import json

import botocore.exceptions

from paycrypt.audit.events import REDACTED
from tests.conftest import CVK_ATTRIBUTES

PAN = "4111111111111111"


def _events(server) -> list[dict]:
    server.parts.audit.sync()
    path = server.data_dir / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _by_request(server, request_id: str) -> list[dict]:
    return [event for event in _events(server) if event["requestID"] == request_id]


def test_one_event_per_call_with_outcome(server, control, data) -> None:
    created = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    arn = created["Key"]["KeyArn"]
    [event] = _by_request(server, created["ResponseMetadata"]["RequestId"])
    assert event["eventName"] == "CreateKey" and event["eventCategory"] == "Management"
    assert event["userIdentity"]["arn"] == "arn:aws:iam::111122223333:root"  # the development root user
    assert event["responseElements"]["key"]["keyArn"] == arn
    assert event["eventVersion"] == "1.09" and event["awsRegion"] == "us-east-1"

    generated = data.generate_card_validation_data(
        KeyIdentifier=arn,
        PrimaryAccountNumber=PAN,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1229"}},
    )
    [event] = _by_request(server, generated["ResponseMetadata"]["RequestId"])
    assert event["eventName"] == "GenerateCardValidationData" and event["managementEvent"] is False
    assert event["resources"][0]["ARN"] == arn
    try:
        data.verify_card_validation_data(
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1229"}},
            ValidationData="000" if generated["ValidationData"] != "000" else "001",
        )
        raise AssertionError("verification should fail")
    except botocore.exceptions.ClientError as exc:
        request_id = exc.response["ResponseMetadata"]["RequestId"]
    [event] = _by_request(server, request_id)
    assert event["errorCode"] == "VerificationFailedException"
    assert event["requestParameters"]["validation_data"] == REDACTED
    assert event["requestParameters"]["primary_account_number"] == REDACTED
    assert PAN not in json.dumps(_events(server))


def test_denied_calls_are_audited(server) -> None:
    session = server.session(access_key="test", secret="wrong")
    control = session.client("payment-cryptography", endpoint_url=server.endpoint)
    try:
        control.list_keys()
        raise AssertionError("a wrong secret must be refused")
    except botocore.exceptions.ClientError as exc:
        request_id = exc.response["ResponseMetadata"]["RequestId"]
    [event] = _by_request(server, request_id)
    assert event["errorCode"] == "InvalidSignatureException"
    assert event["userIdentity"]["type"] == "Unknown"

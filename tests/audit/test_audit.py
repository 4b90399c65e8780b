"""The audit trail: event layout, redaction, PAN masking, the durable writer and the reader.

Reference records: the guide's CloudTrail examples (user guide L9176–9258 for the data plane's
GenerateCardValidationData, L8084–8189 for a control-plane CreateKey), transcribed in
spec/seed-F-security-iam-ops.md §2.4 (C-3, C-4).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.model import Shape

from paycrypt.audit import chain, events, reader, streams, writer
from paycrypt.audit.events import REDACTED, Failure, Identity
from paycrypt.cli import audit as audit_cli
from paycrypt.cli.main import main
from paycrypt.errors import ServiceError, ValidationError, VerificationFailed
from paycrypt.service.issuer import card_validation
from paycrypt.service.keys import aliases, lifecycle
from paycrypt.wire import models
from paycrypt.wire.protocols import for_model
from tests.conftest import CVK_ATTRIBUTES as CVK

ACCOUNT = "111122223333"
REGION = "us-east-1"
ALICE = Identity(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", "AIDAALICE0000000001", "AKIAEXAMPLEALICE0001")
WHEN = dt.datetime(2024, 7, 9, 14, 24, 2, 417000, tzinfo=dt.UTC)
UA = "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9"
PAN = "4111111111111111"
MASKED_PAN = "411111******1111"
MODELS = models.load()
PLANES = ((events.CONTROL, MODELS.control), (events.DATA, MODELS.data))
PLANS = {plane: events.compile_plans(plane, model) for plane, model in PLANES}


def build(plane: str, name: str, params: Any, **kwargs: Any) -> dict[str, Any]:
    origin: dict[str, Any] = {
        "identity": ALICE,
        "region": REGION,
        "source_ip": "127.0.0.1",
        "user_agent": UA,
        "request_id": "f2a99da8-91e2-47a9-b9d2-1706e733991e",
        "event_time": WHEN,
        "event_id": "e4eb3785-ac6a-4589-97a1-babdd3d4dd95",
    }
    outcome = {name: kwargs.pop(name) for name in ("result", "error") if name in kwargs}
    origin.update(kwargs)
    return events.build_event(PLANS[plane][name], events.Origin(**origin), params, **outcome)


def identity_block() -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAALICE0000000001",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEALICE0001",
        "userName": "alice",
    }


SUCCESS_LAYOUT = [name for name in events.LAYOUT if name not in events.ERROR_FIELDS]


# --- the layout, complete, for the four kinds of call ---------------------------------------------


def test_constants_match_the_wire_layer() -> None:
    assert (events.CONTROL, events.DATA) == (models.CONTROL, models.DATA)
    for plane, model in PLANES:
        assert list(PLANS[plane]) == list(model.operation_names)
        assert all(plan.plane == plane and plan.name == name for name, plan in PLANS[plane].items())
    with pytest.raises(ValueError, match="unknown plane"):
        events.compile_plans("sts", MODELS.control)


def test_control_plane_success_create_key(svc, ctx) -> None:
    params = {"KeyAttributes": CVK, "Exportable": True, "Tags": [{"Key": "Project", "Value": "Alpha"}]}
    result = lifecycle.create_key(svc, ctx, params)
    key = result["Key"]
    event = build(events.CONTROL, "CreateKey", params, result=result)
    assert list(event) == SUCCESS_LAYOUT
    created = events.iso_time(key["CreateTimestamp"])
    assert event == {
        "eventVersion": "1.09",
        "userIdentity": identity_block(),
        "eventTime": "2024-07-09T14:24:02Z",
        "eventSource": "payment-cryptography.amazonaws.com",
        "eventName": "CreateKey",
        "awsRegion": REGION,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": UA,
        "requestParameters": {
            "keyAttributes": {
                "keyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                "keyClass": "SYMMETRIC_KEY",
                "keyAlgorithm": "TDES_2KEY",
                "keyModesOfUse": {"generate": True, "verify": True},
            },
            "exportable": True,
            "tags": [{"key": "Project", "value": "Alpha"}],
        },
        "responseElements": {
            "key": {
                "keyArn": key["KeyArn"],
                "keyAttributes": {
                    "keyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
                    "keyClass": "SYMMETRIC_KEY",
                    "keyAlgorithm": "TDES_2KEY",
                    "keyModesOfUse": {
                        "encrypt": False,
                        "decrypt": False,
                        "wrap": False,
                        "unwrap": False,
                        "generate": True,
                        "sign": False,
                        "verify": True,
                        "deriveKey": False,
                        "noRestrictions": False,
                    },
                },
                "keyCheckValue": key["KeyCheckValue"],
                "keyCheckValueAlgorithm": "ANSI_X9_24",
                "enabled": True,
                "exportable": True,
                "keyState": "CREATE_COMPLETE",
                "keyOrigin": "AWS_PAYMENT_CRYPTOGRAPHY",
                "createTimestamp": created,
                "usageStartTimestamp": created,
            }
        },
        "requestID": "f2a99da8-91e2-47a9-b9d2-1706e733991e",
        "eventID": "e4eb3785-ac6a-4589-97a1-babdd3d4dd95",
        "readOnly": False,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::PaymentCryptography::Key", "ARN": key["KeyArn"]}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert list(event["userIdentity"]) == list(events.IDENTITY_LAYOUT)
    json.dumps(event)  # JSON-ready as built


def test_control_plane_member_names_match_the_guides_create_key_record() -> None:
    """seed-F §2.4 C-4 (guide L8084–8189): camelCase at every depth of request and response."""
    example_request = {
        "keyAttributes": {
            "keyUsage": "TR31_M1_ISO_9797_1_MAC_KEY",
            "keyClass": "SYMMETRIC_KEY",
            "keyAlgorithm": "TDES_2KEY",
            "keyModesOfUse": {
                "encrypt": False,
                "decrypt": False,
                "wrap": False,
                "unwrap": False,
                "generate": True,
                "sign": False,
                "verify": True,
                "deriveKey": False,
                "noRestrictions": False,
            },
        },
        "exportable": True,
    }
    modes = dict.fromkeys(
        ("Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify", "DeriveKey", "NoRestrictions"),
        False,
    )
    modes.update(Generate=True, Verify=True)
    attributes = {
        "KeyUsage": "TR31_M1_ISO_9797_1_MAC_KEY",
        "KeyClass": "SYMMETRIC_KEY",
        "KeyAlgorithm": "TDES_2KEY",
        "KeyModesOfUse": modes,
    }
    arn = f"arn:aws:payment-cryptography:us-east-2:{ACCOUNT}:key/kwapwa6qaiifllw2h"
    result = {
        "Key": {
            "KeyArn": arn,
            "KeyAttributes": attributes,
            "KeyCheckValue": "A486ED",
            "KeyCheckValueAlgorithm": "ANSI_X9_24",
            "Enabled": True,
            "Exportable": True,
            "KeyState": "CREATE_COMPLETE",
            "KeyOrigin": "AWS_PAYMENT_CRYPTOGRAPHY",
            "CreateTimestamp": dt.datetime(2024, 5, 27, 19, 49, 54, tzinfo=dt.UTC),
            "UsageStartTimestamp": dt.datetime(2024, 5, 27, 19, 49, 54, tzinfo=dt.UTC),
        }
    }
    event = build(
        events.CONTROL, "CreateKey", {"KeyAttributes": attributes, "Exportable": True}, result=result
    )
    assert event["requestParameters"] == example_request
    response = event["responseElements"]["key"]
    assert list(response) == [
        "keyArn",
        "keyAttributes",
        "keyCheckValue",
        "keyCheckValueAlgorithm",
        "enabled",
        "exportable",
        "keyState",
        "keyOrigin",
        "createTimestamp",
        "usageStartTimestamp",
    ]  # the example's order
    assert response["keyAttributes"] == example_request["keyAttributes"]
    # the example prints "May 27, 2024, 7:49:54 PM"; paycrypt writes ISO 8601 (documented)
    assert response["createTimestamp"] == "2024-05-27T19:49:54Z"
    assert (event["readOnly"], event["managementEvent"], event["eventCategory"]) == (
        False,
        True,
        "Management",
    )


def test_control_plane_failure_validation_exception() -> None:
    body = b'{"KeyAttributes": {"KeyAlgorithm": "TDES_9KEY"}, "Exportable": "yes"}'
    control = for_model(events.CONTROL, MODELS.control, ())
    with pytest.raises(ValidationError) as info:
        control.parse(control.operations["CreateKey"], body)
    params = json.loads(body)
    event = build(events.CONTROL, "CreateKey", params, error=Failure(info.value.code, info.value.message))
    assert list(event) == list(events.LAYOUT)
    assert event["errorCode"] == "ValidationException"
    assert event["errorMessage"] == info.value.message
    assert event["errorMessage"].startswith("5 validation errors detected")
    assert event["requestParameters"] == {
        "keyAttributes": {"keyAlgorithm": "TDES_9KEY"},
        "exportable": REDACTED,  # a string where a boolean belongs: unknown content, not logged
    }
    assert event["responseElements"] is None
    assert event["resources"] == []
    assert (event["readOnly"], event["managementEvent"], event["eventCategory"]) == (
        False,
        True,
        "Management",
    )


def test_data_plane_success_verify_card_validation_data(svc, ctx) -> None:
    key = lifecycle.create_key(svc, ctx, {"KeyAttributes": CVK, "Exportable": True})["Key"]
    aliases.create_alias(svc, ctx, {"AliasName": "alias/issuer-cvk", "KeyArn": key["KeyArn"]})
    attributes = {"CardVerificationValue2": {"CardExpiryDate": "0123"}}
    generated = card_validation.generate_card_validation_data(
        svc,
        ctx,
        {"KeyIdentifier": key["KeyArn"], "PrimaryAccountNumber": PAN, "GenerationAttributes": attributes},
    )
    params = {
        "KeyIdentifier": "alias/issuer-cvk",
        "PrimaryAccountNumber": PAN,
        "VerificationAttributes": attributes,
        "ValidationData": generated["ValidationData"],
    }
    result = card_validation.verify_card_validation_data(svc, ctx, params)
    event = build(events.DATA, "VerifyCardValidationData", params, result=result)
    assert list(event) == SUCCESS_LAYOUT
    assert event == {
        "eventVersion": "1.09",
        "userIdentity": identity_block(),
        "eventTime": "2024-07-09T14:24:02Z",
        "eventSource": "payment-cryptography.amazonaws.com",
        "eventName": "VerifyCardValidationData",
        "awsRegion": REGION,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": UA,
        "requestParameters": {
            "key_identifier": "alias/issuer-cvk",
            "primary_account_number": REDACTED,
            "verification_attributes": {"CardVerificationValue2": {"card_expiry_date": REDACTED}},
            "validation_data": REDACTED,
        },
        "responseElements": None,
        "requestID": "f2a99da8-91e2-47a9-b9d2-1706e733991e",
        "eventID": "e4eb3785-ac6a-4589-97a1-babdd3d4dd95",
        "readOnly": True,
        "resources": [
            {
                "accountId": ACCOUNT,
                "type": "AWS::PaymentCryptography::Alias",
                "ARN": f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:alias/issuer-cvk",
            },
            {"accountId": ACCOUNT, "type": "AWS::PaymentCryptography::Key", "ARN": key["KeyArn"]},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
    }
    assert PAN not in json.dumps(event) and generated["ValidationData"] not in json.dumps(
        event["requestParameters"]
    )


def test_data_plane_failure_verification_failed(svc, ctx) -> None:
    key = lifecycle.create_key(svc, ctx, {"KeyAttributes": CVK, "Exportable": True})["Key"]
    params = {
        "KeyIdentifier": key["KeyArn"],
        "PrimaryAccountNumber": PAN,
        "VerificationAttributes": {
            "CardVerificationValue1": {"CardExpiryDate": "2501", "ServiceCode": "101"}
        },
        "ValidationData": "999",
    }
    with pytest.raises(VerificationFailed) as info:
        for value in ("999", "998"):  # one of two different values is wrong
            card_validation.verify_card_validation_data(svc, ctx, {**params, "ValidationData": value})
    failed: ServiceError = info.value
    event = build(events.DATA, "VerifyCardValidationData", params, error=Failure(failed.code, failed.message))
    assert list(event) == list(events.LAYOUT)
    assert event["errorCode"] == "VerificationFailedException"
    assert event["errorMessage"] == "Card validation data verification failed."
    assert event["requestParameters"] == {
        "key_identifier": key["KeyArn"],
        "primary_account_number": REDACTED,
        "verification_attributes": {
            "CardVerificationValue1": {"card_expiry_date": REDACTED, "service_code": REDACTED}
        },
        "validation_data": REDACTED,
    }
    assert event["responseElements"] is None
    assert event["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::PaymentCryptography::Key", "ARN": key["KeyArn"]}
    ]
    assert (event["readOnly"], event["managementEvent"], event["eventCategory"]) == (True, False, "Data")


def test_data_plane_record_matches_the_guides_example() -> None:
    """seed-F §2.4 C-3 (guide L9176–9258), the caller as in the example (an assumed role)."""
    arn = "arn:aws:payment-cryptography:us-east-2:111122223333:key/5rplquwozodpwp"
    user_agent = (
        "aws-cli/2.17.6 md/awscrt#0.20.11 ua/2.0 os/macos#23.4.0 md/arch#x86_64 lang/python#3.11.8 "
        "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off "
        "md/command#payment-cryptography-data.generate-card-validation-data"
    )
    identity = Identity(
        ACCOUNT,
        "arn:aws:sts::111122223333:assumed-role/Admin/DataPlane-User",
        "TESTXECZ5U2ZULLHJMIG:DataPlane-User",
        "TESTXECZ5U2ZULLHJMIG",
    )
    event = build(
        events.DATA,
        "GenerateCardValidationData",
        {
            "KeyIdentifier": arn,
            "PrimaryAccountNumber": "171234567890123",
            "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "0123"}},
        },
        result={"KeyArn": arn, "KeyCheckValue": "CADDA1", "ValidationData": "801"},
        identity=identity,
        region="us-east-2",
        source_ip="192.158.1.38",
        user_agent=user_agent,
        event_time=dt.datetime(2024, 7, 9, 14, 24, 2, tzinfo=dt.UTC),
    )
    example = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "TESTXECZ5U2ZULLHJMIG:DataPlane-User",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/DataPlane-User",
            "accountId": "111122223333",
            "accessKeyId": "TESTXECZ5U2ZULLHJMIG",
            "userName": "",
        },  # the example also carries sessionContext, which paycrypt has no sessions for
        "eventTime": "2024-07-09T14:24:02Z",
        "eventSource": "payment-cryptography.amazonaws.com",
        "eventName": "GenerateCardValidationData",
        "awsRegion": "us-east-2",
        "sourceIPAddress": "192.158.1.38",
        "userAgent": user_agent,
        "requestParameters": {
            "key_identifier": arn,
            "primary_account_number": "*** Sensitive Data Redacted ***",
            "generation_attributes": {
                "CardVerificationValue2": {"card_expiry_date": "*** Sensitive Data Redacted ***"}
            },
        },
        "responseElements": None,
        "requestID": "f2a99da8-91e2-47a9-b9d2-1706e733991e",
        "eventID": "e4eb3785-ac6a-4589-97a1-babdd3d4dd95",
        "readOnly": True,
        "resources": [{"accountId": "111122223333", "type": "AWS::PaymentCryptography::Key", "ARN": arn}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }  # and tlsDetails, which uvicorn does not expose
    assert event == example
    assert list(event) == list(example)


def test_user_identity_kinds() -> None:
    unknown = build(events.CONTROL, "ListKeys", {}, identity=Identity(None, None, None, "AKIAUNKNOWN"))
    assert unknown["userIdentity"] == {
        "type": "Unknown",
        "principalId": None,
        "arn": None,
        "accountId": None,
        "accessKeyId": "AKIAUNKNOWN",
        "userName": None,
    }
    assert unknown["recipientAccountId"] is None
    assert unknown["requestParameters"] is None  # an empty request logs as null
    root = build(
        events.CONTROL, "ListKeys", {}, identity=Identity(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", "X", "K")
    )
    assert (root["userIdentity"]["type"], root["userIdentity"]["userName"]) == ("Root", None)


def test_read_only_rule_for_every_operation() -> None:
    for plane, service in PLANES:
        for name in service.operation_names:
            event = build(plane, name, {})
            expected = plane == events.DATA or name.startswith(("Get", "List"))
            assert event["readOnly"] is expected, name
            assert event["managementEvent"] is (plane == events.CONTROL)
            assert event["eventCategory"] == ("Management" if plane == events.CONTROL else "Data")
            assert event["eventName"] == name
    assert build(events.CONTROL, "DeleteKey", {})["readOnly"] is False
    assert build(events.CONTROL, "GetKey", {})["readOnly"] is True


def test_resources_named_outside_lists_only() -> None:
    arns = [f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/{'k' * 15}{i}" for i in range(3)]
    listed = build(
        events.CONTROL,
        "ListKeys",
        {"KeyState": "CREATE_COMPLETE"},
        result={"Keys": [{"KeyArn": arn, "KeyState": "CREATE_COMPLETE"} for arn in arns]},
    )
    assert listed["resources"] == []
    assert [k["keyArn"] for k in listed["responseElements"]["keys"]] == arns
    alias = build(events.CONTROL, "CreateAlias", {"AliasName": "alias/one", "KeyArn": arns[0]})
    assert [(r["type"], r["ARN"]) for r in alias["resources"]] == [
        ("AWS::PaymentCryptography::Alias", f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:alias/one"),
        ("AWS::PaymentCryptography::Key", arns[0]),
    ]
    tagged = build(events.CONTROL, "TagResource", {"ResourceArn": arns[1], "Tags": []})
    assert [r["ARN"] for r in tagged["resources"]] == [arns[1]]
    other = f"arn:aws:payment-cryptography:eu-west-1:444455556666:key/{'z' * 16}"
    translated = build(
        events.DATA,
        "TranslatePinData",
        {"IncomingKeyIdentifier": other, "OutgoingKeyIdentifier": arns[2], "EncryptedPinBlock": "00" * 8},
    )
    assert [(r["accountId"], r["ARN"]) for r in translated["resources"]] == [
        ("444455556666", other),
        (ACCOUNT, arns[2]),
    ]


# --- redaction over every operation of both models -------------------------------------------------


class Synth:
    """A value for every member of a shape; each string a unique sentinel, recorded with whether
    it sits under a sensitive member (all members of unions set, to reach every one)."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.sensitive: set[str] = set()
        self.plain: set[str] = set()

    def value(self, shape: Shape, secret: bool = False, depth: int = 0) -> Any:
        secret = secret or bool(shape.metadata.get("sensitive"))
        kind = shape.type_name
        if kind == "structure":
            if depth > 12:
                return {}
            return {name: self.value(member, secret, depth + 1) for name, member in shape.members.items()}
        if kind == "list":
            return [self.value(shape.member, secret, depth + 1) for _ in range(2)]
        if kind == "map":
            return {self.sentinel(secret): self.value(shape.value, secret, depth + 1)}
        if kind == "boolean":
            return True
        if kind in ("integer", "long"):
            return 7
        if kind in ("float", "double"):
            return 1.5
        if kind == "timestamp":
            return dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        return self.sentinel(secret)

    def sentinel(self, secret: bool) -> str:
        text = f"Q{'S' if secret else 'P'}{next(self.counter):05d}Q"
        (self.sensitive if secret else self.plain).add(text)
        return text


def test_every_sensitive_member_of_every_operation_is_redacted() -> None:
    checked = 0
    for plane, service in PLANES:
        for name in service.operation_names:
            operation = service.operation_model(name)
            synth = Synth()
            params = synth.value(operation.input_shape) if operation.input_shape is not None else {}
            result = synth.value(operation.output_shape) if operation.output_shape is not None else {}
            for outcome in ({"result": result}, {"error": Failure("ValidationException", "bad")}):
                text = json.dumps(build(plane, name, params, **outcome))
                leaked = [s for s in synth.sensitive if s in text]
                assert not leaked, (plane, name, leaked)
                checked += len(synth.sensitive)
            if plane == events.CONTROL:  # everything not sensitive is logged, request and response
                logged = json.dumps(build(plane, name, params, result=result))
                assert [s for s in synth.plain if s not in logged] == [], name
    assert checked > 100  # the models do have sensitive members, and they were all exercised


def test_data_plane_request_keeps_every_plain_member() -> None:
    for name in MODELS.data.operation_names:
        operation = MODELS.data.operation_model(name)
        synth = Synth()
        params = synth.value(operation.input_shape)
        text = json.dumps(build(events.DATA, name, params))
        assert [s for s in synth.plain if s not in text] == [], name


def test_sensitive_members_redacted_whatever_their_type() -> None:
    params = {
        "KeyIdentifier": "alias/k",
        "PrimaryAccountNumber": {"nested": PAN},
        "ValidationData": 123,
        "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": ["0123"]}},
    }
    event = build(events.DATA, "VerifyCardValidationData", params)
    assert event["requestParameters"]["primary_account_number"] == REDACTED
    assert event["requestParameters"]["validation_data"] == REDACTED
    assert event["requestParameters"]["verification_attributes"] == {
        "CardVerificationValue2": {"card_expiry_date": REDACTED}
    }
    assert "4111" not in json.dumps(event)


def test_members_outside_the_model_are_dropped() -> None:
    event = build(events.DATA, "GenerateCardValidationData", {"KeyIdentifier": "alias/k", "ClearPan": PAN})
    assert event["requestParameters"] == {"key_identifier": "alias/k"}


def test_control_plane_key_material_never_logged() -> None:
    exported = {
        "WrappedKey": {
            "KeyMaterial": "D0112B0AX00E0000" + "AB" * 40,
            "WrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
            "KeyCheckValue": "CADDA1",
        }
    }
    event = build(events.CONTROL, "ExportKey", {"ExportKeyIdentifier": "alias/k"}, result=exported)
    assert event["responseElements"]["wrappedKey"] == {
        "keyMaterial": REDACTED,
        "wrappedKeyMaterialFormat": "TR31_KEY_BLOCK",
        "keyCheckValue": "CADDA1",
    }
    imported = {
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/kek", "WrappedKeyBlock": "D0" * 40}}
    }
    request = build(events.CONTROL, "ImportKey", imported)["requestParameters"]
    assert request == {
        "keyMaterial": {"tr31KeyBlock": {"wrappingKeyIdentifier": "alias/kek", "wrappedKeyBlock": REDACTED}}
    }


# --- PAN masking -------------------------------------------------------------------------------


def test_pan_masking_rule() -> None:
    assert events.mask_pans(PAN) == MASKED_PAN
    assert events.mask_pans("4111 1111 1111 1111") == MASKED_PAN
    assert events.mask_pans("4111-1111-1111-1111") == MASKED_PAN
    assert events.mask_pans("pan=5413330089604111;") == "pan=541333******4111;"
    assert events.mask_pans("123456789012") == "123456**9012"  # 12 digits
    assert events.mask_pans("1234567890123456789") == "123456*********6789"  # 19 digits
    assert events.mask_pans("12345678901") == "12345678901"  # 11: not PAN-like
    assert events.mask_pans("12345678901234567890") == "12345678901234567890"  # 20: not PAN-like
    arn = "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefabcdefabcd"
    assert events.mask_pans(arn) == arn  # an ARN's account is not a PAN
    assert events.mask_pans(f"Key {arn} was not found.") == f"Key {arn} was not found."
    assert events.mask_pans("arn:aws:iam::111122223333:user/alice") == "arn:aws:iam::111122223333:user/alice"
    assert events.mask_pans(f"alias/{PAN}") == f"alias/{MASKED_PAN}"


def test_pans_masked_anywhere_in_an_event() -> None:
    params = {
        "KeyAttributes": {**CVK, "KeyModesOfUse": {"Generate": True, "Verify": True}},
        "Exportable": True,
        "Tags": [{"Key": "card", "Value": PAN}, {"Key": "grouped", "Value": "4111 1111 1111 1111"}],
    }
    event = build(
        events.CONTROL,
        "CreateKey",
        params,
        error=Failure("ValidationException", f"Tag value {PAN} is not allowed."),
        user_agent=f"app/{PAN}",
    )
    text = json.dumps(event)
    assert "1111 1111" not in text and PAN not in text
    assert event["requestParameters"]["tags"][0]["value"] == MASKED_PAN
    assert event["requestParameters"]["tags"][1]["value"] == MASKED_PAN
    assert event["errorMessage"] == f"Tag value {MASKED_PAN} is not allowed."
    assert event["userAgent"] == f"app/{MASKED_PAN}"
    alias = build(events.CONTROL, "GetAlias", {"AliasName": f"alias/{PAN}"})
    assert PAN not in json.dumps(alias)
    assert alias["resources"][0]["ARN"].endswith(f":alias/{MASKED_PAN}")
    again = build(events.CONTROL, "GetAlias", {"AliasName": f"alias/{PAN}"})  # the memo of resources
    assert again["resources"] == alias["resources"] and PAN not in str(list(events._RESOURCES))
    # the memo of strings with nothing to mask never holds a PAN-like run
    assert events._CLEAN and all(events._DIGIT_RUN.sub(events._mask_match, t) == t for t in events._CLEAN)
    assert not [t for t in events._CLEAN if PAN in t or "1111 1111" in t]
    # nor does the memo of events' origin parts: a user agent holding a PAN is masked on every call
    again = build(events.CONTROL, "CreateKey", params, user_agent=f"app/{PAN}")
    assert again["userAgent"] == f"app/{MASKED_PAN}"
    assert not [key for key in events._ORIGINS if PAN in str(key) or PAN in events._ORIGINS.get(key, "")]
    numbers = build(
        events.DATA,
        "GenerateCardValidationData",
        {"KeyIdentifier": "alias/k", "PrimaryAccountNumber": 4111111111111111},
    )
    assert "4111111111111111" not in json.dumps(numbers)


@pytest.mark.parametrize("plane", [events.CONTROL, events.DATA])
def test_the_encoded_event_is_the_writers_compact_json_of_it(plane: str) -> None:
    """`encode_event` writes the line from kept parts; it must be, byte for byte, what
    `json.dumps(event, separators=(",", ":"))` writes for the event it holds (ASCII escapes,
    nulls, the error fields), for every operation, a failed call and an unknown caller."""
    service = MODELS.plane(plane)
    origins = [
        events.Origin(ALICE, REGION, "127.0.0.1", UA, "f2a99da8-91e2-47a9-b9d2-1706e733991e", WHEN),
        events.Origin(Identity(None, None, None, 'AKIA\u00e9"'), None, None, 'ua/\u2603 "q"', "r", WHEN),
    ]
    for name in service.operation_names:
        plan = PLANS[plane][name]
        for origin in origins:
            for error in (None, Failure("ValidationException", 'bad "value" \u00e9\n')):
                result = {"KeyArn": f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/abc"}
                encoded = events.encode_event(plan, origin, {"KeyIdentifier": "alias/k"}, result, error)
                event = json.loads(encoded.text)
                assert encoded.text == json.dumps(event, separators=(",", ":")), name
                layout = events.LAYOUT if error is not None else SUCCESS_LAYOUT
                assert list(event) == list(layout)
                assert encoded.event_time == event["eventTime"] == "2024-07-09T14:24:02Z"


def test_no_long_digit_run_survives_except_arn_accounts() -> None:
    """Every string of every member set to a PAN: the event holds no 12–19 digit run except the
    account fields of ARNs and the accountId fields."""
    for plane, service in PLANES:
        for name in service.operation_names:
            operation = service.operation_model(name)
            params = _fill(operation.input_shape, PAN) if operation.input_shape is not None else {}
            result = _fill(operation.output_shape, PAN) if operation.output_shape is not None else {}
            event = build(plane, name, params, result=result)
            for field in ("userIdentity", "recipientAccountId"):
                event.pop(field)
            for resource in event["resources"]:
                resource.pop("accountId")
            text = re.sub(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:\d{12}:", "arn:", json.dumps(event))
            assert not re.search(r"\d{12}", text), (plane, name)


def _fill(shape: Shape, text: str, depth: int = 0) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {} if depth > 12 else {n: _fill(m, text, depth + 1) for n, m in shape.members.items()}
    if kind == "list":
        return [_fill(shape.member, text, depth + 1)]
    if kind == "map":
        return {text: _fill(shape.value, text, depth + 1)}
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        return int(text)
    return {"boolean": True, "timestamp": WHEN}.get(kind, 1.0)


# --- the writer: rotation, durability, data-event switch ---------------------------------------------


def numbered(i: int, account: str = ACCOUNT, region: str = REGION, category: str = "Management") -> dict:
    return {
        "eventTime": "2024-07-09T14:24:02Z",
        "eventName": "GetKey",
        "seq": i,
        "pad": "x" * 100,
        "recipientAccountId": account,
        "awsRegion": region,
        "eventCategory": category,
    }


def stored_size(event: dict[str, Any], sequence: int = 10) -> int:
    """The length of an event's line as the writer stores it, chain members and newline included."""
    body = json.dumps(event, separators=(",", ":"))
    return len(chain.chained_line(body, '"n1"', 0, sequence, "A" * 43)) + 1


def test_rotation_by_size_keeps_backups(tmp_path) -> None:
    path = tmp_path / "audit"
    line_size = stored_size(numbered(0))  # the 2-digit sequences' lines; the first 9 are shorter
    with writer.AuditWriter(
        path, node_id="n1", max_bytes=line_size * 5 + 10, backups=3, fsync_interval=0
    ) as log:
        for i in range(40):
            assert log.record(numbered(i))
    names = [p.name for p in log.files()]
    assert names == [streams.log_name("n1", 0, serial) for serial in (5, 6, 7, 8)]  # 3 + the newest
    assert not (path / streams.log_name("n1", 0, 4)).exists()
    assert not (path / streams.digest_name(streams.log_name("n1", 0, 4))).exists()  # its digest too
    for file in log.files():
        assert 0 < file.stat().st_size <= line_size * 5 + 10
        assert file.stat().st_mode & 0o777 == 0o600
    seen = [event["seq"] for _, event in reader.read_events(path)]
    assert seen == list(range(40 - len(seen), 40))  # oldest file first, no gaps, newest last
    assert len(seen) == 20  # 4 files of 5 lines


def test_rotation_never_splits_a_line(tmp_path) -> None:
    line_size = stored_size(numbered(1))
    with writer.AuditWriter(tmp_path, max_bytes=2 * line_size, backups=2, fsync_interval=0) as log:
        log.record(numbered(1))
        log.record({**numbered(2), "pad": "y" * 3 * line_size})  # longer than max_bytes: a file of its own
        log.record(numbered(3))
    assert [[json.loads(line)["seq"] for line in p.read_text().splitlines()] for p in log.files()] == [
        [1],
        [2],
        [3],
    ]


def test_reopening_continues_the_stream_in_a_new_file(tmp_path) -> None:
    for i in range(3):
        with writer.AuditWriter(tmp_path, node_id="n1", fsync_interval=0) as log:
            log.record(numbered(i))
    assert [p.name for p in log.files()] == [streams.log_name("n1", 0, serial) for serial in (1, 2, 3)]
    got = [e for _, e in reader.read_events(tmp_path)]
    assert [(e["seq"], e["sequence"]) for e in got] == [(0, 1), (1, 2), (2, 3)]


def test_concurrent_writers_never_interleave_lines(tmp_path) -> None:
    path = tmp_path
    with writer.AuditWriter(path, max_bytes=20_000, backups=50, fsync_interval=0.01) as log:

        def work(t: int) -> None:
            for i in range(200):
                log.record({**numbered(i), "thread": t, "pad": str(t) * (50 + 37 * t)})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stats = reader.ReadStats()
    got = [(e["thread"], e["seq"]) for _, e in reader.read_events(path, stats=stats)]
    assert stats.malformed == 0
    assert sorted(got) == sorted((t, i) for t in range(8) for i in range(200))
    for t in range(8):
        assert [s for th, s in got if th == t] == list(range(200))  # each thread's order kept


class FsyncSpy:
    """Counts the fsyncs of log files (those of digests, keys and directories are not counted)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[float] = []
        real = os.fsync

        def spy(fd: int) -> None:
            if os.readlink(f"/proc/self/fd/{fd}").endswith(streams.LOG_SUFFIX):
                self.calls.append(time.monotonic())
            real(fd)

        monkeypatch.setattr(writer.os, "fsync", spy)


def test_fsync_every_event_when_interval_is_zero(tmp_path, monkeypatch) -> None:
    spy = FsyncSpy(monkeypatch)
    log = writer.AuditWriter(tmp_path, fsync_interval=0)
    for i in range(5):
        log.record(numbered(i))
        assert len(spy.calls) == i + 1  # on disk before record returned
    log.close()


def test_fsyncs_are_batched_within_the_interval(tmp_path, monkeypatch) -> None:
    spy = FsyncSpy(monkeypatch)
    interval = 0.1
    log = writer.AuditWriter(tmp_path, fsync_interval=interval)
    for i in range(200):
        log.record(numbered(i))
    last_write = time.monotonic()
    assert len(spy.calls) < 20  # batched, not one per event
    deadline = last_write + 5
    while not [t for t in spy.calls if t >= last_write] and time.monotonic() < deadline:
        time.sleep(0.01)
    synced = [t for t in spy.calls if t >= last_write]
    assert synced and synced[0] - last_write <= interval + 0.5  # within the interval (plus scheduling slack)
    time.sleep(interval * 3)
    quiet = len(spy.calls)
    time.sleep(interval * 3)
    assert len(spy.calls) == quiet  # nothing written since: no fsync
    log.record(numbered(999))
    log.close()
    assert len(spy.calls) == quiet + 1 or len(spy.calls) == quiet + 2  # close fsyncs what is left
    with pytest.raises(ValueError):
        log.record(numbered(1000))


def test_rotation_fsyncs_the_finished_file(tmp_path, monkeypatch) -> None:
    spy = FsyncSpy(monkeypatch)
    log = writer.AuditWriter(tmp_path, max_bytes=300, backups=2, fsync_interval=60)
    log.record(numbered(1))
    first = log.path
    log.record(numbered(2))  # rotates: the first file is fsynced before its digest is written
    assert len(spy.calls) >= 1 and log.path != first
    log.close()


KILL_SCRIPT = """
import sys
from paycrypt.audit.writer import AuditWriter
log = AuditWriter(sys.argv[1], node_id="killed", fsync_interval=3600)
for i in range(500):
    log.record({"seq": i, "eventCategory": "Management", "pad": "z" * 200})
print("written", flush=True)
import time
time.sleep(60)
"""


def test_events_survive_the_process_being_killed(tmp_path) -> None:
    """Documented durability: a recorded event is in the kernel when record returns, fsync or not."""
    path = tmp_path
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    stats = reader.ReadStats()
    assert [e["seq"] for _, e in reader.read_events(path, stats=stats)] == list(range(500))
    assert stats.malformed == 0


def test_data_events_switched_off_per_account_and_region(tmp_path) -> None:
    selector = writer.DataEventSelector()
    assert selector.enabled(ACCOUNT, REGION)  # the dev server's default: on
    selector.disable(ACCOUNT, "us-east-1")
    path = tmp_path
    with writer.AuditWriter(path, fsync_interval=0, data_events=selector) as log:
        assert not log.wants(False, ACCOUNT, "us-east-1")
        assert log.wants(True, ACCOUNT, "us-east-1")  # management events always
        assert log.record(numbered(1, category="Data")) is False
        assert log.record(numbered(2, category="Management")) is True
        assert log.record(numbered(3, region="eu-west-1", category="Data")) is True
        assert log.record(numbered(4, account="444455556666", category="Data")) is True
    assert [e["seq"] for _, e in reader.read_events(path)] == [2, 3, 4]


def test_data_event_selector_rules() -> None:
    aws_like = writer.DataEventSelector.parse(["off", "111122223333:us-east-1=on", "444455556666=on"])
    assert not aws_like.enabled("999988887777", "us-east-1")
    assert aws_like.enabled(ACCOUNT, "us-east-1") and not aws_like.enabled(ACCOUNT, "us-west-2")
    assert aws_like.enabled("444455556666", "ap-south-1")
    mixed = writer.DataEventSelector.parse(["111122223333=off", "111122223333:eu-west-1=on"])
    assert mixed.enabled("444455556666", REGION)
    assert not mixed.enabled(ACCOUNT, REGION) and mixed.enabled(ACCOUNT, "eu-west-1")
    for bad in ("maybe", "1234=on", "111122223333=maybe"):
        with pytest.raises(ValueError):
            writer.DataEventSelector.parse([bad])


def test_switched_off_data_plane_call_produces_no_event(tmp_path) -> None:
    selector = writer.DataEventSelector.parse([f"{ACCOUNT}:{REGION}=off"])
    path = tmp_path
    params = {"KeyIdentifier": "alias/k", "PrimaryAccountNumber": PAN, "ValidationData": "123"}
    with writer.AuditWriter(path, fsync_interval=0, data_events=selector) as log:
        assert log.record(build(events.DATA, "VerifyCardValidationData", params)) is False
        assert log.record(build(events.CONTROL, "GetKey", {"KeyIdentifier": "alias/k"})) is True
        assert log.record(build(events.DATA, "VerifyCardValidationData", params, region="us-west-2"))
    assert [e["eventName"] for _, e in reader.read_events(path)] == ["GetKey", "VerifyCardValidationData"]


def test_writer_rejects_nonsense_settings(tmp_path) -> None:
    for bad in ({"max_bytes": 0}, {"backups": 0}, {"fsync_interval": -1}):
        with pytest.raises(ValueError):
            writer.AuditWriter(tmp_path, **bad)


# --- the reader and `paycrypt audit` -------------------------------------------------------------------


BOB = Identity(
    "444455556666", "arn:aws:iam::444455556666:user/bob", "AIDABOB000000000001", "AKIAEXAMPLEBOB000001"
)
KEY_A = f"arn:aws:payment-cryptography:{REGION}:{ACCOUNT}:key/aaaaaaaaaaaaaaaa"
KEY_B = f"arn:aws:payment-cryptography:{REGION}:444455556666:key/bbbbbbbbbbbbbbbb"


@pytest.fixture
def trail(tmp_path) -> Path:
    """Eight events over four hours, across rotated files."""
    path = tmp_path
    start = dt.datetime(2024, 7, 9, 10, 0, 0, tzinfo=dt.UTC)
    calls = [
        (
            ALICE,
            events.CONTROL,
            "CreateKey",
            {"KeyAttributes": CVK, "Exportable": True},
            {"Key": {"KeyArn": KEY_A}},
        ),
        (ALICE, events.CONTROL, "CreateAlias", {"AliasName": "alias/cvk", "KeyArn": KEY_A}, None),
        (ALICE, events.DATA, "GenerateCardValidationData", {"KeyIdentifier": "alias/cvk"}, {"KeyArn": KEY_A}),
        (
            BOB,
            events.CONTROL,
            "CreateKey",
            {"KeyAttributes": CVK, "Exportable": True},
            {"Key": {"KeyArn": KEY_B}},
        ),
        (BOB, events.DATA, "VerifyCardValidationData", {"KeyIdentifier": KEY_B}, {"KeyArn": KEY_B}),
        (ALICE, events.DATA, "VerifyCardValidationData", {"KeyIdentifier": KEY_B}, None),
        (ALICE, events.CONTROL, "ListKeys", {}, {"Keys": []}),
        (BOB, events.CONTROL, "GetKey", {"KeyIdentifier": KEY_B}, None),
    ]
    with writer.AuditWriter(path, max_bytes=2500, backups=20, fsync_interval=0) as log:
        for i, (who, plane, name, params, result) in enumerate(calls):
            region = REGION
            event = build(
                plane,
                name,
                params,
                identity=who,
                region=region,
                event_time=start + dt.timedelta(minutes=30 * i),
                result=result,
                error=None if result is not None else Failure("AccessDeniedException", "denied"),
            )
            log.record(event)
    assert len(log.files()) > 2  # the trail does span rotated files
    return path


def names(path: Path, **filters: Any) -> list[str]:
    return [e["eventName"] for _, e in reader.read_events(path, reader.AuditFilter(**filters))]


def test_reader_filters(trail) -> None:
    everything = names(trail)
    assert everything == [
        "CreateKey",
        "CreateAlias",
        "GenerateCardValidationData",
        "CreateKey",
        "VerifyCardValidationData",
        "VerifyCardValidationData",
        "ListKeys",
        "GetKey",
    ]
    t = reader.parse_time
    assert names(trail, start=t("2024-07-09T11:00:00Z"), end=t("2024-07-09T12:00:00Z")) == everything[2:5]
    assert names(trail, start=t("2024-07-09T13:00")) == everything[6:]  # no offset: UTC
    assert names(trail, end=t("2024-07-09T06:00:00-04:00")) == everything[:1]  # 10:00Z inclusive
    assert names(trail, event_names=frozenset({"CreateKey"})) == ["CreateKey", "CreateKey"]
    assert names(trail, key="aaaaaaaaaaaaaaaa") == ["CreateKey", "CreateAlias", "GenerateCardValidationData"]
    assert names(trail, key="alias/cvk") == ["CreateAlias", "GenerateCardValidationData"]
    assert names(trail, key=KEY_B) == [
        "CreateKey",
        "VerifyCardValidationData",
        "VerifyCardValidationData",
        "GetKey",
    ]
    assert names(trail, principal="444455556666") == ["CreateKey", "VerifyCardValidationData", "GetKey"]
    assert names(trail, principal=ALICE.arn) == [everything[i] for i in (0, 1, 2, 5, 6)]
    assert names(trail, principal="alice", key=KEY_B) == ["VerifyCardValidationData"]
    assert names(trail, principal="arn:aws:iam::444455556666:user/nobody") == []
    assert names(trail, start=t("2024-07-09"), end=t("2024-07-09T23:59:59Z")) == everything
    assert names(trail, start=t("2024-07-10")) == []


def test_audit_command(trail, capsys) -> None:
    status = main(["audit", "--data-dir", str(trail), "--event-name", "CreateKey", "--event-name", "GetKey"])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["eventName"] for line in lines] == ["CreateKey", "CreateKey", "GetKey"]
    stored = [line for line, e in reader.read_events(trail) if e["eventName"] == "GetKey"]
    assert lines[-1] == stored[0]  # printed exactly as stored
    assert (
        main(["audit", "--data-dir", str(trail), "--principal", "bob", "--start", "2024-07-09T12:00:00Z"])
        == 0
    )
    assert [json.loads(x)["eventName"] for x in capsys.readouterr().out.splitlines()] == [
        "VerifyCardValidationData",
        "GetKey",
    ]


def test_audit_command_with_the_data_dir_and_as_a_subcommand(trail, capsys) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="paycrypt")
    audit_cli.add_audit_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", "--data-dir", str(trail), "--key", "alias/cvk"])
    out = io.StringIO()
    assert audit_cli.run_audit(args, out=out) == 0
    assert len(out.getvalue().splitlines()) == 2


def test_audit_command_errors(tmp_path, capsys) -> None:
    assert main(["audit", "--log", str(tmp_path / "none.jsonl")]) == 1
    assert "no audit log" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["audit", "--log", str(tmp_path / "x"), "--start", "yesterday"])
    assert info.value.code == 2


def test_reader_skips_torn_lines(tmp_path, capsys) -> None:
    path = tmp_path
    with writer.AuditWriter(path, fsync_interval=0) as log:
        log.record(numbered(1))
    with log.path.open("a") as handle:
        handle.write('{"seq": 2, "eventTi\n[1, 2]\n\n')
    with writer.AuditWriter(path, fsync_interval=0) as log:
        log.record(numbered(3))
    assert main(["audit", "--data-dir", str(path)]) == 0
    captured = capsys.readouterr()
    assert [json.loads(x)["seq"] for x in captured.out.splitlines()] == [1, 3]
    assert "skipped 2 malformed" in captured.err


def test_reader_sees_a_rotation_while_reading_once(tmp_path) -> None:
    path = tmp_path
    log = writer.AuditWriter(path, max_bytes=400, backups=10, fsync_interval=0)
    for i in range(6):
        log.record(numbered(i))
    events_read = reader.read_events(path)
    first = next(events_read)[1]["seq"]
    for i in range(6, 12):
        log.record(numbered(i))  # rotates under the open reader
    rest = [e["seq"] for _, e in events_read]
    log.close()
    assert [first, *rest] == list(range(6))  # the files as they were when reading began, once each

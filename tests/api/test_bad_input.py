"""Bad input gets the AWS error code and status, never a 500, and never changes the store."""

from __future__ import annotations

import json

import pytest

from tests.api import rawhttp
from tests.api.helpers import absent_key_arn, db_snapshot, expect_error
from tests.conftest import CVK_ATTRIBUTES


@pytest.fixture
def unchanged(server):
    before = db_snapshot(server.data_dir)
    yield
    assert db_snapshot(server.data_dir) == before


def _create(endpoint: str, body: dict) -> tuple[int, dict]:
    status, _, response = rawhttp.control(endpoint, "CreateKey", body)
    return status, response


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"Exportable": True}, "KeyAttributes"),
        ({"KeyAttributes": CVK_ATTRIBUTES}, "Exportable"),
        ({"KeyAttributes": CVK_ATTRIBUTES, "Exportable": "yes"}, "Exportable"),
        (
            {"KeyAttributes": {**CVK_ATTRIBUTES, "KeyAlgorithm": "TDDES_2KEY"}, "Exportable": True},
            "TDDES_2KEY",
        ),
        (
            {"KeyAttributes": {**CVK_ATTRIBUTES, "KeyModesOfUse": {"Generate": "true"}}, "Exportable": True},
            "Generate",
        ),
        (
            {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True, "Tags": [{"Key": "", "Value": "x"}]},
            "Tags.1.Key",
        ),
        ({"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True, "Tags": "notalist"}, "Tags"),
        (
            {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True, "KeyCheckValueAlgorithm": "HMAC_SHA256"},
            "KeyCheckValueAlgorithm",
        ),
        (
            {"KeyAttributes": {**CVK_ATTRIBUTES, "KeyUsage": "TR31_M7_HMAC_KEY"}, "Exportable": True},
            "KeyAlgorithm",
        ),
        (
            {"KeyAttributes": {**CVK_ATTRIBUTES, "KeyModesOfUse": {"Encrypt": True}}, "Exportable": True},
            "KeyModesOfUse",
        ),
        (
            {
                "KeyAttributes": {
                    **CVK_ATTRIBUTES,
                    "KeyModesOfUse": {"Generate": True, "NoRestrictions": True},
                },
                "Exportable": True,
            },
            "KeyModesOfUse",
        ),
        (
            {"KeyAttributes": {**CVK_ATTRIBUTES, "KeyClass": "ASYMMETRIC_KEY_PAIR"}, "Exportable": True},
            "KeyClass",
        ),
        ({"KeyAttributes": {**CVK_ATTRIBUTES, "KeyClass": "PRIVATE_KEY"}, "Exportable": True}, "KeyClass"),
        (
            {
                "KeyAttributes": CVK_ATTRIBUTES,
                "Exportable": True,
                "DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY",
            },
            "DeriveKeyUsage",
        ),
    ],
)
def test_create_key_validation(server, unchanged, body, fragment) -> None:
    status, response = _create(server.endpoint, body)
    assert status == 400, response
    assert response["__type"] == "ValidationException"
    assert fragment in response["Message"]


def test_unknown_members_are_ignored(server, control) -> None:
    """Decision: unknown members are ignored, as AWS's JSON front ends do
    (docs/decisions/wire-protocol.md)."""
    status, response = _create(
        server.endpoint, {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True, "Colour": "blue"}
    )
    assert status == 200 and response["Key"]["KeyState"] == "CREATE_COMPLETE"


@pytest.mark.parametrize(
    ("alias", "valid"),
    [
        ("alias/ok_name-1/x", True),
        ("alias/", False),
        ("alias/has space", False),
        ("noprefix", False),
        ("alias/" + "a" * 251, False),
    ],
)
def test_alias_names(server, control, alias, valid) -> None:
    if valid:
        control.create_alias(AliasName=alias)
        return
    before = db_snapshot(server.data_dir)
    expect_error(control.create_alias, "ValidationException", 400, AliasName=alias)
    assert db_snapshot(server.data_dir) == before


def test_bad_key_identifiers(server, control, unchanged) -> None:
    expect_error(control.get_key, "ValidationException", 400, KeyIdentifier="not-an-identifier")
    expect_error(
        control.get_key,
        "ValidationException",
        400,
        KeyIdentifier="arn:aws:payment-cryptography:us-east-1:111122223333:key/short",
    )
    expect_error(
        control.get_key,
        "ResourceNotFoundException",
        400,
        KeyIdentifier="arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop",
    )
    expect_error(control.list_tags_for_resource, "ValidationException", 400, ResourceArn="alias/not-an-arn")


def test_list_keys_bounds(server, control) -> None:
    expect_error(control.list_keys, "ValidationException", 400, MaxResults=0)
    expect_error(control.list_keys, "ValidationException", 400, MaxResults=101)
    expect_error(control.list_keys, "ValidationException", 400, KeyState="NOT_A_STATE")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"string"', b"\xff\xfe"])
def test_malformed_json(server, unchanged, body) -> None:
    status, headers, response = rawhttp.control(server.endpoint, "CreateKey", body)
    assert status == 400
    assert response["__type"] == "ValidationException"
    assert headers["x-amzn-errortype"] == "ValidationException"


def test_wrong_content_type(server, unchanged) -> None:
    body = json.dumps({"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True}).encode()
    status, _, response = rawhttp.control(
        server.endpoint, "CreateKey", body, headers={"Content-Type": "text/plain"}
    )
    assert status == 415 and response["__type"] == "UnsupportedMediaTypeException"
    status, _, raw = rawhttp.send(
        server.endpoint, "/cardvalidationdata/verify", b"{}", {"Content-Type": "text/xml"}
    )
    assert status == 415 and json.loads(raw)["__type"] == "UnsupportedMediaTypeException"


def test_unknown_operation(server) -> None:
    status, _, response = rawhttp.control(server.endpoint, "LaunchRocket", {})
    assert status == 400 and response["__type"] == "UnknownOperationException"
    status, _, raw = rawhttp.send(
        server.endpoint, "/no/such/path", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 404 and json.loads(raw)["__type"] == "UnknownOperationException"


def test_unserved_operation_and_union_member_are_501(server, control, data, cvk, monkeypatch) -> None:
    """An operation with no service function, or a union member with no handler, answers 501
    NotImplemented naming it (the foundation's rule for what later issues build)."""
    from paycrypt.service import registry
    from paycrypt.service.issuer import card_validation

    monkeypatch.delitem(registry.CONTROL, "GetAlias")
    response = expect_error(control.get_alias, "NotImplemented", 501, AliasName="alias/x")
    assert "GetAlias" in response["Error"]["Message"]
    monkeypatch.delitem(card_validation.GENERATE, "CardVerificationValue2")
    response = expect_error(
        data.generate_card_validation_data,
        "NotImplemented",
        501,
        KeyIdentifier=cvk,
        PrimaryAccountNumber="4111111111111111",
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "0123"}},
    )
    assert "CardVerificationValue2" in response["Error"]["Message"]


def test_error_body_shape_control_plane(server, cvk) -> None:
    status, headers, response = rawhttp.control(
        server.endpoint, "GetKey", {"KeyIdentifier": absent_key_arn(cvk)}
    )
    assert status == 400
    assert response == {
        "__type": "ResourceNotFoundException",
        "message": response["message"],
        "ResourceId": absent_key_arn(cvk),
    }
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"


def test_lone_surrogates_are_refused_and_nothing_changes(server, control, cvk) -> None:
    """JSON may carry lone UTF-16 surrogates; no store, log or audit line can hold them."""
    control.tag_resource(ResourceArn=cvk, Tags=[{"Key": "owner", "Value": "ops"}])
    before = db_snapshot(server.data_dir)
    expect_error(
        control.untag_resource, "ValidationException", 400, ResourceArn=cvk, TagKeys=["owner", "\ud800"]
    )
    expect_error(
        control.tag_resource,
        "ValidationException",
        400,
        ResourceArn=cvk,
        Tags=[{"Key": "k", "Value": "\ud800"}],
    )
    assert db_snapshot(server.data_dir) == before


@pytest.mark.parametrize(
    ("operation", "position"),
    [
        ("ListKeys", {}),
        ("ListKeys", -1),
        ("ListAliases", [1]),
        ("ListAliases", 2**70),
        ("ListTagsForResource", "abc"),
    ],
)
def test_forged_next_tokens_are_validation_errors(server, control, cvk, operation, position) -> None:
    import base64

    token = base64.urlsafe_b64encode(json.dumps({"k": operation, "p": position}).encode()).decode()
    call = {"ListKeys": control.list_keys, "ListAliases": control.list_aliases}.get(operation)
    if call is None:
        expect_error(
            control.list_tags_for_resource, "ValidationException", 400, ResourceArn=cvk, NextToken=token
        )
    else:
        expect_error(call, "ValidationException", 400, NextToken=token)


def test_deeply_nested_json_is_a_validation_error(server, unchanged) -> None:
    status, _, response = rawhttp.control(server.endpoint, "CreateKey", b"[" * 100_000)
    assert status == 400 and response["__type"] == "ValidationException"


def test_null_map_value_is_refused(server, control, cvk, unchanged) -> None:
    status, _, response = rawhttp.control(
        server.endpoint,
        "ExportKey",
        {
            "ExportKeyIdentifier": cvk,
            "KeyMaterial": {
                "Tr31KeyBlock": {
                    "WrappingKeyIdentifier": cvk,
                    "KeyBlockHeaders": {"OptionalBlocks": {"T1": None}},
                }
            },
        },
    )
    assert status == 400 and response["__type"] == "ValidationException"
    assert "OptionalBlocks.T1" in response["Message"]


def test_oversized_body_is_413_before_authentication(server, unchanged) -> None:
    body = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    status, _, raw = rawhttp.send(
        server.endpoint, "/", body, {"Content-Type": "application/x-amz-json-1.0"}, sign=False
    )
    assert status == 413
    assert json.loads(raw)["__type"] == "RequestEntityTooLargeException"

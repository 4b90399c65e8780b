"""Hostile input at the wire never becomes a 5xx (issue 13, item 1), through a real server.

Unknown members and explicit nulls are removed once, in the wire layer (DESIGN.md); a policy or
certificate the libraries cannot read is a ValidationException naming the member; JSON that is
not RFC 8259 JSON is a ValidationException; and anything else that escapes a service function
is the plane's InternalServerException, logged once without its message and audited.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization

from paycrypt.service import registry
from paycrypt.wire.protocols.rest_json import RestJson1
from tests import backend
from tests import kx_partner as kp
from tests.api import rawhttp
from tests.api.helpers import db_snapshot, expect_error
from tests.api.known_keys import import_partner_ca
from tests.api.test_audit_api import _by_request
from tests.conftest import CVK_ATTRIBUTES

AES_DATA_KEY = {
    "KeyAlgorithm": "AES_128",
    "KeyUsage": "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}
S0 = "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE"
JUNK = "junk-member-7f3a"


@pytest.fixture
def unchanged(server):
    before = db_snapshot(server.data_dir)
    yield
    assert db_snapshot(server.data_dir) == before


def _data(endpoint: str, path: str, body: bytes | dict) -> tuple[int, dict[str, str], dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, headers, answer = rawhttp.send(endpoint, path, raw, {"Content-Type": "application/json"})
    return status, headers, json.loads(answer) if answer else {}


def _encrypt_path(arn: str) -> str:
    return f"/keys/{quote(arn, safe='')}/encrypt"


# --- unknown members -----------------------------------------------------------------------------


def test_unknown_member_before_the_union_member_is_ignored_data_plane(server, control) -> None:
    """Was 501 NotImplemented "EncryptData with EncryptionAttributes.X": the service took the
    first key of the raw union. Now the answer is the one the union without X gets."""
    arn = control.create_key(Exportable=True, KeyAttributes=AES_DATA_KEY)["Key"]["KeyArn"]
    plain = {"PlainText": "00112233445566778899AABBCCDDEEFF"}
    status, _, clean = _data(
        server.endpoint, _encrypt_path(arn), {**plain, "EncryptionAttributes": {"Symmetric": {"Mode": "ECB"}}}
    )
    assert status == 200, clean
    status, _, junk = _data(
        server.endpoint,
        _encrypt_path(arn),
        {
            **plain,
            JUNK: 1,
            "EncryptionAttributes": {"X": 1, "Symmetric": {"Mode": "ECB", "Y": None, "Z": [1]}},
        },
    )
    assert status == 200, junk
    assert junk["CipherText"] == clean["CipherText"]


def test_unknown_member_before_the_union_member_is_ignored_control_plane(server, control) -> None:
    party = kp.ca("ECC_NIST_P256", "Unknown-member Root")
    status, _, answer = rawhttp.control(
        server.endpoint,
        "ImportKey",
        {
            "KeyMaterial": {
                "X": {"anything": True},
                "RootCertificatePublicKey": {
                    JUNK: "x",
                    "KeyAttributes": {
                        "KeyUsage": S0,
                        "KeyClass": "PUBLIC_KEY",
                        "KeyAlgorithm": "ECC_NIST_P256",
                        "KeyModesOfUse": {"Verify": True},
                    },
                    "PublicKeyCertificate": party.b64,
                },
            }
        },
    )
    assert status == 200, answer
    assert answer["Key"]["KeyAttributes"]["KeyClass"] == "PUBLIC_KEY"


def test_a_union_whose_only_member_is_unknown_has_no_member_set(server, control) -> None:
    arn = control.create_key(Exportable=True, KeyAttributes=AES_DATA_KEY)["Key"]["KeyArn"]
    before = db_snapshot(server.data_dir)
    for union in ({"X": 1}, {"X": 1, "Symmetric": None}, {}):
        status, _, answer = _data(
            server.endpoint, _encrypt_path(arn), {"PlainText": "00" * 16, "EncryptionAttributes": union}
        )
        assert status == 400 and answer["__type"] == "ValidationException", answer
        assert "EncryptionAttributes" in answer["message"]
    assert db_snapshot(server.data_dir) == before


def test_unknown_members_inside_stored_structures_are_not_stored(server, control) -> None:
    """Junk inside KeyAttributes (and inside its KeyModesOfUse, and a tag) was stored and echoed."""
    marker = "J" * 64 + "-stored-junk"
    status, _, created = rawhttp.control(
        server.endpoint,
        "CreateKey",
        {
            "KeyAttributes": {
                **CVK_ATTRIBUTES,
                "Colour": marker,
                "KeyModesOfUse": {"Generate": True, "Verify": True, "Extra": marker},
            },
            "Exportable": True,
            "Tags": [{"Key": "team", "Value": "ops", "Note": marker}],
            "Nested": {"deeper": [marker]},
        },
    )
    assert status == 200, created
    arn = created["Key"]["KeyArn"]
    assert marker not in json.dumps(created)
    key = control.get_key(KeyIdentifier=arn)["Key"]
    assert set(key["KeyAttributes"]) == {"KeyUsage", "KeyClass", "KeyAlgorithm", "KeyModesOfUse"}
    assert "Extra" not in key["KeyAttributes"]["KeyModesOfUse"]
    assert marker not in json.dumps(key, default=str)
    assert control.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    rows = [
        row
        for table in backend.tables(server.data_dir)
        for row in backend.rows(server.data_dir, f"SELECT * FROM {table}")
    ]
    assert any(arn in repr(row) for row in rows)
    assert not any(marker in repr(row) for row in rows)


# --- explicit nulls ------------------------------------------------------------------------------


def test_null_delete_key_in_days_takes_the_default(server, control) -> None:
    """Was 500 (a TypeError on timedelta(days=None)); now the default 7 days applies."""
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    status, _, answer = rawhttp.control(
        server.endpoint, "DeleteKey", {"KeyIdentifier": arn, "DeleteKeyInDays": None}
    )
    assert status == 200, answer
    key = control.get_key(KeyIdentifier=arn)["Key"]
    assert key["KeyState"] == "DELETE_PENDING"
    pending = key["DeletePendingTimestamp"] - dt.datetime.fromtimestamp(
        server.clock.now().timestamp(), dt.UTC
    )
    assert dt.timedelta(days=7) - dt.timedelta(minutes=1) < pending <= dt.timedelta(days=7)


def test_null_members_take_their_defaults(server, control) -> None:
    """`"Enabled": null` made a key whose Enabled was null; the default is true."""
    status, _, answer = rawhttp.control(
        server.endpoint,
        "CreateKey",
        {
            "KeyAttributes": {
                **CVK_ATTRIBUTES,
                "KeyModesOfUse": {"Generate": True, "Verify": True, "Sign": None},
            },
            "Exportable": True,
            "Enabled": None,
            "KeyCheckValueAlgorithm": None,
            "Tags": None,
        },
    )
    assert status == 200, answer
    key = control.get_key(KeyIdentifier=answer["Key"]["KeyArn"])["Key"]
    assert key["Enabled"] is True
    assert key["KeyCheckValueAlgorithm"] == "ANSI_X9_24"
    assert key["KeyAttributes"]["KeyModesOfUse"]["Sign"] is False


def test_null_required_member_is_a_validation_error(server, unchanged) -> None:
    status, _, answer = rawhttp.control(
        server.endpoint, "CreateKey", {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": None}
    )
    assert status == 400 and answer["__type"] == "ValidationException"
    assert "Exportable" in answer["Message"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"Tags": [{"Key": "a", "Value": "b"}, None]}, "Tags.2"),
        ({"Tags": [None]}, "Tags.1"),
    ],
)
def test_null_list_item_is_a_validation_error(server, unchanged, body, path) -> None:
    """Decision (docs/decisions/wire-protocol.md): a null inside a list is malformed, not dropped."""
    status, _, answer = rawhttp.control(
        server.endpoint, "CreateKey", {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": True, **body}
    )
    assert status == 400 and answer["__type"] == "ValidationException", answer
    assert f"'{path}'" in answer["Message"]


# --- JSON that is not RFC 8259 JSON --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"KeyAttributes": NaN, "Exportable": true}',
        b'{"MaxResults": Infinity}',
        b'{"MaxResults": -Infinity}',
        b'{"MaxResults": 1' + b"0" * 5000 + b"}",  # past Python's 4,300-digit int limit
        b'{"NextToken": "\xff\xfe"}',  # not UTF-8
        '{"MaxResults": 5}'.encode("utf-16"),  # UTF-16 with a BOM: json.loads(bytes) would take it
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
        b"null",
        b"true",
        b"12",
        b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_malformed_json_is_a_validation_error(server, unchanged, body) -> None:
    status, headers, answer = rawhttp.control(server.endpoint, "ListKeys", body)
    assert status == 400, answer
    assert answer["__type"] == "ValidationException" and headers["x-amzn-errortype"] == "ValidationException"
    status, _, answer = _data(server.endpoint, "/cardvalidationdata/verify", body)
    assert status == 400 and answer["__type"] == "ValidationException", answer


@pytest.mark.parametrize(
    "value",
    [True, False, 5.0, 5.5, 1e400, "5", [5], {"n": 5}, 10**4000, -(10**30)],
    ids=["true", "false", "float-5.0", "float-5.5", "1e400", "string", "list", "object", "huge", "negative"],
)
def test_integer_members_take_integers_only(server, value) -> None:
    """JSON true is an int in Python and 5.0 equals 5: both are refused where the model says integer."""
    body = json.dumps({"MaxResults": value}).encode() if value != 1e400 else b'{"MaxResults": 1e400}'
    status, _, answer = rawhttp.control(server.endpoint, "ListKeys", body)
    assert status == 400 and answer["__type"] == "ValidationException", answer
    assert "MaxResults" in answer["Message"]


@pytest.mark.parametrize("value", [1, 0, "true", None])
def test_boolean_members_take_booleans_only(server, unchanged, value) -> None:
    body = {"KeyAttributes": CVK_ATTRIBUTES, "Exportable": value}
    status, _, answer = rawhttp.control(server.endpoint, "CreateKey", body)
    assert status == 400 and answer["__type"] == "ValidationException", answer
    assert "Exportable" in answer["Message"]


# --- resource policies the JSON decoder cannot read ----------------------------------------------


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("9" * 5000, "number too long"),
        ("[" * 20_000, "nested too deeply"),
        ('{"Version": "2012-10-17", "Statement": NaN}', "NaN"),
        ('{"Statement": [{"Effect": "Allow"}]', "line 1"),
    ],
    ids=["5000-digit-number", "deep-nesting", "nan", "truncated"],
)
def test_put_resource_policy_that_is_not_json(server, control, cvk, policy, reason) -> None:
    """ "9" * 5000 gave 500: the decoder's ValueError for integers past 4,300 digits escaped."""
    before = db_snapshot(server.data_dir)
    response = expect_error(
        control.put_resource_policy, "ValidationException", 400, ResourceArn=cvk, Policy=policy
    )
    message = response["Error"]["Message"]
    assert "Policy" in message and "not valid JSON" in message and reason in message
    assert db_snapshot(server.data_dir) == before
    expect_error(control.get_resource_policy, "ResourceNotFoundException", 400, ResourceArn=cvk)


# --- certificates whose key the library cannot load ----------------------------------------------


def test_import_root_certificate_with_an_unsupported_key(server, control, unchanged) -> None:
    """Was 500: UnsupportedAlgorithm escaped certificate.public_key()."""
    response = expect_error(
        import_partner_ca,
        "ValidationException",
        400,
        control,
        "RootCertificatePublicKey",
        kp.unknown_curve_root(),
    )
    message = response["Error"]["Message"]
    assert "KeyMaterial.RootCertificatePublicKey.PublicKeyCertificate" in message
    assert "not supported" in message


def test_import_root_certificate_of_an_unknown_version(server, control, unchanged) -> None:
    """Was 500: cryptography's InvalidVersion (version v4 in a flipped byte) is no ValueError; the
    fuzz suite found it."""
    root = kp.ca("ECC_NIST_P256", "Version Four Root")
    der = root.certificate.public_bytes(serialization.Encoding.DER).replace(
        bytes.fromhex("A003020102"), bytes.fromhex("A003020103"), 1
    )
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    response = expect_error(
        control.import_key,
        "ValidationException",
        400,
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": S0,
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "ECC_NIST_P256",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": base64.b64encode(pem).decode(),
            }
        },
    )
    message = response["Error"]["Message"]
    assert "KeyMaterial.RootCertificatePublicKey.PublicKeyCertificate" in message
    assert "not a valid X509 version" in message


def test_export_to_a_certificate_with_an_unsupported_key(server, control) -> None:
    """ExportKey had the same unguarded public_key() call, reached once the chain verified."""
    rsa_root = kp.ca("RSA_2048", "Unknown Curve Issuer")
    root_arn = control.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": S0,
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": rsa_root.b64,
            }
        }
    )["Key"]["KeyArn"]
    kek = control.create_key(
        Exportable=True,
        KeyAttributes={
            "KeyAlgorithm": "TDES_2KEY",
            "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
        },
    )["Key"]["KeyArn"]
    before = db_snapshot(server.data_dir)
    response = expect_error(
        control.export_key,
        "ValidationException",
        400,
        ExportKeyIdentifier=kek,
        KeyMaterial={
            "KeyCryptogram": {
                "CertificateAuthorityPublicKeyIdentifier": root_arn,
                "WrappingKeyCertificate": kp.b64(kp.unknown_curve_leaf(rsa_root)),
            }
        },
    )
    message = response["Error"]["Message"]
    assert "KeyMaterial.KeyCryptogram.WrappingKeyCertificate" in message and "not supported" in message
    assert db_snapshot(server.data_dir) == before


# --- the general guard ---------------------------------------------------------------------------

FAULT_SECRET = "5413330089020011"  # a test PAN: the fault's message quotes it, the log must not


class _Fault(RuntimeError):
    pass


def _explode(svc, ctx, params):
    raise _Fault(f"failed on {FAULT_SECRET}")


@pytest.mark.parametrize("plane", ["control", "data"])
def test_anything_escaping_a_service_function_is_internal_server_exception(
    server, control, data, cvk, caplog, monkeypatch, plane
) -> None:
    if plane == "control":
        monkeypatch.setitem(registry.CONTROL, "GetKey", _explode)
        call, kwargs = control.get_key, {"KeyIdentifier": cvk}
    else:
        monkeypatch.setitem(registry.DATA, "VerifyCardValidationData", _explode)
        call = data.verify_card_validation_data
        kwargs = {
            "KeyIdentifier": cvk,
            "PrimaryAccountNumber": FAULT_SECRET,
            "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1229"}},
            "ValidationData": "123",
        }
    with caplog.at_level(logging.ERROR, logger="paycrypt"):
        response = expect_error(call, "InternalServerException", 500, **kwargs)
    request_id = response["ResponseMetadata"]["RequestId"]
    assert request_id and response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
    assert response["Error"]["Message"] == "The service encountered an internal error."
    records = [r for r in caplog.records if request_id in r.getMessage()]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    logged = records[0].getMessage() + (records[0].exc_text or "")
    assert "_explode" in logged and "_Fault" in logged  # the traceback, to find the fault
    assert FAULT_SECRET not in logged and "1229" not in logged  # no message, no request member
    [event] = _by_request(server, request_id)
    assert event["errorCode"] == "InternalServerException"
    assert event["errorMessage"] == "The service encountered an internal error."


def test_a_fault_before_any_operation_is_matched_is_internal_server_exception(
    server, caplog, monkeypatch
) -> None:
    """Routing is guarded too: uvicorn's own 500 (plain text, no request id) is never sent."""
    monkeypatch.setattr(RestJson1, "route", _explode_routing)
    with caplog.at_level(logging.ERROR, logger="paycrypt"):
        status, headers, answer = _data(server.endpoint, "/cardvalidationdata/verify", {})
    assert status == 500 and answer["__type"] == "InternalServerException"
    records = [r for r in caplog.records if headers["x-amzn-requestid"] in r.getMessage()]
    assert len(records) == 1 and FAULT_SECRET not in records[0].getMessage()


def _explode_routing(protocol: RestJson1, request: object):
    raise _Fault(f"routing {FAULT_SECRET}")


def _explode_audit(*args, **kwargs):
    raise _Fault(f"audit {FAULT_SECRET}")


def test_an_audit_fault_fails_nothing_and_logs_no_message(server, control, caplog, monkeypatch) -> None:
    from paycrypt.audit import events

    monkeypatch.setattr(events, "encode_event", _explode_audit)  # what the pipeline calls
    with caplog.at_level(logging.ERROR, logger="paycrypt"):
        response = control.list_keys()
    request_id = response["ResponseMetadata"]["RequestId"]
    [record] = [r for r in caplog.records if request_id in r.getMessage()]
    assert "was not recorded" in record.getMessage() and "_Fault" in record.getMessage()
    assert FAULT_SECRET not in record.getMessage() and record.exc_info is None

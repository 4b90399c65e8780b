"""SigV4 failures through the running server, on both planes, and botocore against the server's clock.

Each fault answers with AWS's error code and HTTP status (src/paycrypt/auth/sigv4.py lists them)
and leaves the store untouched. Requests are signed by botocore's own SigV4Auth
(tests/api/rawhttp.py), with exactly one thing wrong; the same request signed correctly is sent
first as a control, so a failure can only come from that one fault.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.auth
import botocore.exceptions
import pytest
from botocore.compat import get_current_datetime
from botocore.config import Config

from tests.api import rawhttp
from tests.api.helpers import db_snapshot, expect_error
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION

PAN = "4123456789012345"
SKEW = dt.timedelta(minutes=20)


@dataclass(frozen=True)
class Fault:
    code: str
    status: int
    message: str  # a fragment the error message must contain
    send: dict[str, Any] = field(default_factory=dict)  # overrides for rawhttp.send
    headers: dict[str, str] = field(default_factory=dict)
    skew: dt.timedelta = dt.timedelta(0)  # how far the signer's clock is off


FAULTS = {
    "no-authorization": Fault(
        "MissingAuthenticationTokenException", 403, "Missing Authentication Token", {"sign": False}
    ),
    "malformed-authorization": Fault(
        "IncompleteSignatureException",
        400,
        "requires 'Credential' parameter",
        {"sign": False},
        {"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20250101T000000Z"},
    ),
    "unknown-access-key": Fault(
        "UnrecognizedClientException", 403, "security token", {"access_key": "AKIAUNKNOWNKEY000000"}
    ),
    "wrong-secret": Fault(
        "InvalidSignatureException", 403, "signature we calculated does not match", {"secret": "not-test"}
    ),
    "date-20-minutes-past": Fault("InvalidSignatureException", 400, "Signature expired", skew=-SKEW),
    "date-20-minutes-ahead": Fault("InvalidSignatureException", 400, "Signature not yet current", skew=SKEW),
    "wrong-service-in-scope": Fault(
        "InvalidSignatureException", 403, "scoped to correct service", {"service": "kms"}
    ),
}


def skewed_clock(monkeypatch: pytest.MonkeyPatch, skew: dt.timedelta) -> None:
    """botocore.auth signs with the time from botocore.compat.get_current_datetime, imported by name."""
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: get_current_datetime() + skew
    )


@dataclass(frozen=True)
class Plane:
    path: str
    headers: dict[str, str]
    body: Callable[[str, str], dict[str, Any]]  # (cvk arn, valid CVV2) -> request body


PLANES = {
    "control-CreateKey": Plane(
        "/",
        {"X-Amz-Target": "PaymentCryptographyControlPlane.CreateKey", "Content-Type": rawhttp.JSON_10},
        lambda arn, value: {"Exportable": True, "KeyAttributes": CVK_ATTRIBUTES},
    ),
    "data-VerifyCardValidationData": Plane(
        "/cardvalidationdata/verify",
        {"Content-Type": "application/json"},
        lambda arn, value: {
            "KeyIdentifier": arn,
            "PrimaryAccountNumber": PAN,
            "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}},
            "ValidationData": value,
        },
    ),
}


def _error_code(headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """The code from both places botocore looks (x-amzn-errortype, then __type), which must agree."""
    parsed = json.loads(body)
    code = headers["x-amzn-errortype"].split(":", 1)[0]
    assert parsed["__type"].rsplit("#", 1)[-1] == code, (headers, parsed)
    return code, parsed.get("Message") or parsed.get("message", "")


@pytest.mark.parametrize("plane_name", PLANES)
@pytest.mark.parametrize("fault_name", FAULTS)
def test_sigv4_failure_is_refused_and_changes_nothing(
    server, data, cvk, monkeypatch: pytest.MonkeyPatch, plane_name: str, fault_name: str
) -> None:
    plane, fault = PLANES[plane_name], FAULTS[fault_name]
    value = data.generate_card_validation_data(
        KeyIdentifier=cvk,
        PrimaryAccountNumber=PAN,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    )["ValidationData"]
    body = json.dumps(plane.body(cvk, value)).encode()
    verify_only = plane_name.startswith("data")
    if verify_only:  # a read-only call: the correctly signed control changes nothing either
        status, _, _ = rawhttp.send(server.endpoint, plane.path, body, plane.headers)
        assert status == 200

    before = db_snapshot(server.data_dir)
    skewed_clock(monkeypatch, fault.skew)
    status, headers, raw = rawhttp.send(
        server.endpoint, plane.path, body, {**plane.headers, **fault.headers}, **fault.send
    )
    monkeypatch.undo()
    code, message = _error_code(headers, raw)
    assert (code, status) == (fault.code, fault.status), message
    assert fault.message in message
    assert db_snapshot(server.data_dir) == before

    if not verify_only:  # the control: the very same request, signed correctly, is accepted
        status, _, _ = rawhttp.send(server.endpoint, plane.path, body, plane.headers)
        assert status == 200
        assert db_snapshot(server.data_dir) != before


def test_a_non_sigv4_authorization_counts_as_missing(server) -> None:
    before = db_snapshot(server.data_dir)
    status, _, response = rawhttp.control(
        server.endpoint,
        "CreateKey",
        {"Exportable": True, "KeyAttributes": CVK_ATTRIBUTES},
        sign=False,
        headers={"Authorization": "Bearer abc"},
    )
    assert (response["__type"], status) == ("MissingAuthenticationTokenException", 403)
    assert db_snapshot(server.data_dir) == before


# --- botocore with a skewed clock ---------------------------------------------------------------


class RequestLog(logging.Handler):
    """The server's per-request log lines (src/paycrypt/wire/app.py), by operation name."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.operations: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("%s %s %s %d"):
            self.operations.append((record.args[1], record.args[3]))


@pytest.fixture
def request_log() -> Iterator[RequestLog]:
    logger = logging.getLogger("paycrypt")
    handler, level = RequestLog(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def _standard_retry_client(server, service: str = "payment-cryptography") -> object:
    config = Config(retries={"max_attempts": 3, "mode": "standard"})
    return server.session().client(service, endpoint_url=server.endpoint, config=config)


def test_botocore_does_not_correct_a_skewed_clock(
    server, monkeypatch: pytest.MonkeyPatch, request_log: RequestLog
) -> None:
    """botocore 1.44 has no clock-skew correction (boto/boto3#1252, open): the server answers as AWS does.

    The rejection carries what a correcting SDK (JavaScript v3, Go v2, .NET) needs: an HTTP Date
    header with the server's time, and the server's time in the message.
    """
    control = _standard_retry_client(server)
    skewed_clock(monkeypatch, -SKEW)
    response = expect_error(control.list_keys, "InvalidSignatureException", 400)
    assert response["Error"]["Message"].startswith("Signature expired: ")
    assert request_log.operations == [("ListKeys", 400)]  # rejected once, and not retried
    server_time = email.utils.parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])
    assert abs(server_time - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
    assert f"({server_time:%Y%m%d}T" in response["Error"]["Message"]


def test_a_client_that_corrects_its_offset_from_the_date_header_succeeds(
    server, monkeypatch: pytest.MonkeyPatch, request_log: RequestLog
) -> None:
    """What the skew-correcting SDKs do, done by hand on top of botocore: offset = Date - local time."""
    control = _standard_retry_client(server)
    offset = -SKEW
    skewed_clock(monkeypatch, offset)
    response = expect_error(control.list_keys, "InvalidSignatureException", 400)
    server_time = email.utils.parsedate_to_datetime(response["ResponseMetadata"]["HTTPHeaders"]["date"])
    local_time = get_current_datetime() + offset
    offset += server_time.replace(tzinfo=None) - local_time
    skewed_clock(monkeypatch, offset)
    assert "Keys" in control.list_keys()
    assert request_log.operations == [("ListKeys", 400), ("ListKeys", 200)]


def test_sts_get_caller_identity_names_the_development_user(server) -> None:
    # The development pair is the account's root user (docs/decisions/identity-and-access.md), whose
    # GetCallerIdentity on AWS shows the :root ARN and the account id as its user id.
    sts = server.client("sts")
    identity = sts.get_caller_identity()
    assert identity["Account"] == "111122223333"
    assert identity["Arn"] == "arn:aws:iam::111122223333:root"
    assert identity["UserId"] == "111122223333"


STS_FAULTS = {
    "unknown-access-key": ("AKIAUNKNOWNKEY000000", "test", "InvalidClientTokenId"),
    "wrong-secret": ("test", "not-test", "SignatureDoesNotMatch"),
}


def _sts_error(server, access_key: str, secret: str) -> dict:
    session = aws_session(access_key, secret, REGION)
    sts = session.client("sts", endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.get_caller_identity()
    return info.value.response


@pytest.mark.parametrize("fault", STS_FAULTS)
def test_sts_refuses_bad_credentials(server, fault: str) -> None:
    access_key, secret, _ = STS_FAULTS[fault]
    response = _sts_error(server, access_key, secret)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Type"] == "Sender"


@pytest.mark.parametrize("fault", STS_FAULTS)
def test_sts_auth_errors_use_sts_codes(server, fault: str) -> None:
    """Codes as AWS STS returns them for GetCallerIdentity (seen in botocore debug logs of real STS
    responses, e.g. aws-azure-login/aws-azure-login#251 for InvalidClientTokenId)."""
    access_key, secret, code = STS_FAULTS[fault]
    assert _sts_error(server, access_key, secret)["Error"]["Code"] == code


def test_sts_answers_invalid_action_for_an_action_it_does_not_serve(server) -> None:
    """paycrypt's STS serves GetCallerIdentity only: another action, modelled (AssumeRole) or not,
    is unknown to it, 400 InvalidAction in STS's XML error form (wire/protocols/aws_query.py)."""
    sts = server.client("sts")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/Admin", RoleSessionName="s")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert (response["Error"]["Code"], response["Error"]["Type"]) == ("InvalidAction", "Sender")
    assert (
        response["Error"]["Message"]
        == "STS action AssumeRole is not available in paycrypt; only GetCallerIdentity is."
    )
    status, headers, body = rawhttp.send(
        server.endpoint,
        "/",
        b"Action=Nothing&Version=2011-06-15",
        {"Content-Type": "application/x-www-form-urlencoded"},
        service="sts",
    )
    assert status == 400 and headers["content-type"] == "text/xml"
    assert b"<Code>InvalidAction</Code>" in body and b"STS action Nothing is not available" in body

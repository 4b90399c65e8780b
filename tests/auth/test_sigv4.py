"""SigV4 request verification.

Sources:
- Published vectors: the AWS Signature Version 4 test suite (aws-sig-v4-test-suite, carried on in
  awslabs/aws-c-auth tests/aws-signing-test-suite/v4): get-vanilla, get-vanilla-query-order-key-case
  and post-vanilla, with AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, service
  "service", 20150830T123600Z; and the signing-key example of the AWS General Reference, "Examples
  of how to derive a signing key for Signature Version 4" (iam, 20120215 -> f4780e2d...).
- Independent oracle: botocore 1.44.8 itself. Requests are signed by botocore.auth.SigV4Auth /
  SigV4QueryAuth, or by a real boto3 client whose prepared request is captured at before-send,
  and verify() must accept exactly those. Canonical URI, query and header rules are also compared
  with botocore's own functions under hypothesis.
- Error codes and texts: AWS's JSON-protocol answers as recorded by the dynalite emulator
  (mhart/dynalite index.js comments); the brief's codes and statuses where it fixes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import given, settings
from hypothesis import strategies as st

from paycrypt.auth import sigv4
from paycrypt.auth.sigv4 import (
    ContentSha256Mismatch,
    Credential,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    SignatureExpired,
    SignedRequest,
    UnrecognizedClient,
    verify,
)

ALICE = Credential(
    access_key_id="AKIAPAYCRYPTALICE001",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    account_id="111122223333",
    arn="arn:aws:iam::111122223333:user/alice",
    user_id="AIDAALICEEXAMPLE0001",
)
SESSION = Credential(
    access_key_id="ASIAPAYCRYPTSESSION1",
    secret_access_key="temporarySecretKeyForTheSessionExample0",
    account_id="111122223333",
    arn="arn:aws:sts::111122223333:assumed-role/Ops/session",
    user_id="AROAOPSEXAMPLE:session",
    session_token="IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMQ==",
)
DIRECTORY = {c.access_key_id: c for c in (ALICE, SESSION)}
ENDPOINT = "http://localhost:8443"
ARN = "arn:aws:payment-cryptography:us-east-2:111122223333:key/kwapwa6qaifllw2h"


def lookup(access_key_id: str) -> Credential | None:
    return DIRECTORY.get(access_key_id)


def _from_prepared(prepared) -> SignedRequest:
    """What the server sees: raw path and query, lower-case headers, Host added as the HTTP client does."""
    parts = urlsplit(prepared.url)
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in prepared.headers.items()
    }
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    return SignedRequest(
        method=prepared.method,
        raw_path=parts.path,
        query_string=parts.query,
        headers=headers,
        body=body.encode() if isinstance(body, str) else body,
    )


def sign(
    method: str = "POST",
    url: str = ENDPOINT + "/",
    *,
    headers: dict[str, str] | None = None,
    data: bytes = b"{}",
    params: dict[str, str] | None = None,
    service: str = "payment-cryptography",
    region: str = "us-east-2",
    credential: Credential = ALICE,
    secret: str | None = None,
    context: dict | None = None,
) -> SignedRequest:
    if params:
        # As botocore's serializers do (botocore.awsrequest.prepare_request_dict): encode the query
        # into the URL with percent_encode_sequence; AWSRequest.params would use '+' for spaces.
        url += ("&" if "?" in url else "?") + percent_encode_sequence(params)
    request = AWSRequest(method=method, url=url, headers=headers or {}, data=data)
    request.context.update(context or {})
    creds = Credentials(
        credential.access_key_id, secret or credential.secret_access_key, credential.session_token
    )
    SigV4Auth(creds, service, region).add_auth(request)
    return _from_prepared(request.prepare())


def control_plane_request(**kwargs) -> SignedRequest:
    return sign(
        headers={
            "X-Amz-Target": "PaymentCryptographyControlPlane.ListKeys",
            "Content-Type": "application/x-amz-json-1.0",
        },
        data=b'{"MaxResults": 10}',
        **kwargs,
    )


def signed_at(req: SignedRequest) -> datetime:
    return datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def at_signing(req: SignedRequest) -> datetime:
    return signed_at(req)


def with_headers(req: SignedRequest, **changes: str | None) -> SignedRequest:
    headers = dict(req.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return dataclasses.replace(req, headers=headers)


def with_authorization(req: SignedRequest, old: str, new: str) -> SignedRequest:
    authorization = req.headers["authorization"]
    assert old in authorization
    return with_headers(req, authorization=authorization.replace(old, new))


def rejects(req: SignedRequest, error: type[sigv4.AuthError], now: datetime | None = None, **kwargs):
    with pytest.raises(error) as caught:
        verify(req, lookup, now or at_signing(req), **kwargs)
    return caught.value


# --- captured from real boto3 clients --------------------------------------------------------


class _Captured(Exception):
    def __init__(self, request) -> None:
        super().__init__("captured")
        self.request = request


def _capture(service_name: str, operation: str, **params) -> SignedRequest:
    client = boto3.client(
        service_name,
        region_name="us-east-2",
        endpoint_url=ENDPOINT,
        aws_access_key_id=ALICE.access_key_id,
        aws_secret_access_key=ALICE.secret_access_key,
    )

    def stop(request, **_):
        raise _Captured(request)

    client.meta.events.register("before-send", stop)
    with pytest.raises(_Captured) as captured:
        getattr(client, operation)(**params)
    return _from_prepared(captured.value.request)


def test_boto3_control_plane_request_is_accepted() -> None:
    req = _capture("payment-cryptography", "list_keys", MaxResults=5)
    assert req.headers["x-amz-target"] == "PaymentCryptographyControlPlane.ListKeys"
    caller = verify(req, lookup, at_signing(req))
    assert (caller.credential, caller.region, caller.service) == (ALICE, "us-east-2", "payment-cryptography")


@pytest.mark.parametrize("identifier", ["alias/my-key", ARN])
def test_boto3_data_plane_request_with_encoded_label_is_accepted(identifier: str) -> None:
    req = _capture(
        "payment-cryptography-data",
        "encrypt_data",
        KeyIdentifier=identifier,
        PlainText="31323334",
        EncryptionAttributes={"Symmetric": {"Mode": "CBC"}},
    )
    assert req.raw_path == f"/keys/{quote(identifier, safe='')}/encrypt"
    assert "%2F" in req.raw_path
    assert verify(req, lookup, at_signing(req)).service == "payment-cryptography"


def test_boto3_sts_query_protocol_form_body_is_accepted_for_sts() -> None:
    req = _capture("sts", "get_caller_identity")
    assert req.body == b"Action=GetCallerIdentity&Version=2011-06-15"
    assert verify(req, lookup, at_signing(req), allowed_services=frozenset({"sts"})).service == "sts"
    error = rejects(req, InvalidSignature)
    assert error.message == "Credential should be scoped to correct service: 'payment-cryptography'."


# --- signed directly with botocore's SigV4Auth -------------------------------------------------


def test_control_plane_json_post_is_accepted() -> None:
    req = control_plane_request()
    assert verify(req, lookup, at_signing(req)).credential is ALICE


def test_get_with_query_parameters_is_accepted() -> None:
    req = sign("GET", ENDPOINT + "/things", params={"b": "two words", "a": "x/y+z", "A": "é~"}, data=b"")
    assert req.query_string
    assert verify(req, lookup, at_signing(req)).region == "us-east-2"


def test_get_with_query_in_url_and_repeated_names_is_accepted() -> None:
    req = sign("GET", ENDPOINT + "/things/?b=2&a=2&a=1&empty=&flag", data=b"")
    assert verify(req, lookup, at_signing(req)).region == "us-east-2"


def test_path_with_dot_segments_and_double_slashes_is_accepted() -> None:
    req = sign(url=ENDPOINT + "/keys/./x//alias%2Fk/../alias%2Fmy-key/encrypt")
    assert verify(req, lookup, at_signing(req)).credential is ALICE


def test_date_header_instead_of_x_amz_date_is_accepted() -> None:
    req = sign(headers={"Date": "Thu, 01 Jan 1970 00:00:00 GMT"})
    assert "x-amz-date" not in req.headers
    assert req.headers["date"].endswith(" -0000")  # botocore's email.utils.formatdate form
    now = parsedate_to_datetime(req.headers["date"]).replace(tzinfo=UTC)
    assert verify(req, lookup, now).credential is ALICE


def test_session_credentials_need_their_token() -> None:
    req = control_plane_request(credential=SESSION)
    assert req.headers["x-amz-security-token"] == SESSION.session_token
    assert verify(req, lookup, at_signing(req)).credential is SESSION
    other = dataclasses.replace(SESSION, session_token="another-token")
    with pytest.raises(UnrecognizedClient):
        verify(req, lambda _: other, at_signing(req))


def test_token_sent_with_a_long_term_key_is_refused() -> None:
    stolen = dataclasses.replace(
        SESSION, access_key_id=ALICE.access_key_id, secret_access_key=ALICE.secret_access_key
    )
    req = control_plane_request(credential=stolen)
    error = rejects(req, UnrecognizedClient)
    assert (error.code, error.status) == ("UnrecognizedClientException", 403)
    assert error.message == "The security token included in the request is invalid."


def test_naive_now_is_taken_as_utc() -> None:
    req = control_plane_request()
    assert verify(req, lookup, at_signing(req).replace(tzinfo=None)).credential is ALICE


# --- failures -----------------------------------------------------------------------------------


def test_no_authorization_is_missing_token() -> None:
    req = with_headers(control_plane_request(), authorization=None)
    error = rejects(req, MissingAuthenticationToken)
    assert (error.code, error.status, error.message) == (
        "MissingAuthenticationTokenException",
        403,
        "Missing Authentication Token",
    )


@pytest.mark.parametrize("value", ["", "Bearer abc.def", "AWS AKIAPAYCRYPTALICE001:c2lnbmF0dXJl"])
def test_non_sigv4_authorization_is_missing_token(value: str) -> None:
    rejects(with_headers(control_plane_request(), authorization=value), MissingAuthenticationToken)


def test_unsupported_algorithm_is_incomplete() -> None:
    req = with_authorization(control_plane_request(), "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 ")
    error = rejects(req, IncompleteSignature)
    assert (error.code, error.status) == ("IncompleteSignatureException", 400)
    assert error.message == "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now)."


@pytest.mark.parametrize("field", ["Credential", "SignedHeaders", "Signature"])
def test_missing_authorization_field_is_incomplete(field: str) -> None:
    req = control_plane_request()
    authorization = req.headers["authorization"].replace(f"{field}=", f"X{field}=")
    error = rejects(with_headers(req, authorization=authorization), IncompleteSignature)
    assert error.message == f"Authorization header requires '{field}' parameter."


def test_missing_date_is_incomplete_and_names_both_headers() -> None:
    req = control_plane_request()
    error = rejects(with_headers(req, x_amz_date=None), IncompleteSignature, now=at_signing(req))
    assert error.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def test_all_missing_parts_are_named_together() -> None:
    req = with_headers(control_plane_request(), authorization="AWS4-HMAC-SHA256", x_amz_date=None)
    error = rejects(req, IncompleteSignature, now=datetime.now(UTC))
    for part in ("'Credential'", "'Signature'", "'SignedHeaders'", "'X-Amz-Date'"):
        assert part in error.message


def test_malformed_date_is_incomplete() -> None:
    req = control_plane_request()
    error = rejects(
        with_headers(req, x_amz_date="2023-01-01T00:00:00Z"), IncompleteSignature, now=at_signing(req)
    )
    assert error.message.startswith("Date must be in ISO-8601 'basic format'. Got '2023-01-01T00:00:00Z'.")


@pytest.mark.parametrize("credential", ["AKIAPAYCRYPTALICE001/20230101/us-east-2/aws4_request", "AKIA"])
def test_credential_with_wrong_number_of_parts_is_incomplete(credential: str) -> None:
    req = control_plane_request()
    scope = req.headers["authorization"].split("Credential=")[1].split(",")[0]
    error = rejects(with_authorization(req, scope, credential), IncompleteSignature)
    assert error.message.startswith("Credential must have exactly 5 slash-delimited elements")


def test_host_not_signed_is_rejected() -> None:
    req = control_plane_request()
    error = rejects(with_authorization(req, "host;", ""), InvalidSignature)
    assert error.status == 403
    assert error.message == "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."


def test_wrong_service_in_scope() -> None:
    error = rejects(control_plane_request(service="kms"), InvalidSignature)
    assert (error.code, error.status) == ("InvalidSignatureException", 403)
    assert error.message == "Credential should be scoped to correct service: 'payment-cryptography'."


def test_invalid_region_in_scope() -> None:
    error = rejects(control_plane_request(region="US_EAST"), InvalidSignature)
    assert error.message == "Credential should be scoped to a valid region, not 'US_EAST'."


def test_wrong_terminator_in_scope() -> None:
    error = rejects(
        with_authorization(control_plane_request(), "/aws4_request", "/aws5_request"), InvalidSignature
    )
    assert (
        error.message
        == "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    )


def test_scope_date_other_than_request_date() -> None:
    req = control_plane_request()
    today = req.headers["x-amz-date"][:8]
    error = rejects(with_authorization(req, f"/{today}/", "/20000101/"), InvalidSignature)
    assert error.status == 403
    assert error.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'20000101' != '{today}', from '{req.headers['x-amz-date']}'."
    )


def test_unknown_access_key() -> None:
    req = control_plane_request(credential=dataclasses.replace(ALICE, access_key_id="AKIAUNKNOWNKEY000000"))
    error = rejects(req, UnrecognizedClient)
    assert (error.code, error.status, error.message) == (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )


@pytest.mark.parametrize("skew", [timedelta(minutes=14, seconds=59), -timedelta(minutes=14, seconds=59)])
def test_clock_within_fifteen_minutes_is_accepted(skew: timedelta) -> None:
    req = control_plane_request()
    assert verify(req, lookup, at_signing(req) + skew).credential is ALICE


def test_clock_fifteen_minutes_one_second_late_is_expired() -> None:
    req = control_plane_request()
    now = at_signing(req) + timedelta(minutes=15, seconds=1)
    error = rejects(req, SignatureExpired, now=now)
    fmt = "%Y%m%dT%H%M%SZ"
    assert (error.code, error.status) == ("InvalidSignatureException", 400)
    assert error.message == (
        f"Signature expired: {req.headers['x-amz-date']} is now earlier than "
        f"{(now - timedelta(minutes=15)).strftime(fmt)} ({now.strftime(fmt)} - 15 min.)"
    )


def test_clock_fifteen_minutes_one_second_early_is_not_yet_current() -> None:
    req = control_plane_request()
    now = at_signing(req) - timedelta(minutes=15, seconds=1)
    error = rejects(req, SignatureExpired, now=now)
    fmt = "%Y%m%dT%H%M%SZ"
    assert (error.code, error.status) == ("InvalidSignatureException", 400)
    assert error.message == (
        f"Signature not yet current: {req.headers['x-amz-date']} is still later than "
        f"{(now + timedelta(minutes=15)).strftime(fmt)} ({now.strftime(fmt)} + 15 min.)"
    )


def test_signature_expired_message_uses_the_aws_form() -> None:
    """The brief's example: signed 00:00:00, server at 00:25:00."""
    req = with_headers(control_plane_request(), x_amz_date="20230101T000000Z")
    req = with_authorization(req, req.headers["authorization"].split("/")[1], "20230101")
    error = rejects(req, SignatureExpired, now=datetime(2023, 1, 1, 0, 25, tzinfo=UTC))
    assert error.message == (
        "Signature expired: 20230101T000000Z is now earlier than 20230101T001000Z "
        "(20230101T002500Z - 15 min.)"
    )


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


def _assert_mismatch(req: SignedRequest) -> None:
    error = rejects(req, InvalidSignature)
    assert (error.code, error.status, error.message) == ("InvalidSignatureException", 403, SIGNATURE_MISMATCH)


def test_tampered_body_fails() -> None:
    req = control_plane_request()
    _assert_mismatch(dataclasses.replace(req, body=b'{"MaxResults": 11}'))


def test_tampered_signed_header_fails() -> None:
    req = control_plane_request()
    _assert_mismatch(with_headers(req, x_amz_target="PaymentCryptographyControlPlane.DeleteKey"))


def test_tampered_path_method_and_query_fail() -> None:
    req = sign(url=ENDPOINT + "/keys/alias%2Fmy-key/encrypt?x=1")
    _assert_mismatch(dataclasses.replace(req, raw_path="/keys/alias%2Fother/encrypt"))
    _assert_mismatch(dataclasses.replace(req, raw_path="/keys/alias/my-key/encrypt"))
    _assert_mismatch(dataclasses.replace(req, method="PUT"))
    _assert_mismatch(dataclasses.replace(req, query_string="x=2"))


def test_unsigned_extra_header_is_fine() -> None:
    req = with_headers(control_plane_request(), user_agent="something/else", x_forwarded_for="10.0.0.1")
    assert verify(req, lookup, at_signing(req)).credential is ALICE


def test_header_whitespace_is_canonicalised() -> None:
    req = control_plane_request()
    spaced = with_headers(req, x_amz_target="  PaymentCryptographyControlPlane.ListKeys  ")
    assert verify(spaced, lookup, at_signing(req)).credential is ALICE


def test_what_verify_remembers_never_lets_a_refused_request_through() -> None:
    """The scope, signed-header list and timestamp of an accepted request are cached: a request
    that differs in any of them, or only in its signature, is still refused after it."""
    req = control_plane_request()
    assert verify(req, lookup, at_signing(req)).credential is ALICE
    assert verify(req, lookup, at_signing(req)).credential is ALICE  # the cached path accepts too
    _assert_mismatch(with_authorization(req, "Signature=", "Signature=0"))
    rejects(req, InvalidSignature, allowed_services=frozenset({"kms"}))  # same scope, other service
    today = req.headers["x-amz-date"][:8]
    rejects(with_authorization(req, f"/{today}/", "/20000101/"), InvalidSignature)
    rejects(with_authorization(req, "host;", ""), InvalidSignature)  # host no longer signed
    rejects(req, SignatureExpired, at_signing(req) + timedelta(minutes=16))


def test_wrong_secret_fails() -> None:
    _assert_mismatch(control_plane_request(secret="not-the-secret-key-of-alice-at-all0000"))


def test_signature_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    req = control_plane_request()
    verify(req, lookup, at_signing(req))
    given_signature = req.headers["authorization"].rsplit("Signature=", 1)[1].encode()
    assert calls == [(given_signature, given_signature)]


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    req = control_plane_request()
    signature = req.headers["authorization"].rsplit("Signature=", 1)[1]
    _assert_mismatch(with_authorization(req, signature, "é" * 64))


# --- x-amz-content-sha256 ----------------------------------------------------------------------


def test_matching_content_sha256_is_accepted_and_mismatch_rejected() -> None:
    body = b'{"MaxResults": 10}'
    req = sign(data=body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    assert verify(req, lookup, at_signing(req)).credential is ALICE
    error = rejects(dataclasses.replace(req, body=b'{"MaxResults": 99}'), ContentSha256Mismatch)
    assert (error.code, error.status) == ("InvalidSignatureException", 400)
    assert error.message == "The provided 'x-amz-content-sha256' header does not match what was computed."


def test_content_sha256_that_lies_about_the_body_is_rejected() -> None:
    req = sign(data=b"{}", headers={"X-Amz-Content-SHA256": "0" * 64})
    rejects(req, ContentSha256Mismatch)


def test_unsigned_payload_is_accepted_as_botocore_sends_it() -> None:
    req = sign(url="https://localhost:8443/", context={"payload_signing_enabled": False})
    assert req.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert verify(req, lookup, at_signing(req)).credential is ALICE
    assert verify(dataclasses.replace(req, body=b"[]"), lookup, at_signing(req)).credential is ALICE


# --- presigned URLs -----------------------------------------------------------------------------


def presign(
    url: str = ENDPOINT + "/keys", expires: int = 300, credential: Credential = ALICE
) -> SignedRequest:
    request = AWSRequest(method="GET", url=url + "?" + percent_encode_sequence({"Limit": "5", "q": "a b/c"}))
    creds = Credentials(credential.access_key_id, credential.secret_access_key, credential.session_token)
    SigV4QueryAuth(creds, "payment-cryptography", "eu-west-1", expires=expires).add_auth(request)
    return _from_prepared(request.prepare())


def presigned_at(req: SignedRequest) -> datetime:
    amz_date = next(
        v for k, _, v in (p.partition("=") for p in req.query_string.split("&")) if k == "X-Amz-Date"
    )
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_presigned_url_is_accepted() -> None:
    req = presign()
    assert "authorization" not in req.headers
    caller = verify(req, lookup, presigned_at(req) + timedelta(seconds=299))
    assert (caller.credential, caller.region) == (ALICE, "eu-west-1")


def test_presigned_url_with_session_token_is_accepted() -> None:
    req = presign(credential=SESSION)
    assert "X-Amz-Security-Token=" in req.query_string
    assert verify(req, lookup, presigned_at(req)).credential is SESSION


def test_presigned_url_after_its_expiry_is_rejected() -> None:
    req = presign(expires=60)
    error = rejects(req, InvalidSignature, now=presigned_at(req) + timedelta(seconds=61))
    assert error.status == 403
    assert error.message.startswith("Request has expired")


def test_presigned_url_still_obeys_the_fifteen_minute_window() -> None:
    req = presign(expires=3600)
    rejects(req, SignatureExpired, now=presigned_at(req) + timedelta(minutes=16))


def test_presigned_url_with_tampered_parameter_fails() -> None:
    req = presign()
    _assert_mismatch_at(dataclasses.replace(req, query_string=req.query_string.replace("Limit=5", "Limit=6")))


def _assert_mismatch_at(req: SignedRequest) -> None:
    with pytest.raises(InvalidSignature) as caught:
        verify(req, lookup, presigned_at(req))
    assert caught.value.message == SIGNATURE_MISMATCH


def test_presigned_url_missing_parameters_is_incomplete() -> None:
    req = presign()
    query = "&".join(
        p for p in req.query_string.split("&") if not p.startswith(("X-Amz-Signature=", "X-Amz-Date="))
    )
    error = rejects(dataclasses.replace(req, query_string=query), IncompleteSignature, now=datetime.now(UTC))
    assert error.message == (
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
    )


def test_presigned_url_with_too_long_expiry_is_incomplete() -> None:
    req = presign(expires=604_801)
    rejects(req, IncompleteSignature, now=presigned_at(req))


def test_both_header_and_query_authentication_is_rejected() -> None:
    req = presign()
    header = control_plane_request().headers["authorization"]
    error = rejects(with_headers(req, authorization=header), InvalidSignature, now=presigned_at(req))
    assert "Found both 'X-Amz-Algorithm'" in error.message


# --- published vectors ---------------------------------------------------------------------------

SUITE = Credential(
    access_key_id="AKIDEXAMPLE",
    secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    account_id="111122223333",
    arn="arn:aws:iam::111122223333:user/example",
    user_id="AIDAEXAMPLE",
)
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "query", "signature"),
    [
        # get-vanilla
        ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        # get-vanilla-query-order-key-case
        (
            "GET",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        # post-vanilla
        ("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ],
)
def test_aws_sigv4_test_suite(method: str, query: str, signature: str) -> None:
    """AWS SigV4 test suite vectors, verified with service "service" allowed."""
    req = SignedRequest(
        method=method,
        raw_path="/",
        query_string=query,
        headers={
            "host": "example.amazonaws.com",
            "x-amz-date": "20150830T123600Z",
            "authorization": "AWS4-HMAC-SHA256 "
            "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={signature}",
        },
        body=b"",
    )
    caller = verify(req, {"AKIDEXAMPLE": SUITE}.get, SUITE_TIME, allowed_services=frozenset({"service"}))
    assert caller.credential is SUITE
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    with pytest.raises(InvalidSignature):
        verify(
            with_headers(req, authorization=req.headers["authorization"].replace(signature, flipped)),
            {"AKIDEXAMPLE": SUITE}.get,
            SUITE_TIME,
            allowed_services=frozenset({"service"}),
        )


def test_signing_key_matches_the_aws_general_reference_example() -> None:
    """AWS General Reference, deriving a SigV4 signing key: iam, us-east-1, 20120215."""
    key = sigv4.signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# --- botocore as oracle for the canonical forms ----------------------------------------------------

_SIGNER = SigV4Auth(Credentials("a", "b"), "payment-cryptography", "us-east-1")
_PATH_CHARS = "abcXYZ019-._~%:@!$&'()*+,;=é "
_segments = st.one_of(st.sampled_from(["", ".", ".."]), st.text(_PATH_CHARS, max_size=8))


@given(st.lists(_segments, max_size=8), st.booleans())
def test_canonical_uri_matches_botocore(segments: list[str], leading: bool) -> None:
    raw_path = ("/" if leading else "") + "/".join(segments)
    assert sigv4.canonical_uri(raw_path) == _SIGNER._normalize_url_path(raw_path)


@given(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=6))
def test_canonical_query_string_matches_botocore(pairs: list[tuple[str, str]]) -> None:
    assert sigv4.canonical_query_string(pairs) == _SIGNER._canonical_query_string_params(pairs)


@given(st.text(" \tab,c:", max_size=20))
def test_canonical_header_value_matches_botocore(value: str) -> None:
    assert sigv4.canonical_header_value(value) == _SIGNER._header_value(value)


def test_canonical_uri_double_encodes_labels() -> None:
    assert sigv4.canonical_uri("/keys/alias%2Fmy-key/encrypt") == "/keys/alias%252Fmy-key/encrypt"
    assert sigv4.canonical_uri("") == "/"


_label = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_header_name = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map(lambda s: "x-amz-meta-" + s)
_header_value = st.text("abc XYZ\t019,;:=/", max_size=16)


@settings(max_examples=60, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    labels=st.lists(_label, min_size=1, max_size=3),
    params=st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6), max_size=4),
    headers=st.dictionaries(_header_name, _header_value, max_size=3),
    body=st.binary(max_size=64),
)
def test_any_botocore_signed_request_is_accepted_and_any_body_change_rejected(
    method: str, labels: list[str], params: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    path = "/" + "/".join(percent_encode(label, safe="") for label in labels)
    req = sign(method, ENDPOINT + path, params=params, headers=headers, data=body)
    now = at_signing(req)
    assert verify(req, lookup, now).credential is ALICE
    with pytest.raises(InvalidSignature):
        verify(dataclasses.replace(req, body=body + b"!"), lookup, now)


# --- what SDKs do with the expired-signature error ---------------------------------------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_):
        yield self._body


def _answer_with(error: sigv4.AuthError, retry_mode: str) -> tuple[ClientError, int]:
    """Send a control-plane call to a stub answering as the server would (awsJson1_0 error form)."""
    client = boto3.client(
        "payment-cryptography",
        region_name="us-east-2",
        endpoint_url=ENDPOINT,
        aws_access_key_id=ALICE.access_key_id,
        aws_secret_access_key=ALICE.secret_access_key,
        config=Config(retries={"mode": retry_mode, "max_attempts": 5}),
    )
    attempts = 0

    def respond(request, **_):
        nonlocal attempts
        attempts += 1
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "x-amzn-ErrorType": error.code,
            "Date": "Sun, 01 Jan 2023 00:25:00 GMT",
        }
        return AWSResponse(request.url, error.status, headers, _Raw(body))

    client.meta.events.register("before-send", respond)
    with pytest.raises(ClientError) as caught:
        client.list_keys()
    return caught.value, attempts


@pytest.mark.parametrize("retry_mode", ["legacy", "standard", "adaptive"])
def test_botocore_reports_expired_signature_like_aws_and_does_not_retry(retry_mode: str) -> None:
    """botocore 1.44.8 has no clock-skew correction (boto/boto3#1252): it raises at once."""
    req = control_plane_request()
    with pytest.raises(SignatureExpired) as caught:
        verify(req, lookup, at_signing(req) + timedelta(minutes=20))
    error, attempts = _answer_with(caught.value, retry_mode)
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    assert error.response["Error"]["Message"] == caught.value.message
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert attempts == 1


def test_expired_signature_is_what_skew_correcting_sdks_look_for() -> None:
    """CLOCK_SKEW_ERROR_CODES of aws-sdk-js-v3 (packages/service-error-classification/src/constants.ts),
    the same set as aws-sdk-net's and aws-sdk-java's isClockSkewError; JS v3 also reads the server time
    from the first parenthesised YYYYMMDDTHHMMSSZ of the message when no Date header is present.
    """
    clock_skew_codes = {
        "AuthFailure",
        "InvalidSignatureException",
        "RequestExpired",
        "RequestInTheFuture",
        "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
    }
    req = control_plane_request()
    for skew, server_time_marker in (
        (timedelta(minutes=20), " - 15 min.)"),
        (-timedelta(minutes=20), " + 15 min.)"),
    ):
        now = at_signing(req) + skew
        with pytest.raises(SignatureExpired) as caught:
            verify(req, lookup, now)
        assert caught.value.code in clock_skew_codes
        assert f"({now.strftime('%Y%m%dT%H%M%SZ')}{server_time_marker}" in caught.value.message

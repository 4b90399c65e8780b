"""Hand-built, SigV4-signed HTTP requests, for inputs a well-behaved SDK never sends."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

JSON_10 = "application/x-amz-json-1.0"


def send(
    endpoint: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    sign: bool = True,
    access_key: str = "test",
    secret: str = "test",
    service: str = "payment-cryptography",
    region: str = "us-east-1",
    method: str = "POST",
) -> tuple[int, dict[str, str], bytes]:
    if sign:
        headers = signed_headers(endpoint, path, body, headers, access_key, secret, service, region, method)
    raw = urllib.request.Request(endpoint + path, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(raw, timeout=10) as response:
            return response.status, _lower(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, _lower(error.headers), error.read()


def signed_headers(
    endpoint: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    access_key: str = "test",
    secret: str = "test",
    service: str = "payment-cryptography",
    region: str = "us-east-1",
    method: str = "POST",
) -> dict[str, str]:
    """`headers` plus the ones botocore's SigV4Auth adds (X-Amz-Date, Authorization)."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=dict(headers))
    SigV4Auth(Credentials(access_key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def control(
    endpoint: str, operation: str, body: bytes | dict[str, Any], **kwargs: Any
) -> tuple[int, dict[str, str], dict]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Amz-Target": f"PaymentCryptographyControlPlane.{operation}", "Content-Type": JSON_10}
    headers.update(kwargs.pop("headers", {}))
    status, response_headers, raw = send(endpoint, "/", payload, headers, **kwargs)
    return status, response_headers, json.loads(raw) if raw else {}


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}

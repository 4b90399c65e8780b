"""Sending fuzz requests fast: SigV4-signed by botocore, over one persistent HTTP/1.1 connection.

boto3 would serialize (and refuse) what the fuzzer means to send, and costs milliseconds per
call, so a generated call is encoded here the way the two protocols put it on the wire, signed
with botocore's SigV4Auth (`tests.api.rawhttp.signed_headers`) and written with http.client. The
requests HTTP itself must not carry (truncated bodies, broken framing, bad header bytes) go out on
a socket of their own.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass, field

from botocore.utils import percent_encode

from paycrypt.wire import models
from paycrypt.wire.protocols import aws_json, rest_json
from tests.api.rawhttp import signed_headers
from tests.fuzz.strategies import Call, dumps

REGION = "us-east-1"
TIMEOUT = 60.0  # seconds: an RSA-4096 key generation takes up to about 2 s on this machine
RAW_TIMEOUT = 10.0


@dataclass
class HttpRequest:
    """A request as it goes out. `transport` is "http" (the persistent connection) or "raw" (a
    socket of its own, `wire` sent as is, then half-closed when `half_close`)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    transport: str = "http"
    wire: bytes = b""
    half_close: bool = False


@dataclass
class Answer:
    """The response, or (status None) what happened instead."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    failure: str = ""

    @property
    def from_app(self) -> bool:
        """Whether paycrypt's application answered (it sets a request id), not the HTTP parser."""
        return "x-amzn-requestid" in self.headers


class Signer:
    def __init__(self, host: str, port: int, access_key: str = "test", secret: str = "test") -> None:
        self.host = f"{host}:{port}"
        self.endpoint = f"http://{self.host}"
        self.access_key, self.secret = access_key, secret

    def sign(
        self, method: str, path: str, body: bytes, headers: dict[str, str], region: str = REGION
    ) -> list[tuple[str, str]]:
        """`headers` with Host, X-Amz-Date and Authorization added (Content-Length left unsigned,
        as botocore leaves it)."""
        signed = signed_headers(
            self.endpoint,
            path,
            body,
            {"Host": self.host, **headers},
            self.access_key,
            self.secret,
            region=region,
            method=method,
        )
        return [*signed.items(), ("Content-Length", str(len(body)))]

    def encode(self, call: Call) -> HttpRequest:
        """A generated call as its protocol carries it: awsJson1_0 for the control plane, restJson1
        (members bound to the URI taken out of the body) for the data plane."""
        op = call.op
        params = call.params
        if op.plane == models.CONTROL:
            body = dumps(params, call.ascii_only)
            target = f"{op.model.service_model.metadata['targetPrefix']}.{op.name}"
            headers = {"X-Amz-Target": target, "Content-Type": aws_json.CONTENT_TYPE}
            return HttpRequest("POST", "/", self.sign("POST", "/", body, headers), body)
        path = op.model.http["requestUri"]
        if isinstance(params, dict) and op.uri_members:
            params = dict(params)
            for label, member in op.uri_members.items():
                value = params.pop(member, "")
                text = value if isinstance(value, str) else dumps(value).decode()
                path = path.replace("{" + label + "}", percent_encode(text.encode("utf-8", "surrogatepass")))
        body = dumps(params, call.ascii_only)
        method = op.model.http["method"]
        headers = {"Content-Type": rest_json.CONTENT_TYPE}
        return HttpRequest(method, path, self.sign(method, path, body, headers), body)


class Sender:
    """One keep-alive connection, reopened whenever the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection: http.client.HTTPConnection | None = None
        self.reconnects = 0

    def send(self, request: HttpRequest) -> Answer:
        if request.transport == "raw":
            return self._raw(request)
        connection = self._connection or self._connect()
        try:
            connection.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers:
                connection.putheader(name, value)
            connection.endheaders(request.body)
            response = connection.getresponse()
            body = response.read()
            if response.will_close:
                self.close()
            return Answer(response.status, _lower(response.getheaders()), body)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            return Answer(None, failure=f"{type(exc).__name__}: {exc}")

    def _connect(self) -> http.client.HTTPConnection:
        self._connection = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        self.reconnects += 1
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _raw(self, request: HttpRequest) -> Answer:
        try:
            with socket.create_connection((self.host, self.port), timeout=RAW_TIMEOUT) as sock:
                sock.sendall(request.wire)
                if request.half_close:
                    sock.shutdown(socket.SHUT_WR)
                response = http.client.HTTPResponse(sock, method=request.method)
                response.begin()
                return Answer(response.status, _lower(response.getheaders()), response.read())
        except (OSError, http.client.HTTPException) as exc:
            return Answer(None, failure=f"{type(exc).__name__}: {exc}")

    def alive(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=2).close()
            return True
        except OSError:
            return False


def _lower(headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers}


def wire(request: HttpRequest, version: str = "HTTP/1.1") -> bytes:
    """The bytes of a request as an HTTP/1.1 client would write them."""
    head = f"{request.method} {request.path} {version}\r\n" + "".join(
        f"{n}: {v}\r\n" for n, v in request.headers
    )
    return head.encode("latin-1", "replace") + b"\r\n" + request.body

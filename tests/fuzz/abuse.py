"""Raw-HTTP abuse: what a broken or hostile client does below the JSON.

Each strategy starts from a valid generated call, encoded and signed like any other, and then
breaks one thing: the Content-Type, the X-Amz-Target, the SigV4 headers, the body bytes (signed
as sent, so they reach the parser), the method or path, the framing (a body shorter than its
Content-Length, then a half-close; chunked bodies; both framings at once), the header sizes, or
the request line. Requests HTTP itself cannot carry go out on a socket of their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from paycrypt.service import heavy
from paycrypt.wire import models
from paycrypt.wire.operations import Operation
from tests.fuzz import gen
from tests.fuzz.sender import HttpRequest, Signer, wire
from tests.fuzz.strategies import Call, Strategies, dumps, odd_text

Abuse = tuple[str, HttpRequest]  # (what was done, the request)
KINDS = (
    "content-type",
    "x-amz-target",
    "sigv4",
    "body",
    "method-path",
    "truncated",
    "oversized-headers",
    "framing",
)

CONTENT_TYPES = (
    "",
    "application/json",
    "application/x-amz-json-1.0",
    "application/x-amz-json-1.1",
    "APPLICATION/X-AMZ-JSON-1.0",
    "application/x-amz-json-1.0; charset=utf-16",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/x-amz-json-1.0, application/json",
    "*/*",
)
TARGETS = (
    None,
    "",
    "PaymentCryptographyControlPlane.",
    "PaymentCryptographyControlPlane.listkeys",
    "PaymentCryptographyControlPlane.EncryptData",
    "PaymentCryptographyControlPlane.ListKeys ",
    "PaymentCryptographyControlPlane.ListKeys.Extra",
    "PaymentCryptographyDataPlane.EncryptData",
    "AWSKMS.ListKeys",
    "paymentcryptographycontrolplane.ListKeys",
    "PaymentCryptographyControlPlane.__init__",
    "PaymentCryptographyControlPlane." + "A" * 5000,
)
BODIES = (
    b"",
    b"   ",
    b"{",
    b"}",
    b"[]",
    b"null",
    b'"text"',
    b"42",
    b"{'KeyIdentifier': 'x'}",
    b'{"a":1,}',
    b'{"a":1 /* comment */}',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe{\x00}\x00",
    b'{"x": "\xc3\x28"}',
    b'{"x": "\xed\xa0\x80"}',
    b'{"x": NaN}',
    b'{"x": Infinity}',
    b'{"x": 1e999}',
    b'{"x": ' + b"9" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 3000 + b"0" + b"}" * 3000,
    b"{}" + b" " * 100_000,
    b"\x00" * 64,
    b"{}\x00",
    b"{}{}",
)
METHODS = ("GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO", "post")
PATHS = (
    "/",
    "//",
    "/keys",
    "/keys/",
    "/keys//encrypt",
    "/keys/%2e%2e/encrypt",
    "/keys/../keys/x/encrypt",
    "/keys/%ZZ/encrypt",
    "/keys/%00/encrypt",
    "/keys/%F0%9F%92%A9/encrypt",
    "/keys/x/encrypt?x=1&&=&%zz",
    "/cardvalidationdata/verify/",
    "/cardvalidationdata/VERIFY",
    "/pindata/verify?",
    "/mac/generate#frag",
    "/" + "a/" * 3000,
    "/" + "%41" * 5000,
    "*",
)


def _sign_breakers() -> dict[str, Callable[[list[tuple[str, str]]], list[tuple[str, str]]]]:
    """Ways to break a signed request's SigV4 headers (each takes and returns the header list)."""

    def edit(
        name: str, change: Callable[[str], str | None]
    ) -> Callable[[list[tuple[str, str]]], list[tuple[str, str]]]:
        def apply(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
            out = []
            for key, value in headers:
                if key.lower() == name:
                    value = change(value)
                    if value is None:
                        continue
                out.append((key, value))
            return out

        return apply

    def flip_signature(value: str) -> str:
        head, _, signature = value.rpartition("Signature=")
        return head + "Signature=" + ("0" if signature[:1] != "0" else "1") + signature[1:]

    def add(name: str, value: str) -> Callable[[list[tuple[str, str]]], list[tuple[str, str]]]:
        return lambda headers: [*headers, (name, value)]

    return {
        "no-authorization": edit("authorization", lambda v: None),
        "no-date": edit("x-amz-date", lambda v: None),
        "bad-date": edit("x-amz-date", lambda v: "20261399T256161Z"),
        "old-date": edit("x-amz-date", lambda v: "20200101T000000Z"),
        "flipped-signature": edit("authorization", flip_signature),
        "short-signature": edit("authorization", lambda v: v[:-10]),
        "other-algorithm": edit("authorization", lambda v: v.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")),
        "unknown-access-key": edit(
            "authorization", lambda v: v.replace("Credential=test/", "Credential=AKIAFUZZ/")
        ),
        "other-service": edit("authorization", lambda v: v.replace("/payment-cryptography/", "/kms/")),
        "odd-region": edit("authorization", lambda v: v.replace("/us-east-1/", "/xx-fuzz-9/")),
        "no-host-signed": edit("authorization", lambda v: v.replace("host;", "")),
        "garbage": edit(
            "authorization", lambda v: "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature="
        ),
        "commas": edit("authorization", lambda v: "AWS4-HMAC-SHA256 ,,,,=,=="),
        "huge": edit("authorization", lambda v: v + "A" * 60_000),
        "odd-unicode": edit("authorization", lambda v: v.replace("test/", "t\u00e9st/")),
        "twice": lambda headers: headers + [(k, v) for k, v in headers if k.lower() == "authorization"],
        "token": add("X-Amz-Security-Token", "FwoGZXIvYXdzE" + "A" * 300),
        "content-sha-mismatch": add("X-Amz-Content-Sha256", hashlib.sha256(b"other").hexdigest()),
        "content-sha-junk": add("X-Amz-Content-Sha256", "zz"),
    }


SIGN_BREAKERS = _sign_breakers()


class Abuser:
    """Raw-HTTP abuse strategies for one run (its signer and its model strategies)."""

    def __init__(self, strategies: Strategies, signer: Signer) -> None:
        self.s = strategies
        self.signer = signer
        self.control = [op for op in strategies.operations if op.plane == models.CONTROL]
        self.data = [op for op in strategies.operations if op.plane == models.DATA]

    def requests(self) -> gen.Gen:
        """(kind and detail, request), each kind of KINDS equally often."""
        return gen.one_of(*(getattr(self, "_" + kind.replace("-", "_"))() for kind in KINDS))

    def _call(self, ops: list[Operation] | None = None) -> gen.Gen:
        return gen.one_of(*(self._valid_call(op) for op in ops or self.s.operations))

    def _valid_call(self, op: Operation) -> gen.Gen:
        return self.s.valid(op.name, "", op.input_shape).map(lambda params: Call(op, params, "valid"))

    def _content_type(self) -> gen.Gen:
        def build(call: Call, content_type: str | None) -> Abuse:
            request = self.signer.encode(call)
            headers = _without(
                request.headers, "authorization", "x-amz-date", "content-type", "content-length"
            )
            if content_type is not None:
                headers["Content-Type"] = content_type
            signed = self.signer.sign(request.method, request.path, request.body, _drop(headers, "host"))
            return "content-type", HttpRequest(request.method, request.path, signed, request.body)

        return gen.builds(
            build,
            self._call(),
            gen.one_of(gen.none(), gen.sampled_from(CONTENT_TYPES), odd_text.map(_latin1)),
        )

    def _x_amz_target(self) -> gen.Gen:
        def build(call: Call, target: str | None, twice: bool) -> Abuse:
            body = dumps(call.params)
            headers = {"Content-Type": "application/x-amz-json-1.0"}
            if target is not None:
                headers["X-Amz-Target"] = target
            signed = self.signer.sign("POST", "/", body, headers)
            if twice:  # a second target (read-only: the body may name a crypto key)
                signed.append(("X-Amz-Target", "PaymentCryptographyControlPlane.GetAlias"))
            return "x-amz-target", HttpRequest("POST", "/", signed, body)

        targets = gen.one_of(
            gen.sampled_from(TARGETS), odd_text.map(lambda t: "PaymentCryptographyControlPlane." + _latin1(t))
        )
        return gen.builds(build, self._call(self.control), targets, gen.booleans())

    def _sigv4(self) -> gen.Gen:
        def build(call: Call, breaker: str, tamper_body: bool) -> Abuse:
            request = self.signer.encode(call)
            headers = SIGN_BREAKERS[breaker](request.headers)
            body = request.body
            if tamper_body:
                body = body[:-1] + b" " if body else b" "
                headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
            transport = "raw" if breaker == "odd-unicode" else "http"
            out = HttpRequest(request.method, request.path, headers, body, transport)
            out.wire = wire(out) if transport == "raw" else b""
            return f"sigv4 {breaker}{' body-changed' if tamper_body else ''}", out

        return gen.builds(build, self._call(), gen.sampled_from(sorted(SIGN_BREAKERS)), gen.booleans())

    def _body(self) -> gen.Gen:
        def build(call: Call, body: bytes) -> Abuse:
            request = self.signer.encode(call)
            headers = _without(request.headers, "authorization", "x-amz-date", "content-length", "host")
            signed = self.signer.sign(request.method, request.path, body, headers)
            return "body", HttpRequest(request.method, request.path, signed, body)

        oversized = gen.just(b'{"x":"' + b"A" * (1024 * 1024 + 10) + b'"}')
        utf16 = self._call().map(
            lambda c: dumps(c.params).decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
        )
        duplicates = self._call().map(_duplicate_members)
        bodies = gen.one_of(gen.sampled_from(BODIES), oversized, utf16, duplicates)
        return gen.builds(build, self._call(), bodies)

    def _method_path(self) -> gen.Gen:
        def build(method: str, path: str, call: Call) -> Abuse:
            body = dumps(call.params)
            headers = {"Content-Type": "application/json"}
            signed = self.signer.sign(method.upper(), path, body, headers)
            request = HttpRequest(method, path, signed, body, "raw")
            request.wire = wire(request)
            return "method-path", request

        uris = sorted(op.model.http["requestUri"].replace("{", "").replace("}", "") for op in self.data)
        data_paths = gen.sampled_from(uris)
        paths = gen.one_of(
            gen.sampled_from(PATHS), data_paths, odd_text.map(lambda t: "/keys/" + _latin1(t) + "/encrypt")
        )
        return gen.builds(build, gen.sampled_from(METHODS), paths, self._call(self.data))

    def _truncated(self) -> gen.Gen:
        """A body shorter than its Content-Length, then a half-close: the client is gone before its
        request is complete, so nothing of it may be carried out. Signed over the bytes actually sent
        (or UNSIGNED-PAYLOAD), so a server that served the fragment would be caught changing state."""

        def build(call: Call, keep: float, unsigned: bool) -> Abuse:
            request = self.signer.encode(call)
            sent = request.body[: int(len(request.body) * keep)]
            extra = {"X-Amz-Content-Sha256": "UNSIGNED-PAYLOAD"} if unsigned else {}
            headers = _without(request.headers, "authorization", "x-amz-date", "content-length", "host")
            signed = self.signer.sign(request.method, request.path, sent, {**headers, **extra})
            signed = [(k, v) for k, v in signed if k.lower() != "content-length"]
            signed.append(("Content-Length", str(len(request.body) + 1)))
            out = HttpRequest(request.method, request.path, signed, sent, "raw", half_close=True)
            out.wire = wire(out)
            return "truncated", out

        return gen.builds(build, self._creating_call(), gen.sampled_from([0.0, 0.5, 1.0]), gen.booleans())

    def _creating_call(self) -> gen.Gen:
        """Valid calls that, served, would change the store (on victims, or new keys)."""
        names = ("CreateKey", "TagResource", "CreateAlias", "StopKeyUsage", "DeleteKey", "ListKeys")
        by_name = {op.name: op for op in self.control}
        return self._call([by_name[name] for name in names])

    def _oversized_headers(self) -> gen.Gen:
        def build(call: Call, shape: tuple[int, int], raw_name: bool) -> Abuse:
            size, count = shape
            request = self.signer.encode(call)
            headers = [*request.headers, *((f"X-Fuzz-{i}", "v" * size) for i in range(count))]
            if raw_name:
                headers.append(("X-Odd\u00e9Name", "\u00ff\u00fe"))
            out = HttpRequest(request.method, request.path, headers, request.body, "raw")
            out.wire = wire(out)
            return "oversized-headers", out

        # (bytes per header, headers): one huge header, many large ones, thousands of small ones
        shapes = gen.sampled_from(
            [(1_000_000, 1), (65536, 1), (65536, 8), (8192, 100), (16, 2000), (1, 10_000)]
        )
        return gen.builds(build, self._call(), shapes, gen.booleans())

    def _framing(self) -> gen.Gen:
        def build(call: Call, how: str) -> Abuse:
            request = self.signer.encode(call)
            base = _without(request.headers, "content-length")
            head = list(base.items())
            body = request.body
            if how == "chunked":
                head.append(("Transfer-Encoding", "chunked"))
                payload = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
            elif how == "bad-chunk":
                head.append(("Transfer-Encoding", "chunked"))
                payload = b"zz\r\n" + body + b"\r\n0\r\n\r\n"
            elif how == "both":
                head += [("Transfer-Encoding", "chunked"), ("Content-Length", str(len(body)))]
                payload = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
            elif how == "pipelined":
                head.append(("Content-Length", str(len(body))))
                payload = body + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            elif how == "expect":
                head += [("Expect", "100-continue"), ("Content-Length", str(len(body)))]
                payload = body
            elif how == "http10":
                head.append(("Content-Length", str(len(body))))
                out = HttpRequest(request.method, request.path, head, body, "raw", half_close=True)
                out.wire = wire(out, "HTTP/1.0")
                return "framing http10", out
            elif how == "negative-length":
                head.append(("Content-Length", "-1"))
                payload = body
            else:  # garbage request line
                out = HttpRequest(request.method, request.path, head, body, "raw")
                out.wire = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + body
                return "framing garbage", out
            out = HttpRequest(
                request.method, request.path, head, payload, "raw", half_close=how == "pipelined"
            )
            out.wire = wire(out)
            return f"framing {how}", out

        hows = gen.sampled_from(
            ["chunked", "bad-chunk", "both", "pipelined", "expect", "http10", "negative-length", "garbage"]
        )
        # Light calls only: some of these requests are whole but their client half-closes, so the
        # server may carry one out without being able to answer. A light call is done before the
        # next request is read; a heavy one (worker pool) could commit during a later request,
        # whose check would then wrongly take the change for its own.
        light = self._call().filter(lambda call: not heavy.is_heavy(call.op.name, _members(call.params)))
        return gen.builds(build, light, hows)


def _members(params: Any) -> dict[str, Any]:
    return params if isinstance(params, dict) else {}


def _without(headers: list[tuple[str, str]], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers if k.lower() not in names}


def _drop(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in names}


def _latin1(text: str) -> str:
    """Header values travel as latin-1: odd text, kept to what a header can hold."""
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")


def _duplicate_members(call: Call) -> bytes:
    """A JSON object naming a member twice: the first value valid, the second null."""
    if not isinstance(call.params, dict) or not call.params:
        return b'{"a": 1, "a": null}'
    body = dumps(call.params)
    name = next(iter(call.params))
    return body[:-1] + b", " + dumps(name) + b": null}"


def describe(request: HttpRequest) -> dict[str, Any]:
    """A short description of a request for a failure report."""
    return {
        "method": request.method,
        "path": request.path[:120],
        "headers": {k: v[:80] for k, v in request.headers if k.lower() != "authorization"},
        "body": request.body[:300].decode("utf-8", "replace"),
        "transport": request.transport,
    }

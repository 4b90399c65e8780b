"""Idle and slow clients cannot exhaust the server (issue 13, item 2).

Before: a connection holding an incomplete request (head unfinished, or a body shorter than its
Content-Length) was never closed, so with the process's file limit at 256, 300 such connections
made genuine requests fail with resets and the audit fsync fail with "Too many open files".

Here `paycrypt serve` runs as a child with RLIMIT_NOFILE (200 soft, 256 hard) and one- and
two-second time limits. It must raise the soft limit to the hard one, cap connections at
256 - RESERVED_FILES, answer genuine requests made beside hundreds of partial connections, close
each partial connection at its time limit (408 once any byte of a request came, silently for a
connection that sent nothing), refuse connections past the cap with an AWS-shaped 503, and keep
every file it needs (the audit log records every genuine call, and nothing of the partial ones).
An in-process server checks the same over TLS (a handshake is part of the head) and on a
kept-alive connection. Loops are bounded; everything is on loopback.
"""

from __future__ import annotations

import json
import selectors
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt import tls
from paycrypt.audit import reader
from paycrypt.defaults import MAX_REQUEST_HEAD_BYTES
from paycrypt.server import RESERVED_FILES, Settings, StartupError, connection_limits
from tests.api import rawhttp
from tests.api.helpers import expect_error
from tests.api.processes import ServerProcess
from tests.api.test_durability import client
from tests.background import Background
from tests.conftest import CVK_ATTRIBUTES, free_port, serving

HEAD_LIMIT = 1.0
BODY_LIMIT = 2.0
FILE_LIMIT = (200, 256)
CAP = FILE_LIMIT[1] - RESERVED_FILES
LATE = 4.0  # how late past its limit a close may come on this shared two-core machine
PAN = "4123456789012345"

TARGET = "PaymentCryptographyControlPlane.CreateKey"
PARTIAL = {
    "idle": b"",
    "head": f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {TARGET}\r\n".encode(),
    "body": (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
        f'X-Amz-Target: {TARGET}\r\nContent-Length: 200\r\n\r\n{{"Exportable": true, '
    ).encode(),
}
LIMIT = {"idle": HEAD_LIMIT, "head": HEAD_LIMIT, "body": BODY_LIMIT}


class Partial:
    """One client connection that sends part of a request and then waits for the server to close it."""

    def __init__(self, address: tuple[str, int], kind: str, context: ssl.SSLContext | None = None) -> None:
        self.kind = kind
        self.opened = time.monotonic()
        raw = socket.create_connection(address, timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        self.sock.sendall(PARTIAL[kind])
        self.sock.setblocking(False)
        self.reply = b""
        self.closed_after: float | None = None

    def read(self) -> bool:
        """Take what arrived; True once the server has closed the connection."""
        try:
            chunk = self.sock.recv(65536)
        except (BlockingIOError, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if chunk:
            self.reply += chunk
            return False
        self.closed_after = time.monotonic() - self.opened
        self.sock.close()
        return True

    def status(self) -> int | None:
        return int(self.reply.split(b" ", 2)[1]) if self.reply.startswith(b"HTTP/1.1 ") else None

    def error(self) -> dict:
        return json.loads(self.reply.split(b"\r\n\r\n", 1)[1])


def wait_closed(partials: list[Partial], seconds: float) -> None:
    """Read every connection until the server closes it, for at most `seconds`."""
    with selectors.DefaultSelector() as selector:
        for partial in partials:
            selector.register(partial.sock, selectors.EVENT_READ, partial)
        deadline = time.monotonic() + seconds
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                if key.data.read():
                    selector.unregister(key.fileobj)
    still_open = [p.kind for p in partials if p.closed_after is None]
    for partial in partials:
        if partial.closed_after is None:
            partial.sock.close()
    assert not still_open, f"{len(still_open)} connections never closed: {still_open[:5]}"


def check_closed_at_limit(partial: Partial) -> None:
    limit = LIMIT[partial.kind]
    assert limit - 0.05 <= partial.closed_after <= limit + LATE, (partial.kind, partial.closed_after)
    if partial.kind == "idle":
        assert partial.reply == b"", partial.reply  # nothing was asked, nothing is answered
        return
    assert partial.status() == 408, partial.reply
    error = partial.error()
    assert error["__type"] == "RequestTimeoutException", error
    assert partial.kind in error["message"], error


class GenuineTraffic(Background):
    """A boto3 client making real calls (CreateKey, GetKey, CVV2 generate and verify) in a thread,
    with retries off, until stopped; every call must succeed."""

    def __init__(self, endpoint: str) -> None:
        self.control = client(endpoint, "payment-cryptography")
        self.data = client(endpoint, "payment-cryptography-data")
        self.calls = 0
        self.failures: list[Exception] = []
        super().__init__()

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.round()
        except Exception as exc:  # recorded, and the test fails on it
            self.failures.append(exc)

    def round(self) -> None:
        arn = self.control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
        assert self.control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"
        attributes = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}
        value = self.data.generate_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=attributes
        )["ValidationData"]
        self.data.verify_card_validation_data(
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            VerificationAttributes=attributes,
            ValidationData=value,
        )
        self.calls += 4


def audit_events(data_dir: Path) -> list[dict]:
    return [event for _, event in reader.read_events(data_dir)]


@pytest.mark.cli
def test_partial_connections_beside_genuine_traffic_at_a_file_limit_of_256(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(
        data_dir,
        free_port(),
        "--request-head-timeout",
        str(HEAD_LIMIT),
        "--request-body-timeout",
        str(BODY_LIMIT),
        file_limit=FILE_LIMIT,
    )
    processes.append(server)
    server.wait_listening()
    address = ("127.0.0.1", server.port)
    endpoint = f"http://127.0.0.1:{server.port}"
    log = server.log()
    assert f"open-file limit raised from {FILE_LIMIT[0]} to {FILE_LIMIT[1]}" in log, log
    assert f"connections: at most {CAP} open" in log, log

    # 150 partial connections (50 of each kind), under the cap, while genuine calls go on.
    with GenuineTraffic(endpoint) as genuine:
        partials = [Partial(address, kind) for kind in PARTIAL for _ in range(50)]
        wait_closed(partials, BODY_LIMIT + LATE + 2)
        time.sleep(0.2)
    assert not genuine.failures, genuine.failures
    assert genuine.calls >= 8
    for partial in partials:
        check_closed_at_limit(partial)

    # The 300 at once: the cap's worth are held to their time limits, the rest refused at
    # once with AWS's 503; a new client is refused the same way while the cap is full.
    # The client is built first: building one can take longer than the head limit on a loaded machine,
    # and the held connections would be closed (freeing their slots) before it asks.
    late_client = client(endpoint, "payment-cryptography")
    partials = [Partial(address, kind) for kind in PARTIAL for _ in range(100)]
    expect_error(late_client.list_keys, "ServiceUnavailableException", 503)
    wait_closed(partials, BODY_LIMIT + LATE + 2)
    refused = [p for p in partials if p.status() == 503]
    held = [p for p in partials if p.status() != 503]
    assert len(refused) >= len(partials) - CAP, (len(refused), len(held))
    assert len(held) >= CAP - 20  # the cap was used (a few slots may still have held kept-alive clients)
    for partial in refused:
        assert partial.closed_after < LATE, partial.closed_after
        assert partial.error()["__type"] == "ServiceUnavailableException", partial.reply
    for partial in held:
        check_closed_at_limit(partial)

    # Slots are free again: genuine calls succeed, every one is audited, nothing partial is.
    after = GenuineTraffic(endpoint)
    after.round()
    events = audit_events(data_dir)
    assert len(events) == genuine.calls + after.calls, (len(events), genuine.calls, after.calls)
    assert all(event.get("errorCode") is None for event in events), [e.get("errorCode") for e in events]
    log = server.log()
    for trouble in ("Too many open files", "Traceback", "Exception in"):
        assert trouble not in log, log
    assert server.process.poll() is None


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    base = tmp_path_factory.mktemp("paycrypt-limits-tls")
    cert, key = tls.self_signed(base / "tls", ["127.0.0.1"])
    settings = Settings(
        port=free_port(),
        data_dir=base / "data",
        tls_cert=cert,
        tls_key=key,
        request_head_timeout=HEAD_LIMIT,
        request_body_timeout=BODY_LIMIT,
        max_connections=4,
    )
    with serving(settings):
        yield settings.port, cert


def test_over_tls_the_handshake_is_part_of_the_head(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    idle = Partial(("127.0.0.1", port), "idle")  # TCP only: no ClientHello
    head = Partial(("127.0.0.1", port), "head", context)
    body = Partial(("127.0.0.1", port), "body", context)
    wait_closed([idle, head, body], BODY_LIMIT + LATE + 2)
    for partial in (idle, head, body):
        check_closed_at_limit(partial)


def test_over_tls_a_connection_past_the_cap_is_closed_before_its_handshake(
    tls_server: tuple[int, Path],
) -> None:
    port, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    held = [Partial(("127.0.0.1", port), "idle") for _ in range(4)]
    with pytest.raises((ssl.SSLError, ConnectionError)):
        Partial(("127.0.0.1", port), "head", context)
    wait_closed(held, HEAD_LIMIT + LATE)
    control = client(f"https://127.0.0.1:{port}", "payment-cryptography", verify=str(cert))
    assert control.list_keys()["Keys"] == []  # the slots came back


def test_over_tls_a_head_past_16_kib_is_refused(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1"
    ) as sock:
        sock.sendall(b"GET /keys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 2 * MAX_REQUEST_HEAD_BYTES)
        reply = _read_to_close(sock)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    data_dir = tmp_path_factory.mktemp("paycrypt-limits")
    settings = Settings(
        port=free_port(), data_dir=data_dir, request_head_timeout=HEAD_LIMIT, request_body_timeout=BODY_LIMIT
    )
    with serving(settings):
        yield settings.port, data_dir


def test_a_kept_alive_connection_has_a_head_limit_for_each_request(plain_server: tuple[int, Path]) -> None:
    """The head clock of a later request starts at its first byte, not at the accept."""
    with socket.create_connection(("127.0.0.1", plain_server[0]), timeout=10) as sock:
        sock.sendall(b"GET /keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 ") and b"connection: close" not in first.lower(), first
        time.sleep(HEAD_LIMIT * 1.5)  # idle, but within uvicorn's 5 s keep-alive: still open
        started = time.monotonic()
        sock.sendall(b"GET /keys HTTP/1.1\r\nHost: 12")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert HEAD_LIMIT - 0.05 <= elapsed <= HEAD_LIMIT + LATE, elapsed


def test_a_body_cut_short_never_reaches_the_service(plain_server: tuple[int, Path]) -> None:
    """A CreateKey whose body stops short is not run with what came (nor with an empty body)."""
    port, data_dir = plain_server
    client(f"http://127.0.0.1:{port}", "payment-cryptography").list_keys()  # one audited call
    before = len(audit_events(data_dir))
    partial = Partial(("127.0.0.1", port), "body")
    wait_closed([partial], BODY_LIMIT + LATE)
    check_closed_at_limit(partial)
    time.sleep(0.2)
    assert before >= 1 and len(audit_events(data_dir)) == before


@pytest.mark.cli
def test_a_client_gone_during_a_pipelined_answer_leaves_no_exception(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """A request answered on the worker pool, a second one pipelined behind it, then the client's
    half-close: uvicorn marked only the queued request disconnected, so the answer to the first was
    written to the closed transport and logged as "Exception in ASGI application" (found by the
    fuzz suite). The server must let it go quietly and go on serving."""
    port = free_port()
    server = ServerProcess(tmp_path / "data", port)
    processes.append(server)
    server.wait_listening()
    body = json.dumps({"KeyMaterialType": "KEY_CRYPTOGRAM", "WrappingKeyAlgorithm": "RSA_2048"}).encode()
    target = {"X-Amz-Target": "PaymentCryptographyControlPlane.GetParametersForImport"}
    headers = rawhttp.signed_headers(
        f"http://127.0.0.1:{port}", "/", body, {**target, "Content-Type": rawhttp.JSON_10}
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n{head}\r\n"
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request.encode() + body + b"GET /keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    # A heavy call of its own waits behind theirs on the worker pool: when it is answered, they are done.
    control = client(f"http://127.0.0.1:{port}", "payment-cryptography")
    assert control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048"
    )
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


def _read_to_close(sock: socket.socket) -> bytes:
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply


def test_a_request_head_past_16_kib_is_refused(plain_server: tuple[int, Path]) -> None:
    """httptools gathers a header without limit: four clients each streaming one endless header
    held over 100 MB and stalled the loop for seconds. A head past 16 KiB gets 431 and a close,
    on a fresh or a kept-alive connection; one just under the limit, read together with its
    body, is served."""
    port = plain_server[0]
    endpoint = f"http://127.0.0.1:{port}"
    padding = MAX_REQUEST_HEAD_BYTES - 1024  # the signed head's other headers take well under 1 KiB
    body = {"junk": "j" * 60000}  # an unknown member: read with the head's end, then ignored
    status, _, answer = rawhttp.control(endpoint, "ListKeys", body, headers={"X-Pad": "p" * padding})
    assert status == 200 and "Keys" in answer, answer
    endless = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * (4 * MAX_REQUEST_HEAD_BYTES)
    whole = b"GET /keys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * MAX_REQUEST_HEAD_BYTES + b"\r\n\r\n"
    for first, request in (
        (b"", endless),
        (b"", whole),
        (b"GET /keys HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", whole),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            if first:  # a kept-alive connection: the limit holds for each request's head
                sock.sendall(first)
                assert sock.recv(65536).startswith(b"HTTP/1.1 "), "no answer to the first request"
            sock.sendall(request)
            reply = _read_to_close(sock)
        assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
        error = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert error["__type"] == "RequestHeaderFieldsTooLargeException", error
        assert str(MAX_REQUEST_HEAD_BYTES) in error["message"], error


def test_the_limits_are_checked_at_start(tmp_path: Path) -> None:
    for bad in ({"request_head_timeout": 0}, {"request_body_timeout": -1}, {"max_connections": 0}):
        with pytest.raises(StartupError):
            connection_limits(Settings(data_dir=tmp_path, **bad))
    assert connection_limits(Settings(data_dir=tmp_path, max_connections=10**9)).max_connections < 10**9

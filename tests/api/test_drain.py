"""SIGTERM drains a `paycrypt serve` process (issue 15, item 12; wire/drain.py).

A real process, a real signal. A CreateKey of an RSA_4096 key pair (a heavy call, run on a worker
thread) is in flight when SIGTERM arrives: its head and half its body sent, the rest held back by
the test until the grace period has passed and the server has stopped accepting. During the grace
`/readyz` answers 503 while `/healthz` and the API still answer; then new connections are refused;
then the held request is completed and answered 200 with its key; the process exits 0 and the
call's audit event is on disk.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from botocore.config import Config

from tests.api import rawhttp
from tests.api.processes import ServerProcess
from tests.api.test_health import get
from tests.aws_sessions import session as aws_session
from tests.conftest import REGION, free_port

GRACE = 3.0  # --drain-grace
RSA_4096 = {
    "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
    "KeyAlgorithm": "RSA_4096",
    "KeyClass": "ASYMMETRIC_KEY_PAIR",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}


def accepting(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def read_response(sock: socket.socket) -> tuple[int, dict]:
    """The whole HTTP response on `sock` (the server closes the connection after it: draining)."""
    sock.settimeout(120)
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.cli
def test_sigterm_drains_an_in_flight_heavy_call_with_readyz_false_first(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    port = free_port()
    data_dir = tmp_path / "node"
    server = ServerProcess(data_dir, port, "--drain-grace", str(GRACE))
    processes.append(server)
    server.wait_listening()
    endpoint = f"http://127.0.0.1:{port}"
    assert get(endpoint, "/readyz") == (200, b"ok\n")

    body = json.dumps({"KeyAttributes": RSA_4096, "Exportable": True}).encode()
    headers = rawhttp.signed_headers(
        endpoint,
        "/",
        body,
        {"X-Amz-Target": "PaymentCryptographyControlPlane.CreateKey", "Content-Type": rawhttp.JSON_10},
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    held = socket.create_connection(("127.0.0.1", port))
    held.sendall(
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode()
        + body[: len(body) // 2]
    )
    time.sleep(0.5)  # the head is parsed: the request is in flight

    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    # the grace: not ready, but alive and serving, new connections included
    assert get(endpoint, "/readyz") == (503, b"unavailable\n")
    assert get(endpoint, "/healthz") == (200, b"ok\n")
    client = aws_session("test", "test", REGION).client(
        "payment-cryptography", endpoint_url=endpoint, config=Config(retries={"max_attempts": 1})
    )
    assert "Keys" in client.list_keys()
    assert time.monotonic() - signalled < GRACE, "the checks above outlasted the grace period"
    while accepting(port):  # then the listener closes
        assert time.monotonic() - signalled < GRACE + 30, "still accepting long after the grace"
        time.sleep(0.05)
    assert time.monotonic() - signalled >= GRACE - 0.2  # not before the grace was over
    assert server.process.poll() is None  # still running: the held request is in flight

    held.sendall(body[len(body) // 2 :])
    status, answer = read_response(held)
    held.close()
    assert status == 200, answer
    key_arn = answer["Key"]["KeyArn"]
    assert answer["Key"]["KeyAttributes"]["KeyAlgorithm"] == "RSA_4096"

    assert server.process.wait(timeout=60) == 0, server.log()
    events = [
        json.loads(line)
        for path in sorted(data_dir.glob("audit*.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert any(
        event.get("eventName") == "CreateKey" and key_arn in json.dumps(event.get("responseElements"))
        for event in events
    ), "the drained call's audit event is not on disk"

"""The audit trail of a running server: one event per call, in the fixed layout, with no secrets."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import botocore.exceptions
import pytest

from paycrypt.audit import reader, streams
from paycrypt.audit.events import REDACTED
from paycrypt.cli import audit as audit_cli
from tests.api.processes import PAYCRYPT, ServerProcess
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port

PAN = "4111111111111111"


def _events(server) -> list[dict]:
    server.parts.audit.sync()
    return [event for _, event in reader.read_events(server.data_dir)]


def _by_request(server, request_id: str) -> list[dict]:
    return [event for event in _events(server) if event["requestID"] == request_id]


def test_one_event_per_call_with_outcome(server, control, data) -> None:
    created = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    arn = created["Key"]["KeyArn"]
    [event] = _by_request(server, created["ResponseMetadata"]["RequestId"])
    assert event["eventName"] == "CreateKey" and event["eventCategory"] == "Management"
    assert event["userIdentity"]["arn"] == "arn:aws:iam::111122223333:root"  # the development root user
    assert event["responseElements"]["key"]["keyArn"] == arn
    assert event["eventVersion"] == "1.09" and event["awsRegion"] == "us-east-1"

    generated = data.generate_card_validation_data(
        KeyIdentifier=arn,
        PrimaryAccountNumber=PAN,
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1229"}},
    )
    [event] = _by_request(server, generated["ResponseMetadata"]["RequestId"])
    assert event["eventName"] == "GenerateCardValidationData" and event["managementEvent"] is False
    assert event["resources"][0]["ARN"] == arn
    try:
        data.verify_card_validation_data(
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1229"}},
            ValidationData="000" if generated["ValidationData"] != "000" else "001",
        )
        raise AssertionError("verification should fail")
    except botocore.exceptions.ClientError as exc:
        request_id = exc.response["ResponseMetadata"]["RequestId"]
    [event] = _by_request(server, request_id)
    assert event["errorCode"] == "VerificationFailedException"
    assert event["requestParameters"]["validation_data"] == REDACTED
    assert event["requestParameters"]["primary_account_number"] == REDACTED
    assert PAN not in json.dumps(_events(server))


def test_denied_calls_are_audited(server) -> None:
    session = server.session(access_key="test", secret="wrong")
    control = session.client("payment-cryptography", endpoint_url=server.endpoint)
    try:
        control.list_keys()
        raise AssertionError("a wrong secret must be refused")
    except botocore.exceptions.ClientError as exc:
        request_id = exc.response["ResponseMetadata"]["RequestId"]
    [event] = _by_request(server, request_id)
    assert event["errorCode"] == "InvalidSignatureException"
    assert event["userIdentity"]["type"] == "Unknown"


def test_events_name_the_node_and_the_trail_verifies_while_serving(server, control) -> None:
    listed = control.list_keys()
    [event] = _by_request(server, listed["ResponseMetadata"]["RequestId"])
    assert (event["nodeId"], event["workerId"]) == (server.settings.node_id, 0)
    assert isinstance(event["sequence"], int) and event["previousEventHash"]
    out = io.StringIO()
    assert audit_cli.run_verify([server.data_dir], [], out) == 0, out.getvalue()
    assert "has no digest yet: being written" in out.getvalue()  # the live file


def _paycrypt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PAYCRYPT), *args], capture_output=True, text=True, timeout=180)


@pytest.mark.cli
def test_two_nodes_audit_merged_and_verified_with_the_cli(tmp_path: Path, processes) -> None:
    """Two `paycrypt serve` nodes, each its own data directory and --node-id; stopped (SIGTERM
    closes each file with its digest), their trails are merged by `paycrypt audit` and verified
    by `paycrypt audit verify`, which fails once a line is taken out of one."""
    dirs = {node: tmp_path / node for node in ("east", "west")}
    for node, data_dir in dirs.items():
        process = ServerProcess(data_dir, free_port(), "--node-id", node)
        processes.append(process)
        process.wait_listening()
        session = aws_session("test", "test", REGION)
        client = session.client("payment-cryptography", endpoint_url=f"http://127.0.0.1:{process.port}")
        for _ in range(3):
            client.list_keys()
    for process in processes:  # SIGTERM, and time to close each file with its digest, however loaded
        process.process.terminate()
        process.process.wait(timeout=120)
    sources = [arg for d in dirs.values() for arg in ("--data-dir", str(d))]
    merged = _paycrypt("audit", *sources)
    assert merged.returncode == 0, merged.stderr
    events = [json.loads(line) for line in merged.stdout.splitlines()]
    assert sorted(e["nodeId"] for e in events) == ["east"] * 3 + ["west"] * 3
    assert [e["eventTime"] for e in events] == sorted(e["eventTime"] for e in events)

    verified = _paycrypt("audit", "verify", *sources)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "node east worker 0: 1 file(s), 3 event(s), 1 signed digest(s): intact" in verified.stdout
    assert "node west worker 0: 1 file(s), 3 event(s), 1 signed digest(s): intact" in verified.stdout

    [west] = streams.discover(dirs["west"])[0].log_files()
    kept = west.read_bytes().splitlines(keepends=True)
    west.write_bytes(kept[0] + kept[2])
    tampered = _paycrypt("audit", "verify", *sources)
    assert tampered.returncode == 1
    assert "node west worker 0: 1 file(s), 2 event(s), 1 signed digest(s): TAMPERED" in tampered.stdout
    assert "1 event(s) removed: sequence 2" in tampered.stdout


def test_a_forwarded_for_header_does_not_change_the_source_address(server, control) -> None:
    """The audit's sourceIPAddress (and aws:SourceIp) is the connection's: a client on loopback
    cannot name another address with X-Forwarded-For (uvicorn's proxy headers are off)."""

    def forwarded(request, **_) -> None:
        request.headers["X-Forwarded-For"] = "203.0.113.9"

    control.meta.events.register_first("before-sign.payment-cryptography.ListKeys", forwarded)
    try:
        listed = control.list_keys()
    finally:
        control.meta.events.unregister("before-sign.payment-cryptography.ListKeys", forwarded)
    [event] = _by_request(server, listed["ResponseMetadata"]["RequestId"])
    assert event["sourceIPAddress"] == "127.0.0.1"

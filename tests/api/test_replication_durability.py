"""Replication survives a SIGKILL mid-copy: `paycrypt serve` as a real subprocess (issue 9).

The first server runs with a replicator hook (injected by tests/api/launcher.py) holding every
job into us-west-2 and eu-west-1, so those copies,
and a later sync, stay IN_PROGRESS while ap-southeast-2 completes. It is killed with SIGKILL. The
second server, on the same data directory and without the hook, must finish every pending job:
each replica SYNCHRONIZED, with the primary's KCV and CVV2, the primary's later changes applied,
and its key block sealed under its own ARN (checked with psec's TR-31 as an independent oracle).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psec
import psec.des
import psec.tr31
import pytest
from botocore.config import Config

from tests import backend, softhsm
from tests.api import launcher
from tests.api.helpers import expect_error
from tests.api.processes import PAYCRYPT, ServerProcess
from tests.api.replication_support import (
    AP,
    EAST,
    EU,
    WEST,
    replica_arn,
    statuses,
    wait_for,
    wait_synchronized,
)
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, free_port

pytestmark = pytest.mark.cli

PAN = "4123456789012345"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}


def client(endpoint: str, service: str, region: str) -> object:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10)
    session = aws_session("test", "test", region)
    return session.client(service, endpoint_url=endpoint, config=config)


def cvv2(endpoint: str, region: str, arn: str) -> str:
    data = client(endpoint, "payment-cryptography-data", region)
    return data.generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def test_replication_resumes_after_sigkill(tmp_path: Path, processes: list[ServerProcess]) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    first = ServerProcess(data_dir, port, program=launcher.program("--hold", f"{WEST},{EU}"))
    processes.append(first)
    first.wait_listening()

    east = client(endpoint, "payment-cryptography", EAST)
    tags = [{"Key": "bin", "Value": "412345"}]
    created = east.create_key(
        Exportable=True, KeyAttributes=CVK_ATTRIBUTES, ReplicationRegions=[WEST, EU, AP], Tags=tags
    )["Key"]
    arn, kcv = created["KeyArn"], created["KeyCheckValue"]
    value = cvv2(endpoint, EAST, arn)
    # A second key: replication added later, then a change (StopKeyUsage) queued behind the copy.
    stopped = east.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    east.add_key_replication_regions(KeyIdentifier=stopped, ReplicationRegions=[WEST, EU])
    east.stop_key_usage(KeyIdentifier=stopped)

    held = {WEST: "IN_PROGRESS", EU: "IN_PROGRESS"}
    wait_for(
        lambda: statuses(east.get_key(KeyIdentifier=arn)["Key"]), lambda s: s == {**held, AP: "SYNCHRONIZED"}
    )
    time.sleep(0.6)  # three replicator passes: the held copies have not moved
    assert statuses(east.get_key(KeyIdentifier=arn)["Key"]) == {**held, AP: "SYNCHRONIZED"}
    assert statuses(east.get_key(KeyIdentifier=stopped)["Key"]) == held
    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL

    second = ServerProcess(data_dir, port)
    processes.append(second)
    second.wait_listening()
    east = client(endpoint, "payment-cryptography", EAST)
    wait_synchronized(east, arn, [WEST, EU, AP], seconds=20)
    wait_synchronized(east, stopped, [WEST, EU], seconds=20)
    for region in (WEST, EU, AP):
        control = client(endpoint, "payment-cryptography", region)
        replica = control.get_key(KeyIdentifier=replica_arn(arn, region))["Key"]
        assert (replica["MultiRegionKeyType"], replica["KeyCheckValue"]) == ("REPLICA", kcv)
        assert control.list_tags_for_resource(ResourceArn=replica["KeyArn"])["Tags"] == tags
        assert cvv2(endpoint, region, replica["KeyArn"]) == value
    for region in (WEST, EU):
        control = client(endpoint, "payment-cryptography", region)
        assert control.get_key(KeyIdentifier=replica_arn(stopped, region))["Key"]["Enabled"] is False

    blocks = dict(backend.rows(data_dir, "SELECT arn, key_block FROM keys"))
    assert backend.rows(data_dir, "SELECT COUNT(*) FROM replication_jobs") == [(0,)]
    for region in (EAST, WEST, EU, AP):
        local = replica_arn(arn, region)
        header, clear = psec.tr31.unwrap(softhsm.kbpk(data_dir, blocks[local]), blocks[local])
        assert header.blocks["01"] == local  # each copy is sealed under its own ARN
        assert psec.des.generate_kcv(clear, 3).hex().upper() == kcv


def test_regions_flag(tmp_path: Path, processes: list[ServerProcess]) -> None:
    """`paycrypt serve --regions` bounds the regions served; a malformed list stops the start."""
    bad = subprocess.run(
        [str(PAYCRYPT), "serve", "--data-dir", str(tmp_path / "bad"), "--regions", "us-east-1,US-WEST-2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "not a region name: 'US-WEST-2'" in bad.stderr
    port = free_port()
    server = ServerProcess(tmp_path / "data", port, "--regions", f"{EAST},{EU}")
    processes.append(server)
    server.wait_listening()
    endpoint = f"http://127.0.0.1:{port}"
    assert client(endpoint, "payment-cryptography", EU).list_keys()["Keys"] == []
    response = expect_error(
        client(endpoint, "payment-cryptography", WEST).list_keys, "InvalidSignatureException", 403
    )
    assert response["Error"]["Message"] == f"Credential should be scoped to a valid region, not '{WEST}'."
    response = expect_error(
        client(endpoint, "payment-cryptography", EAST).create_key,
        "ValidationException",
        400,
        Exportable=True,
        KeyAttributes=CVK_ATTRIBUTES,
        ReplicationRegions=[WEST],
    )
    assert "us-west-2 is not a region this paycrypt deployment serves" in response["Error"]["Message"]

"""Durability under SIGKILL (issue 2, item 7), against `paycrypt serve` run as a real subprocess.

The store promises (src/paycrypt/store/sqlite.py) that a CreateKey is acknowledged only once it is
on disk. The test holds it to that: several threads create keys as fast as the server answers,
the server is killed with SIGKILL mid-load (no shutdown hook, no flush), and after a restart on the
same data directory every key whose creation a client saw acknowledged must be there, with the same
key check value, and must still compute and verify a CVV2. It also checks the at-rest form: the
master key file is mode 0600 and every stored key is a sealed X9.143 key block, never clear.

SIGKILL leaves the kernel's page cache intact, so this test cannot see a missing fsync (it passes
with `PRAGMA synchronous=OFF`); tests/api/test_durability_trace.py checks the fsync itself.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import threading
import time
from pathlib import Path

import boto3
import psec.des
import psec.tr31
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, HTTPClientError

from tests import softhsm
from tests.api.processes import ServerProcess
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port

pytestmark = pytest.mark.cli

PAN = "4123456789012345"
LOAD_THREADS = 4
LOAD_SECONDS = 1.5  # of load after the first keys are in, before the kill
MIN_ACKNOWLEDGED = 10
TRANSPORT_ERRORS = (EndpointConnectionError, HTTPClientError)


def client(endpoint: str, service: str, **kwargs: object) -> object:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10)
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    return session.client(service, endpoint_url=endpoint, config=config, **kwargs)


def _create_keys(
    control: object, stop: threading.Event, acknowledged: dict[str, str], ended_by_error: list
) -> None:
    try:
        while not stop.is_set():
            key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
            acknowledged[key["KeyArn"]] = key["KeyCheckValue"]
    except Exception as exc:  # the kill shows up as a connection error; anything is an end of load
        ended_by_error.append(exc)


def tr31_payload(block: str) -> str:
    """What follows the header of a TR-31 / X9.143 key block: the encrypted key and the MAC.

    Header layout per ASC X9 TR 31-2018 / ANSI X9.143-2022 (key block header, optional blocks): 16 fixed
    characters, the optional-block count at offsets 12-13, then each optional block as ID (2),
    length (2 hex, covering ID and length; "00" means an extended length: 2 hex digits giving the
    size of a hex length field that follows).
    """
    position = 16
    for _ in range(int(block[12:14])):
        length = int(block[position + 2 : position + 4], 16)
        if length == 0:
            digits = int(block[position + 4 : position + 6], 16)
            length = int(block[position + 6 : position + 6 + digits], 16)
        position += length
    return block[position:]


def test_acknowledged_keys_survive_sigkill_during_create_key_load(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    first = ServerProcess(data_dir, port)
    processes.append(first)
    first.wait_listening()

    stop = threading.Event()
    acknowledged: dict[str, str] = {}
    ended_by_error: list[str] = []
    # Clients are built first (a boto3 client takes a while to build), so the load starts at once.
    threads = [
        threading.Thread(
            target=_create_keys,
            args=(client(endpoint, "payment-cryptography"), stop, acknowledged, ended_by_error),
        )
        for _ in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(acknowledged) < MIN_ACKNOWLEDGED and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(LOAD_SECONDS)
    os.kill(first.process.pid, signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    # Every thread was still creating keys when the server died, and stopped on a transport error
    # (not an API error): the kill really came mid-load.
    assert len(ended_by_error) == LOAD_THREADS, ended_by_error
    assert all(isinstance(exc, TRANSPORT_ERRORS) for exc in ended_by_error), ended_by_error
    assert len(acknowledged) >= MIN_ACKNOWLEDGED, f"only {len(acknowledged)} keys created before the kill"

    second = ServerProcess(data_dir, port)
    processes.append(second)
    second.wait_listening()
    control = client(endpoint, "payment-cryptography")
    data = client(endpoint, "payment-cryptography-data")
    listed = {k["KeyArn"] for page in control.get_paginator("list_keys").paginate() for k in page["Keys"]}
    assert set(acknowledged) <= listed
    for arn, kcv in acknowledged.items():
        key = control.get_key(KeyIdentifier=arn)["Key"]
        assert (key["KeyState"], key["KeyCheckValue"]) == ("CREATE_COMPLETE", kcv), arn
        value = data.generate_card_validation_data(
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
        )["ValidationData"]
        verified = data.verify_card_validation_data(
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            VerificationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
            ValidationData=value,
        )
        assert verified["KeyCheckValue"] == kcv

    if softhsm.RUN.settings is None:
        assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
    else:  # the master key is in the token: no file holds it
        assert not (data_dir / "master.key").exists()
    _assert_key_blocks_sealed(data_dir, acknowledged)


def _assert_key_blocks_sealed(data_dir: Path, acknowledged: dict[str, str]) -> None:
    """Each stored key is an X9.143 version D block under the master key; no clear key is on disk.

    The blocks are opened with psec's TR-31 implementation as an independent oracle (master.key is
    the key block protection key; with --vault pkcs11, each block's own KBPK, which the token
    unwraps), and the clear key it yields must match the acknowledged KCV (ANSI X9.24 KCV computed
    by psec) yet appear nowhere in the database or its WAL, raw or in hex.
    """
    db = sqlite3.connect(f"file:{data_dir / 'paycrypt.db'}?mode=ro", uri=True)
    try:
        rows = dict(db.execute("SELECT arn, key_block FROM keys").fetchall())
    finally:
        db.close()
    assert set(acknowledged) <= set(rows)
    on_disk = b"".join(path.read_bytes() for path in data_dir.glob("paycrypt.db*"))
    hex_digits = set("0123456789ABCDEF")
    for arn, block in rows.items():
        assert block[0] == "D", arn
        assert int(block[1:5]) == len(block), arn
        payload = tr31_payload(block)
        # Encrypted key data in whole AES blocks, then a 16-byte CMAC: all upper-case hex.
        assert set(payload) <= hex_digits, arn
        assert len(payload) >= 64 and len(payload) % 32 == 0, arn
        header, clear = psec.tr31.unwrap(softhsm.kbpk(data_dir, block), block)
        assert (header.key_usage, header.algorithm, len(clear)) == ("C0", "T", 16), arn
        if arn in acknowledged:
            assert psec.des.generate_kcv(clear, 3).hex().upper() == acknowledged[arn], arn
        for form in (clear, clear.hex().encode(), clear.hex().upper().encode()):
            assert form not in on_disk, arn

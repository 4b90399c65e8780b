"""`paycrypt serve --workers N` (issue 15 item 3): N server processes on one port under a supervisor.

Every server here is a real `paycrypt serve --workers 2` process tree on a free loopback port, on
the store `pytest --store` names (tests/backend.py), reached through boto3. Which worker answered a
call is read from the audit files, one stream per worker (`audit-<node>-w<worker>-…`). A new boto3
client opens a new connection, which the kernel gives to either worker (SO_REUSEPORT).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from paycrypt.audit import streams
from tests import softhsm as hsm_support
from tests.api.helpers import expect_error
from tests.api.processes import PAYCRYPT, ServerProcess
from tests.api.replication_support import replica_arn
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port

pytestmark = pytest.mark.cli  # runs `paycrypt serve` (tests/cli_marker.py)

NODE = "wk"
PAN = "4111111111111111"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1228"}}
READY = re.compile(r"worker (\d+) ready \(pid (\d+)\)")
STARTED = "2 workers on port"
# A start takes seconds per worker on the shared 2-core CI machine, more on PostgreSQL.
START_SECONDS = 120.0


@dataclass
class Node:
    """`paycrypt serve --workers 2` (its supervisor's process) and what a test reads from it."""

    supervisor: subprocess.Popen[bytes]
    port: int
    log_path: Path
    data_dir: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self, service: str = "payment-cryptography") -> Any:
        """A client of its own: a new connection to the node."""
        session = aws_session("test", "test", REGION)
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def wait_for(self, done: Callable[[str], bool], what: str, seconds: float = START_SECONDS) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            log = self.log()
            if done(log):
                return log
            if self.supervisor.poll() is not None:
                raise AssertionError(f"the supervisor exited ({self.supervisor.returncode}):\n{log}")
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {seconds} s:\n{self.log()}")

    def pids(self, log: str | None = None) -> dict[int, list[int]]:
        """Each worker id's processes, in the order they said they were ready."""
        found: dict[int, list[int]] = {}
        for worker, pid in READY.findall(self.log() if log is None else log):
            found.setdefault(int(worker), []).append(int(pid))
        return found

    def served(self, event: str) -> Counter[int]:
        """How many `event` audit events each worker recorded."""
        counts: Counter[int] = Counter()
        for stream in streams.discover(self.data_dir):
            assert stream.ident.node_id == NODE
            for path in stream.log_files():
                for line in path.read_text().splitlines():
                    if json.loads(line)["eventName"] == event:
                        counts[stream.ident.worker_id] += 1
        return counts

    def stop(self) -> int:
        """SIGTERM to the supervisor; its exit status."""
        self.supervisor.send_signal(signal.SIGTERM)
        return self.supervisor.wait(timeout=120)


def start(
    tmp_path: Path, processes: list[ServerProcess], *args: str, env: dict[str, str] | None = None
) -> Node:
    data_dir = tmp_path / "data"
    process = ServerProcess(data_dir, free_port(), "--workers", "2", "--node-id", NODE, *args, env=env)
    processes.append(process)
    node = Node(process.process, process.port, process.log_path, data_dir)
    node.wait_for(lambda log: STARTED in log, "start of both workers")
    return node


def verify_everywhere(node: Node, key: str, value: str, connections: int) -> None:
    """`connections` CVV2 verifications of `value`, each on a new connection: every one answered."""
    for _ in range(connections):
        verified = node.client("payment-cryptography-data").verify_card_validation_data(
            KeyIdentifier=key, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=value
        )
        assert verified["KeyArn"] == key


def new_cvk(node: Node) -> tuple[str, str]:
    """A CVK made through one connection, and a CVV2 generated with it through another."""
    key = node.client().create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    value = node.client("payment-cryptography-data").generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]
    return key, value


def audit_verify(data_dir: Path) -> str:
    done = subprocess.run(
        [str(PAYCRYPT), "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_both_workers_answer_and_stop_cleanly(tmp_path: Path, processes: list[ServerProcess]) -> None:
    node = start(tmp_path, processes)
    pids = node.pids()
    assert sorted(pids) == [0, 1] and pids[0] != pids[1]
    key, value = new_cvk(node)
    verify_everywhere(node, key, value, 40)
    served = node.served("VerifyCardValidationData")
    # 40 connections spread by the kernel: both workers answered (all on one: a chance of 2^-39).
    assert sum(served.values()) == 40 and served[0] > 0 and served[1] > 0, served

    assert node.stop() == 0
    log = node.log()
    assert "SIGTERM: stopping the workers" in log
    assert "killed" not in log
    report = audit_verify(node.data_dir)
    for worker in (0, 1):
        assert re.search(
            rf"node {NODE} worker {worker}: 1 file\(s\), \d+ event\(s\), 1 signed digest\(s\): intact", report
        ), report
    # The start-up lines once for the node, not once per worker.
    assert log.count("paycrypt listening on") == 1


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    node = start(tmp_path, processes)
    key, value = new_cvk(node)
    [victim] = node.pids()[1]
    os.kill(victim, signal.SIGKILL)
    # Answered throughout: by worker 0 while worker 1 is being replaced, then by both.
    verify_everywhere(node, key, value, 10)
    log = node.wait_for(lambda log: len(node.pids(log).get(1, [])) == 2, "replacement of worker 1")
    assert re.search(
        rf"worker 1 \(pid {victim}\) was killed by SIGKILL after [\d.]+ s; starting it again in 0.5 s", log
    )
    [_, replacement] = node.pids(log)[1]
    assert replacement != victim and node.pids(log)[0] == node.pids()[0]
    before = node.served("VerifyCardValidationData")
    verify_everywhere(node, key, value, 30)
    after = node.served("VerifyCardValidationData")
    assert after[1] > before[1], (before, after)  # the replacement answers too

    assert node.stop() == 0
    report = audit_verify(node.data_dir)  # the killed worker's file got its digest from its replacement
    assert re.search(
        rf"node {NODE} worker 1: 2 file\(s\), \d+ event\(s\), 2 signed digest\(s\): intact", report
    ), report


def test_a_worker_that_cannot_start_is_retried_with_a_growing_delay(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """Worker 1's audit stream is held by another process (here, this test) while it is replaced:
    each replacement fails at start, and the next waits twice as long; once the stream is free,
    worker 1 serves again."""
    node = start(tmp_path, processes)
    [victim] = node.pids()[1]
    supervisor = node.supervisor
    supervisor.send_signal(signal.SIGSTOP)  # so that no replacement takes the stream before this test
    try:
        while "(stopped)" not in Path(f"/proc/{supervisor.pid}/status").read_text():
            time.sleep(0.01)  # stopped for certain: it cannot reap the victim below
        os.kill(victim, signal.SIGKILL)
        while "zombie" not in Path(f"/proc/{victim}/status").read_text():  # unreaped while stopped
            time.sleep(0.01)
        lock = os.open(node.data_dir / f"audit-{NODE}-w1.lock", os.O_RDWR)
        # The lock goes with the victim's last thread, which can end after its first one.
        deadline = time.monotonic() + 30
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the killed worker's audit lock was never released"
                time.sleep(0.01)
    finally:
        supervisor.send_signal(signal.SIGCONT)
    try:
        log = node.wait_for(lambda log: log.count("worker 1 could not start") >= 3, "three failed starts")
    finally:
        os.close(lock)
    delays = [float(d) for d in re.findall(r"worker 1 \(pid \d+\) .*? starting it again in ([\d.]+) s", log)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0][: len(delays[:4])] and len(delays) >= 3, log
    assert "another process is writing the audit stream of node wk worker 1" in log
    node.wait_for(lambda log: len(node.pids(log).get(1, [])) == 2, "worker 1 back")
    assert node.stop() == 0


def test_a_start_up_error_is_printed_once(tmp_path: Path) -> None:
    """Refused by worker 0, which starts alone first: one message, exit status 1, nothing left
    listening."""
    port = free_port()
    done = subprocess.run(
        [str(PAYCRYPT), "serve", "--workers", "2", "--port", str(port), "--data-dir", str(tmp_path / "data"),
         "--host", "0.0.0.0"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done
    output = done.stdout + done.stderr
    assert output.count("refusing to listen on 0.0.0.0 without TLS") == 1, output
    assert output.startswith("paycrypt serve: refusing"), output
    with socket.socket() as free:
        free.bind(("0.0.0.0", port))  # the supervisor and its workers are gone


def test_a_port_in_use_is_refused_once(tmp_path: Path, processes: list[ServerProcess]) -> None:
    """A second node on the same port is refused, even though the first listens with SO_REUSEPORT."""
    node = start(tmp_path, processes)
    done = subprocess.run(
        [str(PAYCRYPT), "serve", "--workers", "2", "--port", str(node.port), "--data-dir",
         str(tmp_path / "other")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done
    assert (done.stdout + done.stderr).count(
        f"cannot listen on 127.0.0.1:{node.port}: Address already in use"
    ) == 1
    assert not (tmp_path / "other" / "master.key").exists()  # refused before any worker started
    verify_everywhere(node, *new_cvk(node), 2)


def test_the_replicator_runs_in_one_worker_only(tmp_path: Path, processes: list[ServerProcess]) -> None:
    """Jobs that write to the store run once (under their lease): each key replicated once, all by
    one worker."""
    node = start(tmp_path, processes)
    control = node.client()
    keys = [
        control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, ReplicationRegions=["us-west-2"])[
            "Key"
        ]
        for _ in range(4)
    ]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and node.served("SynchronizeMultiRegionKey").total() < len(keys):
        time.sleep(0.2)
    time.sleep(1.0)  # time for a second replicator, were there one, to copy them again
    replicated = node.served("SynchronizeMultiRegionKey")
    assert sorted(replicated.values()) == [len(keys)], replicated
    west = aws_session("test", "test", "us-west-2")
    replica = west.client("payment-cryptography", endpoint_url=node.endpoint)
    for key in keys:
        got = replica.get_key(KeyIdentifier=replica_arn(key["KeyArn"], "us-west-2"))["Key"]
        assert got["KeyState"] == "CREATE_COMPLETE"


def test_each_worker_opens_its_own_pkcs11_session(
    softhsm: hsm_support.SoftHsm, tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """The PKCS#11 vault, its PIN in the environment: every worker logs in to the token itself
    (a new program, not a fork) and unseals keys the other one sealed."""
    vault = softhsm.vault_settings(pin_file=None)
    node = start(tmp_path, processes, *hsm_support.serve_args(vault), env={vault.pin_variable: softhsm.pin})
    assert "vault: PKCS#11" in node.log()
    key, value = new_cvk(node)
    verify_everywhere(node, key, value, 30)
    served = node.served("VerifyCardValidationData")
    assert served[0] > 0 and served[1] > 0, served
    assert node.stop() == 0
    assert not (node.data_dir / "master.key").exists()


def gone(pid: int) -> bool:
    """The process has exited (reaped, or a zombie its new parent has not reaped yet)."""
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def wait_gone(pids: list[int], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, [pid for pid in pids if not gone(pid)]
        time.sleep(0.1)


def test_sigint_stops_the_node_as_sigterm_does(tmp_path: Path, processes: list[ServerProcess]) -> None:
    node = start(tmp_path, processes)
    verify_everywhere(node, *new_cvk(node), 4)
    pids = [pid for ids in node.pids().values() for pid in ids]
    node.supervisor.send_signal(signal.SIGINT)
    assert node.supervisor.wait(timeout=120) == 0
    assert "SIGINT: stopping the workers" in node.log()
    wait_gone(pids, 5)
    audit_verify(node.data_dir)


def test_workers_stop_when_the_supervisor_is_killed(tmp_path: Path, processes: list[ServerProcess]) -> None:
    """SIGKILL to the supervisor forwards nothing: the kernel sends each worker SIGTERM."""
    node = start(tmp_path, processes)
    pids = [pid for ids in node.pids().values() for pid in ids]
    node.supervisor.kill()
    node.supervisor.wait(timeout=10)
    wait_gone(pids)
    with socket.socket() as free:
        free.bind(("127.0.0.1", node.port))  # nothing serves unsupervised
    audit_verify(node.data_dir)  # each worker closed its stream as it stopped


# The supervisor with a short stop timeout, run as `paycrypt serve --workers 2` runs it.
SHORT_STOP = """
import logging, sys
from pathlib import Path
from paycrypt.server import Settings
from paycrypt.workers.supervisor import Supervisor
logging.basicConfig(level="INFO", format="%(message)s")
settings = Settings(port=int(sys.argv[1]), data_dir=Path(sys.argv[2]), workers=2, node_id="wk")
sys.exit(Supervisor(settings, stop_timeout=2.0).run())
"""


def test_a_worker_that_does_not_stop_is_killed_after_the_timeout(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "data", free_port()
    log_path = tmp_path / "supervisor.log"
    with log_path.open("wb") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-c", SHORT_STOP, str(port), str(data_dir)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        node = Node(supervisor, port, log_path, data_dir)
        node.wait_for(lambda log: STARTED in log, "start of both workers")
        [stuck] = node.pids()[1]
        os.kill(stuck, signal.SIGSTOP)  # a worker that will not act on SIGTERM
        assert node.stop() == 1
        log = log_path.read_text()
        assert f"worker 1 (pid {stuck}) did not stop within 2 s: killed" in log
        wait_gone([pid for ids in node.pids(log).values() for pid in ids], 5)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_metrics_of_both_workers_on_the_supervisors_port(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """--metrics-port with workers: the supervisor serves /metrics over every worker's values."""
    metrics_port = free_port()
    node = start(tmp_path, processes, "--metrics-port", str(metrics_port))
    for _ in range(12):
        node.client().list_keys()
    served = node.served("ListKeys")
    assert served[0] > 0 and served[1] > 0, served
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30) as response:
        text = response.read().decode()
    counted = re.search(
        r'paycrypt_request_duration_seconds_count\{[^}]*operation="ListKeys"[^}]*\} (\S+)', text
    )
    assert counted and float(counted.group(1)) == 12, text[:2000]
    assert node.stop() == 0


def test_a_key_deleted_through_one_worker_is_refused_by_every_worker_within_a_second(
    tmp_path: Path, processes: list[ServerProcess]
) -> None:
    """Needs the workers' cache coherence (issue 15 item 4: on SQLite, the store's change signal):
    both workers have the key cached when it is deleted through one of them."""
    node = start(tmp_path, processes)
    key, value = new_cvk(node)
    verify_everywhere(node, key, value, 20)
    served = node.served("VerifyCardValidationData")
    assert served[0] > 0 and served[1] > 0, served  # cached in both
    node.client().delete_key(KeyIdentifier=key, DeleteKeyInDays=3)
    time.sleep(1.0)
    for _ in range(20):
        expect_error(
            node.client("payment-cryptography-data").verify_card_validation_data,
            "ValidationException",
            400,
            KeyIdentifier=key,
            PrimaryAccountNumber=PAN,
            VerificationAttributes=CVV2,
            ValidationData=value,
        )
    after = node.served("VerifyCardValidationData")
    assert after[0] > served[0] and after[1] > served[1], (served, after)  # both refused it

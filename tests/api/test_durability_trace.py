"""Every acknowledged write is on disk before its answer leaves (issue 13: a durability test that
can fail).

tests/api/test_durability.py kills the server with SIGKILL mid-load, but SIGKILL leaves the page
cache intact, so it passes even with `PRAGMA synchronous=OFF`. Here `paycrypt serve` runs under
Debian's strace and, for every write operation of the control plane, the trace must show the
request's WAL write followed by an fsync or fdatasync of the WAL before the first byte of the
response (tests/api/syscall_trace.py). The same run against a server whose store is set to
synchronous=OFF (given by tests/api/launcher.py, which builds the server with it) and NORMAL
(WAL synced only at checkpoints) must be caught for every operation: the check can fail.

strace is installed by the project's setup (.ci/run). Without it the test is skipped on a
developer's machine, and fails in CI (CI=true), where a skip would hide the check.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paycrypt.cli.main import main as paycrypt_main
from tests import kx_partner as kp
from tests.api import launcher
from tests.api.known_keys import import_partner_ca
from tests.api.processes import ServerProcess
from tests.api.replication_support import WEST, wait_synchronized
from tests.api.syscall_trace import Response, responses, strace_command
from tests.api.test_durability import client
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port

pytestmark = pytest.mark.cli

ACCOUNT = "111122223333"


def need_strace() -> None:
    if shutil.which("strace") is None:
        message = "strace is not installed (apt-get install strace; .ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def write_operations(control: Any, data_dir: Path) -> Iterator[tuple[str, Callable[[], dict]]]:
    """(operation, call) for every control-plane operation that writes the store, in an order
    where each one's preconditions hold; each call's response is acknowledged before the next."""
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    yield "CreateKey", lambda: control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    root = kp.ca("ECC_NIST_P256")
    yield "ImportKey", lambda: _call_of(import_partner_ca, control, "RootCertificatePublicKey", root)
    yield (
        "GetParametersForImport",
        lambda: control.get_parameters_for_import(
            KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_2048"
        ),
    )
    yield (
        "GetParametersForExport",
        lambda: control.get_parameters_for_export(
            KeyMaterialType="TR34_KEY_BLOCK", SigningKeyAlgorithm="RSA_2048"
        ),
    )
    yield "CreateAlias", lambda: control.create_alias(AliasName="alias/durable", KeyArn=arn)
    yield "UpdateAlias", lambda: control.update_alias(AliasName="alias/durable")
    yield "DeleteAlias", lambda: control.delete_alias(AliasName="alias/durable")
    yield "TagResource", lambda: control.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    yield "UntagResource", lambda: control.untag_resource(ResourceArn=arn, TagKeys=["k"])
    yield "StopKeyUsage", lambda: control.stop_key_usage(KeyIdentifier=arn)
    yield "StartKeyUsage", lambda: control.start_key_usage(KeyIdentifier=arn)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "payment-cryptography:GetKey",
                "Resource": "*",
            }
        ],
    }
    yield "PutResourcePolicy", lambda: control.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy))
    yield "DeleteResourcePolicy", lambda: control.delete_resource_policy(ResourceArn=arn)
    yield "DeleteKey", lambda: control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)
    yield "RestoreKey", lambda: control.restore_key(KeyIdentifier=arn)
    yield (
        "EnableDefaultKeyReplicationRegions",
        lambda: control.enable_default_key_replication_regions(ReplicationRegions=[WEST]),
    )
    yield (
        "DisableDefaultKeyReplicationRegions",
        lambda: control.disable_default_key_replication_regions(ReplicationRegions=[WEST]),
    )
    yield (
        "AddKeyReplicationRegions",
        lambda: control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST]),
    )
    wait_synchronized(control, arn, [WEST])  # the replicator's own writes end before the next call
    yield (
        "RemoveKeyReplicationRegions",
        lambda: control.remove_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST]),
    )
    wait_synchronized(control, arn, [])
    team, action = _create_team(data_dir), "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"
    yield "AssociateMpaTeam", lambda: control.associate_mpa_team(Action=action, MpaTeamArn=team)
    yield "DisassociateMpaTeam", lambda: control.disassociate_mpa_team(Action=action)


def _call_of(helper: Callable[..., Any], control: Any, *args: Any) -> dict:
    """The raw response of the one boto3 call a test helper makes (for its request id)."""
    seen: list[dict] = []

    def keep(http_response: Any, parsed: dict, **_: Any) -> None:
        seen.append(parsed)

    control.meta.events.register("after-call", keep)
    try:
        helper(control, *args)
    finally:
        control.meta.events.unregister("after-call", keep)
    return seen[-1]


def _create_team(data_dir: Path) -> str:
    """An approval team, made the way an operator does it: `paycrypt mpa create-team`."""
    with contextlib.redirect_stdout(io.StringIO()):
        code = paycrypt_main(
            ["mpa", "--data-dir", str(data_dir), "create-team", "--account", ACCOUNT, "--region", REGION,
             "--name", "custodians", "--approvals", "1", "--member", "alice"]
        )  # fmt: skip
    assert code == 0
    return f"arn:aws:mpa:{REGION}:{ACCOUNT}:approval-team/custodians"


def traced_run(base: Path, synchronous: str) -> dict[str, Response]:
    """Run every write operation against a traced server; each operation's judged response."""
    need_strace()
    data_dir, trace_file = base / "data", base / "strace.txt"
    port = free_port()
    server = ServerProcess(
        data_dir,
        port,
        "--purge-interval", "3600",  # no deletion sweep writing between the calls,
        "--lease-seconds", "3600",  # nor a lease renewal or heartbeat (a WAL write of another thread)
        # The SQLite store's own fsyncs are traced, whatever --store the run gives other servers
        # (PostgreSQL's are its server's: tests/api/test_durability.py kills it mid-load instead).
        "--store", f"sqlite:{data_dir / 'paycrypt.db'}",
        wrapper=strace_command(str(trace_file)),
        program=launcher.program("--synchronous", synchronous),
    )  # fmt: skip
    request_ids: dict[str, str] = {}
    try:
        server.wait_listening(60)  # under ptrace, start-up is slower
        control = client(f"http://127.0.0.1:{port}", "payment-cryptography")
        for operation, call in write_operations(control, data_dir):
            request_ids[operation] = call()["ResponseMetadata"]["RequestId"]
    finally:
        _stop_traced(server)
    traced = responses(trace_file.read_text(errors="replace"))
    missing = [operation for operation, request_id in request_ids.items() if request_id not in traced]
    assert not missing, f"responses not found in the trace: {missing}"
    return {operation: traced[request_id] for operation, request_id in request_ids.items()}


def _stop_traced(server: ServerProcess) -> None:
    """SIGTERM to the traced server itself (strace's child): strace then ends with it and has
    written the whole trace (a SIGTERM to strace would leave the server running)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    with contextlib.suppress(FileNotFoundError):  # strace already gone: nothing left to stop
        children = children.read_text().split()
    for pid in children if isinstance(children, list) else []:
        os.kill(int(pid), signal.SIGTERM)
    try:
        server.process.wait(timeout=20)
    finally:
        server.stop()


def test_every_acknowledged_write_is_synced_before_its_response(tmp_path: Path) -> None:
    judged = traced_run(tmp_path, "FULL")
    assert len(judged) == 21
    for operation, response in judged.items():
        assert response.wal_writes > 0, f"{operation} wrote nothing to the WAL: the check saw nothing"
        assert response.unsynced == [], f"{operation} answered before the WAL was synced: {response}"


@pytest.mark.parametrize("synchronous", ["OFF", "NORMAL"])
def test_the_check_catches_every_write_left_unsynced(tmp_path: Path, synchronous: str) -> None:
    """The proof the check above can fail: a store that does not sync is caught at every write."""
    judged = traced_run(tmp_path, synchronous)
    assert len(judged) == 21
    for operation, response in judged.items():
        assert response.wal_writes > 0, operation
        assert [Path(name).name for name in response.unsynced] == ["paycrypt.db-wal"], (operation, response)


def test_the_trace_reader_follows_calls_split_across_threads() -> None:
    """strace splits a call another thread interrupts into `<unfinished ...>` and `<... resumed>`:
    a sync counts when it returns 0, so a response sent while the fdatasync is still running is
    caught, and one sent after it returned is not."""
    wal, connection = "/d/paycrypt.db-wal", "TCP:[127.0.0.1:8080->127.0.0.1:5000]"
    head = 'write(9<{c}>, "HTTP/1.1 200 OK\\r\\nx-amzn-requestid: {r}\\r\\n"..., 90) = 90'
    early, late = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
    trace = "\n".join(
        [
            f'10 read(9<{connection}>, "POST / HTTP/1.1\\r\\n"..., 65536) = 300',
            f'10 pwrite64(4<{wal}>, "\\0\\0"..., 4120, 32) = 4120',
            f"11 fdatasync(4<{wal}> <unfinished ...>",
            "10 " + head.format(c=connection, r=early),
            f'10 read(9<{connection}>, "POST / HTTP/1.1\\r\\n"..., 65536) = 300',
            f'10 pwrite64(4<{wal}>, "\\0\\0"..., 4120, 4152) = 4120',
            "11 <... fdatasync resumed>) = 0",
            "10 " + head.format(c=connection, r=late),
        ]
    )
    judged = responses(trace)
    assert (judged[early].wal_writes, judged[early].unsynced) == (1, [wal])
    assert (judged[late].wal_writes, judged[late].unsynced) == (1, [])

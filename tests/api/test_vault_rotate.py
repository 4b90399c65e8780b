"""`paycrypt vault rotate` against a running server (issue 16 item 3).

- A server started by the test serves CVV2 verifications through boto3, and creates keys, while
  the command rotates the master key in another process: no request fails; afterwards every
  block (old keys and the keys created meanwhile) is under the new version, version 1 is gone
  from disk and from the server's memory, the server forgot what it had unsealed from the old
  blocks, and every key's material is what it was.
- SIGKILL in the middle, run again: it finishes the same rotation; every block re-sealed exactly
  once (the store's feed of block changes), none lost.
- Progress: a bar on a terminal (a pty), plain lines through a pipe; one rotation at a time.

The first test runs the command as docs/operations.md gives it.
"""

from __future__ import annotations

import collections
import fcntl
import os
import pty
import shlex
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.clock import ManualClock
from paycrypt.server import Settings
from paycrypt.vault import blocks
from tests.api.processes import PAYCRYPT
from tests.background import Background
from tests.conftest import RunningServer, free_port, start_server
from tests.docs_pages import code_blocks, page, shell_commands
from tests.service import stored_keys

PAN = "4111111111111111"
EXPIRY = {"CardVerificationValue2": {"CardExpiryDate": "1229"}}

pytestmark = pytest.mark.cli  # runs the `paycrypt` command (tests/cli_marker.py)


def documented_rotate(data_dir: Path) -> list[str]:
    """The command docs/operations.md gives, for this data directory."""
    [command] = [
        c for b in code_blocks(page("operations.md"), "sh") for c in shell_commands(b) if "vault rotate" in c
    ]
    words = shlex.split(command)
    assert words[:3] == ["paycrypt", "vault", "rotate"]
    return [str(PAYCRYPT), *(str(data_dir) if w == "/var/lib/paycrypt" else w for w in words[1:])]


def rotate(data_dir: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAYCRYPT), "vault", "rotate", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs,  # type: ignore[arg-type]
    )


def fill(data_dir: Path, count: int) -> dict[str, bytes]:
    """`count` CVKs in the data directory before any server opens it; each ARN's material."""
    svc = stored_keys.file_service(data_dir)
    try:
        arns = stored_keys.fill(svc, count)
        return {arn: svc.keycache.material(svc.store.get_key(arn)) for arn in arns}
    finally:
        svc.store.close()


def blocks_by_version(data_dir: Path) -> collections.Counter[str]:
    with sqlite3.connect(data_dir / "paycrypt.db") as db:
        rows = db.execute("SELECT key_block FROM keys UNION ALL SELECT key_block FROM exchange_keys")
        return collections.Counter(blocks.sealed_under(block) for (block,) in rows)


def reseals(data_dir: Path) -> collections.Counter[str]:
    with sqlite3.connect(data_dir / "paycrypt.db") as db:
        return collections.Counter(arn for (arn,) in db.execute("SELECT arn FROM block_changes"))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[RunningServer, dict[str, bytes]]]:
    data_dir = tmp_path / "data"
    materials = fill(data_dir, 300)
    # The file vault and SQLite, whatever the run's --vault and --store: `fill` made them.
    settings = Settings(
        port=free_port(), data_dir=data_dir, purge_interval=60.0, store=f"sqlite:{data_dir / 'paycrypt.db'}"
    )
    clock = ManualClock()
    uv, thread, app = start_server(settings, clock, run_vault=False)
    yield RunningServer(f"http://127.0.0.1:{settings.port}", clock, app, data_dir, settings), materials
    uv.should_exit = True
    thread.join(timeout=10)


class Verifier(Background):
    """CVV2 verifications round robin over the keys, each answer checked; failures kept."""

    def __init__(self, data: object, expected: dict[str, str]) -> None:
        super().__init__()
        self.data, self.expected = data, expected
        self.done = 0
        self.failures: list[str] = []

    def _run(self) -> None:
        while not self.stopping.is_set():
            for arn, value in self.expected.items():
                if self.stopping.is_set():
                    return
                try:
                    answer = self.data.verify_card_validation_data(  # type: ignore[attr-defined]
                        KeyIdentifier=arn,
                        PrimaryAccountNumber=PAN,
                        VerificationAttributes=EXPIRY,
                        ValidationData=value,
                    )
                    assert answer["KeyArn"] == arn
                    self.done += 1
                except Exception as exc:
                    self.failures.append(f"{arn}: {exc!r}")


class Creator(Background):
    """CreateKey now and then: keys the server seals while the rotation runs."""

    def __init__(self, control: object) -> None:
        super().__init__()
        self.control = control
        self.created: list[str] = []
        self.failures: list[str] = []

    def _run(self) -> None:
        while not self.stopping.wait(0.2):
            try:
                key = self.control.create_key(  # type: ignore[attr-defined]
                    Exportable=True, KeyAttributes=stored_keys_cvk_attributes()
                )
                self.created.append(key["Key"]["KeyArn"])
            except Exception as exc:
                self.failures.append(repr(exc))


def stored_keys_cvk_attributes() -> dict[str, object]:
    usage, algorithm, modes = stored_keys.CVK
    return {"KeyUsage": usage, "KeyAlgorithm": algorithm, "KeyClass": "SYMMETRIC_KEY", "KeyModesOfUse": modes}


def test_rotation_while_the_server_serves_cvv2_verifications(
    running: tuple[RunningServer, dict[str, bytes]],
) -> None:
    server, materials = running
    data, control = server.client("payment-cryptography-data"), server.client("payment-cryptography")
    service = server.parts.service
    arns = list(materials)[:40]
    expected = {
        arn: data.generate_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
        )["ValidationData"]
        for arn in arns
    }
    assert all(service.keycache.holds(arn) for arn in arns)  # unsealed from the version-1 blocks
    old = service.vault.key_id

    with Verifier(data, expected) as one, Verifier(data, expected) as two, Creator(control) as creator:
        time.sleep(0.5)
        during = one.done + two.done
        done = subprocess.run(
            [*documented_rotate(server.data_dir), "--grace", "2"], capture_output=True, text=True, timeout=600
        )
        during = one.done + two.done - during
        time.sleep(0.3)

    assert done.returncode == 0, done.stderr
    assert one.failures == two.failures == creator.failures == []
    assert during > 0 and creator.created  # the data plane served, and keys were sealed, meanwhile
    assert "made master key version 2" in done.stderr and "pass 1:" in done.stderr  # plain lines: a pipe
    assert "master key version 2" in done.stdout and "retired versions: 1" in done.stdout

    new = blocks.check_value((server.data_dir / "master.key.2").read_bytes())
    assert new != old and not (server.data_dir / "master.key").exists()
    assert blocks_by_version(server.data_dir) == {new: 300 + len(creator.created) + exchange_keys(server)}
    # The running server learned: its follower drops the old blocks' material and version 1.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        [v.version for v in service.vault.versions()] != [2] or any(service.keycache.holds(a) for a in arns)
    ):
        time.sleep(0.1)
    assert [v.version for v in service.vault.versions()] == [2]
    for arn, value in expected.items():  # unsealed again, from the new blocks
        data.verify_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=PAN, VerificationAttributes=EXPIRY, ValidationData=value
        )
        assert service.vault.sealed_by(service.store.get_key(arn).key_block) == new
    fresh = stored_keys.file_service(server.data_dir)  # a restart
    assert {arn: fresh.keycache.material(fresh.store.get_key(arn)) for arn in materials} == materials
    for arn in creator.created:
        fresh.keycache.material(fresh.store.get_key(arn))
    fresh.store.close()


def exchange_keys(server: RunningServer) -> int:
    with sqlite3.connect(server.data_dir / "paycrypt.db") as db:
        return db.execute("SELECT COUNT(*) FROM exchange_keys").fetchone()[0]


def test_a_rotation_killed_in_the_middle_finishes_when_run_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    materials = fill(data_dir, 1200)
    child = subprocess.Popen(
        [str(PAYCRYPT), "vault", "rotate", "--data-dir", str(data_dir), "--grace", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not sum(reseals(data_dir).values()) > 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    niceness = os.getpriority(os.PRIO_PROCESS, child.pid)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    killed_at = sum(reseals(data_dir).values())
    assert 0 < killed_at < 1200, killed_at  # killed in the middle
    assert niceness == min(os.getpriority(os.PRIO_PROCESS, 0) + 10, 19)  # --nice 10 by default
    assert (data_dir / "master.key").exists() and (data_dir / "master.key.2").exists()

    again = rotate(data_dir, "--grace", "0")
    assert again.returncode == 0, again.stderr
    assert "resuming the rotation to master key version 2" in again.stderr
    assert f"{1200 - killed_at} blocks re-sealed in this run" in again.stdout
    assert reseals(data_dir) == dict.fromkeys(materials, 1)  # every block once: none twice, none lost
    new = blocks.check_value((data_dir / "master.key.2").read_bytes())
    assert blocks_by_version(data_dir) == {new: 1200} and not (data_dir / "master.key").exists()
    fresh = stored_keys.file_service(data_dir)
    assert {arn: fresh.keycache.material(fresh.store.get_key(arn)) for arn in materials} == materials
    fresh.store.close()


def test_a_terminal_gets_a_progress_bar(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    fill(data_dir, 20)
    controller, terminal = pty.openpty()
    try:
        child = subprocess.Popen(
            [str(PAYCRYPT), "vault", "rotate", "--data-dir", str(data_dir), "--grace", "0"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
        )
        os.close(terminal)
        shown = b""
        while chunk := _read(controller):
            shown += chunk
        assert child.wait(timeout=60) == 0
    finally:
        os.close(controller)
    assert b"\rpass 1 [" + b"#" * 30 + b"] 100% 20/20 blocks, 20 re-sealed" in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        return b""


def test_one_rotation_at_a_time(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    fill(data_dir, 1)
    fd = os.open(data_dir / ".vault-rotate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        refused = rotate(data_dir)
    finally:
        os.close(fd)
    assert refused.returncode == 1 and "paycrypt vault: another rotation is running" in refused.stderr
    assert not (data_dir / "master.key.2").exists()
    assert rotate(data_dir, "--grace", "0").returncode == 0


def test_a_directory_without_a_server_is_refused(tmp_path: Path) -> None:
    refused = rotate(tmp_path / "nothing")
    assert refused.returncode == 1 and "no master key and database" in refused.stderr
    assert not (tmp_path / "nothing").exists()


def test_a_block_that_cannot_be_unsealed_stops_the_retirement(tmp_path: Path) -> None:
    """A tampered block is named by ARN, exit status 1, and version 1 stays on disk."""
    data_dir = tmp_path / "data"
    arns = list(fill(data_dir, 3))
    with sqlite3.connect(data_dir / "paycrypt.db") as db:
        (block,) = db.execute("SELECT key_block FROM keys WHERE arn = ?", (arns[0],)).fetchone()
        tampered = block[:-4] + ("0000" if not block.endswith("0000") else "1111")
        db.execute("UPDATE keys SET key_block = ? WHERE arn = ?", (tampered, arns[0]))
    done = rotate(data_dir, "--grace", "0")
    assert done.returncode == 1
    assert "paycrypt vault: 1 blocks could not be re-sealed, so no version was retired" in done.stderr
    assert f"{arns[0]}: Stored key material failed its integrity check." in done.stderr
    assert (data_dir / "master.key").exists() and (data_dir / "master.key.2").exists()
    assert reseals(data_dir) == {arns[1]: 1, arns[2]: 1}

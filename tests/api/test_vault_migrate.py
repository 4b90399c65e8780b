"""`paycrypt vault migrate` (file vault <-> PKCS#11 token) and `paycrypt vault rotate` on a PKCS#11
vault, on the run's SoftHSM2 token (issue 16 item 3).

- A server started with the file vault serves CVV2 verifications through boto3 and creates keys
  while the command, as docs/key-protection.md gives it, moves every block to the token: no
  request fails, the server follows the migration (vault/migration.py); restarted on the token
  with master.key removed, every key gives the CVV2 it gave before; moved back to the file vault,
  the same again.
- SIGKILL in the middle (after the first page of 500 blocks commits), both ways, run again: it
  resumes; every block re-sealed exactly once (the store's feed of block changes), none lost.
- A block the source cannot open is named and leaves the migration unfinished.
- On several nodes: nothing is re-sealed while a live server (another node's heartbeat) cannot
  open the target; the refusal names it and says to copy the marker; once it reports the target's
  key the migration runs; afterwards a node started with the old vault is refused at start, told to
  switch its --vault.
- Rotation in the token: a new version generated there, SIGKILL in the middle, run again: it
  finishes, every block once, and the old version is destroyed in the token.

Each test has a master key of its own label in the run's token, and names its own vault and store
(the file vault, SQLite), whatever `--vault` and `--store` the run was given.
"""

from __future__ import annotations

import json
import secrets
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from paycrypt.clock import ManualClock
from paycrypt.server import Settings
from paycrypt.service.core import Quotas, Service
from paycrypt.store.records import Holding
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault import agreement, factory, migration
from paycrypt.vault.base import Vault
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault
from tests.api.processes import PAYCRYPT, ServerProcess
from tests.api.test_vault_rotate import EXPIRY, PAN, Creator, Verifier, blocks_by_version, reseals
from tests.conftest import RunningServer, free_port, start_server
from tests.docs_pages import code_blocks, page, shell_commands
from tests.nodes import copy_master_key
from tests.service import stored_keys
from tests.softhsm import SoftHsm, serve_args

pytestmark = pytest.mark.cli  # runs the `paycrypt` command (tests/cli_marker.py)

NOWHERE = Path("/nonexistent")
QUICK = ("--grace", "0", "--nice", "0")  # no server to wait for; full speed (niceness: test_vault_rotate)


@pytest.fixture
def token(softhsm: SoftHsm) -> factory.VaultSettings:
    """A master key of this test's own in the run's token."""
    settings = softhsm.vault_settings(key_label=f"migrate-{secrets.token_hex(4)}")
    factory.create_master_key(settings, NOWHERE)
    return settings


def token_args(token: factory.VaultSettings) -> list[str]:
    """The `--pkcs11-*` options of `token` (`vault migrate` has no --vault: --to says which end)."""
    return serve_args(token)[2:]


def migrate(
    data_dir: Path, to: str, token: factory.VaultSettings, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(PAYCRYPT),
            "vault",
            "migrate",
            "--to",
            to,
            "--data-dir",
            str(data_dir),
            *token_args(token),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def documented_migrate(data_dir: Path, token: factory.VaultSettings, hsm: SoftHsm) -> list[str]:
    """The command docs/key-protection.md gives, for this data directory and token (the page's
    module and token label replaced by the run's, and this test's key label added)."""
    [command] = [
        c
        for b in code_blocks(page("key-protection.md"), "sh")
        for c in shell_commands(b)
        if "vault migrate" in c
    ]
    replace = {"/var/lib/paycrypt": str(data_dir), "/usr/lib/softhsm/libsofthsm2.so": str(hsm.module)}
    replace["paycrypt"] = hsm.token_label  # the token's label, after --pkcs11-token
    words = shlex.split(command)
    assert words[:3] == ["paycrypt", "vault", "migrate"]
    return [str(PAYCRYPT), *(replace.get(w, w) for w in words[1:]), "--pkcs11-key", token.key_label]


def service_on(data_dir: Path, vault: Vault) -> Service:
    return Service(
        SqliteStore(data_dir / "paycrypt.db"), KeyCache(vault), ManualClock(), Quotas(keys_per_region=100_000)
    )


def fill(data_dir: Path, vault: Vault, count: int) -> dict[str, bytes]:
    """`count` CVKs sealed under `vault` before any server opens the directory; each one's material."""
    data_dir.mkdir(parents=True, exist_ok=True)
    svc = service_on(data_dir, vault)
    try:
        return {arn: svc.keycache.material(svc.store.get_key(arn)) for arn in stored_keys.fill(svc, count)}
    finally:
        svc.store.close()


def materials(data_dir: Path, vault: Vault, arns: list[str]) -> dict[str, bytes]:
    svc = service_on(data_dir, vault)
    try:
        return {arn: svc.keycache.material(svc.store.get_key(arn)) for arn in arns}
    finally:
        svc.store.close()


@contextmanager
def serving(data_dir: Path, vault: factory.VaultSettings) -> Iterator[RunningServer]:
    """A server on `vault` and the directory's SQLite store, whatever the run's --vault and --store."""
    settings = Settings(
        port=free_port(), data_dir=data_dir, vault=vault, store=f"sqlite:{data_dir / 'paycrypt.db'}"
    )
    clock = ManualClock()
    uv, thread, parts = start_server(settings, clock, run_vault=False)
    try:
        yield RunningServer(f"http://127.0.0.1:{settings.port}", clock, parts, data_dir, settings)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def cvv2s(server: RunningServer, arns: list[str]) -> dict[str, str]:
    data = server.client("payment-cryptography-data")
    return {
        arn: data.generate_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
        )["ValidationData"]
        for arn in arns
    }


def test_file_to_token_while_serving_then_back(
    token: factory.VaultSettings, softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server runs in this process: its environment holds the PIN, as the page exports it for
    the command (a server that cannot open the target is what the page warns of)."""
    monkeypatch.setenv("PAYCRYPT_PKCS11_PIN", softhsm.pin)
    data_dir = tmp_path / "data"
    file_vault = LocalKeyFileVault(data_dir / "master.key")
    before = fill(data_dir, file_vault, 200)
    arns = list(before)
    token_kcv = factory.open_vault(token, NOWHERE).key_id

    with serving(data_dir, factory.VaultSettings()) as server:
        expected = cvv2s(server, arns[:40])
        data, control = server.client("payment-cryptography-data"), server.client("payment-cryptography")
        with Verifier(data, expected) as one, Verifier(data, expected) as two, Creator(control) as creator:
            time.sleep(0.5)
            served = one.done + two.done
            done = subprocess.run(
                [*documented_migrate(data_dir, token, softhsm), "--grace", "2"],
                capture_output=True,
                text=True,
                timeout=600,
            )
            served = one.done + two.done - served
            time.sleep(0.3)
        assert done.returncode == 0, done.stderr
        assert one.failures == two.failures == creator.failures == []
        assert served > 0 and creator.created  # the data plane served, and keys were sealed, meanwhile
        assert "migrating from file" in done.stderr and "pass 1:" in done.stderr  # plain lines: a pipe
        assert f"every key block is sealed under PKCS#11, key '{token.key_label}'" in done.stdout
        # Every block, the keys created meanwhile too, is under the token's key.
        counts = blocks_by_version(data_dir)
        assert set(counts) == {token_kcv} and counts[token_kcv] >= 200 + len(creator.created)
        assert server.parts.service.vault.key_id == token_kcv  # the server followed the marker
        assert expected == cvv2s(server, list(expected))
        everything = [*arns, *creator.created]
    marker = migration.read(data_dir)
    assert marker is not None and marker.finished and marker.target.key_label == token.key_label

    (data_dir / "master.key").unlink()  # the file vault's key is needed by no block any more
    with serving(data_dir, token) as server:
        assert cvv2s(server, list(expected)) == expected
        assert len(cvv2s(server, everything)) == len(everything)
    assert materials(data_dir, factory.open_vault(token, NOWHERE), arns) == before

    back = migrate(data_dir, "file", token, "--grace", "0")
    assert back.returncode == 0, back.stderr
    file_kcv = LocalKeyFileVault(data_dir / "master.key").key_id  # made by the migration: the old one is gone
    assert set(blocks_by_version(data_dir)) == {file_kcv}
    with serving(data_dir, factory.VaultSettings()) as server:
        assert cvv2s(server, list(expected)) == expected
    assert materials(data_dir, LocalKeyFileVault(data_dir / "master.key"), arns) == before


@pytest.mark.parametrize("to", ["pkcs11", "file"])
def test_a_migration_killed_in_the_middle_resumes(
    to: str, token: factory.VaultSettings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    file_vault = LocalKeyFileVault(data_dir / "master.key")
    token_vault = factory.open_vault(token, NOWHERE)
    source, target = (file_vault, token_vault) if to == "pkcs11" else (token_vault, file_vault)
    before = fill(data_dir, source, 1000)
    child = subprocess.Popen(
        [
            str(PAYCRYPT),
            "vault",
            "migrate",
            "--to",
            to,
            "--data-dir",
            str(data_dir),
            *token_args(token),
            *QUICK,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not sum(reseals(data_dir).values()) > 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    killed_at = sum(reseals(data_dir).values())
    assert 0 < killed_at < 1000, killed_at  # killed in the middle
    marker = migration.read(data_dir)
    assert marker is not None and not marker.finished

    again = migrate(data_dir, to, token, *QUICK)
    assert again.returncode == 0, again.stderr
    assert "resuming the migration" in again.stderr
    assert f"{1000 - killed_at} blocks re-sealed in this run" in again.stdout
    assert reseals(data_dir) == dict.fromkeys(before, 1)  # every block once: none twice, none lost
    assert blocks_by_version(data_dir) == {target.key_id: 1000}
    assert materials(data_dir, target, list(before)) == before


def test_a_block_the_source_cannot_open_leaves_the_migration_unfinished(
    token: factory.VaultSettings, tmp_path: Path
) -> None:
    """A block sealed under a master key neither vault holds is named by ARN, exit status 1; the
    other blocks move; a migration the other way is refused until this one finishes."""
    data_dir = tmp_path / "data"
    arns = list(fill(data_dir, LocalKeyFileVault(data_dir / "master.key"), 3))
    stranger = MasterKeyVault(secrets.token_bytes(32))
    svc = service_on(data_dir, stranger)
    record = svc.store.get_key(arns[0])
    svc.store.reseal_block("keys", arns[0], record.key_block, stranger.seal(record, bytes(16)))
    svc.store.close()
    done = migrate(data_dir, "pkcs11", token, "--grace", "0")
    assert done.returncode == 1
    assert "paycrypt vault: 1 blocks could not be re-sealed, so the migration is unfinished" in done.stderr
    assert (
        f"{arns[0]}: Stored key material is sealed under a master key this vault does not hold."
        in done.stderr
    )
    token_kcv = factory.open_vault(token, NOWHERE).key_id
    assert blocks_by_version(data_dir) == {stranger.key_id: 1, token_kcv: 2}
    refused = migrate(data_dir, "file", token, "--grace", "0")
    assert refused.returncode == 1 and "is unfinished: run it to its end first" in refused.stderr


def test_rotation_in_the_token_killed_in_the_middle_finishes(
    token: factory.VaultSettings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    vault = factory.open_vault(token, NOWHERE)
    before = fill(data_dir, vault, 1000)
    rotate = [
        str(PAYCRYPT),
        "vault",
        "rotate",
        "--data-dir",
        str(data_dir),
        *serve_args(token),
        *QUICK,
    ]
    child = subprocess.Popen(rotate, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not sum(reseals(data_dir).values()) > 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    killed_at = sum(reseals(data_dir).values())
    assert 0 < killed_at < 1000, killed_at
    vault.refresh()
    assert [v.version for v in vault.versions()] == [1, 2]

    again = subprocess.run(rotate, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "resuming the rotation to master key version 2" in again.stderr
    assert (
        f"{1000 - killed_at} blocks re-sealed in this run" in again.stdout
        and "retired versions: 1" in again.stdout
    )
    assert reseals(data_dir) == dict.fromkeys(before, 1)
    vault.refresh()
    assert [v.version for v in vault.versions()] == [2]  # version 1 destroyed in the token
    assert blocks_by_version(data_dir) == {vault.key_id: 1000}
    assert materials(data_dir, vault, list(before)) == before
    status = subprocess.run(
        [str(PAYCRYPT), "vault", "status", "--data-dir", str(data_dir), *serve_args(token)],
        capture_output=True,
        text=True,
    )
    assert json.loads(status.stdout)["BlocksByVersion"] == [
        {"Version": vault.key_id, "Blocks": 1000, "Current": True}
    ]


def test_a_migration_waits_for_every_live_server_and_a_node_left_on_the_old_vault_is_told_to_switch(
    token: factory.VaultSettings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    file_kcv = LocalKeyFileVault(data_dir / "master.key").key_id
    fill(data_dir, LocalKeyFileVault(data_dir / "master.key"), 3)
    token_kcv = factory.open_vault(token, NOWHERE).key_id
    store = SqliteStore(data_dir / "paycrypt.db")
    try:
        agreement.agree(store, LocalKeyFileVault(data_dir / "master.key"), "the store", "file")
        store.cluster.beat("node-b", 0, 120, (Holding(1, file_kcv),))  # another node, without the marker
        refused = migrate(data_dir, "pkcs11", token, *QUICK, "--wait", "1")
        assert refused.returncode == 1
        assert f"the target's master key (PKCS#11, key {token.key_label!r}" in refused.stderr
        assert f"is not held by every live server: node-b/w0 (holds version 1 ({file_kcv}))" in refused.stderr
        assert f"Copy {data_dir / migration.MARKER}" in refused.stderr
        assert blocks_by_version(data_dir) == {file_kcv: 3}  # nothing re-sealed
        # node-b is given the marker: its server opens the token too and says so at its next beat
        store.cluster.beat("node-b", 0, 120, (Holding(1, file_kcv), Holding(1, token_kcv)))
        done = migrate(data_dir, "pkcs11", token, *QUICK, "--wait", "1")
        assert done.returncode == 0, done.stderr
        assert blocks_by_version(data_dir) == {token_kcv: 3}
        assert [(r.key_id, r.vault) for r in store.master_key_records()] == [(token_kcv, "pkcs11")]
        store.cluster.leave("node-b", 0)
    finally:
        store.close()
    other = tmp_path / "node-c"  # a node with a copy of master.key and no marker, started on --vault file
    copy_master_key(data_dir, other)
    shared = f"sqlite:{data_dir / 'paycrypt.db'}"
    node = ServerProcess(other, free_port(), "--store", shared, "--vault", "file")
    try:
        assert node.process.wait(timeout=90) != 0
    finally:
        node.stop()
    log = node.log()
    assert "the store's keys are in a pkcs11 vault" in log and "start it with --vault pkcs11" in log
    assert "Traceback" not in log

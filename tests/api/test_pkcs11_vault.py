"""A server whose master key is in a PKCS#11 token (the run's SoftHSM2 token, tests/softhsm.py),
through boto3 and `paycrypt serve` processes: the token is called once per key, not per request;
the PIN is never on a command line nor in a log; a wrong PIN, a missing token, a tampered block and
a block sealed under another master key each get a clear error at start or on the one request, and
never a fallback to the file vault. `paycrypt vault status` counts the blocks under each version.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from paycrypt.cli.errors import EXIT_STATUS
from paycrypt.clock import ManualClock
from paycrypt.server import Settings, StartupError
from paycrypt.vault import factory
from paycrypt.vault.local import LocalKeyFileVault
from paycrypt.vault.pkcs11 import Pkcs11Vault
from tests.api.helpers import expect_error
from tests.api.processes import PAYCRYPT, ServerProcess
from tests.conftest import CVK_ATTRIBUTES, RunningServer, free_port, start_server
from tests.softhsm import SoftHsm, serve_args

PAN = "4111111111111111"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1127"}}


@pytest.fixture
def hsm_server(softhsm: SoftHsm, tmp_path: Path) -> Iterator[RunningServer]:
    yield from _serving(tmp_path / "data", softhsm.vault_settings())


def _serving(data_dir: Path, vault: factory.VaultSettings) -> Iterator[RunningServer]:
    """A server on `vault` and SQLite, whatever the run's --vault and --store (the tests read and
    edit its rows)."""
    settings = Settings(
        port=free_port(), data_dir=data_dir, vault=vault, store=f"sqlite:{data_dir / 'paycrypt.db'}"
    )
    clock = ManualClock()
    uv, thread, app = start_server(settings, clock, run_vault=False)
    try:
        yield RunningServer(f"http://127.0.0.1:{settings.port}", clock, app, data_dir, settings)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


def _vault(server: RunningServer) -> Pkcs11Vault:
    vault = server.parts.service.vault.own  # the vault it was started with (vault/migration.py)
    assert isinstance(vault, Pkcs11Vault)
    return vault


def _cvv2(server: RunningServer, arn: str) -> str:
    data = server.client("payment-cryptography-data")
    return data.generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


@pytest.mark.cli
def test_the_data_plane_calls_the_token_once_per_key(hsm_server: RunningServer) -> None:
    control = hsm_server.client("payment-cryptography")
    data = hsm_server.client("payment-cryptography-data")
    token = _vault(hsm_server).token
    arns = [
        control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"] for _ in range(3)
    ]
    for arn in arns:
        hsm_server.parts.service.keycache.forget(arn)  # whatever creation cached: the first use unseals
    before = token.calls
    for _ in range(10):
        for arn in arns:
            cvv2 = _cvv2(hsm_server, arn)
            data.verify_card_validation_data(
                KeyIdentifier=arn, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=cvv2
            )
    assert token.calls - before == len(arns)  # 60 requests, one unwrap per key


def test_a_tampered_block_fails_its_one_request(softhsm: SoftHsm, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    servers = _serving(data_dir, softhsm.vault_settings())
    server = next(servers)
    control = server.client("payment-cryptography")
    good, bad = (
        control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"] for _ in "ab"
    )
    expected = _cvv2(server, good)
    next(servers, None)  # stopped: the next server reads the rows afresh
    db = sqlite3.connect(data_dir / "paycrypt.db")
    (block,) = db.execute("SELECT key_block FROM keys WHERE arn = ?", (bad,)).fetchone()
    at = len(block) - 40
    db.execute(
        "UPDATE keys SET key_block = ? WHERE arn = ?",
        (block[:at] + ("0" if block[at] != "0" else "1") + block[at + 1 :], bad),
    )
    db.commit()
    db.close()
    for server in _serving(data_dir, softhsm.vault_settings()):
        data = server.client("payment-cryptography-data")
        response = expect_error(
            data.generate_card_validation_data,
            "InternalServerException",
            500,
            KeyIdentifier=bad,
            PrimaryAccountNumber=PAN,
            GenerationAttributes=CVV2,
        )
        assert "failed its integrity check" in response["Error"]["Message"]
        assert _cvv2(server, good) == expected  # every other key still serves


@pytest.mark.cli
def test_a_data_directory_of_the_file_vault_is_refused_by_the_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    """A data directory of the file vault, served with --vault pkcs11: the store records the file
    vault's master key, which the token does not hold, so the start is refused naming both check
    values (vault/agreement.py) instead of failing on every request; the master.key file beside
    them is not used. `paycrypt vault status` with the token counts the blocks it cannot open."""
    data_dir = tmp_path / "data"
    for server in _serving(data_dir, factory.VaultSettings()):
        server.client("payment-cryptography").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)
    file_kcv = _status(data_dir)["MasterKeyCheckValue"]
    status = _status(data_dir, *serve_args(softhsm.vault_settings()))
    token_kcv = status["MasterKeyCheckValue"]
    assert status["Vault"] == "pkcs11" and token_kcv != file_kcv
    assert {"Version": file_kcv, "Blocks": 1, "Current": False} in status["BlocksByVersion"]
    with pytest.raises(StartupError) as refused:
        for _ in _serving(data_dir, softhsm.vault_settings()):
            pass
    message = str(refused.value)
    assert f"version 1 with check value {token_kcv}, but the store" in message
    assert f"records version 1 with check value {file_kcv}" in message


def _status(data_dir: Path, *args: str) -> dict:
    done = subprocess.run(
        [str(PAYCRYPT), "vault", "status", "--data-dir", str(data_dir), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.cli
def test_vault_status_without_a_master_key_says_so_and_makes_none(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(PAYCRYPT), "vault", "status", "--data-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1 and f"no master key at {tmp_path / 'master.key'}" in done.stderr
    assert not (tmp_path / "master.key").exists()


def _refused_start(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`paycrypt serve` that must exit at start, saying why; its output."""
    server = ServerProcess(data_dir, free_port(), "--log-level", "debug", *args, env=env)
    try:
        assert server.process.wait(timeout=60) == EXIT_STATUS, server.log()
    finally:
        server.stop()
    assert not (data_dir / "master.key").exists(), "fell back to the file vault"
    return server.log()


@pytest.mark.cli
def test_a_wrong_pin_stops_the_start_and_is_not_shown(softhsm: SoftHsm, tmp_path: Path) -> None:
    wrong = "9" + softhsm.pin[1:]
    log = _refused_start(
        tmp_path / "data",
        *serve_args(softhsm.vault_settings(pin_file=None, pin_variable="PAYCRYPT_TEST_PIN")),
        env={"PAYCRYPT_TEST_PIN": wrong},
    )
    assert f"paycrypt serve: the PIN for token '{softhsm.token_label}' was refused" in log
    assert wrong not in log and softhsm.pin not in log


@pytest.mark.cli
def test_a_missing_token_stops_the_start(softhsm: SoftHsm, tmp_path: Path) -> None:
    log = _refused_start(tmp_path / "data", *serve_args(softhsm.vault_settings(token_label="unplugged")))
    assert "paycrypt serve: no token labelled 'unplugged' in " in log and "tokens present: " in log
    assert softhsm.pin not in log


@pytest.mark.cli
def test_a_missing_pin_stops_the_start(softhsm: SoftHsm, tmp_path: Path) -> None:
    log = _refused_start(tmp_path / "data", *serve_args(softhsm.vault_settings(pin_file=None)))
    assert "PAYCRYPT_PKCS11_PIN" in log and "not set" in log


@pytest.mark.cli
def test_the_pin_is_never_an_argument_nor_logged(softhsm: SoftHsm, tmp_path: Path) -> None:
    for command in ("serve", "vault init", "vault status"):
        for given in (["--pkcs11-pin", softhsm.pin], [f"--pkcs11-pin={softhsm.pin}"]):
            done = subprocess.run([str(PAYCRYPT), *command.split(), *given], capture_output=True, text=True)
            assert done.returncode == 2 and "the PIN is never given on the command line" in done.stderr
            assert softhsm.pin not in done.stdout + done.stderr
    server = ServerProcess(
        tmp_path / "data", free_port(), "--log-level", "debug", *serve_args(softhsm.vault_settings())
    )
    try:
        server.wait_listening()
    finally:
        server.stop()
    log = server.log()
    assert f"vault: PKCS#11, key 'paycrypt-master' in token '{softhsm.token_label}'" in log
    assert softhsm.pin not in log


@pytest.mark.cli
def test_the_run_vault_is_the_one_asked_for(
    server: RunningServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`pytest --vault pkcs11` runs the session's server and the `paycrypt serve` processes on the
    run's token, and the default run on each server's own master key file: never one for the other."""
    kind = request.config.getoption("vault")
    expected = {"file": LocalKeyFileVault, "pkcs11": Pkcs11Vault}[kind]
    assert type(server.parts.service.vault.own) is expected
    process = ServerProcess(tmp_path / "data", free_port())
    try:
        process.wait_listening()
    finally:
        process.stop()
    assert {"file": "vault: file, ", "pkcs11": "vault: PKCS#11, "}[kind] in process.log()

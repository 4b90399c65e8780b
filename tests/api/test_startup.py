"""Start-up refusals and multi-user authentication (issue 2): what the server will and will not start with.

- Off loopback, the server needs TLS (PANs and PIN blocks must not cross a network in clear) and a
  credentials file (the well-known `test`/`test` pair is for loopback only).
- With a credentials file, each user is its account's principal: keys are scoped to the account,
  `test`/`test` is no longer accepted, and STS GetCallerIdentity names the user.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions
import pytest
from botocore.config import Config

from paycrypt import tls
from paycrypt.server import Settings, StartupError, build_app, check_transport
from tests.api.helpers import expect_error
from tests.api.processes import PAYCRYPT
from tests.aws_sessions import session as aws_session
from tests.conftest import CVK_ATTRIBUTES, REGION, free_port, serving


@dataclass(frozen=True)
class User:
    account: str
    name: str
    access_key: str
    secret: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


ALICE = User("444455556666", "alice", "AKIAEXAMPLEALICE0001", "alice-secret-0001")
BOB = User("777788889999", "bob", "AKIAEXAMPLEBOB000002", "bob-secret-0002")


# The guide's "access to all aspects" policy (seed-F P-2): a user with no policy may do nothing.
FULL_ACCESS = (
    '{"Version": "2012-10-17", "Statement": '
    '[{"Effect": "Allow", "Action": "payment-cryptography:*", "Resource": "*"}]}'
)


def write_credentials(path: Path, *users: User) -> Path:
    """The TOML format documented in src/paycrypt/auth/iam_file.py, each user with full access."""
    path.write_text(
        "".join(
            f'[[users]]\naccount = "{u.account}"\nname = "{u.name}"\n'
            f'access_key_id = "{u.access_key}"\nsecret_access_key = "{u.secret}"\n'
            f"[[users.policies]]\nname = \"full-access\"\ndocument = '{FULL_ACCESS}'\n\n"
            for u in users
        )
    )
    return path


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    return tls.self_signed(tmp_path / "tls", ["127.0.0.1"])


# --- refusals, called directly ------------------------------------------------------------------


def test_non_loopback_without_tls_is_refused(tmp_path: Path) -> None:
    settings = Settings(host="0.0.0.0", port=free_port(), data_dir=tmp_path / "data")
    for call in (check_transport, build_app):
        with pytest.raises(StartupError) as info:
            call(settings)
        message = str(info.value)
        assert "0.0.0.0" in message and "without TLS" in message and "--tls-cert" in message
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_loopback_without_tls_is_allowed(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        check_transport(Settings(host=host, data_dir=tmp_path))


def test_non_loopback_with_tls_but_no_credentials_file_is_refused(
    tmp_path: Path, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    settings = Settings(host="0.0.0.0", data_dir=tmp_path / "data", tls_cert=cert, tls_key=key)
    check_transport(settings)
    with pytest.raises(StartupError, match="without a credentials file") as info:
        build_app(settings)
    assert "'test'" in str(info.value) and "loopback" in str(info.value)


def test_non_loopback_with_tls_and_credentials_builds(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    credentials = write_credentials(tmp_path / "users.toml", ALICE, BOB)
    data_dir = tmp_path / "data"
    settings = Settings(
        host="0.0.0.0", port=9443, data_dir=data_dir, tls_cert=cert, tls_key=key, credentials_file=credentials
    )
    built = build_app(settings)
    assert built.credentials.lookup(ALICE.access_key).account_id == ALICE.account
    assert built.credentials.lookup("test") is None
    text = "\n".join(built.lines)
    assert "https://0.0.0.0:9443" in text
    assert str(data_dir) in text
    assert f"access keys from {credentials}" in text
    assert "AWS_ENDPOINT_URL=https://0.0.0.0:9443" in text


def test_unreadable_credentials_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "users.toml"
    bad.write_text('[[users]]\naccount = "123"\nname = "x"\naccess_key_id = "A"\nsecret_access_key = "s"\n')
    settings = Settings(data_dir=tmp_path / "data", credentials_file=bad)
    with pytest.raises(StartupError, match="account must be 12 digits"):
        build_app(settings)
    with pytest.raises(StartupError, match="cannot read credentials file"):
        build_app(Settings(data_dir=tmp_path / "data", credentials_file=tmp_path / "missing.toml"))


def test_startup_lines_for_the_development_default(tmp_path: Path) -> None:
    text = "\n".join(build_app(Settings(port=8443, data_dir=tmp_path / "data")).lines)
    assert "http://127.0.0.1:8443" in text
    assert f"data directory: {tmp_path / 'data'}" in text
    assert "access key 'test' / secret 'test'" in text and "111122223333" in text


# Counts each read of a botocore service model while importing every paycrypt module, then while
# building the app as `paycrypt serve` does; prints both lists as JSON.
_COUNT_MODEL_READS = """
import importlib, json, pkgutil, sys
from pathlib import Path
from botocore.loaders import Loader

reads = []
original = Loader.load_service_model

def counted(self, service_name, type_name, api_version=None):
    reads.append(service_name)
    return original(self, service_name, type_name, api_version)

Loader.load_service_model = counted
import paycrypt
for module in pkgutil.walk_packages(paycrypt.__path__, "paycrypt."):
    importlib.import_module(module.name)
at_import = list(reads)
from paycrypt.server import Settings, build_app
build_app(Settings(data_dir=Path(sys.argv[1])))
print(json.dumps([at_import, reads[len(at_import):]]))
"""


def test_service_models_are_read_once_by_the_server(tmp_path: Path) -> None:
    """Issue 14 item 7: no module reads a model when imported (policy and audit receive theirs),
    and building the app reads each model it serves (both planes, and STS) exactly once."""
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_MODEL_READS, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    at_import, at_start = json.loads(done.stdout.splitlines()[-1])
    assert at_import == []
    assert sorted(at_start) == ["payment-cryptography", "payment-cryptography-data", "sts"]


# --- refusals through the CLI -------------------------------------------------------------------


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PAYCRYPT), "serve", *args], capture_output=True, text=True, timeout=30)


def _port_is_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


@pytest.mark.cli
def test_cli_refuses_non_loopback_without_tls(tmp_path: Path) -> None:
    port = free_port()
    result = _run_cli("--host", "0.0.0.0", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1, result
    assert "paycrypt serve: refusing to listen on 0.0.0.0 without TLS" in result.stderr
    assert "listening" not in result.stderr.replace("refusing to listen", "")
    assert not (tmp_path / "data").exists()
    assert _port_is_closed(port)


@pytest.mark.cli
def test_cli_refuses_non_loopback_with_tls_but_no_credentials(tmp_path: Path) -> None:
    port = free_port()
    result = _run_cli(
        "--host", "0.0.0.0", "--port", str(port), "--data-dir", str(tmp_path / "data"), "--tls-self-signed"
    )
    assert result.returncode == 1, result
    assert "paycrypt serve: refusing to listen on 0.0.0.0 without a credentials file" in result.stderr
    assert not (tmp_path / "data" / "paycrypt.db").exists()
    assert _port_is_closed(port)


# --- a server with a credentials file -----------------------------------------------------------


@dataclass
class MultiUserServer:
    endpoint: str

    def client(self, service: str, access_key: str, secret: str) -> object:
        session = aws_session(access_key, secret, REGION)
        config = Config(retries={"max_attempts": 1, "mode": "standard"})
        return session.client(service, endpoint_url=self.endpoint, config=config)

    def of(self, user: User, service: str = "payment-cryptography") -> object:
        return self.client(service, user.access_key, user.secret)


@pytest.fixture(scope="module")
def multi_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultiUserServer]:
    base = tmp_path_factory.mktemp("paycrypt-users")
    credentials = write_credentials(base / "users.toml", ALICE, BOB)
    settings = Settings(port=free_port(), data_dir=base / "data", credentials_file=credentials)
    with serving(settings) as running:
        yield MultiUserServer(running.endpoint)


def test_each_user_creates_keys_in_its_own_account(multi_user: MultiUserServer) -> None:
    for user in (ALICE, BOB):
        key = multi_user.of(user).create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
        assert key["KeyArn"].startswith(f"arn:aws:payment-cryptography:{REGION}:{user.account}:key/")


def test_development_key_is_refused_when_a_credentials_file_is_given(multi_user: MultiUserServer) -> None:
    control = multi_user.client("payment-cryptography", "test", "test")
    expect_error(control.list_keys, "UnrecognizedClientException", 403)
    # STS refuses it too (its error code is covered in test_auth.py: STS has codes of its own).
    sts = multi_user.client("sts", "test", "test")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sts.get_caller_identity()
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_users_secret_does_not_sign_for_another_user(multi_user: MultiUserServer) -> None:
    control = multi_user.client("payment-cryptography", ALICE.access_key, BOB.secret)
    expect_error(control.list_keys, "InvalidSignatureException", 403)


def test_keys_are_not_usable_across_accounts(multi_user: MultiUserServer) -> None:
    """Another account's key ARN, shared with no one, is AccessDenied (issue 12 item 8); its alias
    names stay the other account's own, and it never lists."""
    alice, bob = multi_user.of(ALICE), multi_user.of(BOB)
    arn = alice.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    alice.create_alias(AliasName="alias/alice-only", KeyArn=arn)
    assert alice.get_key(KeyIdentifier=arn)["Key"]["KeyArn"] == arn
    expect_error(bob.get_key, "AccessDeniedException", 400, KeyIdentifier=arn)
    expect_error(bob.get_alias, "ResourceNotFoundException", 400, AliasName="alias/alice-only")
    bob_arns = {k["KeyArn"] for page in bob.get_paginator("list_keys").paginate() for k in page["Keys"]}
    assert arn not in bob_arns
    assert all(f":{BOB.account}:" in other for other in bob_arns)
    expect_error(bob.delete_key, "AccessDeniedException", 400, KeyIdentifier=arn)
    data = multi_user.of(BOB, "payment-cryptography-data")
    response = expect_error(
        data.generate_card_validation_data,
        "AccessDeniedException",
        403,
        KeyIdentifier=arn,
        PrimaryAccountNumber="4123456789012345",
        GenerationAttributes={"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    )
    assert "because no resource-based policy allows" in response["Error"]["Message"]
    assert alice.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"


def test_sts_names_each_user(multi_user: MultiUserServer) -> None:
    seen = {}
    for user in (ALICE, BOB):
        identity = multi_user.of(user, "sts").get_caller_identity()
        assert identity["Account"] == user.account
        assert identity["Arn"] == user.arn
        assert identity["UserId"].startswith("AIDA") and len(identity["UserId"]) == 21
        assert multi_user.of(user, "sts").get_caller_identity()["UserId"] == identity["UserId"]
        seen[user.name] = identity["UserId"]
    assert seen["alice"] != seen["bob"]

"""`paycrypt serve --store` (issue 15 item 1): a postgresql:// URL, its password taken from the URL,
PGPASSWORD or ~/.pgpass and never written to a log line; bad values refused at start.

Each server here is a real `paycrypt serve` process, on the session's PostgreSQL cluster, as the
role `pw_user`, which must give its password (tests/pg_cluster.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.api.processes import PAYCRYPT, ServerProcess
from tests.conftest import CVK_ATTRIBUTES, RunningServer, free_port
from tests.pg_cluster import PASSWORD_USER

pytestmark = pytest.mark.cli  # runs `paycrypt serve` (tests/cli_marker.py)

PASSWORD = "not-a-real-secret"  # pw_user's (tests/pg_cluster.py)


def _database(pg_cluster, tmp_path: Path) -> str:
    """A database of pw_user's own; its URL with no password."""
    name = "opt_" + tmp_path.name.replace("-", "_").lower()[-40:]
    pg_cluster.database(name, owner=PASSWORD_USER)
    return pg_cluster.url(name, user=PASSWORD_USER), name


def _use(port: int, tmp_path: Path) -> str:
    """Create and read a key through the server; its ARN."""
    server = RunningServer(f"http://127.0.0.1:{port}", None, None, tmp_path, None)  # type: ignore[arg-type]
    control = server.client("payment-cryptography")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    assert control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"
    return arn


@pytest.mark.parametrize("source", ["url", "PGPASSWORD", "pgpass"])
def test_the_password_is_taken_and_never_logged(
    source: str, pg_cluster, tmp_path: Path, processes: list[ServerProcess]
) -> None:
    url, name = _database(pg_cluster, tmp_path)
    env: dict[str, str] = {}
    if source == "url":
        url = pg_cluster.url(name, user=PASSWORD_USER, password=PASSWORD)
    elif source == "PGPASSWORD":
        env["PGPASSWORD"] = PASSWORD
    else:
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{pg_cluster.port}:{name}:{PASSWORD_USER}:{PASSWORD}\n")
        pgpass.chmod(0o600)
        env["PGPASSFILE"] = str(pgpass)
    port = free_port()
    server = ServerProcess(tmp_path / "data", port, "--store", url, "--log-level", "debug", env=env)
    processes.append(server)
    server.wait_listening(60)
    _use(port, tmp_path)
    server.stop()
    log = server.log()
    assert f"store: postgresql://{PASSWORD_USER}@127.0.0.1:{pg_cluster.port}/{name}" in log
    assert PASSWORD not in log
    assert not (tmp_path / "data" / "paycrypt.db").exists()  # the keys went to PostgreSQL


def _refused(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(PAYCRYPT), "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1, done  # a refusal, not a malformed command line (2)
    return done.stdout + done.stderr


def test_a_wrong_password_is_refused_without_repeating_it(pg_cluster, tmp_path: Path) -> None:
    _, name = _database(pg_cluster, tmp_path)
    wrong = "wrong-password-4711"
    output = _refused(tmp_path, "--store", pg_cluster.url(name, user=PASSWORD_USER, password=wrong))
    assert f"cannot connect to postgresql://{PASSWORD_USER}@127.0.0.1:{pg_cluster.port}/{name}" in output
    assert "password authentication failed" in output
    assert wrong not in output


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("mysql://root:hunter2@db/paycrypt", "--store takes sqlite:PATH or a postgresql:// URL"),
        ("sqlite:", "--store sqlite: needs a file path"),
    ],
)
def test_a_bad_store_value_is_refused(value: str, message: str, tmp_path: Path) -> None:
    output = _refused(tmp_path, "--store", value)
    assert message in output and "hunter2" not in output


def test_sqlite_path_store(tmp_path: Path, processes: list[ServerProcess]) -> None:
    """`sqlite:PATH` puts the database where it says, not under the data directory."""
    port = free_port()
    elsewhere = tmp_path / "elsewhere" / "keys.db"
    server = ServerProcess(tmp_path / "data", port, "--store", f"sqlite:{elsewhere}")
    processes.append(server)
    server.wait_listening(60)
    _use(port, tmp_path)
    assert elsewhere.exists() and not (tmp_path / "data" / "paycrypt.db").exists()
    assert f"store: sqlite:{elsewhere}" in server.log()


def test_db_commands_on_postgresql(pg_cluster, tmp_path: Path, capsys) -> None:
    """`paycrypt db version` and `db upgrade` name the database without its password, and a wrong
    password is reported without repeating it (exit status 1)."""
    from paycrypt.cli.main import main as paycrypt
    from paycrypt.store import migrations

    _, name = _database(pg_cluster, tmp_path)
    url = pg_cluster.url(name, user=PASSWORD_USER, password=PASSWORD)
    latest = migrations.latest("postgresql")
    assert paycrypt(["db", "version", "--store", url]) == 0
    assert f"/{name}: schema version 0; this paycrypt's is {latest}" in capsys.readouterr().out
    assert paycrypt(["db", "upgrade", "--store", url]) == 0
    assert f"schema upgraded from version 0 to {latest}" in capsys.readouterr().out
    assert paycrypt(["db", "upgrade", "--store", url]) == 0
    assert f"schema at {latest}" in capsys.readouterr().out
    wrong = pg_cluster.url(name, user=PASSWORD_USER, password="wrong-password-4711")
    assert paycrypt(["db", "version", "--store", wrong]) == 1
    output = capsys.readouterr()
    assert "password authentication failed" in output.err
    assert "wrong-password-4711" not in output.out + output.err
    assert PASSWORD not in output.out + output.err

"""Every default of the server's settings is written once (src/paycrypt/defaults.py), so what
`paycrypt serve --help` shows, what `paycrypt serve` runs with and what a `Settings()` built in
code holds agree, down to the layers that take the same values (issue 14 item 8)."""

from __future__ import annotations

import inspect
import operator
import re
from pathlib import Path

import pytest

from paycrypt import defaults
from paycrypt.audit.writer import AuditWriter
from paycrypt.cli import main as cli
from paycrypt.jobs.replicator import Replicator
from paycrypt.server import Settings
from paycrypt.service.core import Quotas
from paycrypt.vault.keycache import KeyCache
from paycrypt.wire.connections import ConnectionLimits

# Options whose help shows the default as a value, by the Settings field it sets.
SHOWN = {
    "--host": "host",
    "--port": "port",
    "--purge-interval": "purge_interval",
    "--key-quota": "key_quota",
    "--alias-quota": "alias_quota",
    "--audit-max-bytes": "audit_max_bytes",
    "--audit-backups": "audit_backups",
    "--throttling": "throttling",
    "--lease-seconds": "lease_seconds",
    "--request-head-timeout": "request_head_timeout",
    "--request-body-timeout": "request_body_timeout",
    "--max-connections": "max_connections",
    "--key-cache-entries": "key_cache_entries",
    "--workers": "workers",
    "--store-timeout": "store_timeout",
    "--metrics-host": "metrics_host",
    "--pkcs11-key": "vault.key_label",
    "--pkcs11-pin-env": "vault.pin_variable",
}
# Options whose default is described in words, or is "none given", or that set no Settings field.
DESCRIBED = {
    *("--data-dir", "--regions", "--rate-limit", "--audit-data-events", "--node-id", "--vault", "--store"),
    "--no-console",  # a switch: the console is on unless it is given
    "--console-audit-dir",
    "--drain-grace",
    "--metrics-port",
}
UNSET = {
    *("--credentials", "--tls-cert", "--tls-key", "--tls-self-signed", "--log-level", "--help"),
    *("--pkcs11-module", "--pkcs11-token", "--pkcs11-pin-file"),
    "--metrics-per-key",
}


def serve_help(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`paycrypt serve --help`, one entry per option: its line and continuation lines, unwrapped."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    entries: dict[str, str] = {}
    current = None
    for line in text.split("options:", 1)[1].splitlines():
        started = re.match(r"  (?:-h, )?(--[a-z0-9-]+)", line)
        if started:
            current = started.group(1)
            entries[current] = line.strip()
        elif current is not None and line.startswith("    "):
            entries[current] += " " + line.strip()
    return entries


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PAYCRYPT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_every_serve_option_is_classified(capsys: pytest.CaptureFixture[str]) -> None:
    """A new option must say here how its default is shown, so the next test covers it."""
    assert set(serve_help(capsys)) == set(SHOWN) | DESCRIBED | UNSET


def test_serve_help_shows_the_settings_defaults(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    entries = serve_help(capsys)
    settings = Settings()
    for option, name in SHOWN.items():
        assert f"(default {operator.attrgetter(name)(settings)}" in entries[option], (option, entries[option])
    assert f"{settings.vault.kind}: <data-dir>/master.key (default)" in entries["--vault"]
    assert f"the {len(settings.regions)} AWS Payment Cryptography regions" in entries["--regions"]
    assert "$PAYCRYPT_DATA_DIR" in entries["--data-dir"] and settings.data_dir == data_dir
    rates = ", ".join(f"{rate:g}" for rate in (5, 500, 20))  # the guide's quotas, seed-F §5.1
    assert f"(default {rates};" in entries["--rate-limit"]
    assert f"(default {defaults.DRAIN_GRACE:g}, or 0 when listening on loopback)" in entries["--drain-grace"]


@pytest.mark.parametrize(
    ("host", "given", "grace"),
    [
        ("127.0.0.1", None, 0.0),
        ("::1", None, 0.0),
        ("0.0.0.0", None, defaults.DRAIN_GRACE),
        ("127.0.0.1", 2.5, 2.5),
    ],
)
def test_the_drain_grace_is_none_on_loopback_unless_given(
    host: str, given: float | None, grace: float
) -> None:
    assert Settings(host=host, drain_grace=given).grace == grace


def test_serve_without_options_runs_with_settings_defaults(data_dir: Path) -> None:
    args = cli.build_parser().parse_args(["serve"])
    assert cli._settings(args) == Settings()
    assert Settings().data_dir == data_dir


def test_the_layers_below_take_the_same_defaults() -> None:
    settings = Settings()
    assert (Quotas().keys_per_region, Quotas().aliases_per_region) == (
        settings.key_quota,
        settings.alias_quota,
    )
    writer = inspect.signature(AuditWriter).parameters
    assert (writer["max_bytes"].default, writer["backups"].default, writer["worker_id"].default) == (
        settings.audit_max_bytes,
        settings.audit_backups,
        settings.worker_id,
    )
    limits = ConnectionLimits()
    assert (limits.head_timeout, limits.body_timeout, limits.max_connections) == (
        settings.request_head_timeout,
        settings.request_body_timeout,
        settings.max_connections,
    )
    assert inspect.signature(KeyCache).parameters["entries"].default == settings.key_cache_entries
    replicator = inspect.signature(Replicator).parameters
    assert (replicator["interval"].default, replicator["retry_base"].default) == (
        settings.replication_interval,
        settings.replication_retry,
    )


def test_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PAYCRYPT_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert defaults.data_dir() == tmp_path / "xdg" / "paycrypt"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert defaults.data_dir() == tmp_path / "home" / ".local" / "share" / "paycrypt"
    monkeypatch.setenv("PAYCRYPT_DATA_DIR", str(tmp_path / "explicit"))
    assert defaults.data_dir() == tmp_path / "explicit"

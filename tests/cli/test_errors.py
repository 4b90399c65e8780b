"""Every `paycrypt` subcommand reports a user's mistake the same way: `paycrypt <command>: <why>` on
stderr, nothing on stdout, exit status 1 (argparse keeps 2 for a malformed command line).

`paycrypt serve`'s start-up refusals (a StartupError from the server) take the same path; they run
as a subprocess in tests/api/test_startup.py, since serving raises the process's open-file limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paycrypt.cli.main import main

TEAM = "arn:aws:mpa:us-east-1:111122223333:approval-team/nobody"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--tls-cert", "{tmp}/cert.pem"], "--tls-cert and --tls-key go together"),
        (
            ["iam", "--credentials", "{tmp}/credentials.toml", "delete-user", "--account", "111122223333",
             "--name", "nobody"],
            "no user nobody in account 111122223333",
        ),
        (["mpa", "--data-dir", "{tmp}", "delete-team", "--team-arn", TEAM], f"no team {TEAM}"),
        (["audit", "--log", "{tmp}/audit.jsonl"], "no audit log in {tmp}/audit.jsonl"),
        (["audit", "verify", "--data-dir", "{tmp}"], "no audit files in {tmp}"),
        (["db", "version", "--store", "mysql://db/x"], "--store takes sqlite:PATH or a postgresql:// URL"),
        (["backup", "--to", "{tmp}/b.tar", "--data-dir", "{tmp}"], "no store in {tmp} (no paycrypt.db)"),
        (["restore", "{tmp}/none.tar", "--data-dir", "{tmp}"], "no backup file {tmp}/none.tar"),
        (
            ["vault", "export-components", "--count", "3", "--out", "{tmp}", "--data-dir", "{tmp}"],
            "no master key file {tmp}/master.key",
        ),
        (
            ["vault", "rotate", "--data-dir", "{tmp}"],
            "no master key and database in {tmp} (start the server there first)",
        ),
        (
            ["vault", "migrate", "--to", "pkcs11", "--data-dir", "{tmp}"],
            "no master key and database in {tmp} (start the server there first)",
        ),
        (
            ["ceremony", "import-key", "--components", "1", "--key-algorithm", "TDES_2KEY", "--key-usage",
             "TR31_K0_KEY_ENCRYPTION_KEY", "--mode", "Wrap"],
            "--components must be at least 2 (split knowledge)",
        ),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else None,
)  # fmt: skip
def test_a_user_error_reaches_the_user_the_same_way_from_every_subcommand(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([arg.format(tmp=tmp_path) for arg in argv])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err == f"paycrypt {argv[0]}: {message.format(tmp=tmp_path)}\n"


def test_a_malformed_command_line_stays_argparse_s(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mpa", "approve", "--session-arn", "x"])  # --member missing
    assert exited.value.code == 2
    assert "the following arguments are required: --member" in capsys.readouterr().err

"""The command line never repeats a mistyped option's value: it may be a PIN (cli/parser.py)."""

from __future__ import annotations

import pytest

from paycrypt.cli.main import main

PIN = "738291"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["serve", f"--pkcs11-p={PIN}"], "--pkcs11-p"),  # ambiguous abbreviation of three options
        (["serve", f"--pkcs11-pn={PIN}"], "--pkcs11-pn"),  # unknown option
        (["vault", "status", f"--pkcs11-pin-f={PIN}"], "--pkcs11-pin-f"),  # abbreviation, refused
    ],
)
def test_an_unplaceable_option_is_named_without_its_value(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{named}=…" in err
    assert PIN not in err


def test_a_full_option_name_still_parses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port=notanumber"])
    assert exited.value.code == 2
    assert "--port" in capsys.readouterr().err

"""The `cli` marker: tests that run the AWS CLI (`aws`) or the `paycrypt` command as a subprocess.

A developer skips them with `pytest -m "not cli"`; CI (scripts/test) runs everything. The marker is
kept complete by a check rather than by memory: while a test without it is being set up, run or
torn down, starting either command fails that test, naming the marker to add.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MARKER = "cli"
COMMANDS = frozenset({"aws", "paycrypt"})

_running: list[pytest.Item] = []  # the test being set up, run or torn down (none between tests)


def command_in(args: Any) -> str | None:
    """The command of COMMANDS that an argument list runs, directly or behind a wrapper (strace)."""
    words = [args] if isinstance(args, str | bytes | Path) else list(args)
    for word in words:
        name = Path(word.decode() if isinstance(word, bytes) else str(word)).name
        if name in COMMANDS:
            return name
    return None


def check(command: str) -> None:
    """Fail the test being run, if it is not marked, for starting `command` as a subprocess (also
    called by tests/api/processes.py, whose `paycrypt serve` may run behind a launcher)."""
    if _running and _running[-1].get_closest_marker(MARKER) is None:
        raise AssertionError(
            f"{_running[-1].nodeid} runs `{command}` as a subprocess: mark it @pytest.mark.{MARKER} "
            f"(tests/cli_marker.py)"
        )


def install() -> None:
    """Wrap subprocess.Popen once per process, so every way of starting a program is seen."""
    original = subprocess.Popen.__init__
    if getattr(original, "_checks_cli_marker", False):
        return

    def checked(self: subprocess.Popen, args: Any, *rest: Any, **options: Any) -> None:
        command = command_in(args)
        if command:
            check(command)
        original(self, args, *rest, **options)

    checked._checks_cli_marker = True  # type: ignore[attr-defined]
    subprocess.Popen.__init__ = checked  # type: ignore[method-assign]


@contextlib.contextmanager
def running(item: pytest.Item) -> Iterator[None]:
    """Held around a test's whole run protocol: set-up, call and tear-down (tests/conftest.py)."""
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()

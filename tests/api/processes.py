"""`paycrypt serve` as a child process, for tests that need a real process (SIGKILL, the CLI)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests import cli_marker, softhsm

PAYCRYPT = Path(sys.executable).parent / "paycrypt"


class ServerProcess:
    """`paycrypt serve` in a child process, its output going to a file (a pipe could fill and block it)."""

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *args: str,
        wrapper: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        file_limit: tuple[int, int] | None = None,
        program: Sequence[str] = (str(PAYCRYPT),),
    ) -> None:
        """`wrapper` runs before the command (e.g. strace and its options); `env` is added to ours;
        `file_limit`: (soft, hard) RLIMIT_NOFILE for the child, to run it short of descriptors;
        `program` is what runs `serve` (the `paycrypt` command unless a test needs a launcher).
        The server uses the run's vault (--vault) unless `args` name one."""
        self.port = port
        if softhsm.RUN.settings is not None and "--vault" not in args:
            args = (*args, *softhsm.serve_args(softhsm.RUN.settings))
        self.log_path = data_dir.parent / f"{data_dir.name}-serve-{port}.log"
        command = [*wrapper, *program, "serve", "--port", str(port), "--data-dir", str(data_dir), *args]
        cli_marker.check("paycrypt serve")
        environment = {**os.environ, **env} if env else None
        limit = None if file_limit is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, file_limit)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=environment, preexec_fn=limit
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"paycrypt exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"paycrypt did not listen on port {self.port}:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    """Every server process a test starts is ended (by its own handle) when the test ends."""
    started: list[ServerProcess] = []
    yield started
    for process in started:
        process.stop()

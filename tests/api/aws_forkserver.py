"""The real AWS CLI without a new interpreter per call: a fork server for tests/api/cli.py.

Why: one `aws …` process costs about 1.2 s of CPU, nearly all of it importing awscli and botocore,
and the suite runs hundreds of them. The helper (this file run as a program, one per pytest
process, started on the first call and stopped when that process exits) imports
`awscli.clidriver` once (and `awscli.handlers`, which its `main` imports on every run) and then
does nothing but wait; for each call it forks a child, which takes the call's environment, working
directory, argv and output files and runs `awscli.clidriver.main()`, exactly what the `aws` console
script beside the interpreter runs, and exits with its status. Every child starts from the same
state, the helper's right after the import, so nothing one call does (a credential cache, a parsed
model, an environment variable) is seen by the next, as with separate processes.

What the import itself does to the environment (awscli sets AWS_DATA_PATH, from the value it
finds) is recorded by the helper and laid over each call's environment, as it is in an `aws`
process; a call whose environment sets AWS_DATA_PATH, which that import reads, runs as its own
process instead.

The protocol, one JSON line each way on the helper's stdin and stdout: the request
`{"argv", "env", "cwd", "stdout", "stderr"}` (the two output files, made by the caller), then the
answers `{"pid"}` (so that a caller that times out can kill the child) and `{"status"}`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

#: Set to 1 to run every call as its own `aws` process instead (tests/api/cli.py).
FALLBACK_ENV = "PAYCRYPT_TEST_AWS_SUBPROCESS"
#: The environment that importing awscli reads, so a call that sets it cannot share the import.
READ_BY_IMPORT = ("AWS_DATA_PATH",)


class ForkServer:
    """The caller's side: one helper process, one call at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._helper: subprocess.Popen[bytes] | None = None

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
        """As `subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)`."""
        if any(name in env for name in READ_BY_IMPORT):
            return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        with self._lock, tempfile.TemporaryDirectory(prefix="paycrypt-aws-") as scratch:
            out, err = Path(scratch, "stdout"), Path(scratch, "stderr")
            helper = self._started()
            request = {"argv": argv, "env": env, "cwd": os.getcwd(), "stdout": str(out), "stderr": str(err)}
            assert helper.stdin is not None and helper.stdout is not None
            helper.stdin.write(json.dumps(request).encode() + b"\n")
            helper.stdin.flush()
            pid = json.loads(helper.stdout.readline())["pid"]
            status = self._status(helper.stdout, pid, argv, timeout)
            return subprocess.CompletedProcess(argv, status, _text(out), _text(err))

    def stop(self) -> None:
        with self._lock:
            if self._helper is not None:
                assert self._helper.stdin is not None
                self._helper.stdin.close()  # the helper ends at the end of its input
                self._helper.wait(30)
                self._helper = None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._helper is None or self._helper.poll() is not None:
            self._helper = subprocess.Popen(
                [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        return self._helper

    def _status(self, answers: IO[bytes], pid: int, argv: list[str], timeout: float) -> int:
        timer = threading.Timer(timeout, _kill, (pid,))
        timer.start()
        started = time.monotonic()
        try:
            line = answers.readline()
        finally:
            timer.cancel()
        if not line:
            raise RuntimeError("the aws fork server ended (see its stderr above)")
        if time.monotonic() - started >= timeout:
            raise subprocess.TimeoutExpired(argv, timeout)
        return json.loads(line)["status"]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _text(path: Path) -> str:
    """As subprocess's text=True reads a pipe: the locale's encoding, universal newlines."""
    return path.read_text() if path.exists() else ""


_SERVER = ForkServer()
atexit.register(_SERVER.stop)


def run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """One `aws` call through this process's fork server."""
    return _SERVER.run(argv, env, timeout)


# -- the helper ----------------------------------------------------------------------------------


def _serve() -> None:
    """Read requests until the caller closes our stdin; fork a child for each."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # our own stdout is the protocol's: nothing else may write to it
    for name in READ_BY_IMPORT:
        os.environ.pop(name, None)
    before = dict(os.environ)
    # The point of the helper: imported once, before any fork. awscli.handlers is the builtin plugin
    # (awscli/plugin.py's BUILTIN_PLUGINS) that every run's `main` imports with its 270 modules.
    import awscli.clidriver
    import awscli.handlers  # noqa: F401

    set_by_import = {name: value for name, value in os.environ.items() if before.get(name) != value}
    gc.freeze()  # the imported objects stay shared with every child instead of being copied
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            requests.close()
            answers.close()
            _child(request, set_by_import)  # never returns
        answers.write(json.dumps({"pid": pid}).encode() + b"\n")
        answers.flush()
        _, wait_status = os.waitpid(pid, 0)
        answers.write(json.dumps({"status": _returncode(wait_status)}).encode() + b"\n")
        answers.flush()


def _returncode(wait_status: int) -> int:
    """As subprocess's returncode: the exit status, or minus the signal that ended the child."""
    return -os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else os.WEXITSTATUS(wait_status)


def _child(request: dict[str, Any], set_by_import: dict[str, str]) -> None:
    """Become the call: its environment, directory, argv and output files; run the CLI's `main`."""
    status = 1
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        if os.environ.get("LC_CTYPE", "") == "UTF-8":  # as the `aws` script does before its import
            os.environ["LC_CTYPE"] = "en_US.UTF-8"
        os.environ.update(set_by_import)
        os.chdir(request["cwd"])
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = list(request["argv"])
        import awscli.clidriver

        status = _exit_status(awscli.clidriver.main)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the status is what is left to report
                stream.flush()
        os._exit(status)


def _exit_status(main: Any) -> int:
    """What the interpreter would exit with after `sys.exit(main())`."""
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _serve()

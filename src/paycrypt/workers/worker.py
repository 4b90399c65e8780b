"""One worker process of a node: the server `paycrypt serve` runs, on a socket the supervisor made.

Started by the supervisor as a new program (`python -m paycrypt.workers.worker CONTROL LISTEN
PARENT`), never as a fork of it: a worker inherits no thread, no database connection and no PKCS#11
session. Its vault is opened here, after the process began (the PKCS#11 PIN comes from the same
environment variable or file), as `paycrypt serve` opens it.

The supervisor sends `Start` (the settings with this worker's id, and the log level) on the
control connection; the worker answers `Ready` once it accepts connections, or `Failed` with the
start-up error, which the supervisor prints (once for the whole node, not once per worker).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
from multiprocessing.connection import Connection

import uvicorn

from paycrypt import server
from paycrypt.workers.messages import Failed, Ready, Start

EXIT_STARTUP = 1
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class _Server(uvicorn.Server):
    """uvicorn's server, saying when it accepts connections."""

    def __init__(self, config: uvicorn.Config, ready: Ready, control: Connection) -> None:
        super().__init__(config)
        self._ready = ready
        self._control = control

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._control.send(self._ready)


def main(argv: list[str]) -> int:
    control_fd, listen_fd, parent = (int(value) for value in argv)
    signal.signal(signal.SIGTERM, _stop_starting)
    _end_with_parent(parent)
    control = Connection(control_fd)
    start: Start = control.recv()
    settings = start.settings
    logging.basicConfig(
        level=start.log_level.upper(),
        format=f"%(asctime)s %(levelname)s w{settings.worker_id} %(message)s",
        stream=sys.stderr,
    )
    listener = socket.socket(fileno=listen_fd)
    try:
        server.raise_file_limit()
        built = server.build_app(settings)
        config = server.uvicorn_config(built.app, settings)
    except server.StartupError as exc:
        control.send(Failed(str(exc)))
        return EXIT_STARTUP
    # uvicorn stops gracefully on SIGTERM, then raises the signal again under the handler it found:
    # this one, so that a worker asked to stop exits with status 0 once it has.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    _Server(config, Ready(built.lines, str(built.audit.path)), control).run(sockets=[listener])
    return 0


def _stop_starting(signum: int, frame: object) -> None:
    """Told to stop before serving: nothing to drain."""
    raise SystemExit(0)


def _end_with_parent(parent: int) -> None:
    """SIGTERM to this worker when the supervisor dies (killed with SIGKILL, it forwards nothing):
    a worker never outlives its supervisor to serve on unsupervised."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the supervisor died before the line above
        sys.exit(EXIT_STARTUP)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

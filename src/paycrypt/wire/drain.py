"""SIGTERM drains the server instead of cutting it off (issue 15, item 12).

On SIGTERM (what systemd, Kubernetes and the `--workers` supervisor send to stop a process):

1. `/readyz` answers 503 at once (wire/health.py), while the server goes on accepting and serving
   for `grace` seconds (`--drain-grace`), so that a load balancer probing it sees it not ready and
   stops sending it new connections before they would be refused;
2. then uvicorn's own shutdown: the listening socket is closed, idle kept-alive connections are
   closed, each request in flight is answered (and its connection closed after it);
3. then the app's lifespan ends: the background jobs are cancelled, the heavy-call threads are
   stopped (none is busy any more) and the audit log is flushed, fsynced and closed;
4. the process exits with status 0: a drain is an orderly stop, not a death by signal (uvicorn
   itself re-raises the signal it caught once it has shut down, which would exit with 143).

A second SIGTERM ends the grace at once (the rest is the same). SIGINT (Ctrl+C at a terminal) is
uvicorn's as it was: no grace, a second one forces the exit.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

import uvicorn

from paycrypt.wire.health import Readiness

log = logging.getLogger("paycrypt")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, readiness: Readiness, grace: float) -> None:
        super().__init__(config)
        self.readiness = readiness
        self.grace = grace
        self.drain_until: float | None = None  # set by SIGTERM: when the server stops accepting
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The signal handler (runs between two bytecodes of the main thread: assignments only)."""
        self.readiness.drain()
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
        elif self.drain_until is None:
            self.drain_until = time.monotonic() + self.grace
        else:
            self.should_exit = True  # a second SIGTERM: no more grace

    async def on_tick(self, counter: int) -> bool:
        """Every 0.1 s in uvicorn's main loop: ends the grace when it is over."""
        if self.drain_until is not None:
            if not self._announced:
                self._announced = True
                log.warning(
                    "SIGTERM: /readyz answers 503; accepting for %g s more, then draining", self.grace
                )
            if time.monotonic() >= self.drain_until:
                self.should_exit = True
        return await super().on_tick(counter)

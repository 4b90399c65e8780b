"""The supervisor of `paycrypt serve --workers N`: N worker processes on one port, each with its
own worker id (0 to N-1) and so its own audit stream, replaced when one dies, stopped together.

Start: worker 0 starts alone and does, once, what must be done once before anything serves: the
store's migrations, the file vault's master key on a first start, the audit signing key. A
start-up error is its, sent to the supervisor, which raises it once (`paycrypt serve: ...`, exit
status 1) and starts nothing more. Then workers 1 to N-1 start beside it; for them those steps
find everything done.

Running: a worker that exits on its own (a crash, SIGKILL) is logged and started again with the
same worker id, after a delay that doubles while its replacements die young (before serving, or
within `STABLE_AFTER` seconds: a worker that dies at start does not spin), back to the shortest
after one served that long.

Stop: SIGTERM or SIGINT to the supervisor is sent on to every worker as SIGTERM (each stops as
`paycrypt serve` does: in-flight calls finish, the audit file is closed with its digest); the
supervisor waits for them the drain grace (`Settings.grace`: /readyz answers 503 meanwhile) and
`stop_timeout` seconds more, then SIGKILLs what is left. Workers run in a
process group of their own, so a terminal's Ctrl-C reaches the supervisor alone, which stops them
in order; and each gets SIGTERM from the kernel if the supervisor itself dies (worker.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

from paycrypt import defaults, server
from paycrypt.workers import listeners
from paycrypt.workers.messages import Failed, Ready, Start

if TYPE_CHECKING:
    from paycrypt.metrics import exposition as metrics_exposition

log = logging.getLogger("paycrypt")

FIRST_DELAY = 0.5  # seconds before a dead worker is replaced
LONGEST_DELAY = 30.0  # the delay doubles while replacements die young, up to this
STABLE_AFTER = 10.0  # seconds a worker must run for the next replacement to wait FIRST_DELAY again
TICK = 0.5  # the longest the supervisor sleeps between looks at its workers


@dataclass
class Backoff:
    """How long to wait before replacing a worker, from how long its last run lasted."""

    delay: float = 0.0

    def after(self, ran_for: float, served: bool = True) -> float:
        """`served`: the worker had started serving; one that died starting, however slowly
        (a loaded machine can take longer than STABLE_AFTER to fail), died young."""
        young = (ran_for < STABLE_AFTER or not served) and self.delay > 0
        self.delay = min(self.delay * 2, LONGEST_DELAY) if young else FIRST_DELAY
        return self.delay


@dataclass
class Slot:
    """One worker id and the process serving it now, if any."""

    worker_id: int
    process: subprocess.Popen[bytes] | None = None
    control: Connection | None = None
    started: float = 0.0
    ready: bool = False
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=Backoff)


class Supervisor:
    def __init__(
        self,
        settings: server.Settings,
        log_level: str = "info",
        stop_timeout: float = defaults.WORKER_STOP_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.log_level = log_level
        self.stop_timeout = stop_timeout
        self.slots = [Slot(worker_id) for worker_id in range(settings.workers)]
        self._asked_to_stop = False  # SIGTERM or SIGINT came
        self._serving = False  # every worker has started once
        self._wakeup_read, self._wakeup_write = socket.socketpair()
        self._metrics: tuple[metrics_exposition.Exposition, Path] | None = None

    def run(self) -> int:
        """Serve until told to stop; the exit status (0: every worker stopped when asked). Raises
        server.StartupError when the node cannot start."""
        if not listeners.supported():
            raise server.StartupError("--workers above 1 needs Linux (SO_REUSEPORT)")
        try:
            self.port = listeners.Port(listeners.Address(self.settings.host, self.settings.port))
        except listeners.PortUnavailable as exc:
            raise server.StartupError(str(exc)) from None
        self._metrics = self._serve_metrics()
        previous = self._catch_signals()
        try:
            if self._start_all():
                self._supervise()
            return self._stop()
        finally:
            self.port.close()
            if self._metrics is not None:
                self._metrics[0].stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(-1)
            self._wakeup_read.close()
            self._wakeup_write.close()

    def _serve_metrics(self) -> tuple[metrics_exposition.Exposition, Path] | None:
        """With --metrics-port, /metrics is the supervisor's, over the files its workers write
        (metrics/exposition.py): it outlives every worker, so no count is lost with one."""
        if self.settings.metrics_port is None:
            return None
        from paycrypt.metrics import exposition as metrics_exposition  # prometheus_client: only with metrics

        try:
            served = metrics_exposition.for_workers(
                self.settings.data_dir, self.settings.metrics_host, self.settings.metrics_port
            )
        except OSError as exc:
            self.port.close()
            raise server.StartupError(
                f"cannot serve metrics on {self.settings.metrics_host}:{self.settings.metrics_port}: {exc}"
            ) from exc
        served[0].start()
        return served

    # -- start -----------------------------------------------------------------------------------

    def _start_all(self) -> bool:
        """Worker 0, then the others (see the module's doc); False if told to stop meanwhile."""
        first, *others = self.slots
        for group in ([first], others):
            for slot in group:
                self._spawn(slot)
            while not all(slot.ready for slot in group):
                if self._asked_to_stop:
                    return False
                self._wait()
                for slot in group:
                    self._check_start(slot)
        log.warning(
            "%d workers on port %d (SO_REUSEPORT), worker ids 0 to %d; the purge sweeper and the "
            "replicator run in the one holding their lease",
            len(self.slots),
            self.settings.port,
            len(self.slots) - 1,
        )
        self._serving = True
        return True

    def _check_start(self, slot: Slot) -> None:
        """During the node's start, a worker that fails stops the start with its error."""
        message = self._receive(slot)
        if isinstance(message, Failed):
            self._stop()
            raise server.StartupError(message.message)
        if slot.process is not None and slot.process.poll() is not None and not slot.ready:
            status = _status(slot.process.returncode)
            self._stop()
            raise server.StartupError(f"worker {slot.worker_id} {status} while starting (see the log above)")

    def _spawn(self, slot: Slot) -> None:
        listener = self.port.listener()
        ours, theirs = socket.socketpair()
        theirs.set_inheritable(True)
        command = [
            sys.executable,
            "-m",
            "paycrypt.workers.worker",
            str(theirs.fileno()),
            str(listener.fileno()),
            str(os.getpid()),
        ]
        try:
            slot.process = subprocess.Popen(
                command, pass_fds=(theirs.fileno(), listener.fileno()), process_group=0
            )
        finally:
            theirs.close()
            listener.close()  # the worker's now: it closes with the worker (listeners.py)
        slot.control = Connection(ours.detach())
        slot.control.send(Start(replace(self.settings, worker_id=slot.worker_id), self.log_level))
        slot.started = time.monotonic()
        slot.ready = False
        slot.restart_at = None

    # -- running ---------------------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._asked_to_stop:
            self._wait()
            now = time.monotonic()
            for slot in self.slots:
                message = self._receive(slot)
                if isinstance(message, Failed):
                    log.error("worker %d could not start: %s", slot.worker_id, message.message)
                if slot.process is not None and slot.process.poll() is not None:
                    self._buried(slot, now)
                if slot.restart_at is not None and now >= slot.restart_at:
                    self._respawn(slot, now)

    def _buried(self, slot: Slot, now: float) -> None:
        """A worker that exited unasked: logged, and its replacement scheduled."""
        assert slot.process is not None
        ran_for = now - slot.started
        delay = slot.backoff.after(ran_for, served=slot.ready)
        log.error(
            "worker %d (pid %d) %s after %.1f s; starting it again in %.1f s",
            slot.worker_id,
            slot.process.pid,
            _status(slot.process.returncode),
            ran_for,
            delay,
        )
        self._forget(slot)
        slot.restart_at = now + delay

    def _respawn(self, slot: Slot, now: float) -> None:
        try:
            self._spawn(slot)
        except (OSError, listeners.PortUnavailable) as exc:  # no socket or no process: later
            delay = slot.backoff.after(0.0, served=False)
            log.error(
                "worker %d could not be started (%s); trying again in %.1f s", slot.worker_id, exc, delay
            )
            self._forget(slot)
            slot.restart_at = now + delay

    def _receive(self, slot: Slot) -> Ready | Failed | None:
        """The worker's message if one came; a worker whose connection ended is left to poll()."""
        if slot.control is None or not slot.control.poll():
            return None
        try:
            message = slot.control.recv()
        except (EOFError, OSError):
            slot.control.close()
            slot.control = None
            with contextlib.suppress(subprocess.TimeoutExpired):
                slot.process.wait(timeout=TICK)  # type: ignore[union-attr]
            return None
        if isinstance(message, Ready):
            if slot.worker_id == 0 and not self._serving:
                for line in message.lines:  # as `paycrypt serve` prints them, once
                    log.warning("%s", line)
            slot.ready = True
            log.warning(
                "worker %d ready (pid %d), audit log %s",
                slot.worker_id,
                slot.process.pid,  # type: ignore[union-attr]
                message.audit,
            )
        return message

    def _wait(self) -> None:
        """Until a worker says something or ends, a signal comes, or TICK passes."""
        waitables: list[object] = [self._wakeup_read]
        waitables += [slot.control for slot in self.slots if slot.control is not None]
        timeout = TICK
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None:
                timeout = max(0.0, min(timeout, slot.restart_at - now))
        if self._wakeup_read in wait(waitables, timeout):
            with contextlib.suppress(BlockingIOError):
                self._wakeup_read.recv(64)

    # -- stop ------------------------------------------------------------------------------------

    def _catch_signals(self) -> dict[int, object]:
        self._wakeup_write.setblocking(False)
        self._wakeup_read.setblocking(False)
        signal.set_wakeup_fd(self._wakeup_write.fileno(), warn_on_full_buffer=False)
        return {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _on_signal(self, signum: int, frame: object) -> None:
        if not self._asked_to_stop:
            log.warning("%s: stopping the workers", signal.Signals(signum).name)
            self._asked_to_stop = True

    def _stop(self) -> int:
        """SIGTERM to every worker, then wait for them, SIGKILL after stop_timeout; 0 if each one
        stopped by itself with status 0."""
        live = [slot for slot in self.slots if slot.process is not None]
        for slot in live:
            with contextlib.suppress(ProcessLookupError):
                slot.process.terminate()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.settings.grace + self.stop_timeout
        status = 0
        for slot in live:
            process = slot.process
            assert process is not None
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(
                    "worker %d (pid %d) did not stop within %g s: killed",
                    slot.worker_id,
                    process.pid,
                    self.settings.grace + self.stop_timeout,
                )
                process.kill()
                process.wait()
            if process.returncode != 0:
                status = 1
            self._forget(slot)
        return status

    def _forget(self, slot: Slot) -> None:
        if slot.control is not None:
            slot.control.close()
        if self._metrics is not None and slot.process is not None:
            from paycrypt.metrics import exposition as metrics_exposition  # loaded by _serve_metrics

            metrics_exposition.worker_exited(self._metrics[1], slot.process.pid)
        slot.process = slot.control = None
        slot.ready = False


def _status(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def supervise(settings: server.Settings, log_level: str = "info") -> int:
    """`paycrypt serve --workers N` with N above 1."""
    return Supervisor(settings, log_level).run()

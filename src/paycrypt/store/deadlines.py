"""A client-side deadline on every wait for a database's answer: a watchdog thread shuts down the
socket of a connection whose answer is late, so that the thread blocked on it fails at once.

Why a watchdog: a database server that never answers (its processes frozen by SIGSTOP, a host
that hangs, a network that loses what the server sends back) leaves a caller blocked in libpq for
ever. TCP does not notice: what the node sent is acknowledged (by the frozen server's kernel), so
`tcp_user_timeout` and keepalives never fire, and libpq has no timer of its own on a query. The
server's `statement_timeout` helps only a server that runs. Shutting down the socket
(`shutdown(2)`, not `close`) ends the blocked `poll`/`recv` in the other thread with an
end-of-file: libpq reports the connection lost, marks it bad, and the pool discards it.

Cost on the hot path: arming and disarming a wait is two system calls (a `dup` of the socket and
its `close`) and two uncontended lock acquisitions, a few microseconds; the watchdog thread wakes
once per deadline period, not once per wait. Every wait of one `Deadlines` lasts the same
`seconds`, so a wait armed later always ends later than every wait armed before it: the watchdog,
asleep until the earliest armed deadline (or one period when none is armed), never needs waking
when a wait is armed.

The socket is duplicated while armed so that the watchdog acts on that socket and no other, even
if libpq closes its own descriptor meanwhile and the number is reused by another connection.
"""

from __future__ import annotations

import os
import socket
import threading
import time


class Armed:
    """One wait under a deadline. `expired`, final once the wait is disarmed: True when the
    watchdog shut its socket down (the connection is unusable from then on)."""

    __slots__ = ("_fd", "deadline", "expired")

    def __init__(self, fd: int, deadline: float) -> None:
        self._fd = fd  # a duplicate of the connection's socket, owned by this wait
        self.deadline = deadline
        self.expired = False


class Deadlines:
    def __init__(self, seconds: float, name: str = "paycrypt-store-deadline") -> None:
        """`seconds`: how long any one wait may last before its socket is shut down."""
        self.seconds = seconds
        self._lock = threading.Lock()
        self._armed: set[Armed] = set()
        self._closed = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name=name, daemon=True)
        self._watchdog.start()

    def arm(self, fd: int) -> Armed:
        """Put a wait on the socket `fd` under the deadline, from now; `disarm` it when it ends.
        (Two calls, not a context manager: this is on every statement's path, and a generator-based
        context manager would double the cost.)"""
        armed = Armed(os.dup(fd), time.monotonic() + self.seconds)
        with self._lock:
            self._armed.add(armed)
        return armed

    def disarm(self, armed: Armed) -> bool:
        """End the wait (again: nothing more); whether the watchdog shut its socket down, final now."""
        with self._lock:  # the watchdog never holds a descriptor this closes
            if armed in self._armed:
                self._armed.remove(armed)
                os.close(armed._fd)
        return armed.expired

    def close(self) -> None:
        self._closed.set()
        if self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=1)

    def _watch(self) -> None:
        while not self._closed.is_set():
            with self._lock:
                now = time.monotonic()
                for armed in self._armed:
                    if not armed.expired and armed.deadline <= now:
                        armed.expired = True
                        _shut_down(armed._fd)
                pending = [a.deadline for a in self._armed if not a.expired]
                wake = min(pending, default=now + self.seconds)
            self._closed.wait(max(0.0, wake - time.monotonic()))


def _shut_down(fd: int) -> None:
    """shutdown(2) both directions of the socket `fd`, leaving the descriptor open (its owner closes
    it). Never raises: the watchdog must outlive any one connection's oddity."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError:  # not a socket: nothing of ours blocks on it
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already shut down or reset by the peer: nothing blocks on it any more
        pass
    finally:
        sock.detach()

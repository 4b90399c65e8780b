"""The client-side deadline on a wait for the database (store/deadlines.py), on real sockets: a
thread blocked reading a socket whose peer never answers is woken by the watchdog's shutdown
within the deadline; a wait that ends in time leaves its socket alone; the watchdog acts on the
socket that was armed and never on another that reuses its descriptor number. Against a real
frozen PostgreSQL: tests/store/test_outage.py."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from paycrypt.store.deadlines import Deadlines

SECONDS = 0.4
SLACK = 1.0  # a loaded 2-core CI machine's scheduling


@pytest.fixture
def deadlines() -> Iterator[Deadlines]:
    watched = Deadlines(SECONDS)
    yield watched
    watched.close()


def blocked_read(deadlines: Deadlines, sock: socket.socket) -> tuple[bytes, bool, float]:
    """Read `sock` under the deadline, as libpq waits for an answer: (what was read, whether the
    deadline expired, seconds it took)."""
    sock.settimeout(SECONDS + SLACK + 5)  # a watchdog that fails makes this test fail, not hang
    started = time.monotonic()
    armed = deadlines.arm(sock.fileno())
    try:
        got = sock.recv(100)
    finally:
        expired = deadlines.disarm(armed)
    return got, expired, time.monotonic() - started


def test_a_wait_without_answer_is_ended_at_its_deadline(deadlines: Deadlines) -> None:
    ours, server = socket.socketpair()
    with ours, server:
        ours.sendall(b"SELECT 1")  # the peer receives it (as a frozen server's kernel does) and never answers
        got, expired, seconds = blocked_read(deadlines, ours)
        assert got == b""  # end-of-file: the read returned instead of blocking for ever
        assert expired
        assert SECONDS - 0.01 <= seconds <= SECONDS + SLACK
        with pytest.raises(OSError):
            ours.sendall(b"more")  # shut down both ways: the connection is unusable from now on


def test_a_wait_answered_in_time_leaves_its_socket_alone(deadlines: Deadlines) -> None:
    ours, server = socket.socketpair()
    with ours, server:
        threading.Timer(SECONDS / 4, server.sendall, (b"answer",)).start()
        got, expired, seconds = blocked_read(deadlines, ours)
        assert (got, expired) == (b"answer", False)
        assert seconds < SECONDS
        time.sleep(SECONDS * 2)  # past the deadline it had: nothing happens to the socket now
        ours.sendall(b"next")
        assert server.recv(100) == b"next"
        server.sendall(b"reply")
        assert ours.recv(100) == b"reply"


def test_waits_armed_at_different_times_end_at_their_own_deadlines(deadlines: Deadlines) -> None:
    pairs = [socket.socketpair() for _ in range(3)]
    results: list[tuple[int, bytes, bool, float]] = []

    def wait(index: int) -> None:
        results.append((index, *blocked_read(deadlines, pairs[index][0])))

    threads = []
    for index in range(3):
        threads.append(threading.Thread(target=wait, args=(index,)))
        threads[-1].start()
        time.sleep(SECONDS / 2)  # the later waits are armed while the earlier ones are pending
    for thread in threads:
        thread.join(timeout=10)
    for ours, server in pairs:
        ours.close()
        server.close()
    assert sorted(index for index, *_ in results) == [0, 1, 2]
    for _, got, expired, seconds in results:
        assert (got, expired) == (b"", True)
        assert SECONDS - 0.01 <= seconds <= SECONDS + SLACK  # each its own, not the first one's


def test_the_watchdog_shuts_down_the_armed_socket_not_one_reusing_its_number(deadlines: Deadlines) -> None:
    """libpq may close its socket while a wait is armed (the server closed the connection) and the
    number be reused at once by another connection: the deadline must not reach that one."""
    ours, server = socket.socketpair()
    other, other_peer = socket.socketpair()
    number = ours.fileno()
    armed = deadlines.arm(number)
    ours.close()  # the armed connection's own descriptor is gone…
    os.dup2(other.fileno(), number)  # …and its number now names another connection's socket
    reused = socket.socket(fileno=number)
    try:
        time.sleep(SECONDS + 0.3)
        assert deadlines.disarm(armed)  # the deadline passed and the watchdog acted
        reused.sendall(b"still open")
        assert other_peer.recv(100) == b"still open"
        other_peer.sendall(b"both ways")
        assert reused.recv(100) == b"both ways"
        assert server.recv(100) == b""  # the armed socket itself was shut down
    finally:
        for sock in (reused, other, other_peer, server):
            sock.close()


def test_disarming_twice_is_harmless_and_closes_the_duplicate_once(deadlines: Deadlines) -> None:
    ours, server = socket.socketpair()
    with ours, server:
        armed = deadlines.arm(ours.fileno())
        assert deadlines.disarm(armed) is False
        assert deadlines.disarm(armed) is False
        ours.sendall(b"x")
        assert server.recv(1) == b"x"


def test_the_watchdog_outlives_a_descriptor_that_is_no_socket(deadlines: Deadlines) -> None:
    reading, writing = os.pipe()
    try:
        odd = deadlines.arm(reading)
        time.sleep(SECONDS + 0.3)
        assert deadlines.disarm(odd)  # expired: the watchdog tried, and carried on
        ours, server = socket.socketpair()
        with ours, server:
            got, expired, seconds = blocked_read(deadlines, ours)
            assert (got, expired) == (b"", True)
            assert seconds <= SECONDS + SLACK
    finally:
        os.close(reading)
        os.close(writing)

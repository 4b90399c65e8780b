"""SIGTERM's drain without a process (wire/drain.py): the signal handler's steps, and the main
loop's tick that ends the grace. tests/api/test_drain.py sends a real SIGTERM to a real process."""

from __future__ import annotations

import asyncio
import signal
import time

import uvicorn

from paycrypt.wire.drain import DrainingServer
from paycrypt.wire.health import Readiness


def draining_server(grace: float) -> tuple[DrainingServer, Readiness]:
    readiness = Readiness({}, timeout=1.0)
    return DrainingServer(uvicorn.Config(app=None), readiness, grace), readiness


def tick(server: DrainingServer) -> bool:
    return asyncio.run(server.on_tick(1))


def test_sigterm_makes_the_node_not_ready_and_exits_after_the_grace() -> None:
    server, readiness = draining_server(grace=0.3)
    server.handle_exit(signal.SIGTERM, None)
    assert readiness.draining and not asyncio.run(readiness.ready())
    assert not server.should_exit and not tick(server)  # still serving during the grace
    time.sleep(0.35)
    assert tick(server) and server.should_exit
    assert server._captured_signals == []  # not re-raised at the end: the exit status is 0


def test_a_second_sigterm_ends_the_grace() -> None:
    server, _ = draining_server(grace=60.0)
    server.handle_exit(signal.SIGTERM, None)
    assert not tick(server)
    server.handle_exit(signal.SIGTERM, None)
    assert tick(server)


def test_sigint_is_uvicorns_own() -> None:
    server, readiness = draining_server(grace=60.0)
    server.handle_exit(signal.SIGINT, None)
    assert readiness.draining and server.should_exit and server.drain_until is None
    assert server._captured_signals == [signal.SIGINT]

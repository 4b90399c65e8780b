"""The supervisor's rules without processes: the replacement delays, and the port held for the
workers (src/paycrypt/workers/)."""

from __future__ import annotations

import socket

import pytest

from paycrypt.workers import listeners
from paycrypt.workers.supervisor import FIRST_DELAY, LONGEST_DELAY, STABLE_AFTER, Backoff
from tests.conftest import free_port


def test_the_delay_doubles_while_replacements_die_young_and_resets_after_a_stable_run() -> None:
    backoff = Backoff()
    young = STABLE_AFTER / 10
    assert [backoff.after(young) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert (FIRST_DELAY, LONGEST_DELAY) == (0.5, 30.0)
    assert backoff.after(STABLE_AFTER + 1) == FIRST_DELAY
    assert backoff.after(young) == 2 * FIRST_DELAY
    # A replacement that fails at start, however long that took, doubles the delay too.
    assert backoff.after(STABLE_AFTER * 3, served=False) == 4 * FIRST_DELAY


@pytest.fixture
def port() -> listeners.Port:
    held = listeners.Port(listeners.Address("127.0.0.1", free_port()))
    yield held
    held.close()


def _plain_bind(port: int, *, reuse_address: bool) -> None:
    with socket.socket() as other:
        if reuse_address:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.bind(("127.0.0.1", port))


def test_the_port_is_held_even_while_no_worker_listens(port: listeners.Port) -> None:
    for reuse_address in (False, True):
        with pytest.raises(OSError):
            _plain_bind(port.address.port, reuse_address=reuse_address)


def test_each_worker_gets_a_listening_socket_of_the_group(port: listeners.Port) -> None:
    first, second = port.listener(), port.listener()
    try:
        assert first.getsockname() == second.getsockname() == ("127.0.0.1", port.address.port)
        assert first.get_inheritable() and second.get_inheritable()
        with socket.create_connection(("127.0.0.1", port.address.port), timeout=5):
            pass  # accepted into one of the two queues
    finally:
        first.close()
        second.close()


def test_a_port_in_use_is_refused(port: listeners.Port) -> None:
    with pytest.raises(listeners.PortUnavailable, match=rf"cannot listen on 127.0.0.1:{port.address.port}: "):
        listeners.Port(port.address)


def test_an_ipv6_address_is_named_in_brackets() -> None:
    assert str(listeners.Address("::1", 8443)) == "[::1]:8443"

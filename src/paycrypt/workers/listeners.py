"""The listening sockets of a node's workers: one per worker, all bound to the same address with
SO_REUSEPORT, so the kernel spreads new connections over the workers that are listening.

A socket that joins a reuseport group is accepted from any process of the same user that sets the
option too. So the port is first tried with a plain bind, which fails while anything listens there:
two `paycrypt serve` never share a port, whatever their --workers. Then the supervisor keeps one
bound socket of the group that does not listen (`Port`): it receives no connection but holds the
port while workers are replaced, even if every worker has died at once. It is bound without
SO_REUSEADDR, so a plain socket cannot bind beside it either (two sockets share a port under
SO_REUSEADDR when neither listens yet).

A worker's socket is made by the supervisor (a bind error is the supervisor's to report, once) and
belongs to the worker: when a worker dies, its socket closes with it and the kernel sends new
connections to the sockets still listening, instead of queueing them for a dead process.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

BACKLOG = 2048  # uvicorn's default listen backlog


class PortUnavailable(Exception):
    """The address cannot be listened on; the message says why."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def supported() -> bool:
    """SO_REUSEPORT spreads connections over the listening sockets on Linux only (elsewhere the
    option exists with other meanings, or not at all)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


class Port:
    """The port, reserved for the node's workers while the supervisor runs (see the module's doc)."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.family, self.sockaddr = _resolve(address)
        probe = _socket(self.family, reuse_port=False, reuse_address=True)
        try:
            probe.bind(self.sockaddr)
        except OSError as exc:
            raise PortUnavailable(f"cannot listen on {address}: {exc.strerror}") from None
        finally:
            probe.close()
        self._held = self._bound(reuse_address=False)

    def listener(self) -> socket.socket:
        """A new listening socket of the group, inheritable, for one worker."""
        sock = self._bound(reuse_address=True)
        sock.listen(BACKLOG)
        sock.set_inheritable(True)
        return sock

    def close(self) -> None:
        self._held.close()

    def _bound(self, *, reuse_address: bool) -> socket.socket:
        sock = _socket(self.family, reuse_port=True, reuse_address=reuse_address)
        try:
            sock.bind(self.sockaddr)
        except OSError as exc:
            sock.close()
            raise PortUnavailable(f"cannot listen on {self.address}: {exc.strerror}") from None
        return sock


def _socket(family: int, *, reuse_port: bool, reuse_address: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    if reuse_address:  # as uvicorn does: binds over the TIME_WAIT connections of a last run
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def _resolve(address: Address) -> tuple[int, tuple]:
    try:
        found = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {address}: {exc.strerror}") from None
    family, _, _, _, sockaddr = found[0]
    return family, sockaddr

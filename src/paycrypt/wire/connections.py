"""Connection limits in front of uvicorn's HTTP protocol, so that idle and slow clients cannot hold
the server's file descriptors (issue 13, item 2).

uvicorn closes an idle kept-alive connection, but nothing else: a connection that never finishes
its request head, or sends less body than its Content-Length, stays open for ever. Its
`limit_concurrency` does not help: it is checked only once a request head is complete (an idle
socket is counted but never closed), and its refusal is a plain-text 503. So paycrypt serves HTTP
with `GuardedProtocol`, uvicorn's httptools protocol with four additions:

- **time limits**: the request head must arrive within `head_timeout` seconds (counted from the
  accept, or from the first byte of a later request on a kept-alive connection; a TLS handshake
  is part of the head), and the body within `body_timeout` seconds of the end of the head. Past
  either the client gets 408 RequestTimeoutException and the connection is closed (silently if
  it never sent a byte, as for an idle kept-alive connection).
- **a cap on the request head's size**: at most `max_head_bytes` (16 KiB, uvicorn's own limit
  for its h11 parser, `h11_max_incomplete_event_size`) from the first byte of a request to the end
  of its head. httptools has no such limit: it gathers a header value by concatenation until the
  value ends, so four clients sending one endless header held over 100 MB and stalled the event
  loop for seconds. Past the limit the client gets 431 RequestHeaderFieldsTooLargeException and
  the connection is closed; no part of that request reaches the application.
- **a cap on open connections**: a connection accepted while `max_connections` are open is
  answered 503 ServiceUnavailableException at once, without reading its request, and closed
  (over TLS it is closed before the handshake: answering would need one).
- **one write per response**: uvicorn writes a response's head and its body in two calls; the
  head is held and written with the body (`_OneWrite`): one system call and one loopback segment
  fewer per request, and a process killed between the two writes can no longer leave a client
  holding a 200 head with no body (which a client that does not check Content-Length reads as a
  success with nothing in it).
- **TLS here rather than in the listener**: the same TLS layer the loop would use, put in by
  this protocol, so that a connection still in its handshake counts against the cap and the
  head's time limit like any other.

It relies on uvicorn's parser callbacks (on_message_begin, on_headers_complete,
on_message_complete) and on `cycle`/`transport`; tests/api/test_connection_limits.py exercises
every path, so a uvicorn change that breaks them fails there.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import functools
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from paycrypt import defaults
from paycrypt.wire.protocols.base import raw_error_response

log = logging.getLogger("paycrypt")

# A refused client is given this long to finish sending its request before the socket is closed,
# so that it reads the 503 rather than risk a reset; at most MAX_LINGERING refusals wait at once
# (their descriptors are kept free for them below the file limit: server.RESERVED_FILES).
REFUSAL_LINGER = 1.0
MAX_LINGERING = 16

HEAD, BODY = "head", "body"


@dataclass
class ConnectionLimits:
    head_timeout: float = defaults.REQUEST_HEAD_TIMEOUT
    body_timeout: float = defaults.REQUEST_BODY_TIMEOUT
    max_connections: int = defaults.MAX_CONNECTIONS
    tls: ssl.SSLContext | None = None
    max_head_bytes: int = defaults.MAX_REQUEST_HEAD_BYTES


@dataclass
class Gate:
    """What every connection of one listener shares: the limits and the counts they are held to."""

    limits: ConnectionLimits
    open: int = 0  # connections holding a slot: accepted and not yet closed
    lingering: int = 0  # refused connections still draining their request
    refused: int = 0  # connections refused since start (for the log and the tests)
    timed_out: dict[str, int] = field(default_factory=lambda: {HEAD: 0, BODY: 0})
    oversized: int = 0  # request heads refused for their size


def _ssl_protocol(loop: asyncio.AbstractEventLoop) -> type:
    """The TLS layer that `loop.start_tls` would use, which the loop's own transports work best with."""
    return uvloop.loop.SSLProtocol if isinstance(loop, uvloop.Loop) else asyncio.sslproto.SSLProtocol


def protocol_factory(gate: Gate) -> functools.partial[GuardedProtocol]:
    """What uvicorn's Config takes as `http`: it calls it with (config, server_state, app_state, _loop)."""
    return functools.partial(GuardedProtocol, gate=gate)


class GuardedProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        gate: Gate,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.gate = gate
        self._slot = False  # whether this connection counts in gate.open
        self._refusing = False  # whether what the client sends is dropped unread
        self._lingering = False  # whether this connection counts in gate.lingering
        self._head_bytes = 0  # bytes of the current request head received so far
        self._head_tail = b""  # its last three bytes, to find a CRLF CRLF split across reads
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None  # HEAD or BODY while a time limit runs
        self._raw: asyncio.Transport | None = None  # the TCP transport (under TLS, the one below it)
        self._received = False  # whether the client has sent any byte
        self._answering: RequestResponseCycle | None = None  # answered when a pipelined request came

    # --- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if self._raw is not None:  # again, from the TLS layer, once its handshake is done
            super().connection_made(transport)
            return
        self._raw = transport
        gate = self.gate
        if gate.open >= gate.limits.max_connections:
            self._refuse(transport)
            return
        gate.open += 1
        self._slot = True
        self._arm(HEAD, gate.limits.head_timeout)
        if gate.limits.tls is None:
            super().connection_made(transport)
            return
        # The TLS layer goes in now, before the loop starts reading this socket: a ClientHello
        # that came in first would otherwise reach this protocol and be lost. It calls
        # connection_made again once the handshake is done (and only then connection_lost).
        handshake = self.loop.create_future()
        handshake.add_done_callback(self._handshake_done)
        layer = _ssl_protocol(self.loop)(
            self.loop,
            self,
            gate.limits.tls,
            handshake,
            server_side=True,
            ssl_handshake_timeout=gate.limits.head_timeout,
        )
        transport.set_protocol(layer)
        layer.connection_made(transport)

    def _handshake_done(self, handshake: asyncio.Future[None]) -> None:
        """The TLS layer's waiter: run after its connection_made call if the handshake succeeded."""
        if not handshake.cancelled():
            handshake.exception()  # retrieved: a failed handshake is the client's affair, not a log line
        if self.transport is None:  # failed, timed out, or closed first: no connection_lost will come
            self._release()
            if self._raw is not None:
                self._raw.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self._lingering:
            self.gate.lingering -= 1
            self._lingering = False
        self._refusing = False
        if self.transport is None:  # refused at the cap, or closed in the TLS handshake: uvicorn never saw it
            return
        answering = self._answering
        if answering is not None and not answering.response_complete:
            # uvicorn keeps only the newest request's cycle and marks only that one disconnected;
            # the one before it, still being answered (on the worker pool, say), would write to the
            # closed transport, and its RuntimeError would be logged as an ASGI exception.
            answering.disconnected = True
            answering.message_event.set()
        super().connection_lost(exc)

    def _release(self) -> None:
        self._disarm()
        if self._slot:
            self._slot = False
            self.gate.open -= 1

    def data_received(self, data: bytes) -> None:
        if self._refusing:
            return  # a refused client's request: read so that closing does not reset the answer
        self._received = True
        if self._phase != BODY and self._head_overflows(data):
            self._refuse_head()
            return
        super().data_received(data)

    def _head_overflows(self, data: bytes) -> bool:
        """Whether `data` takes the request head past `max_head_bytes` without ending it.

        Counted before the parser sees the bytes and reset when a head is complete, so a read that
        ends a head and carries body bytes after it counts only while the head lasts."""
        room = self.gate.limits.max_head_bytes - self._head_bytes
        if len(data) > room and b"\r\n\r\n" not in self._head_tail + data[: max(room, 0)]:
            return True
        self._head_bytes += len(data)
        self._head_tail = (self._head_tail + data)[-3:]
        return False

    def _refuse_head(self) -> None:
        """431 and close: the head is too long to read, and nothing of it reaches the application."""
        gate = self.gate
        gate.oversized += 1
        self._disarm()
        transport = self.transport
        earlier = self.cycle
        if earlier is not None and not earlier.response_complete:
            transport.close()  # a pipelined head: never cut into the answer to the request before it
            return
        transport.write(
            raw_error_response(
                431,
                "RequestHeaderFieldsTooLargeException",
                f"The request head exceeds {gate.limits.max_head_bytes} bytes.",
            )
        )
        if gate.limits.tls is not None:
            transport.close()  # TLS has no half-close; close_notify follows the answer
            return
        self._linger(transport)

    def _linger(self, transport: asyncio.Transport) -> None:
        """Half-close after an answer and drop what the client still sends for up to REFUSAL_LINGER
        seconds, so that it reads the answer rather than a reset (at most MAX_LINGERING at once)."""
        gate = self.gate
        if gate.lingering >= MAX_LINGERING:
            transport.close()
            return
        gate.lingering += 1
        self._lingering = True
        self._refusing = True
        transport.write_eof()
        self.loop.call_later(REFUSAL_LINGER, transport.close)

    # --- the cap ------------------------------------------------------------------------------

    def _refuse(self, transport: asyncio.Transport) -> None:
        gate = self.gate
        gate.refused += 1
        if gate.refused == 1 or gate.refused % 1000 == 0:
            log.warning(
                "connection limit of %d reached: refusing connections (%d so far)",
                gate.limits.max_connections,
                gate.refused,
            )
        if gate.limits.tls is not None:
            transport.abort()  # answering would need a TLS handshake, which is what is refused
            return
        transport.write(
            raw_error_response(
                503,
                "ServiceUnavailableException",
                f"The server has {gate.limits.max_connections} open connections, its limit; retry later.",
            )
        )
        self._linger(transport)

    # --- time limits --------------------------------------------------------------------------

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != HEAD:  # a later request on a kept-alive connection: its head starts now
            self._arm(HEAD, self.gate.limits.head_timeout)

    def on_headers_complete(self) -> None:
        answering = self.cycle
        self._head_bytes, self._head_tail = 0, b""
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not answering and cycle.scope["method"] != "HEAD":
            cycle.transport = _OneWrite(cycle.transport)  # type: ignore[assignment]  # (no body write for HEAD)
        if answering is not None and answering is not self.cycle and not answering.response_complete:
            self._answering = answering  # a pipelined request: uvicorn queued it behind this one
        self._arm(BODY, self.gate.limits.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def _expired(self) -> None:
        phase, self._deadline = self._phase, None
        raw = self.transport or self._raw
        if phase is None or raw is None or raw.is_closing():
            return
        earlier = self.cycle
        if phase == HEAD and earlier is not None and not earlier.response_complete:
            # A pipelined request whose head waits on the answer to the one before it (uvicorn
            # reads no further until then): its clock starts again rather than cutting that answer.
            self._arm(HEAD, self.gate.limits.head_timeout)
            return
        self.gate.timed_out[phase] += 1
        answered = phase == BODY and earlier is not None and earlier.response_started
        if self.transport is not None and self._received and not answered:
            limit = self.gate.limits.head_timeout if phase == HEAD else self.gate.limits.body_timeout
            self.transport.write(
                raw_error_response(
                    408,
                    "RequestTimeoutException",
                    f"The request {phase} did not arrive within {limit:g} s.",
                )
            )
        raw.close()


class _OneWrite:
    """A response cycle's view of the transport: the first write of a response (its head) is held
    and goes out with the next (its body) in one write. An interim 100 Continue is not held: the
    client waits for it before it sends the body."""

    __slots__ = ("_head", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._started and not data.startswith(b"HTTP/1.1 100 "):
            self._started = True
            self._head = data
            return
        self._transport.write(data)

    def close(self) -> None:
        if self._head is not None:  # a head whose body never came: as uvicorn would have sent it
            self._transport.write(self._head)
            self._head = None
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

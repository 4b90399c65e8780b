"""The ASGI application: one port for the control plane, the data plane and STS.

Each request is offered to the protocol of each model served, in order (wire/protocols/); the
first that recognises its form names the operation, or answers that it knows none, and the call
goes through the one pipeline (wire/pipeline.py). All of it runs on the event loop's thread,
which is right for calls of tens of microseconds and a local SQLite, except the service call of a
request `service.heavy` names (RSA, TR-34, ECDH, signing: up to seconds of CPU), which the
pipeline hands to a worker thread so that every other caller keeps being answered.

The app builds nothing: server.py gives it the models served, the pipeline, and the lifespan
that starts and stops the background jobs.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from paycrypt import ids
from paycrypt.auth import sigv4
from paycrypt.errors import ProtocolError, ServiceError
from paycrypt.wire import faults, health
from paycrypt.wire.pipeline import Api, Pipeline
from paycrypt.wire.protocols import Response
from paycrypt.wire.protocols.base import unplaned_error

log = logging.getLogger("paycrypt")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
# Entered at the ASGI lifespan's startup, left at its shutdown (server.py's: the background jobs).
Lifespan = Callable[[], contextlib.AbstractAsyncContextManager[None]]

# The largest request the models allow (a TR-34 block with its certificates) is a few tens of KiB;
# a body is read, and held, before the signature is checked, so it is bounded.
MAX_BODY_BYTES = 1024 * 1024


# An ASGI app served below a path prefix on the same listener (server.py's: the console).
Mounted = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class App:
    def __init__(
        self,
        apis: Sequence[Api],
        pipeline: Pipeline,
        lifespan: Lifespan,
        mounts: Mapping[str, Mounted] | None = None,
        readiness: health.Readiness | None = None,
    ) -> None:
        """`apis`: the models served, in the order their protocols are offered a request (the one
        whose routes are a catch-all, restJson1, last); `mounts`: path prefix → the app that
        answers every request below it (no API operation's path starts with one); `readiness`:
        what `/readyz` answers (wire/health.py; without it, the health paths are routed as any
        other request)."""
        self.apis = tuple(apis)
        self.pipeline = pipeline
        self.lifespan = lifespan
        self.mounts = dict(mounts or {})
        self.readiness = readiness

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"] in health.PATHS and scope["method"] in health.METHODS and self.readiness is not None:
            await health.answer(scope["path"], scope["method"], self.readiness, send)
            return
        for prefix, mounted in self.mounts.items():
            if scope["path"] == prefix or scope["path"].startswith(prefix + "/"):
                await mounted(scope, receive, send)
                return
        try:
            body = await _read_body(receive, MAX_BODY_BYTES)
        except ClientGone:
            return  # closed before the request was whole (a time limit, or the client left): no call
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client") or ("-", 0)
        if body is None:
            response = _too_large()
        else:
            response = await self.handle(scope["method"], raw_path, query, headers, body, client[0])
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (b"content-length", str(len(response.body)).encode()),
                    *((k.encode(), v.encode()) for k, v in response.headers.items()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def handle(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        source_ip: str = "-",
    ) -> Response:
        request_id = ids.uuid4_text()
        timed = log.isEnabledFor(logging.DEBUG)  # the per-request log line, for debugging only
        started = time.perf_counter() if timed else 0.0
        request = sigv4.SignedRequest(
            method=method, raw_path=raw_path, query_string=query, headers=headers, body=body
        )
        try:
            name, response = await self._route(request, request_id, source_ip)
        except Exception as exc:  # routing: a routed call's faults are answered in the pipeline
            name = "unrouted"
            faults.internal_error(name, request_id, exc)
            response = Response(*unplaned_error(500, "InternalServerException", faults.MESSAGE))
        response.headers["x-amzn-requestid"] = request_id
        if timed:
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("%s %s %s %d %.1fms", source_ip, name, request_id, response.status, elapsed)
        return response

    async def _route(
        self, request: sigv4.SignedRequest, request_id: str, source_ip: str
    ) -> tuple[str, Response]:
        """The first protocol that recognises the request's form answers it."""
        started = time.perf_counter()
        for api in self.apis:
            routed = api.protocol.route(request)
            if routed is None:
                continue
            if isinstance(routed, ServiceError):  # an operation this protocol does not know
                response = api.protocol.error(routed, request_id)
                self.pipeline.unrouted(response.status, routed, started)
                return "unknown", response
            response = await self.pipeline.serve(api, routed, request, request_id, source_ip)
            return routed.operation.name, response
        path = request.raw_path.split("?", 1)[0]
        unknown = ProtocolError(
            "UnknownOperationException", f"No operation matches {request.method} {path}.", 404
        )
        self.pipeline.unrouted(unknown.status, unknown, started)
        return "unknown", Response(*unplaned_error(unknown.status, unknown.code, unknown.message))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        running: contextlib.AbstractAsyncContextManager[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                running = self.lifespan()
                await running.__aenter__()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if running is not None:
                    await running.__aexit__(None, None, None)
                await send({"type": "lifespan.shutdown.complete"})
                return


class ClientGone(Exception):
    """The connection closed before the whole request body arrived."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` (the rest is drained, not kept)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks) if size <= limit else None


def _too_large() -> Response:
    message = f"Request body exceeds {MAX_BODY_BYTES} bytes."
    return Response(*unplaned_error(413, "RequestEntityTooLargeException", message))

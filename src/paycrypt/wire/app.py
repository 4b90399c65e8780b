"""The ASGI application: one port for the control plane, the data plane and STS.

A request is routed by shape (X-Amz-Target → control plane, form body → STS, a modelled REST
path → data plane), authenticated with SigV4, parsed and validated against the model, described
and its keys resolved once (service.identifiers), authorized on those keys, handed to the service
function with them, and its result or error encoded the way botocore expects. All of it runs
on the event loop's thread, which is right for calls of tens of microseconds and a local SQLite,
except the service call of a request `service.heavy` names (RSA, TR-34, ECDH, signing: up to
seconds of CPU), which goes to a worker thread so that every other caller keeps being answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from paycrypt.audit import events
from paycrypt.audit.writer import AuditWriter
from paycrypt.auth import sigv4
from paycrypt.auth.authorize import Authorizer
from paycrypt.auth.credentials import CredentialStore
from paycrypt.errors import NotImplementedOperation, ProtocolError, ServiceError
from paycrypt.jobs.key_blocks import BlockFollower
from paycrypt.jobs.replicator import Replicator
from paycrypt.policy.requests import RequestCatalog
from paycrypt.service import heavy, identifiers, registry
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.wire import faults, models, sts
from paycrypt.wire.protocol import JSON_10, Operation, Protocols, unplaned_error

log = logging.getLogger("paycrypt")

SERVICES = frozenset({"payment-cryptography"})
STS_SERVICES = frozenset({"sts"})

# Worker threads for CPU-heavy calls: all cores but the one the event loop needs. They run at a
# lower priority (on Linux a thread's nice value is its own), so that when the machine is short of
# CPU the event loop's thread is served first and a heavy call takes longer instead of every call
# (bench/README.md, heavy calls).
HEAVY_WORKERS = max(1, (os.cpu_count() or 1) - 1)
HEAVY_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICENESS)


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Call:
    """What one API call did, gathered as it runs, for its audit event."""

    op: Operation
    request: sigv4.SignedRequest
    request_id: str
    source_ip: str
    event_time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    identity: events.Identity = events.UNKNOWN
    region: str | None = None
    params: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    failure: events.Failure | None = None


class App:
    def __init__(
        self,
        service: Service,
        credentials: CredentialStore,
        protocols: Protocols,
        requests: RequestCatalog,
        authorizer: Authorizer,
        *,
        purge_interval: float,
        audit: AuditWriter | None = None,
        replicator: Replicator | None = None,
        follower: BlockFollower | None = None,
    ) -> None:
        self.service = service
        self.requests = requests  # what each operation's request names, from the same models
        self.authorizer = authorizer  # IAM policies, resource policies, rate quotas
        self.audit = audit
        self.credentials = credentials
        self.protocols = protocols  # compiled from the models the server loaded
        self.purge_interval = purge_interval
        self._sweeper: asyncio.Task[None] | None = None
        # Multi-region replication runs next to the sweeper; tests reach its hook through here.
        self.replicator = replicator or Replicator(service)
        self._replicating: asyncio.Task[None] | None = None
        # Re-sealed blocks and master-key versions from a rotation in another process.
        self.follower = follower or BlockFollower(service)
        self._following: asyncio.Task[None] | None = None
        self.workers = ThreadPoolExecutor(
            HEAVY_WORKERS, thread_name_prefix="paycrypt-heavy", initializer=_lower_priority
        )

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
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
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        request = sigv4.SignedRequest(
            method=method, raw_path=raw_path, query_string=query, headers=headers, body=body
        )
        try:
            name, response = await self._dispatch(request, request_id, source_ip)
        except Exception as exc:  # routing and STS: a modelled call's faults are answered in _run
            name = "unrouted"
            internal = faults.internal_error(name, request_id, exc)
            response = Response(*self.protocols.error(models.CONTROL, internal))
        response.headers["x-amzn-requestid"] = request_id
        log.debug(
            "%s %s %s %d %.1fms",
            source_ip,
            name,
            request_id,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    async def _dispatch(
        self, request: sigv4.SignedRequest, request_id: str, source_ip: str
    ) -> tuple[str, Response]:
        path = request.raw_path.split("?", 1)[0]
        if request.method == "POST" and path == "/":
            target = request.headers.get("x-amz-target")
            if target is not None:
                op = self.protocols.control_operation(target)
                if op is None:
                    return target, self._unknown(models.CONTROL, f"Operation {target} is not recognized.")
                return op.name, await self._serve(op, None, request, request_id, source_ip)
            if request.headers.get("content-type", "").startswith(sts.FORM):
                return "sts", self._sts(request, request_id)
        matched = self.protocols.match_data(request.method, request.raw_path)
        if matched is None:
            return "unknown", self._unknown(models.DATA, f"No operation matches {request.method} {path}.")
        op, labels = matched
        return op.name, await self._serve(op, labels, request, request_id, source_ip)

    async def _serve(
        self,
        op: Operation,
        labels: dict[str, str] | None,
        request: sigv4.SignedRequest,
        request_id: str,
        source_ip: str,
    ) -> Response:
        call = Call(op=op, request=request, request_id=request_id, source_ip=source_ip)
        response = await self._run(call, labels)
        self._audit(call)
        return response

    async def _run(self, call: Call, labels: dict[str, str] | None) -> Response:
        """The call's response; every failure, expected or not, is an AWS error and its audit record."""
        try:
            return await self._answer(call, labels)
        except ServiceError as exc:
            error = exc
        except Exception as exc:
            error = faults.internal_error(call.op.name, call.request_id, exc)
        call.failure = events.Failure(error.code, error.message)
        return Response(*self.protocols.error(call.op.plane, error))

    async def _answer(self, call: Call, labels: dict[str, str] | None) -> Response:
        op, request = call.op, call.request
        try:
            caller = self._authenticate(request, SERVICES)
        except sigv4.AuthError as exc:
            raise ProtocolError(exc.code, exc.message, exc.status) from None
        if caller.region not in self.service.regions:
            # A region this deployment does not serve: AWS's answer to a scope for another region.
            message = f"Credential should be scoped to a valid region, not '{caller.region}'."
            refused = sigv4.InvalidSignature(message)
            raise ProtocolError(refused.code, refused.message, refused.status)
        cred = caller.credential
        call.identity = events.Identity(cred.account_id, cred.arn, cred.user_id, cred.access_key_id)
        call.region = caller.region
        media = _media_type_error(op.plane, request.headers, request.body)
        if media is not None:
            raise media
        # Decoded once: the audit event records the request as sent even when it fails validation.
        call.params = self.protocols.decode(op, request.body, labels)
        # From here on only what the model names, without nulls (see wire/validate.py).
        params = call.params = self.protocols.check(op, call.params)
        # What it names, and the keys among them resolved once: the authorizer decides on them, the
        # service function uses them.
        shape = self.requests.describe(op.name, params)
        resolved = identifiers.resolve_request(
            self.service.store, cred.account_id, caller.region, shape.targets
        )
        resolved = self.authorizer.check(
            shape, op.plane == models.DATA, cred, caller.region, resolved, call.source_ip
        )
        function = (registry.CONTROL if op.plane == models.CONTROL else registry.DATA).get(op.name)
        if function is None:
            raise NotImplementedOperation(f"{op.name} is not available in this paycrypt release.")
        ctx = Context(
            caller=Caller(cred.account_id, cred.arn, cred.user_id),
            region=caller.region,
            now=self.service.clock.now(),
            request_id=call.request_id,
            keys=resolved,
        )
        if heavy.is_heavy(op.name, params):
            loop = asyncio.get_running_loop()
            call.result = await loop.run_in_executor(self.workers, function, self.service, ctx, params)
        else:
            call.result = function(self.service, ctx, params)
        content_type = JSON_10 if op.plane == models.CONTROL else "application/json"
        body = self.protocols.serialize(op, call.result)
        return Response(op.success_status, {"content-type": content_type}, body)

    def _audit(self, call: Call) -> None:
        """One CloudTrail-shaped event per call; an audit failure never fails the request."""
        if self.audit is None:
            return
        management = call.op.plane == models.CONTROL
        try:
            if not self.audit.wants(management, call.identity.account_id, call.region):
                return
            origin = events.Origin(
                identity=call.identity,
                region=call.region,
                source_ip=call.source_ip,
                user_agent=call.request.headers.get("user-agent"),
                request_id=call.request_id,
                event_time=call.event_time,
            )
            result = call.result if call.failure is None else None
            event = events.build_event(call.op.audit, origin, call.params, result, call.failure)
            self.audit.record(event)
        except Exception as exc:  # the event holds request members: its traceback's messages may too
            log.error(
                "audit event for %s (request %s) was not recorded\n%s",
                call.op.name,
                call.request_id,
                faults.withheld_traceback(exc),
            )

    def _authenticate(self, request: sigv4.SignedRequest, services: frozenset[str]) -> sigv4.VerifiedCaller:
        return sigv4.verify(request, self.credentials.lookup, dt.datetime.now(dt.UTC), services)

    def _unknown(self, plane: str, message: str) -> Response:
        status = 404 if plane == models.DATA else 400
        return Response(
            *self.protocols.error(plane, ProtocolError("UnknownOperationException", message, status))
        )

    def _sts(self, request: sigv4.SignedRequest, request_id: str) -> Response:
        xml = {"content-type": "text/xml"}
        try:
            caller = self._authenticate(request, STS_SERVICES)
        except sigv4.AuthError as exc:
            code = sts.AUTH_CODES.get(exc.code, exc.code)
            return Response(exc.status, xml, sts.error(code, exc.message, request_id))
        action = sts.action(request.body)
        if action != "GetCallerIdentity":
            message = f"STS action {action} is not available in paycrypt; only GetCallerIdentity is."
            return Response(400, xml, sts.error("InvalidAction", message, request_id))
        cred = caller.credential
        return Response(200, xml, sts.caller_identity(cred.account_id, cred.arn, cred.user_id, request_id))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
                self._replicating = asyncio.get_running_loop().create_task(self.replicator.run())
                self._following = asyncio.get_running_loop().create_task(self.follower.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._sweeper is not None:
                    self._sweeper.cancel()
                for task in (self._replicating, self._following):
                    if task is not None:
                        task.cancel()
                self.workers.shutdown(wait=False, cancel_futures=True)
                if self.audit is not None:
                    self.audit.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _sweep(self) -> None:
        """Purge keys whose deletion window has passed, without waiting for a request."""
        while True:
            try:
                purged = lifecycle.purge_due(self.service, self.service.clock.now())
                for arn in purged:
                    log.info("purged key %s", arn)
            except Exception:
                log.exception("key purge failed; retrying")
            await asyncio.sleep(self.purge_interval)


MEDIA_TYPES = {models.CONTROL: JSON_10, models.DATA: "application/json"}


def _media_type_error(plane: str, headers: Mapping[str, str], body: bytes) -> ProtocolError | None:
    """Smithy servers answer 415 when a request body comes with another content type."""
    expected = MEDIA_TYPES[plane]
    given = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if given == expected or (not body and not given):
        return None
    return ProtocolError(
        "UnsupportedMediaTypeException", f"Content-Type must be {expected}, not {given or 'absent'}.", 415
    )


# The largest request the models allow (a TR-34 block with its certificates) is a few tens of KiB;
# a body is read, and held, before the signature is checked, so it is bounded.
MAX_BODY_BYTES = 1024 * 1024


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

"""The request pipeline: every modelled call, whatever its protocol, takes these steps in order.

    authenticate          auth/sigv4.py over the credentials → the principal (and its region served?)
    decode and validate   the protocol class decodes; the operation's compiled validator keeps
                          only what the model names (wire/validate.py)
    resolve keys          policy/requests.py names what the request names; service/identifiers.py
                          reads each key once from the store
    authorize             auth/authorize.py decides on those keys (and charges the rate quota)
    dispatch              the operation's service function; those service/heavy.py names run on
                          a worker thread, the rest on the event loop's
    settle                the store's group commit of what it wrote, when one is pending
    serialize             the protocol class
    audit                 one CloudTrail-shaped event (audit/events.py → audit/writer.py)

Each step is a method below, called once, in that order, by `serve`. A step ends the call by
raising a ServiceError, which the protocol turns into its error response; a store that cannot
reach its database answers ServiceUnavailableException; anything else is a fault (wire/faults.py).
The audit event is written whatever the outcome, and then, when metrics are on, the call is
metered (operation, status, error code, time taken: metrics/meter.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import typing
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from paycrypt.audit import events
from paycrypt.audit.writer import AuditWriter
from paycrypt.auth import sigv4
from paycrypt.auth.authorize import Authorizer
from paycrypt.auth.credentials import CredentialStore
from paycrypt.errors import ProtocolError, ServiceError
from paycrypt.policy.requests import RequestCatalog, RequestShape
from paycrypt.service import heavy, identifiers
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.service.identifiers import Keys
from paycrypt.store.base import StoreUnavailable
from paycrypt.wire import faults
from paycrypt.wire.operations import Operation
from paycrypt.wire.protocols import Protocol, Response, Routed

log = logging.getLogger("paycrypt")

Function = Callable[[Service, Context, dict[str, Any]], dict[str, Any]]


UNROUTED = "unknown"  # the operation a request no model names is metered as


class Meter(typing.Protocol):
    """What records each call (metrics.meter.RequestMeter, when --metrics-port is given)."""

    def observe(
        self,
        operation: str,
        status: int,
        error: ServiceError | None,
        seconds: float,
        keys: Keys | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class Api:
    """One model served: its protocol class, the function serving each of its operations, and
    whether IAM governs it.

    `governed`: the Payment Cryptography planes are, so a call is scoped to a region served,
    resolved and authorized. STS GetCallerIdentity is not: AWS answers it without any permission
    ("No permissions are required", its model says), whatever the region."""

    protocol: Protocol
    functions: Mapping[str, Function]
    governed: bool


@dataclass
class Call:
    """One call as it goes through the pipeline, and what its audit event records."""

    api: Api
    routed: Routed
    op: Operation
    request: sigv4.SignedRequest
    request_id: str
    source_ip: str
    event_time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    identity: events.Identity = events.UNKNOWN
    region: str | None = None
    params: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: ServiceError | None = None

    @property
    def failure(self) -> events.Failure | None:
        """What the audit event records of the error, if the call failed."""
        return None if self.error is None else events.Failure(self.error.code, self.error.message)


class Pipeline:
    def __init__(
        self,
        *,
        service: Service,
        credentials: CredentialStore,
        requests: RequestCatalog,
        authorizer: Authorizer,
        audit: AuditWriter,
        workers: Executor,
        meter: Meter | None = None,
    ) -> None:
        self.service = service  # the service functions' state: store, key cache, clock, regions
        self.credentials = credentials
        self.requests = requests  # what each operation's request names, from the same models
        self.authorizer = authorizer  # IAM policies, resource policies, rate quotas
        self.audit = audit
        self.workers = workers  # the threads CPU-heavy calls run on
        self.meter = meter

    async def serve(
        self, api: Api, routed: Routed, request: sigv4.SignedRequest, request_id: str, source_ip: str
    ) -> Response:
        """The call's response; every failure, expected or not, is an AWS error and its audit record."""
        started = time.perf_counter() if self.meter is not None else 0.0  # read only when metered
        call = Call(api, routed, routed.operation, request, request_id, source_ip)
        keys: Keys = {}
        try:
            caller = self.authenticate(call)
            params = self.decode_and_validate(call)
            if api.governed:
                shape = self.requests.describe(call.op.name, params)
                keys = self.resolve_keys(caller, shape)
                keys = self.authorize(call, caller, shape, keys)
            call.result = await self.dispatch(call, caller, params, keys)
            await self.settle()
            response = self.serialize(call)
        except ServiceError as exc:
            response = self._failed(call, exc)
        except StoreUnavailable:  # the database is down or unreachable: retry later, never a 500
            response = self._failed(call, faults.unavailable())
        except Exception as exc:
            response = self._failed(call, faults.internal_error(call.op.name, request_id, exc))
        self.record(call)
        if self.meter is not None:
            self.meter.observe(call.op.name, response.status, call.error, time.perf_counter() - started, keys)
        return response

    def unrouted(self, status: int, error: ServiceError, started: float) -> None:
        """Meter a request no model names (answered by the app before any pipeline step)."""
        if self.meter is not None:
            self.meter.observe(UNROUTED, status, error, time.perf_counter() - started)

    def authenticate(self, call: Call) -> sigv4.VerifiedCaller:
        """SigV4 over the credentials: the principal, in a region this deployment serves."""
        services = call.api.protocol.signing_names
        try:
            caller = sigv4.verify(call.request, self.credentials.lookup, dt.datetime.now(dt.UTC), services)
        except sigv4.AuthError as exc:
            raise ProtocolError(exc.code, exc.message, exc.status) from None
        if call.api.governed and caller.region not in self.service.regions:
            # A region this deployment does not serve: AWS's answer to a scope for another region.
            message = f"Credential should be scoped to a valid region, not '{caller.region}'."
            refused = sigv4.InvalidSignature(message)
            raise ProtocolError(refused.code, refused.message, refused.status)
        cred = caller.credential
        call.identity = events.Identity(cred.account_id, cred.arn, cred.user_id, cred.access_key_id)
        call.region = caller.region
        return caller

    def decode_and_validate(self, call: Call) -> dict[str, Any]:
        """The request's members as the model knows them. Decoded first, so the audit event records
        the request as sent even when it fails validation; from here on only what the model names,
        without nulls (see wire/validate.py)."""
        protocol = call.api.protocol
        call.params = protocol.decode(call.routed, call.request)
        call.params = protocol.check(call.op, call.params)
        return call.params

    def resolve_keys(self, caller: sigv4.VerifiedCaller, shape: RequestShape) -> Keys:
        """Every key the request names, read once: the authorizer decides on them, the service
        function uses them."""
        account = caller.credential.account_id
        return identifiers.resolve_request(self.service.store, account, caller.region, shape.targets)

    def authorize(self, call: Call, caller: sigv4.VerifiedCaller, shape: RequestShape, keys: Keys) -> Keys:
        """The keys of `keys` the caller may use, or AccessDenied / Throttling / ResourceNotFound."""
        return self.authorizer.check(
            shape, call.op.data_plane, caller.credential, caller.region, keys, call.source_ip
        )

    async def dispatch(
        self, call: Call, caller: sigv4.VerifiedCaller, params: dict[str, Any], keys: Keys
    ) -> dict[str, Any]:
        """The operation's function, on a worker thread if the call is CPU-heavy."""
        function = call.api.functions.get(call.op.name)
        if function is None:
            raise call.api.protocol.unavailable(call.op)
        cred = caller.credential
        ctx = Context(
            caller=Caller(cred.account_id, cred.arn, cred.user_id),
            region=caller.region,
            now=self.service.clock.now(),
            request_id=call.request_id,
            keys=keys,
        )
        if heavy.is_heavy(call.op.name, params):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.workers, function, self.service, ctx, params)
        return function(self.service, ctx, params)

    async def settle(self) -> None:
        """Wait for the store's group commit of what the call wrote or read, if one is pending
        (store/sqlite.py): nothing is acknowledged before it is on disk. A failed commit raises."""
        pending = self.service.store.settled()
        if pending is not None:
            await asyncio.shield(pending)  # a client gone does not cancel the batch for the others

    def serialize(self, call: Call) -> Response:
        return call.api.protocol.serialize(call.op, call.result, call.request_id)

    def record(self, call: Call) -> None:
        """One CloudTrail-shaped event per call; an audit failure never fails the request."""
        plan = call.op.audit
        if plan is None:  # not an audited API (STS)
            return
        try:
            if not self.audit.wants(plan.management, call.identity.account_id, call.region):
                return
            origin = events.Origin(
                identity=call.identity,
                region=call.region,
                source_ip=call.source_ip,
                user_agent=call.request.headers.get("user-agent"),
                request_id=call.request_id,
                event_time=call.event_time,
            )
            failure = call.failure
            result = call.result if failure is None else None
            encoded = events.encode_event(plan, origin, call.params, result, failure)
            self.audit.record_encoded(encoded.text, encoded.event_time)
        except Exception as exc:  # the event holds request members: its traceback's messages may too
            log.error(
                "audit event for %s (request %s) was not recorded\n%s",
                call.op.name,
                call.request_id,
                faults.withheld_traceback(exc),
            )

    def _failed(self, call: Call, error: ServiceError) -> Response:
        call.error = error
        return call.api.protocol.error(error, call.request_id)

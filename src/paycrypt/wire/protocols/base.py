"""What every AWS protocol class answers for: routing, decoding, serializing and errors.

A protocol class serves one botocore model. It is chosen by the model's `metadata.protocol`, as
botocore picks its serializer and LocalStack its parser (wire/protocols/__init__.py), and owns
all that differs between protocols: how a request names its operation, the content type, the
status of an unknown operation, and the form of a result and of an error. What happens between
decoding and serializing is the pipeline's (wire/pipeline.py), the same for every protocol.
"""

from __future__ import annotations

import http
import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

from botocore.model import ServiceModel

from paycrypt.auth.sigv4 import SignedRequest
from paycrypt.errors import ServiceError, ValidationError
from paycrypt.wire import compiled_checks, validate
from paycrypt.wire.operations import Operation


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class Routed(NamedTuple):
    """The operation a request calls, and the values its URI labels bound (restJson1 only)."""

    operation: Operation
    labels: Mapping[str, str] = MappingProxyType({})


class Protocol(ABC):
    """One AWS protocol serving one model's operations."""

    name: ClassVar[str]  # botocore's `metadata.protocol`
    content_type: ClassVar[str]

    def __init__(
        self, model: ServiceModel, operations: Mapping[str, Operation], served: Collection[str]
    ) -> None:
        """`operations`: every operation of `model`, compiled; `served`: those a function serves."""
        self.model = model
        self.operations = operations
        self.served = frozenset(served)
        self.signing_name = model.signing_name  # the service a SigV4 scope must name
        self.signing_names = frozenset({self.signing_name})

    @abstractmethod
    def route(self, request: SignedRequest) -> Routed | ServiceError | None:
        """The operation `request` calls; the error that answers an operation this protocol does not
        know; None when the request is not in this protocol's form (another protocol's, or none)."""

    @abstractmethod
    def decode(self, routed: Routed, request: SignedRequest) -> dict[str, Any]:
        """The request's members as sent, not yet validated (the audit event records them so)."""

    def check(self, op: Operation, params: dict[str, Any]) -> dict[str, Any]:
        """The request's members as the model knows them (no unknown member, no null), once valid.

        The compiled decider answers a valid request; a refused one goes through the checker,
        which names every problem."""
        if op.decide is not None:
            try:
                return op.decide(params)
            except (compiled_checks.Refused, UnicodeEncodeError):
                pass
        known, invalid = validate.validate_with(op.check, params)
        if invalid is not None:
            raise ValidationError(invalid.message, field_list=invalid.fields)
        return known

    @abstractmethod
    def serialize(self, op: Operation, result: dict[str, Any] | None, request_id: str) -> Response:
        """The success response carrying `result`."""

    @abstractmethod
    def error(self, err: ServiceError, request_id: str) -> Response:
        """The error response botocore parses for this protocol."""

    @abstractmethod
    def unavailable(self, op: Operation) -> ServiceError:
        """The error for a modelled operation that no service function serves."""


def unplaned_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An error answered before a request is known to belong to a protocol (too large, timed out,
    refused at the connection cap): AWS's JSON error shape, which botocore reads on either plane."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"content-type": "application/json", "x-amzn-errortype": code}, body


def raw_error_response(status: int, code: str, message: str) -> bytes:
    """`unplaned_error` as the bytes of a whole HTTP/1.1 response that closes its connection, for
    answers written straight to a socket, outside any ASGI request."""
    status, headers, body = unplaned_error(status, code, message)
    head = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        *(f"{name}: {value}" for name, value in headers.items()),
        f"content-length: {len(body)}",
        "connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

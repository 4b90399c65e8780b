"""restJson1 (the data plane): the operation is the request's method and path, from the model's
`requestUri`s; URI labels bind to input members; a modelled error's status is the model's
`httpStatusCode`. A request that matches no route answers 404 UnknownOperationException.

restJson1 claims every request the other protocols do not (its routes are the catch-all), so it
is tried last.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import ServiceModel, Shape

from paycrypt.auth.sigv4 import SignedRequest
from paycrypt.errors import ProtocolError, ServiceError
from paycrypt.wire.operations import Operation
from paycrypt.wire.protocols.aws_json import JsonProtocol, decode_body
from paycrypt.wire.protocols.base import Routed

CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # literal segment, or '{Label}'
    operation: Operation


class RestJson1(JsonProtocol):
    name = "rest-json"
    content_type = CONTENT_TYPE

    def __init__(
        self, model: ServiceModel, operations: Mapping[str, Operation], served: Collection[str]
    ) -> None:
        super().__init__(model, operations, served)
        self.routes: dict[tuple[str, str, int], list[Route]] = {}
        for route in (_route(op) for op in operations.values()):
            self.routes.setdefault(_route_key(route.method, route.segments), []).append(route)

    def route(self, request: SignedRequest) -> Routed | ServiceError | None:
        method, path = request.method, request.raw_path.split("?", 1)[0]
        parts = tuple(path.strip("/").split("/"))
        for route in self.routes.get(_route_key(method, parts), ()):
            labels = _match(route, method, parts)
            if labels is not None:
                return Routed(route.operation, labels)
        return ProtocolError("UnknownOperationException", f"No operation matches {method} {path}.", 404)

    def members(self, op: Operation, body: bytes, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        params = decode_body(body)
        for label, value in (labels or {}).items():
            params[op.uri_members.get(label, label)] = unquote(value)
        return params

    def error_status(self, err: ServiceError, shape: Shape | None) -> int:
        modelled = shape is not None and "error" in shape.metadata
        if not modelled or err.status is not None:
            return super().error_status(err, shape)
        return shape.metadata["error"].get("httpStatusCode", 500 if err.fault else 400)


def _route(op: Operation) -> Route:
    uri = op.model.http["requestUri"].split("?", 1)[0]
    return Route(op.model.http["method"], tuple(uri.strip("/").split("/")), op)


def _route_key(method: str, segments: tuple[str, ...]) -> tuple[str, str, int]:
    """Routes are indexed by method, first segment (a literal in every data-plane URI) and depth."""
    return method, segments[0], len(segments)


def _match(route: Route, method: str, parts: tuple[str, ...]) -> dict[str, str] | None:
    if route.method != method or len(route.segments) != len(parts):
        return None
    labels = {}
    for pattern, part in zip(route.segments, parts, strict=True):
        if pattern.startswith("{"):
            if not part:
                return None
            labels[pattern.strip("{}+")] = part
        elif pattern != part:
            return None
    return labels

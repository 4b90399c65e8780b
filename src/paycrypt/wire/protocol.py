"""awsJson1_0 (control plane) and restJson1 (data plane): routing, parsing and serializing.

Everything here is generic: operations, routes, members and error shapes all come from the
models, so no code is written per operation. Each operation is compiled once at start, with its
validator and its audit plan, from the models the server loaded and passed in.
"""

from __future__ import annotations

import datetime as dt
import http
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel, Shape

from paycrypt.audit import events
from paycrypt.errors import ProtocolError, ServiceError, ValidationError
from paycrypt.wire import models, validate

CONTROL_TARGET_PREFIX = "PaymentCryptographyControlPlane."
JSON_10 = "application/x-amz-json-1.0"
REST_JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    plane: str
    name: str
    model: OperationModel
    input_shape: Shape
    output_shape: Shape | None
    check: validate.Checker
    audit: events.OperationPlan  # how its audit event renders the request and result
    wire_form: Callable[[Any], Any] | None  # the result's timestamps as epoch seconds; None: none
    uri_members: dict[str, str] = field(default_factory=dict)  # label -> member name
    success_status: int = 200


@dataclass(frozen=True)
class Route:
    method: str
    segments: tuple[str, ...]  # literal segment, or '{Label}'
    operation: Operation


class Protocols:
    """Both planes compiled from the models the server loaded."""

    def __init__(self, loaded: models.Models) -> None:
        self.control = _compile_plane(models.CONTROL, loaded.control)
        self.data = _compile_plane(models.DATA, loaded.data)
        self.routes: dict[tuple[str, str, int], list[Route]] = {}
        for route in (_route(op) for op in self.data.values()):
            self.routes.setdefault(_route_key(route.method, route.segments), []).append(route)
        self._error_shapes = {
            models.CONTROL: _error_shapes(loaded.control),
            models.DATA: _error_shapes(loaded.data),
        }

    def control_operation(self, target: str) -> Operation | None:
        if not target.startswith(CONTROL_TARGET_PREFIX):
            return None
        return self.control.get(target[len(CONTROL_TARGET_PREFIX) :])

    def match_data(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]] | None:
        parts = tuple(raw_path.split("?", 1)[0].strip("/").split("/"))
        for route in self.routes.get(_route_key(method, parts), ()):
            labels = _match(route, method, parts)
            if labels is not None:
                return route.operation, labels
        return None

    def parse(self, op: Operation, body: bytes, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """Decode the JSON body, bind URI labels, and validate against the input shape."""
        return self.check(op, self.decode(op, body, labels))

    def decode(self, op: Operation, body: bytes, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """The request's members as sent: the JSON body with the URI labels bound, not yet validated."""
        params = _decode_body(body)
        for label, value in (labels or {}).items():
            params[op.uri_members.get(label, label)] = unquote(value)
        return params

    def check(self, op: Operation, params: dict[str, Any]) -> dict[str, Any]:
        """The request's members as the model knows them (no unknown member, no null), once valid."""
        known, invalid = validate.validate_with(op.check, params)
        if invalid is not None:
            raise ValidationError(invalid.message, field_list=invalid.fields)
        return known

    def serialize(self, op: Operation, result: dict[str, Any] | None) -> bytes:
        if op.output_shape is None or not result:
            return b"{}"
        if op.wire_form is not None:
            result = op.wire_form(result)
        return json.dumps(result, separators=(",", ":")).encode()

    def error(self, plane: str, err: ServiceError) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for an error, in the form botocore parses for that plane."""
        shape = self._error_shapes[plane].get(err.code)
        status = _error_status(plane, err, shape)
        body: dict[str, Any] = {"__type": err.code}
        names = set(shape.members) if shape is not None else set()
        message_member = "Message" if "Message" in names else "message"
        body[message_member] = err.message or err.code
        for name, value in err.fields.items():
            if name in names and value is not None:
                body[name] = value
        field_list = getattr(err, "field_list", None)
        if field_list and "fieldList" in names:
            body["fieldList"] = field_list
        content_type = JSON_10 if plane == models.CONTROL else REST_JSON
        headers = {"content-type": content_type, "x-amzn-errortype": err.code}
        return status, headers, json.dumps(body).encode()


def unplaned_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    """An error answered before a request is known to belong to a plane (too large, timed out,
    refused at the connection cap): AWS's JSON error shape, which botocore reads on either plane."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"content-type": REST_JSON, "x-amzn-errortype": code}, body


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


def _compile_plane(plane: str, service: ServiceModel) -> dict[str, Operation]:
    """Every operation of one plane; shapes are compiled once per plane, shared by its operations."""
    plans = events.compile_plans(plane, service)
    checkers = validate.Checkers()
    timestamps = _Timestamps()
    return {
        name: _compile(plane, service.operation_model(name), plans[name], checkers, timestamps)
        for name in service.operation_names
    }


def _compile(
    plane: str,
    op: OperationModel,
    plan: events.OperationPlan,
    checkers: validate.Checkers,
    timestamps: _Timestamps,
) -> Operation:
    input_shape = op.input_shape
    uri_members = {}
    if input_shape is not None:
        for member_name, member in input_shape.members.items():
            if member.serialization.get("location") == "uri":
                uri_members[member.serialization.get("name", member_name)] = member_name
    output_shape = op.output_shape
    return Operation(
        plane=plane,
        name=op.name,
        model=op,
        input_shape=input_shape,
        output_shape=output_shape,
        check=checkers(input_shape) if input_shape is not None else validate.accept_empty,
        audit=plan,
        wire_form=timestamps.converter(output_shape) if output_shape is not None else None,
        uri_members=uri_members,
        success_status=op.http.get("responseCode", 200),
    )


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


def _decode_body(body: bytes) -> dict[str, Any]:
    """A JSON object as RFC 8259 defines it: UTF-8, and no NaN or Infinity literals.

    ValueError covers malformed JSON, bad UTF-8 and integers past Python's 4,300-digit limit;
    RecursionError covers nesting deeper than the decoder's stack.
    """
    if not body.strip():
        return {}
    try:
        params = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError("The request body is not valid JSON.") from exc
    if not isinstance(params, dict):
        raise ValidationError("The request body must be a JSON object.")
    return params


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _error_shapes(service: ServiceModel) -> dict[str, Shape]:
    return {shape.name: shape for shape in service.error_shapes}


def _error_status(plane: str, err: ServiceError, shape: Shape | None) -> int:
    if isinstance(err, ProtocolError):
        return err.status
    if err.code == "NotImplemented":
        return 501
    if plane == models.DATA and shape is not None and "error" in shape.metadata:
        return shape.metadata["error"].get("httpStatusCode", 500 if err.fault else 400)
    return 500 if err.fault else 400


class _Timestamps:
    """Which shapes of one plane hold a timestamp at any depth (memoised by shape name), and the
    conversion of a result to its wire form: datetimes become epoch seconds, the form both JSON
    protocols use."""

    def __init__(self) -> None:
        self._memo: dict[str, bool] = {}

    def converter(self, shape: Shape) -> Callable[[Any], Any] | None:
        """The output's conversion, or None when it holds no timestamp (sent as it is)."""
        if not self.has_timestamp(shape):
            return None
        return lambda value: self.to_wire(shape, value)

    def has_timestamp(self, shape: Shape) -> bool:
        found = self._memo.get(shape.name)
        if found is None:
            found = self._memo[shape.name] = _has_timestamp(shape, frozenset())
        return found

    def to_wire(self, shape: Shape, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure":
            members = shape.members
            out = {}
            for name, item in value.items():
                member = members.get(name)
                if member is not None and item is not None:
                    out[name] = self.to_wire(member, item) if self.has_timestamp(member) else item
            return out
        if kind == "list":
            return [self.to_wire(shape.member, item) for item in value]
        if kind == "map":
            return {k: self.to_wire(shape.value, v) for k, v in value.items()}
        if kind == "timestamp" and isinstance(value, dt.datetime):
            return round(value.timestamp(), 3)
        return value


def _has_timestamp(shape: Shape, seen: frozenset[str]) -> bool:
    if shape.type_name == "timestamp":
        return True
    if shape.name in seen:
        return False
    seen = seen | {shape.name}
    children: list[Shape] = []
    if shape.type_name == "structure":
        children = list(shape.members.values())
    elif shape.type_name == "list":
        children = [shape.member]
    elif shape.type_name == "map":
        children = [shape.value]
    return any(_has_timestamp(child, seen) for child in children)

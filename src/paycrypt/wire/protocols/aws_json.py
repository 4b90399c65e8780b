"""awsJson1_0 (the control plane) and what it shares with restJson1: JSON bodies and JSON errors.

awsJson1_0 names the operation in the X-Amz-Target header (`<targetPrefix>.<Operation>`, the
prefix from the model's metadata) on a POST to `/`; an unknown target answers 400
UnknownOperationException.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from botocore.model import ServiceModel, Shape

from paycrypt.auth.sigv4 import SignedRequest
from paycrypt.errors import NotImplementedOperation, ProtocolError, ServiceError, ValidationError
from paycrypt.wire.operations import Operation
from paycrypt.wire.protocols.base import Protocol, Response, Routed

CONTENT_TYPE = "application/x-amz-json-1.0"


class JsonProtocol(Protocol):
    """A request body and a result in JSON, and errors as `{"__type": code, "message": ...}`."""

    def __init__(
        self, model: ServiceModel, operations: Mapping[str, Operation], served: Collection[str]
    ) -> None:
        super().__init__(model, operations, served)
        self._error_shapes: dict[str, Shape] = {shape.name: shape for shape in model.error_shapes}

    def decode(self, routed: Routed, request: SignedRequest) -> dict[str, Any]:
        # Smithy servers answer 415 when a request body comes with another content type.
        given = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if given != self.content_type and (request.body or given):
            raise ProtocolError(
                "UnsupportedMediaTypeException",
                f"Content-Type must be {self.content_type}, not {given or 'absent'}.",
                415,
            )
        return self.members(routed.operation, request.body, routed.labels)

    def members(self, op: Operation, body: bytes, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON body's members (with the URI labels bound, in restJson1), not yet validated."""
        return decode_body(body)

    def parse(self, op: Operation, body: bytes, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
        """`members`, validated: what the pipeline's decode-and-validate step yields."""
        return self.check(op, self.members(op, body, labels))

    def serialize(self, op: Operation, result: dict[str, Any] | None, request_id: str) -> Response:
        if op.output_shape is None or not result:
            body = b"{}"
        else:
            body = _compact(op.wire_form(result) if op.wire_form else result).encode()
        return Response(op.success_status, {"content-type": self.content_type}, body)

    def error(self, err: ServiceError, request_id: str) -> Response:
        shape = self._error_shapes.get(err.code)
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
        headers = {"content-type": self.content_type, "x-amzn-errortype": err.code}
        return Response(self.error_status(err, shape), headers, json.dumps(body).encode())

    def error_status(self, err: ServiceError, shape: Shape | None) -> int:
        if err.status is not None:  # a protocol error's, or a status fixed on every plane
            return err.status
        return 500 if err.fault else 400

    def unavailable(self, op: Operation) -> ServiceError:
        return NotImplementedOperation(f"{op.name} is not available in this paycrypt release.")


class AwsJson1_0(JsonProtocol):
    name = "json"
    content_type = CONTENT_TYPE

    def __init__(
        self, model: ServiceModel, operations: Mapping[str, Operation], served: Collection[str]
    ) -> None:
        super().__init__(model, operations, served)
        self.target_prefix = model.metadata["targetPrefix"] + "."

    def route(self, request: SignedRequest) -> Routed | ServiceError | None:
        target = request.headers.get("x-amz-target")
        if target is None or request.method != "POST" or request.raw_path.split("?", 1)[0] != "/":
            return None
        prefix = self.target_prefix
        op = self.operations.get(target[len(prefix) :]) if target.startswith(prefix) else None
        if op is None:
            return ProtocolError("UnknownOperationException", f"Operation {target} is not recognized.", 400)
        return Routed(op)


def decode_body(body: bytes) -> dict[str, Any]:
    """A JSON object as RFC 8259 defines it: UTF-8, and no NaN or Infinity literals.

    ValueError covers malformed JSON, bad UTF-8 and integers past Python's 4,300-digit limit;
    RecursionError covers nesting deeper than the decoder's stack.
    """
    if not body.strip():
        return {}
    try:
        params = _DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ValidationError("The request body is not valid JSON.") from exc
    if not isinstance(params, dict):
        raise ValidationError("The request body must be a JSON object.")
    return params


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# One decoder and one encoder for every request (json.loads and json.dumps given an option build a
# new one per call).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_compact = json.JSONEncoder(separators=(",", ":")).encode

"""awsQuery (STS): the operation is the form body's `Action`; results and errors are XML.

SDK scripts call STS GetCallerIdentity before anything else, on the same endpoint, so paycrypt
answers it on the same port. The model (botocore's `sts`) gives the XML namespace, each result's
wrapper element and its members; what paycrypt serves of it is the operations given a function
(GetCallerIdentity). Any other action, modelled or not, is an unknown one: 400 InvalidAction.
Authentication failures carry STS's own names for them (`AUTH_CODES`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from botocore.model import ServiceModel, Shape

from paycrypt.auth.sigv4 import SignedRequest
from paycrypt.errors import ProtocolError, ServiceError
from paycrypt.wire.operations import Operation
from paycrypt.wire.protocols.base import Protocol, Response, Routed

FORM = "application/x-www-form-urlencoded"
XML = "text/xml"
# Query-protocol members that frame the call rather than being its input.
FRAMING = frozenset({"Action", "Version"})

# STS (awsQuery) names authentication failures differently from the JSON services.
AUTH_CODES = {
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
}


class AwsQuery(Protocol):
    name = "query"
    content_type = XML

    def __init__(
        self, model: ServiceModel, operations: Mapping[str, Operation], served: Collection[str]
    ) -> None:
        super().__init__(model, operations, served)
        self.namespace = model.metadata["xmlNamespace"]

    def route(self, request: SignedRequest) -> Routed | ServiceError | None:
        if request.method != "POST" or request.raw_path.split("?", 1)[0] != "/":
            return None
        if not request.headers.get("content-type", "").startswith(FORM):
            return None
        action = _form(request.body).get("Action")
        if action not in self.served:
            return self._invalid_action(action)
        return Routed(self.operations[action])

    def decode(self, routed: Routed, request: SignedRequest) -> dict[str, Any]:
        """The form's top-level members (this server's STS takes none; the validator drops them)."""
        return {name: value for name, value in _form(request.body).items() if name not in FRAMING}

    def serialize(self, op: Operation, result: dict[str, Any] | None, request_id: str) -> Response:
        wrapper = op.model.output_shape.serialization.get("resultWrapper") if op.output_shape else None
        members = _xml(op.output_shape, result or {}) if op.output_shape is not None else ""
        inner = f"<{wrapper}>{members}</{wrapper}>" if wrapper else members
        body = (
            f'<{op.name}Response xmlns="{self.namespace}">{inner}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            f"</{op.name}Response>"
        )
        return Response(op.success_status, {"content-type": XML}, body.encode())

    def error(self, err: ServiceError, request_id: str) -> Response:
        code = AUTH_CODES.get(err.code, err.code)
        kind = "Receiver" if err.fault else "Sender"
        status = err.status if err.status is not None else 500 if err.fault else 400
        body = (
            f'<ErrorResponse xmlns="{self.namespace}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(err.message or code)}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        )
        return Response(status, {"content-type": XML}, body.encode())

    def unavailable(self, op: Operation) -> ServiceError:
        return self._invalid_action(op.name)

    def _invalid_action(self, action: str | None) -> ProtocolError:
        served = ", ".join(sorted(self.served))
        message = f"{self.model.service_id} action {action} is not available in paycrypt; only {served} is."
        return ProtocolError("InvalidAction", message, 400)


def _form(body: bytes) -> dict[str, str]:
    """The form's fields, the first value of each; nothing when the body is not ASCII."""
    try:
        values = parse_qs(body.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {name: found[0] for name, found in values.items()}


def _xml(shape: Shape, value: Any) -> str:
    """`value` as the awsQuery XML of `shape`, members in the result's own order."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        return "".join(
            f"<{name}>{_xml(members[name], item)}</{name}>"
            for name, item in value.items()
            if name in members and item is not None
        )
    if kind == "list":
        return "".join(f"<member>{_xml(shape.member, item)}</member>" for item in value)
    if kind == "timestamp" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "boolean":
        return "true" if value else "false"
    return escape(str(value))

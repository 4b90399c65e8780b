"""Service errors, named by their AWS error codes.

The service layer raises these; the wire layer turns each into the HTTP status and body that
botocore parses, looking up the status and member names in the plane's own model.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An error the caller should see, with the AWS error code and the shape's extra members."""

    code = "InternalServerException"
    fault = False
    status: int | None = None  # an HTTP status every protocol gives this error, whatever its model says

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class ProtocolError(ServiceError):
    """An error outside the model's error shapes: authentication, routing, media type."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ValidationError(ServiceError):
    code = "ValidationException"

    def __init__(self, message: str, field_list: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.field_list = field_list


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"

    def __init__(self, message: str, resource_id: str) -> None:
        super().__init__(message, ResourceId=resource_id)


class Conflict(ServiceError):
    code = "ConflictException"


class AccessDenied(ServiceError):
    code = "AccessDeniedException"


class ServiceQuotaExceeded(ServiceError):
    code = "ServiceQuotaExceededException"


class Throttling(ServiceError):
    code = "ThrottlingException"


class InternalServer(ServiceError):
    code = "InternalServerException"
    fault = True


class ServiceUnavailable(ServiceError):
    """The service cannot answer now (its database is unreachable): HTTP 503 on every plane, which
    AWS SDKs retry; the control plane's model names the shape, the data plane's does not (see
    docs/decisions/availability.md)."""

    code = "ServiceUnavailableException"
    fault = True
    status = 503


class VerificationFailed(ServiceError):
    code = "VerificationFailedException"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, Reason=reason)


class NotImplementedOperation(ServiceError):
    """An operation or union member this release does not serve: HTTP 501, code NotImplemented."""

    code = "NotImplemented"
    status = 501

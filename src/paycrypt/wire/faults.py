"""What escapes a service function: AWS's InternalServerException for the caller, one log record.

The caller gets the plane's InternalServerException (500 on both planes) with the request id
header, never a detail of what failed. The log gets one record with the request id and the
traceback, so the fault can be found, but without any exception's message: a message may quote
its input (`KeyError` names the missing key, `int()` the text it could not read), and the input
can be a PAN, a PIN block or key material. Frames show code, never values.
"""

from __future__ import annotations

import logging
import traceback

from paycrypt.errors import InternalServer, ServiceUnavailable

log = logging.getLogger("paycrypt")

MESSAGE = "The service encountered an internal error."
UNAVAILABLE = "The service is temporarily unavailable; retry the request after a brief delay."


def internal_error(operation: str, request_id: str, exc: BaseException) -> InternalServer:
    """Log `exc` once, without its message, and return the error the caller is given."""
    log.error("internal error in %s (request %s)\n%s", operation, request_id, withheld_traceback(exc))
    return InternalServer(MESSAGE)


def withheld_traceback(exc: BaseException) -> str:
    """The traceback of `exc` and of the exceptions it was raised from, each message withheld."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(item.__traceback__))
        + f"{type(item).__module__}.{type(item).__qualname__} (message withheld)"
        for item in reversed(chain)
    ]
    return "\nwhich led to:\n".join(parts)


def unavailable() -> ServiceUnavailable:
    """The error for a call the store could not serve (its database unreachable). Not logged per
    call: the store logs the outage once when it starts and once when it ends."""
    return ServiceUnavailable(UNAVAILABLE)

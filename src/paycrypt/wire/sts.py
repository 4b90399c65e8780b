"""STS GetCallerIdentity over awsQuery, on the same port: SDK scripts call it before anything else."""

from __future__ import annotations

from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
FORM = "application/x-www-form-urlencoded"


# STS (awsQuery) names authentication failures differently from the JSON services.
AUTH_CODES = {
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
}


def action(body: bytes) -> str | None:
    try:
        values = parse_qs(body.decode("ascii"), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    found = values.get("Action")
    return found[0] if found else None


def caller_identity(account: str, arn: str, user_id: str, request_id: str) -> bytes:
    return (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">'
        "<GetCallerIdentityResult>"
        f"<Arn>{escape(arn)}</Arn><UserId>{escape(user_id)}</UserId><Account>{escape(account)}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()


def error(code: str, message: str, request_id: str, sender: bool = True) -> bytes:
    kind = "Sender" if sender else "Receiver"
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()

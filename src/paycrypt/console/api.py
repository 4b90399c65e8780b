"""The console's one way to act: the API call an action stands for, signed in-process (SigV4,
with the signed-in principal's access key) and handed to the API app's request handler, which
takes it through the same pipeline as any client's call: authentication, validation,
authorization (IAM and resource policies, rate quotas), the service function, and the audit
event, which names the principal and the console as user agent.

`Handler` is wire.app.App.handle, given by server.py (the console does not import the wire layer).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from paycrypt.auth.sigv4 import Credential

CONTROL_TARGET = "PaymentCryptographyControlPlane"
SIGNING_NAME = "payment-cryptography"
USER_AGENT = "paycrypt-console"
HOST = "console.internal"  # the Host header signed and sent; the pipeline checks the signature only


class ApiResponse(Protocol):
    status: int
    body: bytes


Handler = Callable[[str, str, str, Mapping[str, str], bytes, str], Awaitable[ApiResponse]]


@dataclass
class ApiError(Exception):
    """The API refused the call: its AWS error code, message and HTTP status, shown to the user
    exactly as a boto3 client would have received them."""

    code: str
    message: str
    status: int

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Api:
    def __init__(self) -> None:
        self.handler: Handler | None = None

    def connect(self, handler: Handler) -> None:
        self.handler = handler

    async def call(
        self, credential: Credential, region: str, operation: str, params: dict[str, Any], source_ip: str
    ) -> dict[str, Any]:
        """The operation's output, or ApiError with the API's answer."""
        assert self.handler is not None, "server.py connects the console to the API app"
        # here, not at the top: botocore's signer costs a server's start-up about 0.3 s of CPU
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        body = json.dumps(params).encode()
        request = AWSRequest(
            method="POST",
            url=f"http://{HOST}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"{CONTROL_TARGET}.{operation}",
                "User-Agent": USER_AGENT,
            },
        )
        signer = SigV4Auth(
            Credentials(credential.access_key_id, credential.secret_access_key, credential.session_token),
            SIGNING_NAME,
            region,
        )
        signer.add_auth(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["host"] = HOST
        response = await self.handler("POST", "/", "", headers, body, source_ip)
        try:
            answer = json.loads(response.body or b"{}")
        except ValueError:
            answer = {}
        if response.status >= 300:
            code = str(answer.get("__type", "InternalServerException")).rsplit("#", 1)[-1]
            message = str(answer.get("message") or answer.get("Message") or "")
            raise ApiError(code, message, response.status)
        return answer

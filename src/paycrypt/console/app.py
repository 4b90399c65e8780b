"""The console's ASGI app: its routes, the session gate and the CSRF check in front of them.

Every route below the sign-in page needs a session; every POST needs the session's CSRF token
(the sign-in form its own, from a cookie set with the form), and a POST whose Origin header names
another site is refused as well. Routes are a table: (method, path pattern) → handler.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from paycrypt.audit.writer import AuditWriter
from paycrypt.auth.credentials import CredentialStore
from paycrypt.console import sessions, signin
from paycrypt.console.api import Api, ApiError
from paycrypt.console.http import Request, Response, parse_query, redirect
from paycrypt.console.render import PREFIX, page
from paycrypt.store.base import Store

log = logging.getLogger("paycrypt")

MAX_BODY = 256 * 1024
IDLE_TIMEOUT = 15 * 60.0
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@dataclass
class ConsoleSettings:
    regions: tuple[str, ...]
    secure: bool  # TLS: cookies are Secure
    audit_dirs: tuple[Path, ...]  # the audit files read (this node's data directory)
    idle_timeout: float = IDLE_TIMEOUT
    limiter: signin.SigninLimiter | signin.SharedSigninLimiter = field(default_factory=signin.SigninLimiter)


@dataclass
class Ctx:
    """One request to a signed-in page: what a handler needs."""

    console: Console
    request: Request
    session: sessions.Session
    match: re.Match[str]

    @property
    def credential(self) -> Any:
        return self.session.credential

    @property
    def region(self) -> str:
        return self.session.region

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.console.api.call(
            self.credential, self.region, operation, params, self.request.client_ip
        )

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        return Response(status, page(template, **self.common(), **values))

    def common(self) -> dict[str, Any]:
        return {
            "csrf": self.session.csrf,
            "principal": self.credential.arn,
            "region": self.region,
            "regions": self.console.settings.regions,
            "prefix": PREFIX,
        }

    def failed(self, error: ApiError, back: str) -> Response:
        """The API's refusal, shown as the page's alert, with the API's own HTTP status."""
        return self.render(
            "result.html", status=error.status, error=error, result=None, back=back, title="Refused"
        )


Handler = Callable[[Ctx], Awaitable[Response]]


class Console:
    def __init__(
        self, settings: ConsoleSettings, credentials: CredentialStore, audit: AuditWriter, store: Store
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.audit = audit
        self.store = store
        self.api = Api()
        from paycrypt.console import routes  # the handlers import this module's Ctx

        self.routes = [
            (method, re.compile(pattern + r"\Z"), handler) for method, pattern, handler in routes.ROUTES
        ]

    # --- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_BODY:
                body.append(chunk)
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"][len(PREFIX) :] or "/"
        request = Request(
            method=scope["method"],
            path=path,
            query=parse_query(scope.get("query_string", b"").decode("latin-1")),
            headers=headers,
            body=b"".join(body),
            client_ip=(scope.get("client") or ("-", 0))[0],
            secure=self.settings.secure,
        )
        if size > MAX_BODY:
            response = Response(413, b"Request too large.", "text/plain; charset=utf-8")
        else:
            try:
                response = await self.handle(request)
            except Exception as exc:  # its message may quote what was posted: logged without it
                frames = "".join(traceback.format_tb(exc.__traceback__))
                log.error(
                    "console: %s %s failed: %s\n%s", request.method, request.path, type(exc).__name__, frames
                )
                response = Response(500, page("error.html", title="Error", message="Something went wrong."))
        await send(
            {"type": "http.response.start", "status": response.status, "headers": response.header_list()}
        )
        await send({"type": "http.response.body", "body": response.body})

    # --- routing ------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        if request.path == "/":
            return redirect(f"{PREFIX}/keys")
        if request.path.startswith("/static/") and request.method == "GET":
            return static(request.path[len("/static/") :])
        if request.path == "/signin":
            return await (self.signin_form(request) if request.method == "GET" else self.signin(request))
        if request.method == "POST" and not same_origin(request):
            return forbidden("The request came from another site.")
        now = time.time()
        session = sessions.decode(
            request.cookie(sessions.COOKIE), self.credentials.lookup, now, self.settings.idle_timeout
        )
        if session is None:
            if request.method == "GET":
                return redirect(
                    f"{PREFIX}/signin?expired=1" if request.cookie(sessions.COOKIE) else f"{PREFIX}/signin"
                )
            return forbidden("Your session has ended: sign in again.", status=401)
        if request.method == "POST" and not sessions.check_csrf(session, request.form().get("csrf")):
            return forbidden("The form's CSRF token is missing or wrong: reload the page and try again.")
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                response = await handler(Ctx(self, request, session, match))
                break
        else:
            response = Response(404, page("error.html", title="Not found", message="No such page."))
        if not any(c.startswith(sessions.COOKIE + "=") for c in response.cookies):  # sign-out, region
            response.cookies.append(
                sessions.cookie(sessions.COOKIE, sessions.encode(session), secure=self.settings.secure)
            )
        return response

    # --- signing in ---------------------------------------------------------------------------

    async def signin_form(self, request: Request, status: int = 200, message: str | None = None) -> Response:
        token = sessions.new_token()
        body = page(
            "signin.html",
            title="Sign in",
            token=token,
            regions=self.settings.regions,
            message=message,
            expired=request.query.get("expired") == "1",
            prefix=PREFIX,
        )
        response = Response(status, body)
        response.cookies.append(sessions.cookie(sessions.PRE_COOKIE, token, secure=self.settings.secure))
        return response

    async def signin(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(405, b"", "text/plain")
        form = request.form()
        token = request.cookie(sessions.PRE_COOKIE)
        if not same_origin(request) or not token or not sessions.tokens_equal(token, form.get("csrf", "")):
            return await self.signin_form(
                request, 403, "The sign-in form expired or came from another site: try again."
            )
        access_key_id = form.get("access_key_id", "").strip()
        region = form.get("region", "")
        if region not in self.settings.regions:
            region = self.settings.regions[0]
        names = (f"key:{access_key_id}", f"ip:{request.client_ip}")
        limiter = self.settings.limiter
        credential = self.credentials.lookup(access_key_id)
        if limiter.blocked(names):
            self.audit_login(
                credential, access_key_id, region, request, "Failure", "Too many failed sign-ins."
            )
            return await self.signin_form(
                request, 429, "Too many failed sign-ins: wait a few minutes before trying again."
            )
        if not signin.secret_matches(credential, form.get("secret", "")):
            limiter.failed(names)
            self.audit_login(credential, access_key_id, region, request, "Failure", "Failed authentication")
            return await self.signin_form(request, 401, "The access key id or the secret is wrong.")
        assert credential is not None
        self.audit_login(credential, access_key_id, region, request, "Success")
        session = sessions.open_session(credential, region, time.time())
        response = redirect(f"{PREFIX}/keys")
        response.cookies.append(
            sessions.cookie(sessions.COOKIE, sessions.encode(session), secure=request.secure)
        )
        response.cookies.append(sessions.expired(sessions.PRE_COOKIE, secure=request.secure))
        return response

    def audit_login(
        self,
        credential: Any,
        access_key_id: str,
        region: str,
        request: Request,
        outcome: str,
        reason: str | None = None,
    ) -> None:
        try:
            event = signin.login_event(credential, access_key_id, region, request.client_ip, outcome, reason)
            self.audit.record(event)
        except Exception as exc:
            log.error("console: the sign-in audit event was not recorded: %s", type(exc).__name__)


def same_origin(request: Request) -> bool:
    """Whether a POST came from the console's own pages, as far as the browser says: its
    Sec-Fetch-Site (another port of the same host is "same-site", not "same-origin") and its Origin
    header, when it sends them, name this console's origin. The CSRF token is the check that does
    not depend on the browser; this one refuses a forged form before its fields are read."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or one that sends no Origin on same-origin form posts
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def forbidden(message: str, status: int = 403) -> Response:
    return Response(status, page("error.html", title="Refused", message=message, prefix=PREFIX))


_STATIC = resources.files("paycrypt.console").joinpath("static")
_STATIC_NAME = re.compile(r"[a-z0-9_-]+\.(css|js)")


def static(name: str) -> Response:
    if not _STATIC_NAME.fullmatch(name):
        return Response(404, b"", "text/plain")
    item = _STATIC.joinpath(name)
    if not item.is_file():
        return Response(404, b"", "text/plain")
    return Response(200, item.read_bytes(), STATIC_TYPES["." + name.rsplit(".", 1)[1]])

"""The console's requests and responses, and the headers every response carries.

Every page may show key data, so every response is no-store; the Content-Security-Policy allows
only the console's own stylesheet and script (no inline script or style, no frames, forms posting
only here), which with X-Frame-Options DENY and SameSite=Strict cookies shuts out clickjacking and
injected script."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # no-referrer would make the browser send Origin: null
    "cache-control": "no-store",
    "pragma": "no-cache",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HTML = "text/html; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str  # below the console's prefix, starting with "/"
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_ip: str
    secure: bool

    def form(self) -> dict[str, str]:
        """The urlencoded form body; a repeated field keeps its last value."""
        if not self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return {}
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def form_lists(self) -> dict[str, list[str]]:
        parsed = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return parsed

    def cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is no cookie
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = HTML
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # whole Set-Cookie values

    def header_list(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"content-type", self.content_type.encode()),
            (b"content-length", str(len(self.body)).encode()),
        ]
        out += [(k.encode(), v.encode("latin-1")) for k, v in {**SECURITY_HEADERS, **self.headers}.items()]
        out += [(b"set-cookie", c.encode("latin-1")) for c in self.cookies]
        return out


def redirect(location: str, status: int = 303) -> Response:
    return Response(status, headers={"location": location})


def parse_query(query: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(query, keep_blank_values=True))

"""Console sessions: signed cookies, so that any worker or node with the same credentials file
accepts a session another one opened (no session table; docs/decisions/console.md).

A session cookie holds the access key id, the region chosen, when the session was opened, when it
was last used and a random nonce, MACed (HMAC-SHA256) with a key derived from that access key's
secret. Only a holder of the secret could forge one, and the secret already lets them call the
API as that principal; rotating or removing the access key ends its sessions everywhere. The
cookie is re-issued on each request with the new last-use time: past the idle timeout, or past
the absolute lifetime, it is refused. It never holds the secret, and is HttpOnly, SameSite=Strict,
and Secure when the server runs TLS.

The CSRF token of a session is a MAC of its nonce under the same key: a form carries it, and a
state-changing request without the right one is refused (403) before anything else is done.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from paycrypt.auth.sigv4 import Credential

COOKIE = "paycrypt_console"
PRE_COOKIE = "paycrypt_console_signin"  # the sign-in form's own CSRF token (before any session)
PATH = "/console"
MAX_LIFETIME = 12 * 3600.0  # seconds a session lasts however busy it is
_LABEL = b"paycrypt console session v1"


@dataclass(frozen=True)
class Session:
    access_key_id: str
    region: str
    opened: float
    seen: float
    nonce: str
    credential: Credential

    @property
    def csrf(self) -> str:
        return _mac(self.credential, b"csrf:" + self.nonce.encode())[:32]


def _key(credential: Credential) -> bytes:
    return hmac.new(credential.secret_access_key.encode(), _LABEL, hashlib.sha256).digest()


def _mac(credential: Credential, data: bytes) -> str:
    return hmac.new(_key(credential), data, hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def open_session(credential: Credential, region: str, now: float) -> Session:
    return Session(credential.access_key_id, region, now, now, secrets.token_urlsafe(16), credential)


def encode(session: Session) -> str:
    payload = json.dumps(
        {
            "k": session.access_key_id,
            "r": session.region,
            "o": session.opened,
            "s": session.seen,
            "n": session.nonce,
        },
        separators=(",", ":"),
    ).encode()
    return f"{_b64(payload)}.{_mac(session.credential, payload)}"


def decode(
    value: str | None, lookup: Callable[[str], Credential | None], now: float, idle_timeout: float
) -> Session | None:
    """The session a cookie holds, or None when it is absent, forged, idle too long or too old."""
    if not value or "." not in value:
        return None
    encoded, mac = value.rsplit(".", 1)
    try:
        payload = _unb64(encoded)
        fields = json.loads(payload)
        access_key_id, region = str(fields["k"]), str(fields["r"])
        opened, seen, nonce = float(fields["o"]), float(fields["s"]), str(fields["n"])
    except (ValueError, KeyError, TypeError):
        return None
    credential = lookup(access_key_id)
    if credential is None or not hmac.compare_digest(mac, _mac(credential, payload)):
        return None
    if now - seen > idle_timeout or now - opened > MAX_LIFETIME or seen > now + 60:
        return None
    return Session(access_key_id, region, opened, now, nonce, credential)


def cookie(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, scoped to the console, Secure under TLS."""
    parts = [f"{name}={value}", f"Path={PATH}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def expired(name: str, *, secure: bool) -> str:
    return cookie(name, "", secure=secure, max_age=0)


def check_csrf(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), session.csrf)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())

"""Console sessions as signed cookies (console/sessions.py): another worker or node with the same
credentials file accepts a session; a changed field, another principal's key, an idle or too old
session, or a changed secret is no session."""

from __future__ import annotations

import dataclasses
import json

from paycrypt.auth import credentials as creds
from paycrypt.console import sessions
from tests.api.iam_support import credentials_file
from tests.console.support import PRINCIPALS

IDLE = 900.0


def test_a_session_holds_on_another_process_with_the_same_credentials_file(tmp_path) -> None:
    path = credentials_file(tmp_path / "credentials.toml", PRINCIPALS)
    here, there = creds.CredentialStore.from_file(path), creds.CredentialStore.from_file(path)
    alice = here.lookup(PRINCIPALS["alice"].access_key)
    opened = sessions.open_session(alice, "us-east-2", 1000.0)
    cookie = sessions.encode(opened)
    assert PRINCIPALS["alice"].secret not in cookie
    found = sessions.decode(cookie, there.lookup, 1000.0 + IDLE - 1, IDLE)
    assert found is not None and found.region == "us-east-2" and found.csrf == opened.csrf
    assert found.credential.arn == PRINCIPALS["alice"].arn


def test_what_is_no_session(tmp_path) -> None:
    path = credentials_file(tmp_path / "credentials.toml", PRINCIPALS)
    store = creds.CredentialStore.from_file(path)
    alice = store.lookup(PRINCIPALS["alice"].access_key)
    cookie = sessions.encode(sessions.open_session(alice, "us-east-1", 1000.0))
    assert sessions.decode(cookie, store.lookup, 1000.0 + IDLE + 1, IDLE) is None  # idle too long
    kept_busy = cookie
    now = 1000.0
    while now < 1000.0 + sessions.MAX_LIFETIME:  # busy all along: still ends at the absolute lifetime
        now += IDLE - 1
        found = sessions.decode(kept_busy, store.lookup, now, IDLE)
        if found is None:
            break
        kept_busy = sessions.encode(found)
    assert (
        now - 1000.0 >= sessions.MAX_LIFETIME - IDLE
        and sessions.decode(kept_busy, store.lookup, now, IDLE) is None
    )
    payload, mac = cookie.rsplit(".", 1)
    fields = json.loads(sessions._unb64(payload))
    for change in ({"r": "eu-west-1"}, {"o": 5000.0}, {"k": PRINCIPALS["bob"].access_key}):
        forged = f"{sessions._b64(json.dumps({**fields, **change}).encode())}.{mac}"
        assert sessions.decode(forged, store.lookup, 1001.0, IDLE) is None, change
    for garbage in ("", "x", "a.b", cookie + "0"):
        assert sessions.decode(garbage, store.lookup, 1001.0, IDLE) is None
    rotated = dataclasses.replace(alice, secret_access_key="a-new-secret")
    assert sessions.decode(cookie, lambda _: rotated, 1001.0, IDLE) is None  # the secret changed
    assert sessions.decode(cookie, lambda _: None, 1001.0, IDLE) is None  # the key was removed


def test_the_csrf_token_is_the_sessions_own(tmp_path) -> None:
    alice = creds.CredentialStore.from_file(credentials_file(tmp_path / "c.toml", PRINCIPALS)).lookup(
        PRINCIPALS["alice"].access_key
    )
    one, two = (sessions.open_session(alice, "us-east-1", 1000.0) for _ in range(2))
    assert one.csrf != two.csrf
    assert sessions.check_csrf(one, one.csrf) and not sessions.check_csrf(one, two.csrf)
    assert not sessions.check_csrf(one, None) and not sessions.check_csrf(one, "")

"""The console over HTTP (httpx against a server started by the test): security headers, the
session cookie's attributes, CSRF refusal, idle expiry, the sign-in rate limit and its audit
events, and IAM denial of an action shown with the API's own status."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from paycrypt.audit.reader import AuditFilter, read_events
from paycrypt.console import sessions, signin
from tests.api.iam_support import IamServer, iam_server
from tests.conftest import CVK_ATTRIBUTES
from tests.console.support import PRINCIPALS, Browser, browser, csrf_of


def test_pages_carry_the_security_headers(web: Browser) -> None:
    for response in (web.get("/console/signin"), web.get("/console/keys")):
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        assert headers["x-content-type-options"] == "nosniff"


def test_signed_out_pages_redirect_to_sign_in(web: Browser) -> None:
    response = web.get("/console/keys")
    assert response.status_code == 303 and response.headers["location"] == "/console/signin"


def test_session_cookie_is_httponly_and_strict(web: Browser) -> None:
    response = web.sign_in(PRINCIPALS["alice"])
    assert response.status_code == 303, response.text
    cookie = next(
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith("paycrypt_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: Secure is set under TLS only
    assert PRINCIPALS["alice"].secret not in cookie
    page = web.get("/console/keys")
    assert page.status_code == 200 and "arn:aws:iam::111122223333:user/alice" in page.text


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    web: Browser, console_server: IamServer
) -> None:
    web.sign_in(PRINCIPALS["alice"])
    control = console_server.client("alice")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    key_id = arn.rsplit("/", 1)[1]
    for token in (None, "forged-token"):
        data = {"action": "stop", "confirmed": "yes"}
        if token:
            data["csrf"] = token
        refused = web.post(f"/console/keys/{key_id}/act", data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert control.get_key(KeyIdentifier=arn)["Key"]["Enabled"] is True
    # Another site's form: the right token cannot help a cross-origin post either.
    token = web.csrf()
    refused = web.post(
        f"/console/keys/{key_id}/act",
        {"action": "stop", "confirmed": "yes", "csrf": token},
        headers={"origin": "https://evil.example"},
    )
    assert refused.status_code == 403
    assert control.get_key(KeyIdentifier=arn)["Key"]["Enabled"] is True
    done = web.post(f"/console/keys/{key_id}/act", {"action": "stop", "confirmed": "yes", "csrf": token})
    assert done.status_code == 200, done.text
    assert control.get_key(KeyIdentifier=arn)["Key"]["Enabled"] is False


def test_an_idle_session_expires(
    web: Browser, console_server: IamServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.sign_in(PRINCIPALS["alice"])
    assert web.get("/console/keys").status_code == 200
    idle = next(iter(console_server.parts.app.mounts.values())).settings.idle_timeout
    later = time.time() + idle + 1
    monkeypatch.setattr(time, "time", lambda: later)
    response = web.get("/console/keys")
    assert response.status_code == 303 and response.headers["location"] == "/console/signin?expired=1"
    assert web.post("/console/signout", {"csrf": "x"}).status_code == 401


def test_a_forged_session_cookie_is_no_session(console_server: IamServer) -> None:
    web = browser(console_server.endpoint)
    web.sign_in(PRINCIPALS["reader"])
    value = web.client.cookies.get("paycrypt_console")
    payload, mac = value.rsplit(".", 1)
    forged = json.loads(sessions._unb64(payload))
    forged["k"] = PRINCIPALS["alice"].access_key  # claim to be alice, with reader's MAC
    web.client.cookies.set(
        "paycrypt_console", f"{sessions._b64(json.dumps(forged).encode())}.{mac}", path="/console"
    )
    assert web.get("/console/keys").status_code == 303


def test_wrong_secrets_are_rate_limited_and_audited(tmp_path) -> None:
    with iam_server(tmp_path, PRINCIPALS) as console_server:
        rate_limited(console_server)


def rate_limited(console_server: IamServer) -> None:
    web = browser(console_server.endpoint)
    who = PRINCIPALS["bob"]
    for _ in range(signin.MAX_FAILURES):
        token = csrf_of(web.get("/console/signin").text)
        response = web.post(
            "/console/signin",
            {"csrf": token, "access_key_id": who.access_key, "secret": "wrong", "region": "us-east-1"},
        )
        assert response.status_code == 401
        assert "wrong" in response.text
    token = csrf_of(web.get("/console/signin").text)
    right = {"csrf": token, "access_key_id": who.access_key, "secret": who.secret, "region": "us-east-1"}
    blocked = web.post("/console/signin", right)
    assert blocked.status_code == 429 and "Too many" in blocked.text
    logins = [
        e
        for _, e in read_events(console_server.data_dir, AuditFilter(event_names=frozenset({"ConsoleLogin"})))
        if e["userIdentity"]["accessKeyId"] == who.access_key
    ]
    assert [e["responseElements"]["ConsoleLogin"] for e in logins] == ["Failure"] * (signin.MAX_FAILURES + 1)
    assert all(e["userIdentity"]["arn"] == who.arn and e["errorCode"] == "AccessDenied" for e in logins)
    assert not any("wrong" in json.dumps(e) for e in logins)  # the secret typed is never recorded


def test_sign_in_without_the_form_token_is_refused(console_server: IamServer) -> None:
    web = browser(console_server.endpoint)
    who = PRINCIPALS["alice"]
    response = web.post(
        "/console/signin", {"access_key_id": who.access_key, "secret": who.secret, "region": "us-east-1"}
    )
    assert response.status_code == 403 and "paycrypt_console=" not in response.headers.get("set-cookie", "")


def test_an_iam_user_lacking_permission_is_denied_with_the_api_answer(console_server: IamServer) -> None:
    arn = console_server.client("alice").create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"][
        "KeyArn"
    ]
    web = browser(console_server.endpoint)
    web.sign_in(PRINCIPALS["reader"])
    key_id = arn.rsplit("/", 1)[1]
    assert web.get(f"/console/keys/{key_id}").status_code == 200  # reading is allowed
    token = web.csrf()
    denied = web.post(f"/console/keys/{key_id}/act", {"action": "stop", "confirmed": "yes", "csrf": token})
    assert denied.status_code == 400 or denied.status_code == 403
    assert "AccessDeniedException" in denied.text
    assert console_server.client("alice").get_key(KeyIdentifier=arn)["Key"]["Enabled"] is True
    stops = [
        e
        for _, e in read_events(
            console_server.data_dir, AuditFilter(event_names=frozenset({"StopKeyUsage"}), key=arn)
        )
    ]
    assert stops and stops[-1]["errorCode"] == "AccessDeniedException"
    assert stops[-1]["userIdentity"]["arn"] == PRINCIPALS["reader"].arn
    assert stops[-1]["userAgent"] == "paycrypt-console"


def test_no_console_when_turned_off(tmp_path) -> None:
    with iam_server(tmp_path, PRINCIPALS, console=False) as running:
        response = browser(running.endpoint).get("/console/signin")
        assert response.status_code == 404 and "UnknownOperation" in response.text


def test_serve_has_the_console_unless_told_not_to(tmp_path, console_server: IamServer) -> None:
    from paycrypt.cli.main import _settings, build_parser

    parse = build_parser().parse_args
    assert _settings(parse(["serve", "--data-dir", str(tmp_path)])).console is True
    assert _settings(parse(["serve", "--data-dir", str(tmp_path), "--no-console"])).console is False
    assert any(
        line.startswith("console: http://127.0.0.1:")
        and line.endswith("/console/ (sign in with an access key of the credentials)")
        for line in console_server.parts.lines
    )


def test_switching_region(web: Browser) -> None:
    web.sign_in(PRINCIPALS["alice"])
    token = web.csrf()
    switched = web.post("/console/region", {"csrf": token, "region": "us-east-2"})
    assert switched.status_code == 303
    assert "Keys in us-east-2" in web.get("/console/keys").text
    web.post("/console/region", {"csrf": token, "region": "mars-north-1"})  # not served: unchanged
    assert "Keys in us-east-2" in web.get("/console/keys").text


def test_a_vote_by_a_non_member_is_refused_and_audited(console_server: IamServer) -> None:
    from paycrypt.service.approval import mpa
    from paycrypt.store.records import Session, Team

    store = console_server.parts.service.store
    account = PRINCIPALS["root"].account
    team = mpa.team_arn(account, "us-east-1", "non-member-test")
    store.mpa.put_team(Team(team, account, "us-east-1", "non-member-test", 1, time.time(), ("alice",)))
    session_id = "".join(secrets.choice("abcdefgh") for _ in range(16))  # letters: no PAN-like run
    arn = f"arn:aws:mpa:us-east-1:{account}:session/non-member-test/{session_id}"
    store.mpa.put_session(
        Session(
            arn, team, account, "us-east-1", mpa.ROOT_IMPORT, mpa.IMPORT, "none", mpa.PENDING, time.time()
        )
    )
    web = browser(console_server.endpoint)
    web.sign_in(PRINCIPALS["reader"])
    page = web.get("/console/approvals").text
    assert (
        "not a member" in page
        and 'aria-label="Approve' not in page.split(arn.rsplit("/", 1)[1])[1].split("</tr>")[0]
    )
    token = web.csrf()
    refused = web.post(
        "/console/approvals/vote", {"csrf": token, "session": arn, "vote": "approve", "confirmed": "yes"}
    )
    assert refused.status_code == 403 and "reader is not a member" in refused.text
    assert store.mpa.get_session(arn).status == mpa.PENDING
    votes = [
        e
        for _, e in read_events(
            console_server.data_dir, AuditFilter(event_names=frozenset({"ApproveMpaSession"}))
        )
        if e["requestParameters"]["mpaSessionArn"] == arn
    ]
    assert (
        votes
        and votes[-1]["errorCode"] == "AccessDeniedException"
        and votes[-1]["userIdentity"]["userName"] == "reader"
    )


def test_the_development_key_signs_in_on_loopback(server) -> None:
    """`test` / `test`, as the API accepts it on loopback without a credentials file."""
    web = browser(server.endpoint)
    token = csrf_of(web.get("/console/signin").text)
    signed = web.post(
        "/console/signin", {"csrf": token, "access_key_id": "test", "secret": "test", "region": "us-east-1"}
    )
    assert signed.status_code == 303
    assert "arn:aws:iam::111122223333:root" in web.get("/console/keys").text

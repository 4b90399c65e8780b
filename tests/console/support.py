"""A server with a credentials file for the console tests, and a signed-in httpx client.

Principals (account A of tests/api/iam_support.py): `root`; `alice`, a custodian allowed every
payment-cryptography action and the audit trail (cloudtrail:LookupEvents); `reader`, allowed only
to read keys (Get*, List*), so every action the console offers it is denied by IAM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.api.iam_support import PC, A, Who, allow, policy, statement

PRINCIPALS = {
    "root": Who("user", A, "root", root=True),
    "alice": Who(
        "user",
        A,
        "alice",
        (policy(statement("Allow", [PC + "*"], "*"), statement("Allow", "cloudtrail:LookupEvents", "*")),),
    ),
    "bob": Who("user", A, "bob", (allow(PC + "*"),)),
    "reader": Who("user", A, "reader", (allow([PC + "Get*", PC + "List*"]),)),
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has a form with a CSRF token"
    return found[1]


@dataclass
class Browser:
    """An httpx client that keeps the console's cookies, as a browser does."""

    base: str
    client: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(self.base + path, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.client.post(self.base + path, data=data, **kwargs)

    def sign_in(self, who: Who, region: str = "us-east-1") -> httpx.Response:
        token = csrf_of(self.get("/console/signin").text)
        return self.post(
            "/console/signin",
            {"csrf": token, "access_key_id": who.access_key, "secret": who.secret, "region": region},
        )

    def csrf(self, path: str = "/console/keys") -> str:
        return csrf_of(self.get(path).text)


def browser(endpoint: str) -> Browser:
    return Browser(endpoint, httpx.Client(follow_redirects=False, timeout=30))

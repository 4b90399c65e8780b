"""`/healthz` and `/readyz` without a server (issue 15, item 8): the paths collide with no route of
the models served, readiness follows its checks, draining and its time bound, and the answer
carries a status and one word, nothing else."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from paycrypt import server
from paycrypt.auth.sigv4 import SignedRequest
from paycrypt.wire import health, models
from paycrypt.wire.app import App
from paycrypt.wire.protocols import Routed

APIS = server.apis(models.load())


@pytest.mark.parametrize("path", sorted(health.PATHS))
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE"])
def test_no_modelled_operation_has_a_health_path(method: str, path: str) -> None:
    request = SignedRequest(method=method, raw_path=path, query_string="", headers={}, body=b"")
    for api in APIS:
        assert not isinstance(api.protocol.route(request), Routed), (api.protocol.name, method, path)
    for api in APIS:  # nor any route of any method whose first segment is a health path's
        for op in api.protocol.model.operation_names:
            uri = api.protocol.model.operation_model(op).http["requestUri"]
            assert uri.split("?")[0].strip("/").split("/")[0] not in {p.strip("/") for p in health.PATHS}


class Checks:
    """Checks whose outcome a test sets; counts how often they ran."""

    def __init__(self) -> None:
        self.runs = 0
        self.failure: Exception | None = None
        self.hold = threading.Event()
        self.hold.set()

    def store(self) -> None:
        self.runs += 1
        self.hold.wait(10)
        if self.failure is not None:
            raise self.failure


def readiness(checks: Checks, **options: Any) -> health.Readiness:
    return health.Readiness({"store": checks.store}, **{"timeout": 1.0, "ttl": 0.0, **options})


def test_ready_follows_its_checks() -> None:
    checks = Checks()
    ready = readiness(checks)

    async def sequence() -> list[bool]:
        seen = [await ready.ready()]
        checks.failure = RuntimeError("store down")
        seen.append(await ready.ready())
        checks.failure = None
        seen.append(await ready.ready())
        ready.drain()
        seen.append(await ready.ready())
        return seen

    assert asyncio.run(sequence()) == [True, False, True, False]
    assert checks.runs == 3  # draining answers without running the checks


def test_answers_are_reused_within_ttl_and_concurrent_probes_share_one_run() -> None:
    checks = Checks()
    ready = readiness(checks, ttl=60.0)

    async def flood() -> list[bool]:
        return list(await asyncio.gather(*(ready.ready() for _ in range(50))))

    async def twice() -> list[bool]:
        return [*(await flood()), *(await flood())]

    assert asyncio.run(twice()) == [True] * 100
    assert checks.runs == 1


def test_a_check_stuck_past_the_bound_is_not_ready_and_gets_no_second_thread() -> None:
    checks = Checks()
    checks.hold.clear()  # the store call hangs
    ready = readiness(checks, timeout=0.3)

    async def probe() -> tuple[bool, float, bool]:
        started = time.monotonic()
        first = await ready.ready()
        elapsed = time.monotonic() - started
        second = await ready.ready()  # the first run's thread is still stuck
        return first, elapsed, second

    first, elapsed, second = asyncio.run(probe())
    assert (first, second) == (False, False)
    assert elapsed < 2.0
    assert checks.runs == 1
    checks.hold.set()


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def serve(app: App, method: str, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    sent = Sent()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "headers": []}
    asyncio.run(app(scope, receive, sent))
    start, body = sent.messages
    return start["status"], dict(start["headers"]), body["body"]


@pytest.mark.parametrize(
    ("failure", "draining", "path", "status", "word"),
    [
        (None, False, "/healthz", 200, b"ok\n"),
        (None, False, "/readyz", 200, b"ok\n"),
        (RuntimeError("schema at 9, path /srv/x, KCV ABC123"), False, "/readyz", 503, b"unavailable\n"),
        (None, True, "/readyz", 503, b"unavailable\n"),
        (RuntimeError("down"), True, "/healthz", 200, b"ok\n"),  # alive, whatever readiness says
    ],
)
def test_the_app_answers_a_status_and_one_word(
    failure: Exception | None, draining: bool, path: str, status: int, word: bytes
) -> None:
    checks = Checks()
    checks.failure = failure
    ready = readiness(checks)
    if draining:
        ready.drain()
    app = App(APIS, pipeline=None, lifespan=None, readiness=ready)  # type: ignore[arg-type]
    got_status, headers, body = serve(app, "GET", path)
    assert (got_status, body) == (status, word)
    assert set(headers) == {b"content-type", b"content-length", b"cache-control"}
    head_status, _, head_body = serve(app, "HEAD", path)
    assert (head_status, head_body) == (status, b"")

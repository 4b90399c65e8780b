"""`/healthz` and `/readyz`: what a load balancer or an orchestrator asks a node, unauthenticated.

- `GET /healthz` — 200 while the process serves HTTP. Answered on the event loop without touching
  the store or the vault: when it does not answer, the process is stuck or gone, and restarting it
  is the remedy.
- `GET /readyz` — 200 when this node can serve calls now: the store answers and its schema is the
  version this code opened it at, the vault seals and unseals, and the node is not draining
  (SIGTERM received, wire/drain.py). 503 otherwise: send calls to another node.

Each answers with its status and one word (`ok`, `unavailable`), nothing else: no version, no
path, no check value, not which check failed (an unauthenticated caller learns nothing about the
node). Which check failed goes to the log, once when readiness changes.

The paths collide with no API route: the control plane and STS take POST `/`, and the data plane's
routes begin with the model's literal segments (tests/wire/test_health.py checks every route of
the models served). HEAD is answered as GET, without the body.

The checks run at most once per `ttl` seconds, on a thread of their own (a store call may wait up
to the store's time bound), bounded by `timeout`; concurrent `/readyz` requests share one run, so
a flood of unauthenticated probes costs the store one query per `ttl`. A run still stuck past its
bound answers "not ready" until it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from paycrypt.store.base import Store
from paycrypt.store.migrations import SchemaError
from paycrypt.vault import probe
from paycrypt.vault.base import Vault

log = logging.getLogger("paycrypt")

HEALTHZ, READYZ = "/healthz", "/readyz"
PATHS = frozenset({HEALTHZ, READYZ})
METHODS = frozenset({"GET", "HEAD"})
TTL = 1.0  # seconds a readiness answer is reused

Send = Callable[[dict[str, Any]], Awaitable[None]]
Check = Callable[[], None]  # raises when what it checks is not usable


def checks(store: Store, vault: Vault) -> dict[str, Check]:
    """What /readyz checks: the store answers with the schema version it was opened at (not moved
    by a later release's `db upgrade --force` under a running node), and the vault seals and
    unseals a fresh key (vault/probe.py)."""
    opened_at = store.schema_version()

    def schema() -> None:
        found = store.schema_version()
        if found != opened_at:
            raise SchemaError(f"the store's schema is at version {found}; this node opened it at {opened_at}")

    return {"store": schema, "vault": lambda: probe.check(vault)}


class Readiness:
    def __init__(self, checks: Mapping[str, Check], *, timeout: float, ttl: float = TTL) -> None:
        """`checks`: by name (for the log), each raising unless its part is usable; `timeout`: the
        most a run of them may take before the node is reported not ready."""
        self.checks = dict(checks)
        self.timeout = timeout
        self.ttl = ttl
        self.draining = False
        self._answer: tuple[float, bool] | None = None  # (when, ready)
        self._running: asyncio.Future[list[str]] | None = None
        self._busy = False  # a run's thread is still in the checks (past its bound, when stuck)
        self._failures: list[str] = []

    def drain(self) -> None:
        """From now on the node is not ready, whatever its checks say (SIGTERM: wire/drain.py).
        One assignment and nothing else: it is called from a signal handler."""
        self.draining = True

    async def ready(self) -> bool:
        if self.draining:
            return False
        now = time.monotonic()
        if self._answer is not None and now - self._answer[0] < self.ttl:
            return self._answer[1]
        if self._running is None:
            if self._busy:
                return False  # the last run is still stuck past its bound: no second thread
            self._running = self._start()
        failures = await asyncio.shield(self._running)
        return not failures and not self.draining

    def _start(self) -> asyncio.Future[list[str]]:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[list[str]] = loop.create_future()

        def run() -> None:
            try:
                failures = self._run_checks()
            finally:
                self._busy = False
            with contextlib.suppress(RuntimeError):  # the loop closed while the checks were stuck
                loop.call_soon_threadsafe(_settle, outcome, failures)

        self._busy = True
        threading.Thread(target=run, name="paycrypt-readyz", daemon=True).start()
        loop.call_later(self.timeout, _settle, outcome, [f"checks did not finish within {self.timeout:g} s"])
        outcome.add_done_callback(self._settled)
        return outcome

    def _settled(self, outcome: asyncio.Future[list[str]]) -> None:
        failures = outcome.result()
        self._answer = (time.monotonic(), not failures)
        if failures != self._failures:
            if failures:
                log.warning("not ready: %s", "; ".join(failures))
            else:
                log.warning("ready")
            self._failures = failures
        self._running = None

    def _run_checks(self) -> list[str]:
        failures = []
        for name, check in self.checks.items():
            try:
                check()
            except Exception as exc:
                failures.append(f"{name}: {exc or type(exc).__name__}")
        return failures


def _settle(outcome: asyncio.Future[list[str]], failures: list[str]) -> None:
    if not outcome.done():
        outcome.set_result(failures)


async def answer(path: str, method: str, readiness: Readiness, send: Send) -> None:
    """The response to a health request (`path` in PATHS, `method` in METHODS)."""
    ok = True if path == HEALTHZ else await readiness.ready()
    body = b"ok\n" if ok else b"unavailable\n"
    await send(
        {
            "type": "http.response.start",
            "status": 200 if ok else 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

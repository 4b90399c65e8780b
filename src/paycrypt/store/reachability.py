"""Whether a networked store's database answers, so that calls fail at once while it does not.

Without it, every call made while the database is down would wait for a connection up to the
store's time bound, on the event loop's thread: one call at a time, each blocking every other for
seconds. Instead the first call to see the database fail marks it unreachable; from then on every
call raises StoreUnavailable without touching the database, while one background thread probes it
every `interval` seconds with a connection of its own. The first probe that gets an answer runs
`recovered` (the store drops the connections the outage broke) and calls go through again: the
node recovers by itself, without a restart.

A call that fails for a reason other than reachability (a deadlock, a statement error) does not
mark the database unreachable: only the store decides which failures mean "unreachable".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from paycrypt.store.base import StoreUnavailable

log = logging.getLogger("paycrypt")

PROBE_INTERVAL = 0.5  # seconds between probes while the database is unreachable


class Reachability:
    def __init__(
        self,
        name: str,
        probe: Callable[[], None],
        recovered: Callable[[], None],
        interval: float = PROBE_INTERVAL,
    ) -> None:
        """`name`: the database as logs name it (no password); `probe` raises unless the database
        answers; `recovered` runs once the probe succeeds, before calls are let through again."""
        self.name = name
        self._probe = probe
        self._recovered = recovered
        self.interval = interval
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._reason = ""
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def check(self) -> None:
        """Raise StoreUnavailable at once while the database is known to be unreachable."""
        if self._down_since is not None:
            raise StoreUnavailable(f"{self.name} is unreachable ({self._reason}); probing it again")

    def failed(self, reason: str) -> StoreUnavailable:
        """Mark the database unreachable (probing it from now on); the error for the caller to raise."""
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                self._reason = reason
                log.warning(
                    "store %s is unreachable: %s; answering ServiceUnavailableException", self.name, reason
                )
            if self._prober is None and not self._closed.is_set():
                self._prober = threading.Thread(
                    target=self._probing, name="paycrypt-store-probe", daemon=True
                )
                self._prober.start()
        return StoreUnavailable(f"{self.name} is unreachable: {reason}")

    def close(self) -> None:
        self._closed.set()
        prober = self._prober
        if prober is not None and prober is not threading.current_thread():
            prober.join(timeout=self.interval * 4)

    def _probing(self) -> None:
        while not self._closed.is_set():
            try:
                self._probe()
                self._recovered()
            except Exception as exc:  # still unreachable (or not yet whole): probe again
                with self._lock:
                    self._reason = type(exc).__name__
                self._closed.wait(self.interval)
                continue
            with self._lock:
                since, self._down_since, self._prober = self._down_since, None, None
            if since is not None:
                log.warning("store %s is reachable again after %.1f s", self.name, time.monotonic() - since)
            return

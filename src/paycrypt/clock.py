"""Time, injectable so tests can move it forward (key deletion windows, purges)."""

from __future__ import annotations

import datetime as dt
import threading


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock tests advance by hand; it starts at the real time."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime.now(dt.UTC)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, delta: dt.timedelta) -> None:
        with self._lock:
            self._now += delta


Clock = SystemClock | ManualClock

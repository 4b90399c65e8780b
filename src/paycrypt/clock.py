"""Time, injectable so tests can move it forward (key deletion windows, purges)."""

from __future__ import annotations

import datetime as dt
import threading


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock tests move forward by hand: real time plus the offsets they add.

    It runs with real time, so a long-lived test server's timestamps stay close to the wall clock
    (tests compare them with it), while `advance` jumps ahead for deletion windows and expiries.
    """

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._offset = (start - dt.datetime.now(dt.UTC)) if start else dt.timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return dt.datetime.now(dt.UTC) + self._offset

    def advance(self, delta: dt.timedelta) -> None:
        with self._lock:
            self._offset += delta


Clock = SystemClock | ManualClock

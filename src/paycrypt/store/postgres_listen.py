"""LISTEN on PostgreSQL for additions to the feed of key changes, on a connection of its own.

Migration 4's trigger NOTIFYs `CHANNEL` for every row added to `block_changes`; PostgreSQL delivers
a notification when the adding transaction commits, to every session listening then. One thread
per node holds a dedicated autocommit connection (not one of the pool's: a pooled connection is
lent out and its notifications would go to whoever holds it) and waits on it; each wake-up calls
`on_change`, which only signals the follower (jobs/changes.py) to read the feed.

A lost connection (the database restarted, `pg_terminate_backend`, a network fault seen by TCP
keepalives, or a liveness query every PING seconds that gets no answer within the store's deadline,
store/deadlines.py: a frozen server) calls `on_lost` once, and the thread
reconnects every RETRY seconds; a (re)connection calls `on_change`, since notifications sent
meanwhile were not received and the feed must be read. No notification carries anything the
listener trusts: the feed, read through the store, is what is applied.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from paycrypt.store import postgres
from paycrypt.store.deadlines import Deadlines

log = logging.getLogger("paycrypt")

CHANNEL = "paycrypt_changes"
APPLICATION = "paycrypt-listen"  # application_name of the listening connection (tests find it by this)
WAIT = 0.25  # seconds one wait for notifications lasts (how soon `stop` is noticed)
PING = 1.0  # seconds between liveness queries on an idle connection
RETRY = 0.5  # seconds between attempts to reconnect


class ChangeListener:
    def __init__(
        self,
        conninfo: str,
        on_change: Callable[[], None],
        on_lost: Callable[[], None],
        deadlines: Deadlines,
    ) -> None:
        self._conninfo = conninfo
        self._deadlines = deadlines
        self._on_change = on_change
        self._on_lost = on_lost
        self._stopped = threading.Event()
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paycrypt-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=WAIT * 4 + postgres.CONNECT_TIMEOUT)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                if self.connected.is_set():
                    log.warning(
                        "the change-notification connection to the store was lost (%s): caches "
                        "emptied, reconnecting",
                        postgres.without_password(self._conninfo, str(exc).strip()),
                    )
            except Exception:  # the thread must outlive any surprise: the node relies on it to listen
                log.exception("listening for store changes failed; reconnecting")
            finally:
                if self.connected.is_set():
                    self.connected.clear()
                    self._on_lost()
            self._stopped.wait(RETRY)

    def _listen(self) -> None:
        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            application_name=APPLICATION,
            connect_timeout=postgres.CONNECT_TIMEOUT,
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        ) as connection:
            postgres.execute(self._deadlines, connection, f"LISTEN {CHANNEL}")
            self.connected.set()
            self._on_change()  # what was added while no one listened
            pinged = time.monotonic()
            while not self._stopped.is_set():
                for _ in connection.notifies(timeout=WAIT):
                    self._on_change()
                if time.monotonic() - pinged >= PING:
                    postgres.execute(self._deadlines, connection, "SELECT 1")
                    pinged = time.monotonic()

"""Leases: the background jobs that must run once among every node and worker on one store (the
purge sweeper, the replicator) run in whichever process holds the job's lease.

A lease is a row of the store (`store.base.ClusterTables`): a name, a holder (this process's node
and worker, `node/wN`) and the end of its term on the store's clock. Every process tries to take
each lease `RENEWALS` times per term; the holder's attempts renew it, and a process that gets it
starts the job. So when the holder dies without a word (SIGKILL, a lost machine), another process
takes the lease at most one term and one attempt interval later: the takeover bound is
`seconds * (1 + 1 / RENEWALS)`. A clean shutdown releases the lease, and another takes it at its
next attempt.

The holder counts its own term from before it asked the store, and gives up `SAFETY` of it early,
so it believes it holds the lease only while the store believes so too: a job asks `held()`
before each unit of work (a key purged, a replication job applied) and stops before the next one
once the term has run out unrenewed (the store unreachable, the event loop held up by a long
pass, another process holding it). The units themselves are transactions that re-read what they
change, so even two processes meeting at a term's edge could not apply one twice.

Jobs that follow something into this process's own memory (the block follower, which empties
this process's key cache) run in every process, without a lease.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Protocol

from paycrypt.store.base import ClusterTables

log = logging.getLogger("paycrypt")

Held = Callable[[], bool]
RENEWALS = 4  # attempts per term: the holder renews three times before its term could end
SAFETY = 0.1  # the part of a term the holder gives up early, for clocks that run at different rates


def always() -> bool:
    """The guard of a job run outside any lease (tests that drive a job by hand)."""
    return True


def holder_name(node_id: str, worker_id: int) -> str:
    """How a process is named in the leases table: its node id and worker id."""
    return f"{node_id}/w{worker_id}"


class Exclusive(Protocol):
    """A job that runs once among the processes: `held` is asked before each unit of work."""

    async def run(self, held: Held = always) -> None: ...


class Lease:
    """One lease as this process sees it."""

    def __init__(
        self,
        tables: ClusterTables,
        name: str,
        holder: str,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds <= 0:
            raise ValueError(f"a lease lasts a positive number of seconds, not {seconds}")
        self.tables = tables
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self._clock = clock
        self._until = -math.inf  # on this process's monotonic clock

    @property
    def interval(self) -> float:
        """Seconds between attempts to take or renew."""
        return self.seconds / RENEWALS

    def attempt(self) -> bool:
        """Take or renew the lease once; whether this process holds it now. A store that cannot be
        reached renews nothing: the lease is held until the term already granted runs out."""
        asked = self._clock()
        try:
            taken = self.tables.take_lease(self.name, self.holder, self.seconds)
        except Exception as exc:
            log.warning("lease %s: the store could not be asked (%s)", self.name, type(exc).__name__)
            return self.held()
        self._until = asked + self.seconds * (1 - SAFETY) if taken else -math.inf
        return taken

    def held(self) -> bool:
        return self._clock() < self._until

    def release(self) -> None:
        """Give the lease up if held (at shutdown): another process takes it at its next attempt."""
        if not self.held():
            return
        self._until = -math.inf
        try:
            self.tables.release_lease(self.name, self.holder)
        except Exception as exc:  # its term runs out by itself
            log.warning("lease %s: not released (%s)", self.name, type(exc).__name__)


class LeasedJob:
    """`job` run in this process while it holds `lease`: started when the lease is taken,
    stopped (before its next unit, and cancelled) when it is lost, started again when retaken."""

    def __init__(self, lease: Lease, job: Exclusive) -> None:
        self.lease = lease
        self.job = job

    async def run(self) -> None:
        """Until cancelled; then the job is cancelled and the lease released (the store's calls run
        in a thread, so a store slow to answer does not hold up the event loop)."""
        task: asyncio.Task[None] | None = None
        attempt: asyncio.Future[bool] | None = None
        try:
            while True:
                attempt = asyncio.ensure_future(asyncio.to_thread(self.lease.attempt))
                held = await attempt
                if task is not None and task.done():  # the job ended by itself: started again below
                    task = None
                if held and task is None:
                    log.info("lease %s taken by %s: the job runs here", self.lease.name, self.lease.holder)
                    task = asyncio.get_running_loop().create_task(self.job.run(self.lease.held))
                elif not held and task is not None:
                    log.info("lease %s lost by %s: the job stops here", self.lease.name, self.lease.holder)
                    task.cancel()
                    task = None
                await asyncio.sleep(self.lease.interval)
        finally:
            if task is not None:
                task.cancel()
            if attempt is not None and not attempt.done():
                await asyncio.wait({attempt})  # else it could renew the lease after the release
            self.lease.release()


class Leases:
    """This process's leases: one per job that runs once among the processes on the store."""

    def __init__(self, tables: ClusterTables, node_id: str, worker_id: int, seconds: float) -> None:
        self.tables = tables
        self.holder = holder_name(node_id, worker_id)
        self.seconds = seconds
        self._leases: dict[str, Lease] = {}

    def job(self, name: str, job: Exclusive) -> LeasedJob:
        """`job` wrapped to run only in the process holding the lease `name`."""
        lease = self._leases[name] = Lease(self.tables, name, self.holder, self.seconds)
        return LeasedJob(lease, job)

    def held(self) -> dict[str, bool]:
        """Whether this process holds each lease, by name (its own view: no store read)."""
        return {name: lease.held() for name, lease in self._leases.items()}

    def holders(self) -> dict[str, str | None]:
        """Who holds each lease now, by name, as the store says (None: no one); for metrics."""
        return {name: self.tables.lease_holder(name) for name in self._leases}

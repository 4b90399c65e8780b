"""The gauges that are a reading, not a count: which job leases this node holds, the replication
backlog and lag, the key cache's size. Each is read through a callable the server wires in, so the
jobs do not know about metrics.

When they are read: one process reads them at each scrape, just before the exposition (always
current); a worker of several reads them every SAMPLE_INTERVAL seconds (the process serving
/metrics cannot call into its workers), so a scrape there sees values at most that old.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # server.py imports Sources with or without metrics; Families needs prometheus_client
    from paycrypt.metrics.families import Families

log = logging.getLogger("paycrypt")

SAMPLE_INTERVAL = 5.0  # seconds between readings in a worker of several

#: Each background job run under a lease → whether this process holds that lease now.
JobLeases = Callable[[], Mapping[str, bool]]
DUE, RETRYING = "due", "retrying"


@dataclass(frozen=True)
class Sources:
    leases: JobLeases
    backlog: Callable[[], tuple[int, int]]  # replication jobs (due now, waiting for a retry)
    lag: Callable[[], float]  # seconds the oldest due replication job has waited
    cache_entries: Callable[[], int]


class Sampler:
    def __init__(self, families: Families, sources: Sources, interval: float = SAMPLE_INTERVAL) -> None:
        self.families = families
        self.sources = sources
        self.interval = interval

    def sample(self) -> None:
        """Read every source; one that fails (the database down) leaves its gauge as it was."""
        for name, read in (
            ("job leases", self._leases),
            ("replication backlog", self._backlog),
            ("replication lag", lambda: self.families.replication_lag.set(self.sources.lag())),
            ("key cache size", lambda: self.families.key_cache_entries.set(self.sources.cache_entries())),
        ):
            try:
                read()
            except Exception as exc:
                log.warning("metrics: could not read the %s: %s", name, type(exc).__name__)

    def _leases(self) -> None:
        for job, held in self.sources.leases().items():
            self.families.lease_held.labels(job).set(int(held))

    def _backlog(self) -> None:
        due, retrying = self.sources.backlog()
        self.families.replication_backlog.labels(DUE).set(due)
        self.families.replication_backlog.labels(RETRYING).set(retrying)

    async def run(self) -> None:
        """Read every `interval` seconds until cancelled (a job of a worker's lifespan)."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

"""The heartbeat: every server process records in the store that it is alive, and reads back how
many processes are, so each can take its share of the request-rate quotas (auth/throttle.py).

Every `interval` seconds a process writes its row (node id, worker id, the store's time) and counts
the rows seen within the last `PERIODS` intervals: `participants()`. The throttle divides each
per-account rate by that count, so N live processes behind a load balancer admit about the rate
the quota names between them (docs/decisions/jobs-and-rate-quotas-across-nodes.md says how far
from exact that is). A process that dies stops beating and drops out of the count after at most
`PERIODS` intervals (plus one interval for the survivors to read it); one that shuts down cleanly
removes its row at once.

While the store cannot be reached, the last count read stays in force: a process cannot tell
then whether the others are alive, and keeping their share away from itself never lets the
cluster as a whole pass the quota.

Each beat also says which master keys this process's vault holds (version and check value, never
a key) and until when the process counts as live (`PERIODS` intervals from the beat): what a
master-key rotation checks before it seals under a new version (jobs/holdings.py). The server
beats once before it checks its vault against the store (vault/agreement.py), so that a rotation
cannot miss a node that starts while it checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from paycrypt.store.base import ClusterTables
from paycrypt.store.records import Holding

log = logging.getLogger("paycrypt")

PERIODS = 3  # intervals without a beat before a process no longer counts


class Heartbeat:
    def __init__(
        self,
        tables: ClusterTables,
        node_id: str,
        worker_id: int,
        interval: float,
        holds: Callable[[], tuple[Holding, ...]] = tuple,
    ) -> None:
        """`holds`: the master keys this process's vault holds now (ServingVault.held)."""
        if interval <= 0:
            raise ValueError(f"the heartbeat interval must be positive, not {interval}")
        self.tables = tables
        self.node_id = node_id
        self.worker_id = worker_id
        self.interval = interval
        self.holds = holds
        self._live = 1  # this process, until the store says how many there are

    def participants(self) -> int:
        """The live processes sharing the store, this one included, as last read."""
        return self._live

    def beat(self) -> int:
        """Record this process alive and read how many are; raises when the store cannot be reached."""
        within = self.interval * PERIODS
        self._live = max(1, self.tables.beat(self.node_id, self.worker_id, within, self.holds()))
        return self._live

    def leave(self) -> None:
        """Remove this process's row (a clean shutdown, or a start refused after the first beat)."""
        self.tables.leave(self.node_id, self.worker_id)

    async def run(self) -> None:
        try:
            while True:
                try:
                    before, now = self._live, await asyncio.to_thread(self.beat)
                    if now != before:
                        log.info(
                            "live paycrypt processes on the store: %d (this one's share: 1/%d)", now, now
                        )
                except Exception as exc:
                    log.warning(
                        "heartbeat not recorded (%s); keeping the count of %d", type(exc).__name__, self._live
                    )
                await asyncio.sleep(self.interval)
        finally:
            try:
                self.leave()
            except Exception as exc:  # its row ages out by itself
                log.warning("heartbeat row not removed at shutdown (%s)", type(exc).__name__)

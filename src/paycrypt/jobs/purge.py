"""The purge sweeper: deletes, in the background, the keys whose deletion window has passed.

A key scheduled for deletion (DeleteKey) is purged once its DeletePendingTimestamp is past
(service/keys/lifecycle.py `purge_due`); the sweeper makes that happen without waiting for a
request to touch the key. Started and stopped by the server's lifespan (server.py), in the one
process that holds its lease (jobs/leases.py).
"""

from __future__ import annotations

import asyncio
import logging

from paycrypt.jobs.leases import Held, always
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store.base import StoreUnavailable

log = logging.getLogger("paycrypt")


class PurgeSweeper:
    def __init__(self, svc: Service, interval: float) -> None:
        self.svc = svc
        self.interval = interval  # seconds between sweeps (--purge-interval)

    async def run(self, held: Held = always) -> None:
        """Sweep every `interval` seconds until cancelled; a failed sweep is logged and retried.
        `held` is asked before each key: a sweeper whose lease ran out stops at once."""
        while True:
            self.sweep(held)
            await asyncio.sleep(self.interval)

    def sweep(self, held: Held = always) -> None:
        try:
            for arn in lifecycle.purge_due(self.svc, self.svc.clock.now(), held):
                log.info("purged key %s", arn)
        except StoreUnavailable:
            pass  # the store logs an outage once; the next sweep retries
        except Exception:
            log.exception("key purge failed; retrying")

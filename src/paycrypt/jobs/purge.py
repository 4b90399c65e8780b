"""The purge sweeper: deletes, in the background, the keys whose deletion window has passed.

A key scheduled for deletion (DeleteKey) is purged once its DeletePendingTimestamp is past
(service/keys/lifecycle.py `purge_due`); the sweeper makes that happen without waiting for a
request to touch the key. Started and stopped by the server's lifespan (server.py).
"""

from __future__ import annotations

import asyncio
import logging

from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store.base import StoreUnavailable

log = logging.getLogger("paycrypt")


class PurgeSweeper:
    def __init__(self, svc: Service, interval: float) -> None:
        self.svc = svc
        self.interval = interval  # seconds between sweeps (--purge-interval)

    async def run(self) -> None:
        """Sweep every `interval` seconds until cancelled; a failed sweep is logged and retried."""
        while True:
            self.sweep()
            await asyncio.sleep(self.interval)

    def sweep(self) -> None:
        try:
            for arn in lifecycle.purge_due(self.svc, self.svc.clock.now()):
                log.info("purged key %s", arn)
        except StoreUnavailable:
            pass  # the store logs an outage once; the next sweep retries
        except Exception:
            log.exception("key purge failed; retrying")

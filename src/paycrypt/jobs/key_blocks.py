"""The block follower: how a running server learns that another process re-sealed its keys.

`paycrypt vault rotate` (another process, or another node) re-seals key blocks in the store and
adds each change to the store's feed of block changes (`SealedBlocks.reseal_block`). Every second
the server reads the feed from where it last stopped: the store drops its cached record of each
key named, and the key cache forgets the key's unsealed material, so the next use reads the new
block and unseals it under the version it names; then the vault re-reads its set of master keys
(`Vault.refresh`), which brings in a version a rotation added and drops one it retired. The feed
first, the set second: by the time a retired version leaves memory, no cached record names it.

A server that starts reads the feed from its head: it has nothing cached yet.
"""

from __future__ import annotations

import asyncio
import logging

from paycrypt.service.core import Service
from paycrypt.store.base import StoreUnavailable

log = logging.getLogger("paycrypt")

INTERVAL = 1.0  # seconds between reads of the feed (the rotation command waits a few of these)


class BlockFollower:
    def __init__(self, service: Service, interval: float = INTERVAL) -> None:
        self.service = service
        self.interval = interval
        self.position = service.store.block_changes_head()

    def step(self) -> int:
        """Apply the changes since the last step; how many keys were forgotten (-1: all)."""
        self.position, arns = self.service.store.follow_block_changes(self.position)
        if arns is None:
            self.service.keycache.forget_all()
        else:
            for arn in arns:
                self.service.keycache.forget(arn)
        self.service.vault.refresh()
        return -1 if arns is None else len(arns)

    async def run(self) -> None:
        while True:
            try:
                self.step()
            except StoreUnavailable:
                pass  # the store logs an outage once; the next step retries
            except Exception:
                log.exception("following key block changes failed; retrying")
            await asyncio.sleep(self.interval)

"""The change follower: how a running server learns that another process or node changed its keys.

Every change of a key's record (its state: StopKeyUsage, DeleteKey, a purge, a replica's update or
deletion; a block re-sealed by `paycrypt vault rotate`) adds the key's ARN to the store's feed of
key changes (store.base.SealedBlocks). The follower reads the feed from where it last stopped: the
store drops its cached record of each key named, and the key cache forgets the key's unsealed
material (so a key deleted or stopped anywhere keeps no clear material in any node's memory, and
a re-sealed block is unsealed again under the version it names); then the vault re-reads its set
of master keys (`Vault.refresh`), which brings in a version a rotation added and drops one it
retired. The feed first, the set second: by the time a retired version leaves memory, no cached
record names it.

When it reads: on a store that announces changes (PostgreSQL's LISTEN/NOTIFY,
store.base.ChangeNotifications) as soon as one is announced, and on every store every INTERVAL
seconds anyway, the fallback that holds when notifications are late or lost. When the listening
connection is lost, the key cache is emptied at once (a change may be missed until the connection
is back) and the feed is polled until it is; on reconnection the feed is read again.

None of this is what keeps a node from using a key the store forbids: records are read from the
store (PostgreSQL) or checked against it on every read (SQLite's data_version) — see
docs/decisions/coherence.md. This bounds how long unsealed material of a changed key stays.

A server that starts reads the feed from its head: it has nothing cached yet. Every PRUNE_EVERY
seconds the follower removes changes older than rotation.FEED_KEPT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from paycrypt.jobs.rotation import FEED_KEPT
from paycrypt.service.core import Service
from paycrypt.store.base import ChangeNotifications, Listening, StoreUnavailable

log = logging.getLogger("paycrypt")

INTERVAL = 0.5  # seconds between reads of the feed without a notification (within 1 s of a change)
PRUNE_EVERY = 300.0  # seconds between prunes of the feed


class ChangeFollower:
    def __init__(self, service: Service, interval: float = INTERVAL) -> None:
        self.service = service
        self.interval = interval
        self.position = service.store.block_changes_head()
        self.listening: Listening | None = None
        self.losses = 0  # listening connections lost so far
        self._wake: asyncio.Event | None = None
        self._pruned = time.monotonic()

    def step(self) -> int:
        """Apply the changes since the last step; how many keys were forgotten (-1: all)."""
        self.position, arns = self.service.store.follow_block_changes(self.position)
        if arns is None:
            self.service.keycache.forget_all()
        else:
            for arn in arns:
                self.service.keycache.forget(arn)
        self.service.vault.refresh()
        if time.monotonic() - self._pruned >= PRUNE_EVERY:
            self._pruned = time.monotonic()
            self.service.store.prune_block_changes(time.time() - FEED_KEPT)
        return -1 if arns is None else len(arns)

    def lost(self) -> None:
        """The listening connection is gone: forget every key now (called from its thread)."""
        self.losses += 1
        self.service.keycache.forget_all()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        store = self.service.store

        def notified() -> None:  # from the listening thread
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(wake.set)

        if isinstance(store, ChangeNotifications):
            self.listening = store.listen_changes(notified, self.lost)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.interval)
                wake.clear()
                try:
                    self.step()
                except StoreUnavailable:
                    pass  # the store logs an outage once; the next step retries
                except Exception:
                    log.exception("following key changes failed; retrying")
        finally:
            if self.listening is not None:
                await asyncio.to_thread(self.listening.stop)

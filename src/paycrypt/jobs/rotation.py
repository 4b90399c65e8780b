"""Master-key rotation: re-seal every stored key block under the vault's newest master key, while
servers keep serving, then retire the older versions.

The loop reads blocks from `source` and seals them with `target`. For a rotation both are the same
vault (it unseals under whichever version a block names and seals under its newest); a migration
from one vault to another (the file vault to a PKCS#11 token) is the same loop with two vaults.

Why it can be killed at any point and run again:

- the state is the stored blocks and the vault's set of versions, nothing else: a block whose KP
  names the target's newest version is done and is skipped, any other is re-sealed; a run that
  finds more than one version finishes that rotation instead of starting another;
- each re-seal is one compare-and-set of the stored block (`SealedBlocks.reseal_block`), committed
  on its own: a kill loses at most the block in hand, which the next run re-seals; no block is
  written twice, because the next run sees it done;
- a block changed by someone else meanwhile (another rotation, a deletion) fails the
  compare-and-set and is re-read, never overwritten.

Why every server can open what is re-sealed: the new version is recorded pending, every live
server must report holding it, and only then is it admitted and re-sealing begun
(jobs/holdings.py, which also says why a server starting meanwhile is not missed).

Why no block is left under a version once it is retired: every server seals under the newest
version the store admits, and learns of a newly admitted one within a second (the change
follower's step, jobs/changes.py). So the loop goes on until a whole pass re-seals
nothing *and* at least `grace` seconds have passed since it began, which is longer than any
server takes to learn; only then are the older versions retired. A block the vault cannot unseal
(tampered, or under a version the vault does not hold) is reported and keeps its version from
being retired.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from paycrypt.errors import ServiceError
from paycrypt.jobs import holdings
from paycrypt.store.base import SEALED_TABLES, Store
from paycrypt.store.records import KeyRecord, LiveProcess
from paycrypt.vault.base import MasterKeyVersion, RotatableVault, Vault

BATCH = 500  # blocks read per query
GRACE = 3.0  # seconds: six of the change follower's intervals
# Seconds of block changes kept for servers to follow; one that falls further behind drops its cache.
FEED_KEPT = 3600.0


class Clock:
    """The time the grace is measured in (a test's clock moves when it sleeps)."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


REAL_TIME = Clock()


@dataclass
class Progress:
    total: int  # blocks in the store when the pass began
    passes: int = 0
    seen: int = 0  # blocks looked at in this pass
    resealed: int = 0  # in all passes of this run
    reread: int = 0  # compare-and-sets lost to another writer
    failed: dict[str, str] = field(default_factory=dict)  # ARN -> why it could not be re-sealed
    started: float = field(default_factory=time.monotonic)  # when re-sealing began (not the wait before)

    def rate(self) -> float:
        """Blocks re-sealed per second since re-sealing began."""
        return self.resealed / max(time.monotonic() - self.started, 1e-9)


Report = Callable[[Progress], None]


def reseal_pass(store: Store, source: Vault, target: Vault, progress: Progress, report: Report) -> int:
    """Look at every stored block once; re-seal under `target.key_id` each one not already under it.
    How many this pass re-sealed. A page's re-seals commit together (one fsync, not one per key);
    the blocks are sealed before its transaction begins, so it holds the store's write lock only
    for the compare-and-sets."""
    progress.passes += 1
    progress.seen = 0
    progress.total = store.count_sealed_blocks()
    resealed = 0
    for table, page in sealed_pages(store):
        fresh = ((record, _resealed(record, source, target, progress)) for record in page)
        sealed = [(record, new) for record, new in fresh if new is not None]
        with store.transaction():
            lost = [r for r, new in sealed if not store.reseal_block(table, r.arn, r.key_block, new)]
        done = len(sealed) - len(lost)
        for record in lost:
            progress.reread += 1
            again = store.get_sealed(table, record.arn)
            done += 0 if again is None else reseal_one(store, table, again, source, target, progress)
        resealed += done
        progress.resealed += done
        progress.seen += len(page)
        report(progress)
    return resealed


def sealed_pages(store: Store) -> Iterator[tuple[str, list[KeyRecord]]]:
    """Every stored block, a page of BATCH records at a time, with the table it is in."""
    for table in SEALED_TABLES:
        after = 0
        while page := store.sealed_blocks(table, after, BATCH):
            after = page[-1][0]
            yield table, [record for _, record in page]


def _resealed(record: KeyRecord, source: Vault, target: Vault, progress: Progress) -> str | None:
    """The record's block sealed under `target`; None if it is already, or cannot be unsealed
    (recorded in `progress.failed`)."""
    if source.sealed_by(record.key_block) == target.key_id:
        return None
    try:
        new_block = target.seal(record, source.unseal(record, record.key_block))
    except ServiceError as exc:
        progress.failed[record.arn] = exc.message
        return None
    progress.failed.pop(record.arn, None)
    return new_block


def reseal_one(
    store: Store, table: str, record: KeyRecord, source: Vault, target: Vault, progress: Progress
) -> int:
    """1 if this call re-sealed the block, 0 if it was done already or is gone; a block changed by
    another writer meanwhile is re-read and looked at again."""
    current: KeyRecord | None = record
    while current is not None:
        new_block = _resealed(current, source, target, progress)
        if new_block is None:
            return 0
        if store.reseal_block(table, current.arn, current.key_block, new_block):
            return 1
        progress.reread += 1
        current = store.get_sealed(table, current.arn)
    return 0


def reseal_all(
    store: Store,
    source: Vault,
    target: Vault,
    report: Report,
    grace: float = GRACE,
    clock: Clock = REAL_TIME,
) -> Progress:
    """Passes until one re-seals nothing after `grace` seconds (see the module's docstring)."""
    started = clock.monotonic()
    progress = Progress(total=store.count_sealed_blocks())
    while True:
        resealed = reseal_pass(store, source, target, progress, report)
        waited = clock.monotonic() - started
        if resealed == 0 and waited >= grace:
            return progress
        if resealed == 0:
            clock.sleep(grace - waited)


@dataclass(frozen=True)
class Rotation:
    target: MasterKeyVersion
    resumed: bool  # the vault held more than one version: an earlier run did not finish
    retired: tuple[MasterKeyVersion, ...]
    progress: Progress
    # live servers that still hold a retired version: their copies of its key file are to be removed
    still_holding: tuple[LiveProcess, ...] = ()


def rotate(
    store: Store,
    vault: RotatableVault,
    report: Report,
    grace: float = GRACE,
    clock: Clock = REAL_TIME,
    announce: Callable[[MasterKeyVersion, bool], None] = lambda version, resumed: None,
    kind: str = "",
    wait: float = holdings.WAIT,
    advice: Callable[[MasterKeyVersion], str] = lambda version: "",
) -> Rotation:
    """Add a version (unless an earlier run's rotation is unfinished), record it pending, wait for
    every live server to hold it (holdings.NotHeld if one does not within `wait` seconds: run
    again once it does), admit it, re-seal every block under it, retire the older versions if
    every block was re-sealed. `kind` is the vault's (recorded with the version); `advice` says
    what to do for a server that lacks the version."""
    resumed = len(vault.versions()) > 1
    target = vault.versions()[-1] if resumed else vault.add_version()
    store.record_master_keys({target.version: target.key_id}, kind, admitted=False)
    announce(target, resumed)
    named = f"master key version {target.version} (check value {target.key_id})"
    holdings.wait_until_held(store.cluster, target.key_id, named, advice(target), wait, clock)
    store.admit_master_key(target.version)  # servers seal under it within a follower step
    progress = reseal_all(store, vault, vault, report, grace, clock)
    if progress.failed:
        return Rotation(target, resumed, (), progress)
    older = tuple(version for version in vault.versions() if version.version < target.version)
    for version in older:
        vault.retire(version.version)
    store.prune_block_changes(time.time() - FEED_KEPT)
    stale = holdings.still_holding(store.cluster, {version.key_id for version in older}, wait, clock)
    return Rotation(target, resumed, older, progress, stale)

"""Whether every live server holds a master key, before anything is sealed under it.

Several nodes share one store, each with its own vault: with the file vault, its own copy of
the key files. A rotation makes the new version (`master.key.N`) on the node it runs on only; a
node without it cannot open the blocks re-sealed under it. So, before re-sealing:

1. the rotation records the new version in the store *pending* (store.base.MasterKeyRecords): no
   server seals under a pending version (vault/migration.py's ServingVault seals under the newest
   *admitted* one), and a node that starts from now on without it is refused at start
   (vault/agreement.py);
2. it waits until every live server reports the version in its heartbeat (jobs/heartbeat.py),
   and refuses, naming the servers without it, if that does not happen within `wait` seconds;
3. only then admits it: servers seal under it within a follower step, and re-sealing begins.

Live means a heartbeat row whose expiry (its beat plus PERIODS heartbeat intervals: 7.5 s at the
default --lease-seconds) has not passed. A server that stopped cleanly removed its row; one that
was killed stops counting after its expiry, and if it starts again without the version, step 1
refuses it. A server starting while step 2 runs beats before it checks its vault against the
store: either its beat is seen by step 2, or its check sees the pending version and refuses it.

With one PKCS#11 token shared by every node the version is generated in that token, every server
lists it within a second (its follower's refresh) and reports it at its next beat: step 2 passes
after a few seconds with nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from paycrypt.jobs.leases import holder_name
from paycrypt.store.base import ClusterTables
from paycrypt.store.records import LiveProcess

if TYPE_CHECKING:
    from paycrypt.jobs.rotation import Clock  # which imports this module

WAIT = 20.0  # seconds: a refresh, a heartbeat interval and a killed server's expiry, at the defaults
POLL = 0.25  # seconds between reads of the heartbeat rows


@dataclass(frozen=True)
class NotHeld(Exception):
    """Live servers whose vault does not hold the master key; `str()` names them and what to do."""

    key: str  # how the key is named to the operator ("master key version 2 (check value …)")
    lacking: tuple[LiveProcess, ...]
    advice: str

    def __str__(self) -> str:
        servers = "; ".join(
            f"{holder_name(p.node_id, p.worker_id)} (holds {_listed(p)})" for p in self.lacking
        )
        return f"{self.key} is not held by every live server: {servers}. {self.advice}"


def _listed(process: LiveProcess) -> str:
    held = ", ".join(f"version {key.version} ({key.key_id})" for key in process.holds)
    return held or "nothing reported"


def lacking(tables: ClusterTables, key_id: str) -> tuple[LiveProcess, ...]:
    """The live servers whose last beat does not report the master key `key_id`."""
    return tuple(p for p in tables.live_processes() if not p.holds_key(key_id))


def wait_until_held(
    tables: ClusterTables, key_id: str, key: str, advice: str, wait: float, clock: Clock
) -> None:
    """Return once every live server holds `key_id`; NotHeld after `wait` seconds otherwise."""
    deadline = clock.monotonic() + wait
    while missing := lacking(tables, key_id):
        if clock.monotonic() >= deadline:
            raise NotHeld(key, missing, advice)
        clock.sleep(POLL)


def still_holding(
    tables: ClusterTables, retired: set[str], wait: float, clock: Clock
) -> tuple[LiveProcess, ...]:
    """Live servers that still hold a retired master key (check values `retired`) once each has
    beaten since this call began (at most `wait` seconds): the key files a rotation removed only
    on its own node. A beat reports what the vault holds at that moment (ServingVault.held)."""
    before = {(p.node_id, p.worker_id): p.last_seen for p in tables.live_processes()}
    deadline = clock.monotonic() + wait
    while True:
        live = tables.live_processes()
        behind = [p for p in live if p.last_seen <= before.get((p.node_id, p.worker_id), float("-inf"))]
        if not behind or clock.monotonic() >= deadline:
            return tuple(p for p in live if any(held.key_id in retired for held in p.holds))
        clock.sleep(POLL)

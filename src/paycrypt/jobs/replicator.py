"""The replicator: applies queued replication jobs, in the background, durably, with retries.

Each job names a primary key (PRK) and a region. Whatever it was queued for, running it brings
that region to the PRK's state as it is now:

- delete: the PRK is gone (purged), or the region is DELETE_IN_PROGRESS or no longer listed →
  the replica (RRK) is deleted, its aliases stay unassigned, and the region leaves the PRK's
  ReplicationStatus;
- copy: the region has no RRK yet → the PRK's key material is unsealed and stored again, sealed
  under the RRK's own ARN, with the same key identifier, attributes, KCV, extra data and tags,
  through `lifecycle.store_key` (so the RRK counts toward its own region's key quota);
- sync: the RRK exists → its enablement, state, usage and deletion timestamps and tags are set
  to the PRK's.

then marks the region SYNCHRONIZED (unless a newer change queued another job meanwhile). A job
that fails leaves the region FAILED with a StatusMessage (a failed delete stays
DELETE_IN_PROGRESS with the message) and is retried after `retry_base` seconds, doubling up to
`retry_max`. Jobs live in the store, so a restart resumes them.

The hook: `Replicator.hook`, when given, is called as `hook(region, action)` before each job
runs; it may return a true value to hold the job (it stays queued and IN_PROGRESS, and is offered
again on the next pass) or raise to fail it (the exception's text becomes the StatusMessage).
`paycrypt serve` gives none; tests that hold or fail jobs build a server with theirs.

Backlog and lag (for the metrics): `backlog()` counts the queued jobs, due and waiting for a
retry, in the store (every node sees the same); `lag()` is how long the oldest job of the last
pass's due list has been due, from when this replicator first saw it due. The store keeps no
queueing time, so a job is timed from the first pass that offered it: at most `interval` late
while the replicator keeps up, and from the take-over when another process starts running it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from paycrypt import defaults
from paycrypt.clock import Clock, SystemClock
from paycrypt.errors import ServiceError
from paycrypt.jobs.leases import Held, always
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.service.replication import key_regions, state
from paycrypt.store.base import StoreUnavailable
from paycrypt.store.records import KeyRecord, ReplicationJob

log = logging.getLogger("paycrypt")

Hook = Callable[[str, str], object]


class AuditLog(Protocol):
    def record(self, event: Mapping[str, Any]) -> bool: ...


SERVICE_PRINCIPAL = "payment-cryptography.amazonaws.com"
BATCH = 100
PASS = 10  # jobs per pass of the background task, between which requests are served


class ReplicationFailure(Exception):
    """A job that cannot be applied now; its message becomes the region's StatusMessage."""


class Replicator:
    def __init__(
        self,
        svc: Service,
        clock: Clock | None = None,
        retry_base: float = defaults.REPLICATION_RETRY,
        retry_max: float = 300.0,
        interval: float = defaults.REPLICATION_INTERVAL,
        *,
        audit: AuditLog | None = None,
        hook: Hook | None = None,
    ) -> None:
        self.svc = svc
        # Retries are timed on a clock of their own: the service clock of a test server is a
        # ManualClock that stands still, and a retry must not wait for a test to move it.
        self.clock = clock or SystemClock()
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.interval = interval
        self.hook = hook
        self.audit = audit  # gets a SynchronizeMultiRegionKey event per applied job
        # (primary ARN, region) of each job in the last due list → when a pass first saw it due
        self._due_since: dict[tuple[str, str], float] = {}

    async def run(self, held: Held = always) -> None:
        """Apply due jobs until cancelled (a task of the server's lifespan, in the one process
        that holds the replicator's lease: jobs/leases.py).

        Jobs run on the event loop, like the purge sweeper, a few at a time (each is a few ms of
        store writes): a full pass yields to the requests waiting and goes on at once; a pass
        with fewer jobs than that waits `interval` seconds. `held` is asked before each job: a
        replicator whose lease ran out applies no other.
        """
        while True:
            offered = 0
            try:
                offered, _ = self._pass(PASS, held)
            except StoreUnavailable:
                pass  # the store logs an outage once; the next pass retries
            except Exception:
                log.exception("replication pass failed; retrying")
            await asyncio.sleep(0 if offered >= PASS and held() else self.interval)

    def run_once(self, limit: int = BATCH) -> int:
        """Offer up to `limit` due jobs once; the number applied (held and failed jobs not counted)."""
        return self._pass(limit)[1]

    def backlog(self) -> tuple[int, int]:
        """(jobs due now, jobs waiting for a retry) in the store."""
        return self.svc.store.replication_backlog(self.clock.now().timestamp())

    def lag(self) -> float:
        """Seconds the oldest job of the last due list has been due (0 when none was)."""
        since = self._due_since  # replaced whole by each pass: safe to read from another thread
        return max(0.0, time.monotonic() - min(since.values())) if since else 0.0

    def _pass(self, limit: int, held: Held = always) -> tuple[int, int]:
        if not held():
            return 0, 0
        jobs = self.svc.store.due_replication_jobs(self.clock.now().timestamp(), limit)
        now, seen = time.monotonic(), self._due_since
        self._due_since = {
            (job.primary_arn, job.region): seen.get((job.primary_arn, job.region), now) for job in jobs
        }
        applied = 0
        for job in jobs:
            if not held():
                break
            applied += self._run(job)
        return len(jobs), applied

    def _run(self, job: ReplicationJob) -> bool:
        action = job.action
        try:
            primary = self.svc.store.get_key(job.primary_arn)
            replica = self._replica(job)
            action = _action(primary, replica, job.region)
            if self.hook is not None and self.hook(job.region, action):
                return False
            with self.svc.store.transaction():
                if action == key_regions.DELETE:
                    self._delete(job, primary, replica)
                elif action == key_regions.COPY:
                    self._copy(job, primary)
                else:
                    self._sync(job, primary, replica)
            # The replica was deleted, or stopped or deleted with its primary: none of it is kept.
            self.svc.keycache.forget(key_regions.replica_arn(job.primary_arn, job.region))
            log.info("replicated %s to %s (%s)", job.primary_arn, job.region, action)
            self._record(job)
            return True
        except (ReplicationFailure, ServiceError) as exc:
            self._fail(job, action, f"{_message(exc)} Retrying.")
        except Exception:
            log.exception("replication of %s to %s failed", job.primary_arn, job.region)
            self._fail(job, action, "Replication failed with an internal error. Retrying.")
        return False

    def _replica(self, job: ReplicationJob) -> KeyRecord | None:
        record = self.svc.store.get_key(key_regions.replica_arn(job.primary_arn, job.region))
        if record is not None and not (
            state.is_replica(record) and state.primary_arn(record) == job.primary_arn
        ):
            raise ReplicationFailure(f"A key that is not a replica of {job.primary_arn} holds its ARN.")
        return record

    def _delete(self, job: ReplicationJob, primary: KeyRecord | None, replica: KeyRecord | None) -> None:
        if replica is not None:
            self.svc.store.delete_key(replica.arn)
            self.svc.store.unassign_aliases(replica.arn)
        if self.svc.store.finish_replication_job(job.seq) and primary is not None:
            current = state.regions(primary).get(job.region)
            if current is not None and current["Status"] == state.DELETE_IN_PROGRESS:
                self.svc.store.update_key(state.without_region(primary, job.region))

    def _copy(self, job: ReplicationJob, primary: KeyRecord) -> None:
        material = self.svc.keycache.material(primary)
        ctx = self._context(primary, job.region)
        new = lifecycle.NewKey(
            attributes=primary.key_attributes,
            material=material,
            exportable=primary.exportable,
            enabled=primary.enabled,
            origin=primary.key_origin,
            kcv_algorithm=primary.key_check_value_algorithm,
            derive_key_usage=primary.derive_key_usage,
            tags=self.svc.store.get_tags(primary.arn),
            extra=state.without_state(primary.extra),
            key_id=primary.key_id,
        )
        replica = lifecycle.store_key(self.svc, ctx, new)
        if replica.key_check_value != primary.key_check_value:
            raise ReplicationFailure("The replica's key check value does not match the primary's.")
        self._sync(job, primary, replica)

    def _sync(self, job: ReplicationJob, primary: KeyRecord, replica: KeyRecord) -> None:
        current = self.svc.store.finish_replication_job(job.seq)
        # Still IN_PROGRESS if a newer change queued another job while this one ran.
        own = state.status(state.SYNCHRONIZED if current else state.IN_PROGRESS)
        replica = dataclasses.replace(
            replica,
            enabled=primary.enabled,
            key_state=primary.key_state,
            usage_start_timestamp=primary.usage_start_timestamp,
            usage_stop_timestamp=primary.usage_stop_timestamp,
            delete_pending_timestamp=primary.delete_pending_timestamp,
        )
        self.svc.store.update_key(
            state.with_replica_state(replica, state.replica_state(primary, job.region, own))
        )
        self.svc.store.put_tags(replica.arn, self.svc.store.get_tags(primary.arn))
        if current:
            self.svc.store.update_key(state.with_status(primary, job.region, own))

    def _fail(self, job: ReplicationJob, action: str, message: str) -> None:
        with self.svc.store.transaction():
            latest = self.svc.store.get_replication_job(job.primary_arn, job.region)
            if latest is None or latest.seq != job.seq:
                return  # replaced by a newer job meanwhile: that one decides the status
            attempts = job.attempts + 1
            delay = min(self.retry_base * 2 ** min(attempts - 1, 30), self.retry_max)
            self.svc.store.defer_replication_job(job.seq, attempts, self.clock.now().timestamp() + delay)
            primary = self.svc.store.get_key(job.primary_arn)
            if primary is None or job.region not in state.regions(primary):
                return
            failed = state.DELETE_IN_PROGRESS if action == key_regions.DELETE else state.FAILED
            primary = key_regions.mark(self.svc, primary, job.region, state.status(failed, message))
            self.svc.store.update_key(primary)
        log.warning(
            "replication of %s to %s failed (attempt %d): %s", job.primary_arn, job.region, attempts, message
        )

    def _record(self, job: ReplicationJob) -> None:
        if self.audit is None:
            return
        try:
            self.audit.record(synchronize_event(job.primary_arn, job.region, dt.datetime.now(dt.UTC)))
        except Exception:
            log.exception("audit event for the replication of %s was not recorded", job.primary_arn)

    def _context(self, primary: KeyRecord, region: str) -> Context:
        caller = Caller(primary.account, SERVICE_PRINCIPAL, SERVICE_PRINCIPAL)
        return Context(caller, region, self.svc.clock.now(), f"replication-{uuid.uuid4()}")


def _action(primary: KeyRecord | None, replica: KeyRecord | None, region: str) -> str:
    current = state.regions(primary).get(region) if primary is not None else None
    if current is None or current["Status"] == state.DELETE_IN_PROGRESS:
        return key_regions.DELETE
    return key_regions.COPY if replica is None else key_regions.SYNC


def synchronize_event(primary_arn: str, region: str, when: dt.datetime) -> dict[str, Any]:
    """The service event the guide shows for replication (seed-F §2.4 C-2), with a fresh eventID."""
    parts = primary_arn.split(":")
    account = parts[4]
    return {
        "eventVersion": "1.11",
        "userIdentity": {"accountId": account, "invokedBy": SERVICE_PRINCIPAL},
        "eventTime": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": SERVICE_PRINCIPAL,
        "eventName": "SynchronizeMultiRegionKey",
        "awsRegion": parts[3],
        "sourceIPAddress": SERVICE_PRINCIPAL,
        "userAgent": SERVICE_PRINCIPAL,
        "requestParameters": None,
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": account,
        "serviceEventDetails": {"keyArn": primary_arn, "replicationRegion": region},
        "eventCategory": "Management",
    }


def _message(exc: Exception) -> str:
    text = exc.message if isinstance(exc, ServiceError) else str(exc)
    return text if text.endswith(".") else f"{text}."

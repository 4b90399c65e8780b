"""The replicator and the replication rules at the service level, driven by a ManualClock.

No HTTP and no background task: `Replicator.run_once` is called by hand, so each test decides
exactly when jobs run and when their retries fall due.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path

import pytest

from paycrypt import regions
from paycrypt.clock import ManualClock
from paycrypt.errors import Conflict, ValidationError
from paycrypt.jobs.replicator import ReplicationFailure, Replicator
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import lifecycle, tags
from paycrypt.service.replication import key_regions, state
from tests.conftest import CVK_ATTRIBUTES as CVK
from tests.service.stored_keys import context as ctx
from tests.service.stored_keys import new_keycache, new_service

EAST, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
RETRY = 2.0


@pytest.fixture
def replicator(svc: Service) -> Replicator:
    return Replicator(svc, clock=svc.clock, retry_base=RETRY, retry_max=10.0)


def create(svc: Service, replication_regions: list[str] | None = None, region: str = EAST) -> str:
    params = {"KeyAttributes": CVK, "Exportable": True}
    if replication_regions is not None:
        params["ReplicationRegions"] = replication_regions
    return lifecycle.create_key(svc, ctx(svc, region=region), params)["Key"]["KeyArn"]


def get(svc: Service, arn: str) -> dict:
    return lifecycle.get_key(svc, ctx(svc, region=arn.split(":")[3]), {"KeyIdentifier": arn})["Key"]


def statuses(svc: Service, arn: str) -> dict[str, str]:
    return {region: entry["Status"] for region, entry in get(svc, arn).get("ReplicationStatus", {}).items()}


def test_copy_then_sync(svc: Service, replicator: Replicator) -> None:
    arn = create(svc, [WEST, EU])
    assert statuses(svc, arn) == {WEST: "IN_PROGRESS", EU: "IN_PROGRESS"}
    assert replicator.run_once() == 2
    assert statuses(svc, arn) == {WEST: "SYNCHRONIZED", EU: "SYNCHRONIZED"}
    replica = svc.store.get_key(key_regions.replica_arn(arn, WEST))
    primary = svc.store.get_key(arn)
    assert svc.keycache.material(replica) == svc.keycache.material(primary)
    assert replica.key_id == primary.key_id and replica.region == WEST
    assert replicator.run_once() == 0  # nothing left to do
    lifecycle.stop_key_usage(svc, ctx(svc), {"KeyIdentifier": arn})
    assert statuses(svc, arn) == {WEST: "IN_PROGRESS", EU: "IN_PROGRESS"}
    assert replicator.run_once() == 2
    assert get(svc, key_regions.replica_arn(arn, WEST))["Enabled"] is False


def test_failed_job_backs_off_on_the_clock(svc: Service, replicator: Replicator) -> None:
    calls: list[tuple[str, str]] = []

    def failing(region: str, action: str) -> None:
        calls.append((region, action))
        if region == WEST:
            raise ReplicationFailure("link down")

    replicator.hook = failing
    arn = create(svc, [WEST, EU])
    assert replicator.run_once() == 1
    key = get(svc, arn)
    assert key["ReplicationStatus"][WEST] == {"Status": "FAILED", "StatusMessage": "link down. Retrying."}
    assert key["ReplicationStatus"][EU] == {"Status": "SYNCHRONIZED"}
    job = svc.store.get_replication_job(arn, WEST)
    assert job.attempts == 1 and job.next_attempt == pytest.approx(svc.clock.now().timestamp() + RETRY)
    # Not due yet: the hook is not even asked.
    svc.clock.advance(dt.timedelta(seconds=RETRY - 0.5))
    replicator.run_once()
    assert calls.count((WEST, "copy")) == 1
    # Due: retried, fails again, waits twice as long; then capped at retry_max.
    for attempt, delay in ((2, 2 * RETRY), (3, 4 * RETRY), (4, 10.0), (5, 10.0)):
        svc.clock.advance(dt.timedelta(seconds=10))
        replicator.run_once()
        job = svc.store.get_replication_job(arn, WEST)
        assert job.attempts == attempt
        assert job.next_attempt == pytest.approx(svc.clock.now().timestamp() + delay)
    replicator.hook = None
    svc.clock.advance(dt.timedelta(seconds=10))
    assert replicator.run_once() == 1
    assert statuses(svc, arn) == {WEST: "SYNCHRONIZED", EU: "SYNCHRONIZED"}
    assert svc.store.get_replication_job(arn, WEST) is None


def test_held_job_stays_in_progress(svc: Service, replicator: Replicator) -> None:
    replicator.hook = lambda region, action: region == WEST
    arn = create(svc, [WEST])
    for _ in range(3):
        assert replicator.run_once() == 0
    assert statuses(svc, arn) == {WEST: "IN_PROGRESS"}
    assert svc.store.get_key(key_regions.replica_arn(arn, WEST)) is None
    assert svc.store.get_replication_job(arn, WEST).attempts == 0  # holding is not failing


def test_a_restart_resumes_pending_jobs(tmp_path: Path) -> None:
    clock, master = ManualClock(), secrets.token_bytes(32)
    first = new_service(tmp_path / "db", keycache=new_keycache(master), clock=clock)
    arn = create(first, [WEST, EU])
    kcv = get(first, arn)["KeyCheckValue"]
    first.store.close()  # the process ends before the replicator ran
    second = new_service(tmp_path / "db", keycache=new_keycache(master), clock=clock)
    assert Replicator(second, clock=clock).run_once() == 2
    assert statuses(second, arn) == {WEST: "SYNCHRONIZED", EU: "SYNCHRONIZED"}
    assert get(second, key_regions.replica_arn(arn, EU))["KeyCheckValue"] == kcv


def test_a_change_during_a_job_keeps_the_region_in_progress(svc: Service, replicator: Replicator) -> None:
    """A newer change replaces the job; the older run must not report the region SYNCHRONIZED."""
    arn = create(svc, [WEST])
    replicator.run_once()
    changed: list[bool] = []

    def change_while_running(region: str, action: str) -> None:
        if not changed:
            changed.append(True)
            lifecycle.stop_key_usage(svc, ctx(svc), {"KeyIdentifier": arn})

    lifecycle.start_key_usage(svc, ctx(svc), {"KeyIdentifier": arn})  # a no-op change: queues a sync
    tags.tag_resource(svc, ctx(svc), {"ResourceArn": arn, "Tags": [{"Key": "a", "Value": "b"}]})
    replicator.hook = change_while_running
    replicator.run_once()
    assert statuses(svc, arn) == {WEST: "IN_PROGRESS"}
    replicator.run_once()
    assert statuses(svc, arn) == {WEST: "SYNCHRONIZED"}
    replica = key_regions.replica_arn(arn, WEST)
    assert get(svc, replica)["Enabled"] is False
    assert svc.store.get_tags(replica) == [{"Key": "a", "Value": "b"}]


def test_purge_removes_replicas(svc: Service, replicator: Replicator) -> None:
    arn = create(svc, [WEST])
    replicator.run_once()
    replica = key_regions.replica_arn(arn, WEST)
    lifecycle.delete_key(svc, ctx(svc), {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    replicator.run_once()
    assert get(svc, replica)["KeyState"] == "DELETE_PENDING"
    svc.clock.advance(dt.timedelta(days=4))
    # The replica, past the same window, goes in the same sweep once its primary is gone.
    assert sorted(lifecycle.purge_due(svc, svc.clock.now())) == sorted([arn, replica])
    replicator.run_once()
    assert svc.store.get_replication_job(arn, WEST) is None


def test_purge_queues_the_deletion_of_a_replica_not_yet_synced(svc: Service, replicator: Replicator) -> None:
    arn = create(svc, [WEST])
    replicator.run_once()
    replica = key_regions.replica_arn(arn, WEST)
    replicator.hook = lambda region, action: action == "sync"  # the deletion never reaches us-west-2
    lifecycle.delete_key(svc, ctx(svc), {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    replicator.run_once()
    svc.clock.advance(dt.timedelta(days=4))
    assert lifecycle.purge_due(svc, svc.clock.now()) == [arn]
    assert svc.store.get_replication_job(arn, WEST).action == "delete"
    assert get(svc, replica)["KeyState"] == "CREATE_COMPLETE"
    assert replicator.run_once() == 1
    assert svc.store.get_key(replica) is None


def test_sweeper_keeps_a_replica_while_its_primary_lives(svc: Service, replicator: Replicator) -> None:
    """A replica past its window whose primary was restored (the restore not yet synced) stays."""
    arn = create(svc, [WEST])
    replicator.run_once()
    lifecycle.delete_key(svc, ctx(svc), {"KeyIdentifier": arn, "DeleteKeyInDays": 3})
    replicator.run_once()
    lifecycle.restore_key(svc, ctx(svc), {"KeyIdentifier": arn})
    svc.clock.advance(dt.timedelta(days=4))
    assert lifecycle.purge_due(svc, svc.clock.now()) == []
    replicator.run_once()
    assert get(svc, key_regions.replica_arn(arn, WEST))["KeyState"] == "CREATE_COMPLETE"


def test_replica_quota_failure_names_the_quota(tmp_path: Path) -> None:
    svc = new_service(tmp_path / "db", quotas=Quotas(keys_per_region=1))
    create(svc, region=WEST)
    arn = create(svc, [WEST])
    Replicator(svc, clock=svc.clock).run_once()
    message = get(svc, arn)["ReplicationStatus"][WEST]["StatusMessage"]
    assert message == (
        "The number of keys in account 111122223333 and region us-west-2 would exceed the quota of 1."
        " Retrying."
    )


def test_rules(svc: Service, replicator: Replicator) -> None:
    with pytest.raises(ValidationError, match="KeyClass is ASYMMETRIC_KEY_PAIR"):
        key_regions.plan_for_new_key(svc, ctx(svc), [WEST], "ASYMMETRIC_KEY_PAIR")
    assert key_regions.plan_for_new_key(svc, ctx(svc), None, "ASYMMETRIC_KEY_PAIR") is None
    key_regions.enable_default_key_replication_regions(svc, ctx(svc), {"ReplicationRegions": [WEST]})
    assert key_regions.plan_for_new_key(svc, ctx(svc), None, "ASYMMETRIC_KEY_PAIR") == key_regions.Plan(
        (), False
    )
    assert key_regions.plan_for_new_key(svc, ctx(svc), None, "SYMMETRIC_KEY") == key_regions.Plan(
        (WEST,), True
    )
    assert key_regions.plan_for_new_key(svc, ctx(svc), [], "SYMMETRIC_KEY") == key_regions.Plan((), False)
    arn = create(svc)
    replicator.run_once()
    replica = key_regions.replica_arn(arn, WEST)
    for operation in (
        lifecycle.delete_key,
        lifecycle.restore_key,
        lifecycle.start_key_usage,
        lifecycle.stop_key_usage,
    ):
        with pytest.raises(Conflict, match="region us-east-1"):
            operation(svc, ctx(svc, region=WEST), {"KeyIdentifier": replica})
    assert state.is_replica(svc.store.get_key(replica))


def test_service_regions_bound_replication(tmp_path: Path) -> None:
    svc = new_service(tmp_path / "db", regions=(EAST, WEST))
    with pytest.raises(ValidationError, match="eu-west-1 is not a region"):
        key_regions.plan_for_new_key(svc, ctx(svc), [EU], "SYMMETRIC_KEY")


def test_region_list_parsing() -> None:
    assert len(regions.DEFAULT_REGIONS) == 15
    assert regions.parse("us-east-1, eu-west-1 us-east-1") == (EAST, EU)
    for bad in ("", "US-EAST-1", "us-east"):
        with pytest.raises(ValueError):
            regions.parse(bad)


def test_backlog_and_lag_for_the_metrics(svc: Service, replicator: Replicator) -> None:
    """The backlog counts what the store holds; the lag is how long the oldest due job has been
    due since a pass first saw it, and falls to 0 once nothing is due."""
    held = {WEST}
    replicator.hook = lambda region, action: region in held  # hold the job into us-west-2
    assert (replicator.backlog(), replicator.lag()) == ((0, 0), 0.0)
    create(svc, [WEST, EU])
    assert replicator.backlog() == (2, 0)
    assert replicator.run_once() == 1  # eu-west-1 applied, us-west-2 held
    assert replicator.backlog() == (1, 0)
    first = replicator.lag()
    time.sleep(0.05)
    replicator.run_once()  # still held: its first sighting stands
    assert replicator.lag() >= first + 0.05
    held.clear()
    assert replicator.run_once() == 1
    replicator.run_once()
    assert (replicator.backlog(), replicator.lag()) == ((0, 0), 0.0)

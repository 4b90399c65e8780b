"""Replication against the operator's limits: the configured regions and the per-region key quota.

A server of its own serving three regions only (`Settings.regions`, `paycrypt serve --regions`)
with a key quota of 2 per account and region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.api.helpers import expect_error
from tests.api.replication_support import (
    AP,
    EAST,
    EU,
    WEST,
    full_snapshot,
    replica_arn,
    replication_server,
    settled_snapshot,
    statuses,
    wait_for,
    wait_synchronized,
)
from tests.conftest import CVK_ATTRIBUTES, RunningServer

KEY_QUOTA = 2


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from replication_server(
        tmp_path_factory, "paycrypt-replication-limits", key_quota=KEY_QUOTA, regions=(EAST, WEST, EU)
    )


def test_only_configured_regions_are_served(limited: RunningServer) -> None:
    before = settled_snapshot(limited.data_dir)
    outside = limited.client("payment-cryptography", region=AP)  # a default region, not configured here
    response = expect_error(outside.list_keys, "InvalidSignatureException", 403)
    assert response["Error"]["Message"] == f"Credential should be scoped to a valid region, not '{AP}'."
    control = limited.client("payment-cryptography", region=EAST)
    response = expect_error(
        control.create_key,
        "ValidationException",
        400,
        Exportable=True,
        KeyAttributes=CVK_ATTRIBUTES,
        ReplicationRegions=[WEST, AP],
    )
    assert f"{AP} is not a region this paycrypt deployment serves" in response["Error"]["Message"]
    expect_error(
        control.enable_default_key_replication_regions, "ValidationException", 400, ReplicationRegions=[AP]
    )
    assert full_snapshot(limited.data_dir) == before


def test_replicas_count_toward_their_own_regions_quota(limited: RunningServer) -> None:
    east = limited.client("payment-cryptography", region=EAST)
    west = limited.client("payment-cryptography", region=WEST)
    fillers = [
        west.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"] for _ in range(2)
    ]
    arn = east.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, ReplicationRegions=[WEST, EU])[
        "Key"
    ]["KeyArn"]
    failed = wait_for(
        lambda: east.get_key(KeyIdentifier=arn)["Key"],
        lambda k: statuses(k) == {WEST: "FAILED", EU: "SYNCHRONIZED"},
    )
    message = failed["ReplicationStatus"][WEST]["StatusMessage"]
    assert f"region {WEST} would exceed the quota of {KEY_QUOTA}" in message, message
    expect_error(west.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica_arn(arn, WEST))
    # A slot frees up in us-west-2 (a key is deleted and purged): the retry then succeeds.
    west.delete_key(KeyIdentifier=fillers[0], DeleteKeyInDays=3)
    limited.clock.advance(dt.timedelta(days=3, hours=1))
    wait_synchronized(east, arn, [WEST, EU])
    replica = west.get_key(KeyIdentifier=replica_arn(arn, WEST))["Key"]
    assert replica["MultiRegionKeyType"] == "REPLICA"
    # The replica takes a slot of us-west-2's quota like any key there.
    response = expect_error(
        west.create_key, "ServiceQuotaExceededException", 400, Exportable=True, KeyAttributes=CVK_ATTRIBUTES
    )
    assert WEST in response["Error"]["Message"]

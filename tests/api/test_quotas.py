"""Keys and aliases are capped per account and region, at a quota the operator configures.

A server of its own with key_quota=3 and alias_quota=2. Each test works in regions no other test
here uses, so the tests do not depend on their order. Over quota, CreateKey and CreateAlias answer
ServiceQuotaExceededException (HTTP 400, the awsJson default: the model gives it no status) and
store nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from paycrypt.server import Settings
from tests.api.helpers import db_snapshot, expect_error
from tests.conftest import CVK_ATTRIBUTES, RunningServer, free_port, serving

KEY_QUOTA = 3
ALIAS_QUOTA = 2


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("paycrypt-quota")
    settings = Settings(
        port=free_port(), data_dir=data_dir, purge_interval=0.05, key_quota=KEY_QUOTA, alias_quota=ALIAS_QUOTA
    )
    with serving(settings) as running:
        yield running


@dataclass
class Region:
    control: object

    def create_key(self) -> str:
        return self.control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]

    def key_count(self) -> int:
        return sum(len(page["Keys"]) for page in self.control.get_paginator("list_keys").paginate())


def _region(server: RunningServer, name: str) -> Region:
    return Region(server.client("payment-cryptography", region=name))


def _wait_purged(region: Region, arn: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        arns = [
            k["KeyArn"] for page in region.control.get_paginator("list_keys").paginate() for k in page["Keys"]
        ]
        if arn not in arns:
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} was not purged")


def test_key_quota_per_region_counts_pending_keys_until_purged(capped: RunningServer) -> None:
    """DELETE_PENDING keys still count; a purged key frees its slot.

    The guide (Quotas: "Keys ... excluding deleted keys") counts every key not yet deleted; one pending
    deletion can still be restored, and restoring it must not take an account over quota.
    """
    east, west = _region(capped, "eu-west-1"), _region(capped, "us-west-2")
    arns = [east.create_key() for _ in range(KEY_QUOTA)]

    before = db_snapshot(capped.data_dir)
    response = expect_error(
        east.control.create_key,
        "ServiceQuotaExceededException",
        400,
        Exportable=True,
        KeyAttributes=CVK_ATTRIBUTES,
    )
    assert "eu-west-1" in response["Error"]["Message"]
    assert db_snapshot(capped.data_dir) == before
    assert east.key_count() == KEY_QUOTA

    assert west.create_key().split(":")[3] == "us-west-2"  # the quota is per region

    east.control.delete_key(KeyIdentifier=arns[0], DeleteKeyInDays=7)
    assert east.control.get_key(KeyIdentifier=arns[0])["Key"]["KeyState"] == "DELETE_PENDING"
    before = db_snapshot(capped.data_dir)
    expect_error(
        east.control.create_key,
        "ServiceQuotaExceededException",
        400,
        Exportable=True,
        KeyAttributes=CVK_ATTRIBUTES,
    )
    assert db_snapshot(capped.data_dir) == before

    capped.clock.advance(dt.timedelta(days=8))
    _wait_purged(east, arns[0])
    replacement = east.create_key()
    assert east.key_count() == KEY_QUOTA and replacement not in arns


def test_alias_quota_per_region(capped: RunningServer) -> None:
    """Aliases count whether or not they point at a key; DeleteAlias frees a slot."""
    east, west = _region(capped, "eu-central-1"), _region(capped, "ap-southeast-2")
    arn = east.create_key()
    east.control.create_alias(AliasName="alias/quota-one", KeyArn=arn)
    east.control.create_alias(AliasName="alias/quota-two")

    before = db_snapshot(capped.data_dir)
    response = expect_error(
        east.control.create_alias, "ServiceQuotaExceededException", 400, AliasName="alias/quota-three"
    )
    assert "eu-central-1" in response["Error"]["Message"]
    assert db_snapshot(capped.data_dir) == before
    expect_error(east.control.get_alias, "ResourceNotFoundException", 400, AliasName="alias/quota-three")

    west.control.create_alias(AliasName="alias/quota-three")  # the quota is per region

    east.control.delete_alias(AliasName="alias/quota-two")
    east.control.create_alias(AliasName="alias/quota-three", KeyArn=arn)
    names = {
        a["AliasName"]
        for page in east.control.get_paginator("list_aliases").paginate()
        for a in page["Aliases"]
    }
    assert names == {"alias/quota-one", "alias/quota-three"}


def test_an_alias_outlives_its_purged_key_and_keeps_its_slot(capped: RunningServer) -> None:
    """A purge leaves the alias unassigned (guide, aliases chapter), so it still counts."""
    region = _region(capped, "ca-central-1")
    arn = region.create_key()
    region.control.create_alias(AliasName="alias/outlives", KeyArn=arn)
    region.control.create_alias(AliasName="alias/second")
    region.control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)
    capped.clock.advance(dt.timedelta(days=4))
    _wait_purged(region, arn)
    assert region.control.get_alias(AliasName="alias/outlives")["Alias"] == {"AliasName": "alias/outlives"}
    expect_error(region.control.create_alias, "ServiceQuotaExceededException", 400, AliasName="alias/third")

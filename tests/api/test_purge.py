"""The deletion sweeper purges keys when their window passes, driven by the injectable clock."""

from __future__ import annotations

import datetime as dt
import time

from tests.api.helpers import expect_error
from tests.conftest import CVK_ATTRIBUTES


def _wait_gone(control, arn: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        arns = [k["KeyArn"] for p in control.get_paginator("list_keys").paginate() for k in p["Keys"]]
        if arn not in arns:
            return
        time.sleep(0.05)
    raise AssertionError(f"{arn} was not purged")


def test_sweeper_purges_after_window_and_leaves_alias_unassigned(server, control) -> None:
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    keeper = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    control.create_alias(AliasName="alias/purged-key", KeyArn=arn)
    control.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "b"}])
    control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)
    control.delete_key(KeyIdentifier=keeper, DeleteKeyInDays=30)
    server.clock.advance(dt.timedelta(days=2, hours=23))
    time.sleep(0.3)
    assert control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "DELETE_PENDING"
    server.clock.advance(dt.timedelta(hours=2))
    _wait_gone(control, arn)
    response = expect_error(control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=arn)
    assert response["ResourceId"] == arn
    expect_error(control.restore_key, "ResourceNotFoundException", 400, KeyIdentifier=arn)
    expect_error(control.list_tags_for_resource, "ResourceNotFoundException", 400, ResourceArn=arn)
    assert control.get_alias(AliasName="alias/purged-key")["Alias"] == {"AliasName": "alias/purged-key"}
    assert control.get_key(KeyIdentifier=keeper)["Key"]["KeyState"] == "DELETE_PENDING"
    control.restore_key(KeyIdentifier=keeper)

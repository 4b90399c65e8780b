"""Multi-region key replication through boto3, with clients in two and three regions (issue 9).

A server of its own (tests/api/replication_support.py) whose replicator runs every 20 ms; the
replicator's test hook holds or fails the jobs into chosen regions, so the tests can watch
IN_PROGRESS, FAILED, DELETE_IN_PROGRESS and the retries. The rules are seed-A §7.4's; the
decisions are docs/decisions/replication.md's.

Known answers on replicated keys:
- Visa CVV2: the Visa CVV worked example (CVK 0123456789ABCDEF FEDCBA9876543210, PAN
  4123456789012345, expiry 8701, service code 000 → 636), as in tests/crypto/test_cvv.py.
- Visa PVV: psec.pin.generate_visa_pvv docstring (PVK 0123456789ABCDEFFEDCBA9876543210, PVKI 3,
  PIN 4524, PAN 1122334455667788 → 4021), as in tests/api/test_issuer_api.py; the ISO format 0
  block under the known PEK is built with psec, an oracle independent of paycrypt.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psec.des
import psec.pinblock
import pytest

from paycrypt.audit import reader as audit_reader
from paycrypt.audit.chain import CHAIN_FIELDS
from tests import kx_partner as kp
from tests.api.helpers import expect_error
from tests.api.known_keys import import_known_key_via_api, put_known_key
from tests.api.replication_support import (
    AP,
    EAST,
    EU,
    WEST,
    Hook,
    full_snapshot,
    replica_arn,
    replication_server,
    settled_snapshot,
    statuses,
    wait_for,
    wait_synchronized,
)
from tests.conftest import CVK_ATTRIBUTES, RunningServer
from tests.docs_pages import code_blocks, page

AWS = str(Path(sys.executable).with_name("aws"))
CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # KCV 08D7B4
PEK = bytes.fromhex("89ABCDEF01234567FEDCBA9876543210")
GEN_VERIFY = {"Generate": True, "Verify": True}
PEK_MODES = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}
RSA_ATTRIBUTES = {
    "KeyAlgorithm": "RSA_2048",
    "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
    "KeyClass": "ASYMMETRIC_KEY_PAIR",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "8701"}}
VISA_PAN = "4123456789012345"


@pytest.fixture(scope="module")
def repl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from replication_server(tmp_path_factory, "paycrypt-replication")


@pytest.fixture
def hook(repl: RunningServer) -> Iterator[Hook]:
    installed = Hook()
    repl.parts.replicator.hook = installed
    yield installed
    repl.parts.replicator.hook = None


class Region:
    """The control and data plane clients of one region."""

    def __init__(self, server: RunningServer, name: str) -> None:
        self.name = name
        self.control = server.client("payment-cryptography", region=name)
        self.data = server.client("payment-cryptography-data", region=name)

    def key(self, arn: str) -> dict[str, Any]:
        return self.control.get_key(KeyIdentifier=arn)["Key"]

    def cvv2(self, arn: str, pan: str = VISA_PAN) -> str:
        return self.data.generate_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=pan, GenerationAttributes=CVV2
        )["ValidationData"]


@pytest.fixture(scope="module")
def regions(repl: RunningServer) -> dict[str, Region]:
    return {name: Region(repl, name) for name in (EAST, WEST, EU, AP)}


def create_cvk(region: Region, **extra: Any) -> dict[str, Any]:
    return region.control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, **extra)["Key"]


def replicated_cvk(regions: dict[str, Region], targets: list[str], **extra: Any) -> str:
    arn = create_cvk(regions[EAST], ReplicationRegions=targets, **extra)["KeyArn"]
    wait_synchronized(regions[EAST].control, arn, targets)
    return arn


def listed(region: Region) -> dict[str, dict[str, Any]]:
    pages = region.control.get_paginator("list_keys").paginate()
    return {key["KeyArn"]: key for page in pages for key in page["Keys"]}


# --- creation and the Key members ------------------------------------------------------------------


def test_create_key_with_replication_regions_copies_to_each_region(regions, hook) -> None:
    east, west, eu = regions[EAST], regions[WEST], regions[EU]
    hook.hold = {EU}
    tags = [{"Key": "team", "Value": "issuing"}]
    created = create_cvk(east, ReplicationRegions=[WEST, EU], Tags=tags)
    arn = created["KeyArn"]
    assert (created["MultiRegionKeyType"], created["PrimaryRegion"]) == ("PRIMARY", EAST)
    assert created["ReplicationStatus"] == {WEST: {"Status": "IN_PROGRESS"}, EU: {"Status": "IN_PROGRESS"}}
    assert created["UsingDefaultReplicationRegions"] is False
    # us-west-2 is copied; eu-west-1 is held by the hook and stays IN_PROGRESS, with no key there yet.
    primary = wait_for(
        lambda: east.key(arn), lambda k: statuses(k) == {WEST: "SYNCHRONIZED", EU: "IN_PROGRESS"}
    )
    expect_error(eu.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica_arn(arn, EU))
    hook.hold = set()
    primary = wait_synchronized(east.control, arn, [WEST, EU])

    for region in (west, eu):
        replica = region.key(replica_arn(arn, region.name))
        assert replica["KeyArn"] == f"arn:aws:payment-cryptography:{region.name}:111122223333:key/{arn[-16:]}"
        assert replica["MultiRegionKeyType"] == "REPLICA" and replica["PrimaryRegion"] == EAST
        assert replica["ReplicationStatus"] == {region.name: {"Status": "SYNCHRONIZED"}}
        assert replica["UsingDefaultReplicationRegions"] is False
        same = (
            "KeyAttributes",
            "KeyCheckValue",
            "KeyCheckValueAlgorithm",
            "Enabled",
            "Exportable",
            "KeyState",
        )
        assert {m: replica[m] for m in same} == {m: primary[m] for m in same}
        assert replica["KeyOrigin"] == "AWS_PAYMENT_CRYPTOGRAPHY"
        assert replica["UsageStartTimestamp"] == primary["UsageStartTimestamp"]
        summary = listed(region)[replica["KeyArn"]]
        assert (summary["MultiRegionKeyType"], summary["PrimaryRegion"]) == ("REPLICA", EAST)
        assert region.control.list_tags_for_resource(ResourceArn=replica["KeyArn"])["Tags"] == tags
        # A key is visible in its own region only: the replica's ARN is not found from us-east-1.
        expect_error(east.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica["KeyArn"])
    assert listed(east)[arn]["MultiRegionKeyType"] == "PRIMARY"
    assert {(region, action) for region, action in hook.calls} >= {(WEST, "copy"), (EU, "copy")}


def test_same_cvv2_from_primary_and_each_replica(repl, regions) -> None:
    east = regions[EAST]
    arn = put_known_key(repl, CVK, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    key = east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST, EU])["Key"]
    assert statuses(key) == {WEST: "IN_PROGRESS", EU: "IN_PROGRESS"} and key["KeyOrigin"] == "EXTERNAL"
    wait_synchronized(east.control, arn, [WEST, EU])
    for name in (EAST, WEST, EU):
        region = regions[name]
        local = replica_arn(arn, name)
        assert region.key(local)["KeyCheckValue"] == "08D7B4"
        assert region.cvv2(local) == "636"
        verified = region.data.verify_card_validation_data(
            KeyIdentifier=local,
            PrimaryAccountNumber=VISA_PAN,
            VerificationAttributes=CVV2,
            ValidationData="636",
        )
        assert (verified["KeyArn"], verified["KeyCheckValue"]) == (local, "08D7B4")
    # A generated key too: every region computes the primary's value.
    generated = replicated_cvk(regions, [WEST, EU, AP])
    values = {name: regions[name].cvv2(replica_arn(generated, name)) for name in (EAST, WEST, EU, AP)}
    assert len(set(values.values())) == 1, values


def test_same_pin_values_from_primary_and_each_replica(repl, regions) -> None:
    east = regions[EAST]
    pvk = put_known_key(repl, CVK, "TR31_V2_VISA_PIN_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)["KeyArn"]
    pek = put_known_key(repl, PEK, "TR31_P0_PIN_ENCRYPTION_KEY", "TDES_2KEY", PEK_MODES)["KeyArn"]
    for arn in (pvk, pek):
        east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST, EU])
        wait_synchronized(east.control, arn, [WEST, EU])
    pan = "1122334455667788"
    block = psec.des.encrypt_tdes_ecb(PEK, psec.pinblock.encode_pinblock_iso_0("4524", pan)).hex().upper()
    random_pin = east.data.generate_pin_data(
        GenerationKeyIdentifier=pvk,
        EncryptionKeyIdentifier=pek,
        GenerationAttributes={"VisaPin": {"PinVerificationKeyIndex": 1}},
        PinBlockFormat="ISO_FORMAT_0",
        PrimaryAccountNumber=pan,
    )
    for name in (EAST, WEST, EU):
        data = regions[name].data
        local_pvk, local_pek = replica_arn(pvk, name), replica_arn(pek, name)
        out = data.generate_pin_data(
            GenerationKeyIdentifier=local_pvk,
            EncryptionKeyIdentifier=local_pek,
            GenerationAttributes={
                "VisaPinVerificationValue": {"EncryptedPinBlock": block, "PinVerificationKeyIndex": 3}
            },
            PinBlockFormat="ISO_FORMAT_0",
            PrimaryAccountNumber=pan,
        )
        assert out["PinData"] == {"VerificationValue": "4021"} and out["GenerationKeyArn"] == local_pvk
        assert out["GenerationKeyCheckValue"] == "08D7B4"
        # The PIN and PVV generated in us-east-1 verify against each replica.
        data.verify_pin_data(
            VerificationKeyIdentifier=local_pvk,
            EncryptionKeyIdentifier=local_pek,
            VerificationAttributes={
                "VisaPin": {
                    "PinVerificationKeyIndex": 1,
                    "VerificationValue": random_pin["PinData"]["VerificationValue"],
                }
            },
            PinBlockFormat="ISO_FORMAT_0",
            EncryptedPinBlock=random_pin["EncryptedPinBlock"],
            PrimaryAccountNumber=pan,
        )


# --- region defaults and precedence -------------------------------------------------------------------


@pytest.fixture
def canada(repl) -> Iterator[Region]:
    """ca-central-1 as the calling region, its defaults cleared afterwards."""
    region = Region(repl, "ca-central-1")
    yield region
    enabled = region.control.get_default_key_replication_regions()["EnabledReplicationRegions"]
    if enabled:
        region.control.disable_default_key_replication_regions(ReplicationRegions=enabled)


def test_region_defaults_per_calling_region(canada, regions) -> None:
    control = canada.control
    assert control.get_default_key_replication_regions()["EnabledReplicationRegions"] == []
    before = create_cvk(canada)
    assert "UsingDefaultReplicationRegions" not in before and "MultiRegionKeyType" not in before

    enabled = control.enable_default_key_replication_regions(ReplicationRegions=[WEST, EU])
    assert enabled["EnabledReplicationRegions"] == [WEST, EU]
    again = control.enable_default_key_replication_regions(ReplicationRegions=[EU, AP])
    assert again["EnabledReplicationRegions"] == [WEST, EU, AP]  # a union, in order of enabling
    assert control.get_default_key_replication_regions()["EnabledReplicationRegions"] == [WEST, EU, AP]
    # Each region has its own settings.
    assert regions[EAST].control.get_default_key_replication_regions()["EnabledReplicationRegions"] == []

    by_default = create_cvk(canada)
    assert by_default["UsingDefaultReplicationRegions"] is True
    assert statuses(by_default) == dict.fromkeys([WEST, EU, AP], "IN_PROGRESS")
    wait_synchronized(control, by_default["KeyArn"], [WEST, EU, AP])
    replica = regions[AP].key(replica_arn(by_default["KeyArn"], AP))
    assert replica["UsingDefaultReplicationRegions"] is True and replica["PrimaryRegion"] == "ca-central-1"
    # Keys created before the defaults are not replicated.
    assert "ReplicationStatus" not in canada.key(before["KeyArn"])

    # Key-level settings take precedence over the region's.
    explicit = create_cvk(canada, ReplicationRegions=[EAST])
    assert statuses(explicit) == {EAST: "IN_PROGRESS"} and explicit["UsingDefaultReplicationRegions"] is False
    nowhere = create_cvk(canada, ReplicationRegions=[])
    assert "MultiRegionKeyType" not in nowhere and "ReplicationStatus" not in nowhere
    assert nowhere["UsingDefaultReplicationRegions"] is False
    # Asymmetric keys do not replicate: with only the defaults, created unreplicated.
    rsa = control.create_key(Exportable=True, KeyAttributes=RSA_ATTRIBUTES)["Key"]
    assert "MultiRegionKeyType" not in rsa and rsa["UsingDefaultReplicationRegions"] is False
    # Changing a key's regions makes them its own settings.
    changed = control.add_key_replication_regions(
        KeyIdentifier=by_default["KeyArn"], ReplicationRegions=[EAST]
    )
    assert changed["Key"]["UsingDefaultReplicationRegions"] is False

    remaining = control.disable_default_key_replication_regions(ReplicationRegions=[WEST, "eu-west-3"])
    assert remaining["EnabledReplicationRegions"] == [EU, AP]  # a region not enabled is ignored
    emptied = control.disable_default_key_replication_regions(ReplicationRegions=[EU, AP])
    assert emptied["EnabledReplicationRegions"] == []
    after = create_cvk(canada)
    assert "UsingDefaultReplicationRegions" not in after and "ReplicationStatus" not in after
    wait_synchronized(control, explicit["KeyArn"], [EAST])


# --- the rules -------------------------------------------------------------------------------------------


def test_asymmetric_keys_do_not_replicate(repl, regions) -> None:
    east = regions[EAST]
    before = settled_snapshot(repl.data_dir)
    response = expect_error(
        east.control.create_key,
        "ValidationException",
        400,
        Exportable=True,
        KeyAttributes=RSA_ATTRIBUTES,
        ReplicationRegions=[WEST],
    )
    assert (
        "symmetric" in response["Error"]["Message"] and "ASYMMETRIC_KEY_PAIR" in response["Error"]["Message"]
    )
    assert full_snapshot(repl.data_dir) == before
    rsa = east.control.create_key(Exportable=True, KeyAttributes=RSA_ATTRIBUTES)["Key"]["KeyArn"]
    before = settled_snapshot(repl.data_dir)
    expect_error(
        east.control.add_key_replication_regions,
        "ValidationException",
        400,
        KeyIdentifier=rsa,
        ReplicationRegions=[WEST],
    )
    assert full_snapshot(repl.data_dir) == before


def _account_policy(arn: str) -> str:
    """A resource policy sharing the key with one other account (not public)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                    "Action": "payment-cryptography:GetKey",
                    "Resource": arn,
                }
            ],
        }
    )


def test_replica_is_read_only(repl, regions) -> None:
    """Every mutation of an RRK is ConflictException naming the PRK's region; an RRK cannot replicate."""
    arn = replicated_cvk(regions, [WEST])
    west = regions[WEST].control
    rrk = replica_arn(arn, WEST)
    mutations = [
        (west.delete_key, {"KeyIdentifier": rrk}),
        (west.restore_key, {"KeyIdentifier": rrk}),
        (west.start_key_usage, {"KeyIdentifier": rrk}),
        (west.stop_key_usage, {"KeyIdentifier": rrk}),
        (west.tag_resource, {"ResourceArn": rrk, "Tags": [{"Key": "k", "Value": "v"}]}),
        (west.untag_resource, {"ResourceArn": rrk, "TagKeys": ["k"]}),
        (west.add_key_replication_regions, {"KeyIdentifier": rrk, "ReplicationRegions": [AP]}),
        (west.remove_key_replication_regions, {"KeyIdentifier": rrk, "ReplicationRegions": [EAST]}),
        (west.put_resource_policy, {"ResourceArn": rrk, "Policy": _account_policy(rrk)}),
        (west.delete_resource_policy, {"ResourceArn": rrk}),
    ]
    before = settled_snapshot(repl.data_dir)
    for call, params in mutations:
        response = expect_error(call, "ConflictException", 400, **params)
        message = response["Error"]["Message"]
        assert "replica" in message and f"region {EAST}" in message, message
    assert full_snapshot(repl.data_dir) == before
    # Aliases are per-region resources: one in us-west-2 may name the replica.
    west.create_alias(AliasName="alias/read-only-test", KeyArn=rrk)
    assert regions[WEST].cvv2("alias/read-only-test") == regions[EAST].cvv2(arn)


def test_start_and_stop_usage_follow_the_primary(regions) -> None:
    east, west, eu = regions[EAST], regions[WEST], regions[EU]
    arn = replicated_cvk(regions, [WEST, EU])
    stopped = east.control.stop_key_usage(KeyIdentifier=arn)["Key"]
    assert stopped["Enabled"] is False and statuses(stopped) == {WEST: "IN_PROGRESS", EU: "IN_PROGRESS"}
    wait_synchronized(east.control, arn, [WEST, EU])
    for region in (west, eu):
        replica = region.key(replica_arn(arn, region.name))
        assert replica["Enabled"] is False and replica["UsageStopTimestamp"] == stopped["UsageStopTimestamp"]
        assert "UsageStartTimestamp" not in replica
        response = expect_error(
            region.data.generate_card_validation_data,
            "ValidationException",
            400,
            KeyIdentifier=replica["KeyArn"],
            PrimaryAccountNumber=VISA_PAN,
            GenerationAttributes=CVV2,
        )
        assert "disabled" in response["Error"]["Message"].lower() or "enabled" in response["Error"]["Message"]
    started = east.control.start_key_usage(KeyIdentifier=arn)["Key"]
    wait_synchronized(east.control, arn, [WEST, EU])
    for region in (west, eu):
        replica = region.key(replica_arn(arn, region.name))
        assert replica["Enabled"] is True and replica["UsageStartTimestamp"] == started["UsageStartTimestamp"]
        assert region.cvv2(replica["KeyArn"]) == east.cvv2(arn)


def test_tags_follow_the_primary(regions, hook) -> None:
    east, west = regions[EAST], regions[WEST]
    arn = replicated_cvk(regions, [WEST], Tags=[{"Key": "a", "Value": "1"}])
    hook.hold = {WEST}
    east.control.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}])
    assert statuses(east.key(arn)) == {WEST: "IN_PROGRESS"}
    replica = west.key(replica_arn(arn, WEST))
    assert replica["ReplicationStatus"] == {WEST: {"Status": "IN_PROGRESS"}}  # the replica knows it is behind
    assert west.control.list_tags_for_resource(ResourceArn=replica["KeyArn"])["Tags"] == [
        {"Key": "a", "Value": "1"}
    ]
    hook.hold = set()
    wait_synchronized(east.control, arn, [WEST])
    tags = west.control.list_tags_for_resource(ResourceArn=replica_arn(arn, WEST))["Tags"]
    assert tags == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    east.control.untag_resource(ResourceArn=arn, TagKeys=["a"])
    wait_synchronized(east.control, arn, [WEST])
    assert west.control.list_tags_for_resource(ResourceArn=replica_arn(arn, WEST))["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]


def test_delete_restore_and_purge_follow_the_primary(repl, regions) -> None:
    east, west, eu = regions[EAST], regions[WEST], regions[EU]
    arn = replicated_cvk(regions, [WEST, EU])
    west.control.create_alias(AliasName="alias/purge-follows", KeyArn=replica_arn(arn, WEST))
    deleted = east.control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)["Key"]
    assert deleted["KeyState"] == "DELETE_PENDING"
    wait_synchronized(east.control, arn, [WEST, EU])
    for region in (west, eu):
        replica = region.key(replica_arn(arn, region.name))
        assert replica["KeyState"] == "DELETE_PENDING" and replica["Enabled"] is False
        assert replica["DeletePendingTimestamp"] == deleted["DeletePendingTimestamp"]
        # A replica pending deletion is still read-only: RestoreKey goes to the primary.
        expect_error(region.control.restore_key, "ConflictException", 400, KeyIdentifier=replica["KeyArn"])
    restored = east.control.restore_key(KeyIdentifier=arn)["Key"]
    assert restored["KeyState"] == "CREATE_COMPLETE"
    wait_synchronized(east.control, arn, [WEST, EU])
    for region in (west, eu):
        replica = region.key(replica_arn(arn, region.name))
        assert replica["KeyState"] == "CREATE_COMPLETE" and "DeletePendingTimestamp" not in replica

    east.control.delete_key(KeyIdentifier=arn, DeleteKeyInDays=3)
    wait_synchronized(east.control, arn, [WEST, EU])
    repl.clock.advance(dt.timedelta(days=3, hours=1))
    for region in (east, west, eu):
        local = replica_arn(arn, region.name)
        wait_for(lambda r=region, a=local: a in listed(r), lambda present: not present)
        response = expect_error(region.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=local)
        assert response["ResourceId"] == local
    assert west.control.get_alias(AliasName="alias/purge-follows")["Alias"] == {
        "AliasName": "alias/purge-follows"
    }


def test_remove_region_deletes_its_replica(regions, hook) -> None:
    east, west, eu = regions[EAST], regions[WEST], regions[EU]
    arn = replicated_cvk(regions, [WEST, EU])
    eu.control.create_alias(AliasName="alias/removed-region", KeyArn=replica_arn(arn, EU))
    hook.hold = {EU}
    removed = east.control.remove_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[EU])["Key"]
    assert statuses(removed) == {WEST: "SYNCHRONIZED", EU: "DELETE_IN_PROGRESS"}
    assert removed["UsingDefaultReplicationRegions"] is False
    # Removing it again while it is being removed changes nothing; adding it back must wait.
    again = east.control.remove_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[EU])["Key"]
    assert statuses(again) == statuses(removed)
    response = expect_error(
        east.control.add_key_replication_regions,
        "ConflictException",
        400,
        KeyIdentifier=arn,
        ReplicationRegions=[EU],
    )
    assert EU in response["Error"]["Message"]
    assert eu.key(replica_arn(arn, EU))["KeyState"] == "CREATE_COMPLETE"  # still there, held
    wait_for(lambda: hook.calls, lambda calls: (EU, "delete") in calls)
    hook.hold = set()
    wait_synchronized(east.control, arn, [WEST])
    expect_error(eu.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica_arn(arn, EU))
    assert eu.control.get_alias(AliasName="alias/removed-region")["Alias"] == {
        "AliasName": "alias/removed-region"
    }
    assert replica_arn(arn, EU) not in listed(eu)
    assert west.key(replica_arn(arn, WEST))["MultiRegionKeyType"] == "REPLICA"
    # Removing the last region makes it a single-region key again; it may be added back.
    east.control.remove_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST])
    single = wait_for(lambda: east.key(arn), lambda k: "ReplicationStatus" not in k)
    assert "MultiRegionKeyType" not in single and single["UsingDefaultReplicationRegions"] is False
    expect_error(west.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica_arn(arn, WEST))
    east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[EU])
    wait_synchronized(east.control, arn, [EU])
    assert eu.cvv2(replica_arn(arn, EU)) == east.cvv2(arn)


def test_failed_copy_shows_failed_and_is_retried(regions, hook) -> None:
    east, west = regions[EAST], regions[WEST]
    hook.fail = {WEST: "Region us-west-2 is unreachable"}
    arn = create_cvk(east, ReplicationRegions=[WEST, EU])["KeyArn"]
    failed = wait_for(lambda: east.key(arn), lambda k: statuses(k) == {WEST: "FAILED", EU: "SYNCHRONIZED"})
    assert failed["ReplicationStatus"][WEST]["StatusMessage"] == "Region us-west-2 is unreachable. Retrying."
    # Retried with backoff (50 ms, 100 ms, …): the hook sees the copy again.
    wait_for(lambda: hook.calls.count((WEST, "copy")), lambda n: n >= 3)
    expect_error(west.control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=replica_arn(arn, WEST))
    hook.fail = {}
    wait_synchronized(east.control, arn, [WEST, EU])
    assert west.key(replica_arn(arn, WEST))["KeyCheckValue"] == east.key(arn)["KeyCheckValue"]


def test_adding_regions_to_an_existing_key(regions, hook) -> None:
    east = regions[EAST]
    arn = create_cvk(east)["KeyArn"]
    assert "MultiRegionKeyType" not in east.key(arn)
    key = east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST])["Key"]
    assert key["MultiRegionKeyType"] == "PRIMARY" and statuses(key) == {WEST: "IN_PROGRESS"}
    wait_synchronized(east.control, arn, [WEST])
    # A region already replicating is left alone; a FAILED one is retried at once.
    hook.fail = {EU: "down"}
    east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[WEST, EU])
    wait_for(lambda: east.key(arn), lambda k: statuses(k) == {WEST: "SYNCHRONIZED", EU: "FAILED"})
    # Still failing while it is added again: else the replicator's own retry may succeed first.
    retried = east.control.add_key_replication_regions(KeyIdentifier=arn, ReplicationRegions=[EU])["Key"]
    assert statuses(retried) == {WEST: "SYNCHRONIZED", EU: "IN_PROGRESS"}
    hook.fail = {}
    wait_synchronized(east.control, arn, [WEST, EU])
    # A key pending deletion takes no new regions and loses none (ConflictException).
    east.control.delete_key(KeyIdentifier=arn)
    for call in (east.control.add_key_replication_regions, east.control.remove_key_replication_regions):
        response = expect_error(call, "ConflictException", 400, KeyIdentifier=arn, ReplicationRegions=[EU])
        assert "DELETE_PENDING" in response["Error"]["Message"]
    east.control.restore_key(KeyIdentifier=arn)


# --- bad input ---------------------------------------------------------------------------------------------


BAD_REGIONS = [
    pytest.param(["sa-east-1"], "sa-east-1 is not a region this paycrypt deployment serves", id="not-served"),
    pytest.param([EAST], "cannot include us-east-1, the region of this request", id="own-region"),
    pytest.param([WEST, EU, WEST], "names us-west-2 more than once", id="duplicate"),
]


@pytest.mark.parametrize(("requested", "says"), BAD_REGIONS)
def test_bad_replication_regions(repl, regions, requested: list[str], says: str) -> None:
    control = regions[EAST].control
    arn = create_cvk(regions[EAST])["KeyArn"]
    calls = [
        (control.create_key, {"Exportable": True, "KeyAttributes": CVK_ATTRIBUTES}),
        (control.add_key_replication_regions, {"KeyIdentifier": arn}),
        (control.enable_default_key_replication_regions, {}),
    ]
    before = settled_snapshot(repl.data_dir)
    for call, params in calls:
        response = expect_error(call, "ValidationException", 400, ReplicationRegions=requested, **params)
        assert says in response["Error"]["Message"], response["Error"]["Message"]
    assert full_snapshot(repl.data_dir) == before


def test_bad_region_lists_elsewhere(repl, regions) -> None:
    control = regions[EAST].control
    arn = replicated_cvk(regions, [WEST])
    cases = [
        (
            control.add_key_replication_regions,
            {"KeyIdentifier": arn, "ReplicationRegions": []},
            "at least one",
        ),
        (
            control.remove_key_replication_regions,
            {"KeyIdentifier": arn, "ReplicationRegions": []},
            "at least one",
        ),
        (control.enable_default_key_replication_regions, {"ReplicationRegions": []}, "at least one"),
        (control.disable_default_key_replication_regions, {"ReplicationRegions": []}, "at least one"),
        (control.disable_default_key_replication_regions, {"ReplicationRegions": ["sa-east-1"]}, "sa-east-1"),
        (
            control.remove_key_replication_regions,
            {"KeyIdentifier": arn, "ReplicationRegions": [EU]},
            "eu-west-1 is not a replication region of key",
        ),
        (
            control.remove_key_replication_regions,
            {"KeyIdentifier": arn, "ReplicationRegions": [WEST, WEST]},
            "more than once",
        ),
        # The model's Region pattern, checked by the wire layer.
        (
            control.create_key,
            {"Exportable": True, "KeyAttributes": CVK_ATTRIBUTES, "ReplicationRegions": ["US-WEST-2"]},
            "ReplicationRegions",
        ),
    ]
    before = settled_snapshot(repl.data_dir)
    for call, params, says in cases:
        response = expect_error(call, "ValidationException", 400, **params)
        assert says in response["Error"]["Message"], response["Error"]["Message"]
    expect_error(
        control.add_key_replication_regions,
        "ResourceNotFoundException",
        400,
        KeyIdentifier="alias/no-such-key",
        ReplicationRegions=[WEST],
    )
    assert full_snapshot(repl.data_dir) == before


def test_request_signed_for_a_region_not_served_is_refused(repl) -> None:
    before = settled_snapshot(repl.data_dir)
    control = repl.client("payment-cryptography", region="sa-east-1")
    data = repl.client("payment-cryptography-data", region="sa-east-1")
    response = expect_error(control.list_keys, "InvalidSignatureException", 403)
    assert response["Error"]["Message"] == "Credential should be scoped to a valid region, not 'sa-east-1'."
    expect_error(
        control.create_key, "InvalidSignatureException", 403, Exportable=True, KeyAttributes=CVK_ATTRIBUTES
    )
    expect_error(
        data.generate_card_validation_data,
        "InvalidSignatureException",
        403,
        KeyIdentifier="alias/x",
        PrimaryAccountNumber=VISA_PAN,
        GenerationAttributes=CVV2,
    )
    assert full_snapshot(repl.data_dir) == before


# --- fail-over, as docs/usage/multi-region.md shows it ---------------------------------------------------


def test_failover_snippet(repl) -> None:
    [snippet] = code_blocks(page("usage/multi-region.md"), "python")
    snippet = snippet.replace("http://127.0.0.1:8443", repl.endpoint)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "usage/multi-region.md", "exec"), namespace)  # our own documentation
    assert namespace["cvv2_west"] == namespace["cvv2_east"]


def test_each_replication_is_an_audit_service_event(repl, regions) -> None:
    """The guide's CloudTrail example (seed-F §2.4 C-2): SynchronizeMultiRegionKey, an AwsServiceEvent."""
    arn = replicated_cvk(regions, [WEST])
    events = [event for _, event in audit_reader.read_events(repl.data_dir)]
    mine = [e for e in events if e.get("serviceEventDetails", {}).get("keyArn") == arn]
    assert mine, "no SynchronizeMultiRegionKey event"
    event = mine[-1]
    assert event["nodeId"] == repl.parts.audit.ident.node_id and event["workerId"] == 0  # chain.CHAIN_FIELDS
    assert {k: v for k, v in event.items() if k not in ("eventTime", "eventID", *CHAIN_FIELDS)} == {
        "eventVersion": "1.11",
        "userIdentity": {"accountId": "111122223333", "invokedBy": "payment-cryptography.amazonaws.com"},
        "eventSource": "payment-cryptography.amazonaws.com",
        "eventName": "SynchronizeMultiRegionKey",
        "awsRegion": EAST,
        "sourceIPAddress": "payment-cryptography.amazonaws.com",
        "userAgent": "payment-cryptography.amazonaws.com",
        "requestParameters": None,
        "responseElements": None,
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "serviceEventDetails": {"keyArn": arn, "replicationRegion": WEST},
        "eventCategory": "Management",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["eventTime"])


@pytest.mark.cli
def test_aws_cli_replication_commands(repl, tmp_path) -> None:
    """The guide's commands (seed-A EX-06, EX-17 to EX-20, corrected to a caller in eu-west-3)."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": repl.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_PAGER": "",
    }

    def aws(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [AWS, "payment-cryptography", *args, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    enabled = aws("enable-default-key-replication-regions", "--replication-regions", "us-east-2", "us-west-2")
    assert enabled == {"EnabledReplicationRegions": ["us-east-2", "us-west-2"]}
    assert aws("get-default-key-replication-regions") == enabled
    assert aws("disable-default-key-replication-regions", "--replication-regions", "us-east-2") == {
        "EnabledReplicationRegions": ["us-west-2"]
    }
    aws("disable-default-key-replication-regions", "--replication-regions", "us-west-2")
    key = aws(
        "create-key",
        "--exportable",
        "--key-attributes",
        "KeyUsage=TR31_B0_BASE_DERIVATION_KEY,KeyClass=SYMMETRIC_KEY,KeyAlgorithm=TDES_3KEY,"
        "KeyModesOfUse={NoRestrictions=true}",
        "--replication-regions",
        "us-east-2",
    )["Key"]
    assert (
        key["MultiRegionKeyType"] == "PRIMARY"
        and key["ReplicationStatus"]["us-east-2"]["Status"] == "IN_PROGRESS"
    )
    arn = key["KeyArn"]
    added = aws("add-key-replication-regions", "--key-identifier", arn, "--replication-regions", "us-west-2")
    assert set(added["Key"]["ReplicationStatus"]) == {"us-east-2", "us-west-2"}
    wait_for(
        lambda: aws("get-key", "--key-identifier", arn)["Key"],
        lambda k: statuses(k) == {"us-east-2": "SYNCHRONIZED", "us-west-2": "SYNCHRONIZED"},
        seconds=30,
    )
    removed = aws(
        "remove-key-replication-regions", "--key-identifier", arn, "--replication-regions", "us-east-2"
    )
    assert removed["Key"]["ReplicationStatus"]["us-east-2"]["Status"] == "DELETE_IN_PROGRESS"
    wait_synchronized(repl.client("payment-cryptography", region="eu-west-3"), arn, ["us-west-2"])


def import_cvk(control: Any, **extra: Any) -> dict[str, Any]:
    """The known CVK imported as an RSA-OAEP KeyCryptogram under an import token (tests/kx_partner.py)."""
    params = control.get_parameters_for_import(
        KeyMaterialType="KEY_CRYPTOGRAM", WrappingKeyAlgorithm="RSA_4096", ReuseLastGeneratedToken=True
    )
    cryptogram = {
        "KeyAttributes": CVK_ATTRIBUTES,
        "Exportable": True,
        "ImportToken": params["ImportToken"],
        "WrappedKeyCryptogram": kp.rsa_wrap(kp.load_b64(params["WrappingKeyCertificate"]), CVK),
        "WrappingSpec": "RSA_OAEP_SHA_256",
    }
    return control.import_key(KeyMaterial={"KeyCryptogram": cryptogram}, **extra)["Key"]


def test_import_key_with_replication_regions_and_defaults(repl, regions) -> None:
    east = regions[EAST]
    imported = import_cvk(east.control, ReplicationRegions=[WEST])
    assert (imported["KeyOrigin"], imported["KeyCheckValue"]) == ("EXTERNAL", "08D7B4")
    assert statuses(imported) == {WEST: "IN_PROGRESS"} and imported["UsingDefaultReplicationRegions"] is False
    wait_synchronized(east.control, imported["KeyArn"], [WEST])
    assert regions[WEST].cvv2(replica_arn(imported["KeyArn"], WEST)) == "636"

    east.control.enable_default_key_replication_regions(ReplicationRegions=[EU])
    try:
        by_default = import_cvk(east.control)
        explicit = import_cvk(east.control, ReplicationRegions=[AP])
        root = kp.ca("RSA_2048", "Replication test root")
        before = settled_snapshot(repl.data_dir)
        response = expect_error(
            east.control.import_key,
            "ValidationException",
            400,
            KeyMaterial={
                "RootCertificatePublicKey": {
                    "KeyAttributes": {
                        "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                        "KeyClass": "PUBLIC_KEY",
                        "KeyAlgorithm": "RSA_2048",
                        "KeyModesOfUse": {"Verify": True},
                    },
                    "PublicKeyCertificate": root.b64,
                }
            },
            ReplicationRegions=[WEST],
        )
        assert "KeyClass is PUBLIC_KEY" in response["Error"]["Message"]
        assert full_snapshot(repl.data_dir) == before
    finally:
        east.control.disable_default_key_replication_regions(ReplicationRegions=[EU])
    assert (
        statuses(by_default) == {EU: "IN_PROGRESS"} and by_default["UsingDefaultReplicationRegions"] is True
    )
    assert statuses(explicit) == {AP: "IN_PROGRESS"} and explicit["UsingDefaultReplicationRegions"] is False
    wait_synchronized(east.control, by_default["KeyArn"], [EU])
    wait_synchronized(east.control, explicit["KeyArn"], [AP])
    assert regions[EU].cvv2(replica_arn(by_default["KeyArn"], EU)) == "636"
    assert regions[AP].cvv2(replica_arn(explicit["KeyArn"], AP)) == "636"


def test_replica_exports_like_its_primary(regions) -> None:
    """ExportKey of an RRK is allowed (not a change) and follows the PRK's export rules, including the
    TR-31 exportability an imported key arrived with (docs/decisions/key-exchange.md)."""
    east, west = regions[EAST], regions[WEST]
    root = kp.ca("RSA_2048", "Replication export root")
    root_arn = west.control.import_key(
        KeyMaterial={
            "RootCertificatePublicKey": {
                "KeyAttributes": {
                    "KeyUsage": "TR31_S0_ASYMMETRIC_KEY_FOR_DIGITAL_SIGNATURE",
                    "KeyClass": "PUBLIC_KEY",
                    "KeyAlgorithm": "RSA_2048",
                    "KeyModesOfUse": {"Verify": True},
                },
                "PublicKeyCertificate": root.b64,
            }
        }
    )["Key"]["KeyArn"]
    receiver = kp.leaf(root, name="Replication export receiver")
    material = {
        "KeyCryptogram": {
            "CertificateAuthorityPublicKeyIdentifier": root_arn,
            "WrappingKeyCertificate": receiver.b64,
        }
    }
    created = replicated_cvk(regions, [WEST])
    wrapped = west.control.export_key(ExportKeyIdentifier=replica_arn(created, WEST), KeyMaterial=material)
    clear = receiver.key.decrypt(
        bytes.fromhex(wrapped["WrappedKey"]["KeyMaterial"]), kp.oaep("RSA_OAEP_SHA_256")
    )
    assert kp.kcv_tdes(clear) == east.key(created)["KeyCheckValue"]
    # Imported by TR-31 with exportability E: key blocks only, on the replica as on the primary.
    imported = import_known_key_via_api(
        east.control, CVK, "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY
    )
    east.control.add_key_replication_regions(KeyIdentifier=imported["KeyArn"], ReplicationRegions=[WEST])
    wait_synchronized(east.control, imported["KeyArn"], [WEST])
    response = expect_error(
        west.control.export_key,
        "ValidationException",
        400,
        ExportKeyIdentifier=replica_arn(imported["KeyArn"], WEST),
        KeyMaterial=material,
    )
    assert "exportability E" in response["Error"]["Message"]

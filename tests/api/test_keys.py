"""Key lifecycle, aliases and tags through the real boto3 control-plane client."""

from __future__ import annotations

import datetime as dt

import pytest

from paycrypt.crypto import primitives
from tests.api.helpers import absent_key_arn, db_snapshot, expect_error
from tests.conftest import CVK_ATTRIBUTES

# Every heavy call these flows make runs off the event loop (tests/api/heavy_tripwire.py).
pytestmark = pytest.mark.usefixtures("heavy_off_loop")

MODES = {"Encrypt", "Decrypt", "Wrap", "Unwrap", "Generate", "Sign", "Verify", "DeriveKey", "NoRestrictions"}


def test_create_key_returns_full_key(server, control) -> None:
    key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
    assert key["KeyArn"].startswith("arn:aws:payment-cryptography:us-east-1:111122223333:key/")
    assert len(key["KeyArn"].rsplit("/", 1)[1]) == 16
    assert set(key["KeyAttributes"]["KeyModesOfUse"]) == MODES
    assert key["KeyAttributes"]["KeyModesOfUse"]["Generate"] is True
    assert key["KeyAttributes"]["KeyModesOfUse"]["Encrypt"] is False
    assert key["KeyState"] == "CREATE_COMPLETE"
    assert key["KeyOrigin"] == "AWS_PAYMENT_CRYPTOGRAPHY"
    assert key["KeyCheckValueAlgorithm"] == "ANSI_X9_24"
    assert len(key["KeyCheckValue"]) == 6
    assert key["Enabled"] is True and key["Exportable"] is True
    assert abs(key["CreateTimestamp"] - server.clock.now()) < dt.timedelta(minutes=1)
    assert key["UsageStartTimestamp"] == key["CreateTimestamp"]


@pytest.mark.parametrize(
    ("algorithm", "usage", "modes", "kcv_algorithm", "kcv_length"),
    [
        ("TDES_3KEY", "TR31_B0_BASE_DERIVATION_KEY", {"DeriveKey": True}, "ANSI_X9_24", 6),
        (
            "AES_256",
            "TR31_D0_SYMMETRIC_DATA_ENCRYPTION_KEY",
            {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
            "CMAC",
            6,
        ),
        ("AES_128", "TR31_K1_KEY_BLOCK_PROTECTION_KEY", {"NoRestrictions": True}, "CMAC", 6),
        ("HMAC_SHA512", "TR31_M7_HMAC_KEY", {"Generate": True, "Verify": True}, "HMAC", 6),
        ("TDES_2KEY", "TR31_P0_PIN_ENCRYPTION_KEY", {"Encrypt": True, "Wrap": True}, "ANSI_X9_24", 6),
        (
            "TDES_2KEY",
            "TR31_V2_VISA_PIN_VERIFICATION_KEY",
            {"Generate": True, "Verify": True},
            "ANSI_X9_24",
            6,
        ),
        ("TDES_2KEY", "TR31_M0_ISO_16609_MAC_KEY", {"Generate": True}, "ANSI_X9_24", 6),
        (
            "RSA_2048",
            "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
            {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
            "SHA_1",
            8,
        ),
        ("ECC_NIST_P256", "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT", {"DeriveKey": True}, "SHA_1", 8),
    ],
)
def test_create_each_key_family(control, algorithm, usage, modes, kcv_algorithm, kcv_length) -> None:
    key_class = "ASYMMETRIC_KEY_PAIR" if algorithm.startswith(("RSA", "ECC")) else "SYMMETRIC_KEY"
    attributes = {"KeyAlgorithm": algorithm, "KeyUsage": usage, "KeyClass": key_class, "KeyModesOfUse": modes}
    key = control.create_key(Exportable=False, KeyAttributes=attributes)["Key"]
    assert key["KeyCheckValueAlgorithm"] == kcv_algorithm
    assert len(key["KeyCheckValue"]) == kcv_length
    assert key["KeyAttributes"]["KeyAlgorithm"] == algorithm
    assert key["Exportable"] is False


def test_k3_keeps_derive_key_usage(control) -> None:
    attributes = {
        "KeyAlgorithm": "ECC_NIST_P256",
        "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
        "KeyClass": "ASYMMETRIC_KEY_PAIR",
        "KeyModesOfUse": {"DeriveKey": True},
    }
    key = control.create_key(
        Exportable=True, KeyAttributes=attributes, DeriveKeyUsage="TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    )["Key"]
    assert key["DeriveKeyUsage"] == "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
    assert control.get_key(KeyIdentifier=key["KeyArn"])["Key"]["DeriveKeyUsage"] == key["DeriveKeyUsage"]


def test_tdes_cmac_kcv_on_request(control) -> None:
    key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, KeyCheckValueAlgorithm="CMAC")[
        "Key"
    ]
    assert key["KeyCheckValueAlgorithm"] == "CMAC"


def test_created_disabled(control) -> None:
    key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, Enabled=False)["Key"]
    assert key["Enabled"] is False
    assert "UsageStartTimestamp" not in key and "UsageStopTimestamp" in key


def test_get_key_by_arn_alias_name_and_alias_arn(control, cvk) -> None:
    control.create_alias(AliasName="alias/get-key-test", KeyArn=cvk)
    alias_arn = cvk.split(":key/")[0] + ":alias/get-key-test"
    for identifier in (cvk, "alias/get-key-test", alias_arn):
        assert control.get_key(KeyIdentifier=identifier)["Key"]["KeyArn"] == cvk


def test_other_region_arn_not_found_other_account_arn_denied(control, cvk) -> None:
    other_region = cvk.replace("us-east-1", "us-west-2")
    response = expect_error(control.get_key, "ResourceNotFoundException", 400, KeyIdentifier=other_region)
    assert response["ResourceId"] == other_region
    # Another account's key ARN, shared with no one: AccessDenied (issue 12 item 8), even for the root user.
    other_account = cvk.replace("111122223333", "444455556666")
    response = expect_error(control.get_key, "AccessDeniedException", 400, KeyIdentifier=other_account)
    assert response["Error"]["Message"] == (
        "User: arn:aws:iam::111122223333:root is not authorized to perform: payment-cryptography:GetKey "
        f"on resource: {other_account} because no resource-based policy allows the "
        "payment-cryptography:GetKey action"
    )


def test_stop_and_start_usage(control, cvk) -> None:
    stopped = control.stop_key_usage(KeyIdentifier=cvk)["Key"]
    assert (
        stopped["Enabled"] is False
        and "UsageStopTimestamp" in stopped
        and "UsageStartTimestamp" not in stopped
    )
    started = control.start_key_usage(KeyIdentifier=cvk)["Key"]
    assert (
        started["Enabled"] is True
        and "UsageStartTimestamp" in started
        and "UsageStopTimestamp" not in started
    )


def test_delete_and_restore(server, control, cvk) -> None:
    before = server.clock.now()
    deleted = control.delete_key(KeyIdentifier=cvk)["Key"]
    assert deleted["KeyState"] == "DELETE_PENDING"
    assert deleted["Enabled"] is False
    assert abs(deleted["DeletePendingTimestamp"] - (before + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
    assert "UsageStopTimestamp" in deleted
    restored = control.restore_key(KeyIdentifier=cvk)["Key"]
    assert restored["KeyState"] == "CREATE_COMPLETE"
    assert restored["Enabled"] is False
    assert "DeletePendingTimestamp" not in restored
    assert restored["CreateTimestamp"] == deleted["CreateTimestamp"]


@pytest.mark.parametrize("days", [3, 180])
def test_delete_window_bounds_accepted(server, control, cvk, days) -> None:
    deleted = control.delete_key(KeyIdentifier=cvk, DeleteKeyInDays=days)["Key"]
    expected = server.clock.now() + dt.timedelta(days=days)
    assert abs(deleted["DeletePendingTimestamp"] - expected) < dt.timedelta(minutes=1)


@pytest.mark.parametrize("days", [2, 181])
def test_delete_window_out_of_bounds(server, control, cvk, days) -> None:
    before = db_snapshot(server.data_dir)
    expect_error(control.delete_key, "ValidationException", 400, KeyIdentifier=cvk, DeleteKeyInDays=days)
    assert db_snapshot(server.data_dir) == before


def test_pending_key_state_conflicts(server, control, cvk) -> None:
    control.create_alias(AliasName="alias/pending-conflicts", KeyArn=cvk)
    control.delete_key(KeyIdentifier=cvk)
    before = db_snapshot(server.data_dir)
    for call in (control.delete_key, control.start_key_usage, control.stop_key_usage):
        expect_error(call, "ConflictException", 400, KeyIdentifier=cvk)
    expect_error(
        control.tag_resource, "ConflictException", 400, ResourceArn=cvk, Tags=[{"Key": "a", "Value": "b"}]
    )
    expect_error(control.untag_resource, "ConflictException", 400, ResourceArn=cvk, TagKeys=["a"])
    expect_error(control.create_alias, "ConflictException", 400, AliasName="alias/to-pending", KeyArn=cvk)
    assert db_snapshot(server.data_dir) == before
    # still readable, and its alias can be pointed away
    assert control.get_key(KeyIdentifier="alias/pending-conflicts")["Key"]["KeyState"] == "DELETE_PENDING"
    assert control.list_tags_for_resource(ResourceArn=cvk)["Tags"] == []
    assert control.update_alias(AliasName="alias/pending-conflicts")["Alias"] == {
        "AliasName": "alias/pending-conflicts"
    }


def test_restore_of_live_key_conflicts(control, cvk) -> None:
    expect_error(control.restore_key, "ConflictException", 400, KeyIdentifier=cvk)


def test_list_keys_state_filter_and_pages(control) -> None:
    arns = [
        control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"] for _ in range(5)
    ]
    control.delete_key(KeyIdentifier=arns[0])
    pages = control.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2})
    listed = [key["KeyArn"] for page in pages for key in page["Keys"]]
    assert len(listed) == len(set(listed))
    assert set(arns) <= set(listed)
    pending = [
        k["KeyArn"]
        for p in control.get_paginator("list_keys").paginate(KeyState="DELETE_PENDING")
        for k in p["Keys"]
    ]
    assert arns[0] in pending and arns[1] not in pending
    first = control.list_keys(MaxResults=1)
    assert len(first["Keys"]) == 1 and "NextToken" in first


def test_bad_next_token(control) -> None:
    expect_error(control.list_keys, "ValidationException", 400, NextToken="not-a-token")
    token = control.list_aliases(MaxResults=1).get("NextToken")
    if token:
        expect_error(control.list_keys, "ValidationException", 400, NextToken=token)


def test_alias_lifecycle(server, control, cvk) -> None:
    created = control.create_alias(AliasName="alias/life/cycle_1", KeyArn=cvk)["Alias"]
    assert created == {"AliasName": "alias/life/cycle_1", "KeyArn": cvk}
    assert control.get_alias(AliasName="alias/life/cycle_1")["Alias"] == created
    expect_error(control.create_alias, "ConflictException", 400, AliasName="alias/life/cycle_1", KeyArn=cvk)
    other = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    moved = control.update_alias(AliasName="alias/life/cycle_1", KeyArn=other)["Alias"]
    assert moved["KeyArn"] == other
    control.delete_alias(AliasName="alias/life/cycle_1")
    expect_error(control.get_alias, "ResourceNotFoundException", 400, AliasName="alias/life/cycle_1")
    expect_error(control.delete_alias, "ResourceNotFoundException", 400, AliasName="alias/life/cycle_1")
    expect_error(control.update_alias, "ResourceNotFoundException", 400, AliasName="alias/life/cycle_1")


def test_keyless_alias_does_not_resolve(control) -> None:
    assert control.create_alias(AliasName="alias/keyless")["Alias"] == {"AliasName": "alias/keyless"}
    expect_error(control.get_key, "ResourceNotFoundException", 400, KeyIdentifier="alias/keyless")


def test_list_aliases_filter_and_pages(control, cvk) -> None:
    names = [f"alias/page-{cvk[-6:]}-{i}" for i in range(5)]
    for name in names:
        control.create_alias(AliasName=name, KeyArn=cvk)
    filtered = [
        a
        for p in control.get_paginator("list_aliases").paginate(KeyArn=cvk, PaginationConfig={"PageSize": 2})
        for a in p["Aliases"]
    ]
    assert [a["AliasName"] for a in filtered] == sorted(names)
    everything = [
        a["AliasName"] for p in control.get_paginator("list_aliases").paginate() for a in p["Aliases"]
    ]
    assert set(names) <= set(everything) and len(everything) == len(set(everything))


def test_tags(control) -> None:
    tags = [{"Key": "Project", "Value": "Alpha"}, {"Key": "BIN", "Value": "123456"}]
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, Tags=tags)["Key"]["KeyArn"]
    assert control.list_tags_for_resource(ResourceArn=arn)["Tags"] == tags
    control.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "Project", "Value": "Noe"}, {"Key": "Owner", "Value": "x"}]
    )
    got = {t["Key"]: t["Value"] for t in control.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert got == {"Project": "Noe", "BIN": "123456", "Owner": "x"}
    control.untag_resource(ResourceArn=arn, TagKeys=["Project", "Absent"])
    got = {t["Key"] for t in control.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert got == {"BIN", "Owner"}
    pages = control.get_paginator("list_tags_for_resource").paginate(
        ResourceArn=arn, PaginationConfig={"PageSize": 1}
    )
    assert [t["Key"] for p in pages for t in p["Tags"]] == ["BIN", "Owner"]


def test_tag_limits(server, control, cvk) -> None:
    before = db_snapshot(server.data_dir)
    expect_error(control.tag_resource, "ValidationException", 400, ResourceArn=cvk, Tags=[])
    expect_error(control.untag_resource, "ValidationException", 400, ResourceArn=cvk, TagKeys=[])
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    expect_error(control.tag_resource, "ServiceQuotaExceededException", 400, ResourceArn=cvk, Tags=too_many)
    expect_error(
        control.tag_resource,
        "ValidationException",
        400,
        ResourceArn=cvk,
        Tags=[{"Key": "aws:x", "Value": "v"}],
    )
    expect_error(
        control.tag_resource,
        "ValidationException",
        400,
        ResourceArn=cvk,
        Tags=[{"Key": "k" * 129, "Value": "v"}],
    )
    expect_error(
        control.tag_resource,
        "ResourceNotFoundException",
        400,
        ResourceArn=absent_key_arn(cvk),
        Tags=[{"Key": "a", "Value": "b"}],
    )
    assert db_snapshot(server.data_dir) == before
    control.tag_resource(ResourceArn=cvk, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    expect_error(
        control.tag_resource,
        "ServiceQuotaExceededException",
        400,
        ResourceArn=cvk,
        Tags=[{"Key": "one-more", "Value": "v"}],
    )


def test_created_key_material_is_real(server, control) -> None:
    """The KCV the API reports is the KCV of the sealed material (read back through the vault)."""
    key = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]
    record = server.parts.service.store.get_key(key["KeyArn"])
    material = server.parts.service.keycache.material(record)
    assert primitives.tdes_ecb_encrypt(material, bytes(8))[:3].hex().upper() == key["KeyCheckValue"]
    assert primitives.has_odd_parity(material)
    assert material.hex().upper() not in record.key_block.upper()

"""Identity and access through boto3 (issue 8 item 2): the guide's policy examples as acceptance
tests (seed-F §1.9 cases 1–17 and 26; 18–25 need VPC endpoints, which do not apply to a
self-hosted service), one case per condition operator, NotAction/NotResource, policy variables,
explicit deny, operations that name several keys, tag-based access, roles, and the denial itself
(AWS's message, 403 on the data plane, 400 on the control plane, nothing stored, audited).

Each principal is a user or role of the credentials file of tests/api/iam_support.py, signing
with its own access key; the keys they are tested on are made by the account's root user.
"""

from __future__ import annotations

from typing import Any

import pytest

from paycrypt.audit import reader
from tests.api.helpers import db_snapshot, expect_error
from tests.api.iam_support import (
    CVK,
    CVV2,
    D0,
    KEK_GOOD,
    KEK_OTHER,
    MULTI_A,
    MULTI_B,
    P3_KEY,
    P4_DENIED,
    PAN,
    RESERVED_KEY,
    A,
    IamServer,
    create_key_with_id,
    denied,
)

KEK = {
    "KeyAlgorithm": "TDES_3KEY",
    "KeyUsage": "TR31_K0_KEY_ENCRYPTION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}
ECB = {"Symmetric": {"Mode": "ECB"}}
BLOCK = "0011223344556677"


def tags(**values: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in values.items()]


@pytest.fixture(scope="module")
def keys(iam: IamServer) -> dict[str, str]:
    """The keys the cases use, made by account 111122223333's root user."""
    root = iam.client("root")
    east2, west2 = iam.client("root", region="us-east-2"), iam.client("root", region="us-west-2")
    made: dict[str, str] = {}
    made["p3"] = create_key_with_id(east2, P3_KEY, CVK)
    east2.create_alias(AliasName="alias/x", KeyArn=made["p3"])
    made["p4-denied"] = create_key_with_id(east2, P4_DENIED, CVK)
    made["east2-other"] = east2.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    made["west2"] = west2.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    for name, tagged in {
        "alpha": tags(Project="Alpha"),
        "alpha-lower": tags(Project="alpha"),
        "untagged-d0": [],
        "reserved": tags(Type="Reserved"),
        "other-type": tags(Type="Other"),
    }.items():
        made[name] = root.create_key(
            Exportable=True, KeyAttributes=D0, **({"Tags": tagged} if tagged else {})
        )["Key"]["KeyArn"]
    made["alpha-east2"] = east2.create_key(Exportable=True, KeyAttributes=D0, Tags=tags(Project="Alpha"))[
        "Key"
    ]["KeyArn"]
    for name, tagged in {
        "env-prod": tags(Env="prod"),
        "env-test": tags(Env="test"),
        "team-pay": tags(Team="payments"),
        "team-risk": tags(Team="risk"),
        "owner-alice": tags(Owner="alice"),
        "owner-bob": tags(Owner="bob"),
        "plain": [],
        "team-a": [],
        "project-x": tags(Project="X"),
        "project-y": tags(Project="Y"),
    }.items():
        made[name] = root.create_key(
            Exportable=True, KeyAttributes=CVK, **({"Tags": tagged} if tagged else {})
        )["Key"]["KeyArn"]
    root.create_alias(AliasName="alias/team-a-cvk", KeyArn=made["team-a"])
    root.create_alias(AliasName="alias/alice-cvk", KeyArn=made["owner-alice"])
    root.create_alias(AliasName="alias/bob-cvk", KeyArn=made["owner-bob"])
    made["reserved-cvk"] = create_key_with_id(root, RESERVED_KEY, CVK)
    made["multi-a"] = create_key_with_id(root, MULTI_A, D0)
    made["multi-b"] = create_key_with_id(root, MULTI_B, D0)
    made["kek-good"] = create_key_with_id(root, KEK_GOOD, KEK)
    made["kek-other"] = create_key_with_id(root, KEK_OTHER, KEK)
    return made


def generate(data: Any, key: str) -> str:
    return data.generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def verify(data: Any, key: str, value: str) -> None:
    data.verify_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=value
    )


def encrypt(data: Any, key: str) -> str:
    return data.encrypt_data(KeyIdentifier=key, PlainText=BLOCK, EncryptionAttributes=ECB)["CipherText"]


def decrypt(data: Any, key: str) -> str:
    return data.decrypt_data(KeyIdentifier=key, CipherText=BLOCK, DecryptionAttributes=ECB)["PlainText"]


def re_encrypt(data: Any, incoming: str, outgoing: str) -> str:
    return data.re_encrypt_data(
        IncomingKeyIdentifier=incoming,
        OutgoingKeyIdentifier=outgoing,
        CipherText=BLOCK,
        IncomingEncryptionAttributes=ECB,
        OutgoingEncryptionAttributes=ECB,
    )["CipherText"]


def data_denied(call: Any, *args: Any, **kwargs: Any) -> str:
    response = denied(call, *args, **kwargs)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return response["Error"]["Message"]


def control_denied(call: Any, *args: Any, **kwargs: Any) -> str:
    response = denied(call, *args, **kwargs)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]["Message"]


# --- seed-F §1.9: the guide's examples -----------------------------------------------------------------


def test_case_1_p2_allows_any_action_on_any_key(iam: IamServer, keys: dict[str, str]) -> None:
    control, data = iam.client("p2"), iam.data("p2")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    verify(data, arn, generate(data, arn))
    assert decrypt(data, keys["alpha"])
    control.tag_resource(ResourceArn=arn, Tags=tags(Any="thing"))
    control.delete_key(KeyIdentifier=arn)
    assert (
        iam.client("p2", region="us-east-2").get_key(KeyIdentifier=keys["p3"])["Key"]["KeyArn"] == keys["p3"]
    )


def test_cases_2_to_4_p3_allows_two_operations_on_one_key(iam: IamServer, keys: dict[str, str]) -> None:
    data, control = iam.data("p3", "us-east-2"), iam.client("p3", region="us-east-2")
    value = generate(data, keys["p3"])  # case 2
    verify(data, "alias/x", value)  # case 4: through an alias, decided on the key it names
    verify(data, f"arn:aws:payment-cryptography:us-east-2:{A}:alias/x", value)
    before = db_snapshot(iam.data_dir)
    message = control_denied(control.delete_key, KeyIdentifier=keys["p3"])  # case 3
    assert message == (
        f"User: arn:aws:iam::{A}:user/p3 is not authorized to perform: payment-cryptography:DeleteKey "
        f"on resource: {keys['p3']} because no identity-based policy allows the "
        "payment-cryptography:DeleteKey action"
    )
    control_denied(
        control.export_key,
        ExportKeyIdentifier=keys["p3"],
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["kek-good"]}},
    )
    data_denied(generate, data, keys["east2-other"])  # another key
    assert db_snapshot(iam.data_dir) == before


def test_cases_5_to_7_p4_explicit_deny_on_one_key(iam: IamServer, keys: dict[str, str]) -> None:
    data = iam.data("p4", "us-east-2")
    message = data_denied(generate, data, keys["p4-denied"])  # case 5: explicit deny
    assert message.endswith("with an explicit deny in an identity-based policy")
    assert f"on resource: {keys['p4-denied']}" in message
    value = generate(iam.data("root", "us-east-2"), keys["p4-denied"])
    verify(data, keys["p4-denied"], value)  # case 6: Verify is not denied
    generate(data, keys["east2-other"])  # case 7: any other us-east-2 key
    data_denied(generate, iam.data("p4", "us-west-2"), keys["west2"])  # ... not us-west-2
    # The guide's literal denied id has 15 characters, which the model's KeyArn pattern refuses.
    literal = f"arn:aws:payment-cryptography:us-east-2:{A}:key/kwapwa6qaiFlw2h"
    expect_error(generate, "ValidationException", 400, data, literal)


def test_cases_8_to_12_tag_permissions(iam: IamServer, keys: dict[str, str]) -> None:
    t2, t3 = iam.client("t2"), iam.client("t3")
    created = t2.create_key(Exportable=True, KeyAttributes=CVK, Tags=tags(Project="Alpha"))["Key"]  # case 8
    assert iam.client("root").list_tags_for_resource(ResourceArn=created["KeyArn"])["Tags"] == tags(
        Project="Alpha"
    )
    target = keys["plain"]
    t3.tag_resource(ResourceArn=target, Tags=tags(Project="X9"))  # case 9
    before = db_snapshot(iam.data_dir)
    message = control_denied(t3.tag_resource, ResourceArn=target, Tags=tags(Project="X9", Env="Y"))  # case 10
    assert "payment-cryptography:TagResource" in message
    control_denied(t3.untag_resource, ResourceArn=target, TagKeys=["Owner"])  # case 11
    denied_create = control_denied(
        t3.create_key, Exportable=True, KeyAttributes=CVK, Tags=tags(Env="Y")
    )  # 12
    assert "payment-cryptography:TagResource" in denied_create  # the dependent action is what fails
    assert db_snapshot(iam.data_dir) == before
    t3.untag_resource(ResourceArn=target, TagKeys=["Project"])  # case 11
    t3.create_key(Exportable=True, KeyAttributes=CVK, Tags=tags(Project="Z"))


def test_case_13_t4_resource_tag_in_one_region(iam: IamServer, keys: dict[str, str]) -> None:
    data = iam.data("t4")
    assert decrypt(data, keys["alpha"])
    data_denied(decrypt, data, keys["alpha-lower"])  # tag values are case-sensitive
    data_denied(decrypt, data, keys["untagged-d0"])
    data_denied(decrypt, iam.data("t4", "us-east-2"), keys["alpha-east2"])
    data_denied(encrypt, data, keys["alpha"])  # only DecryptData


def test_cases_14_to_17_t5_deny_on_tags(iam: IamServer, keys: dict[str, str]) -> None:
    t5, fixed = iam.data("t5"), iam.data("t5-fixed")
    for data in (t5, fixed):
        assert data_denied(encrypt, data, keys["reserved"]).endswith(
            "explicit deny in an identity-based policy"
        )
        assert encrypt(data, keys["other-type"])  # case 15
        data_denied(re_encrypt, data, keys["reserved"], keys["other-type"])  # case 17: ReEncrypt* covers it
    assert encrypt(t5, keys["untagged-d0"])  # case 16 as written: the KMS ARN never matches
    data_denied(encrypt, fixed, keys["untagged-d0"])  # case 16 with the corrected ARN: Deny


def test_case_26_no_policy_no_access(iam: IamServer, keys: dict[str, str]) -> None:
    control, data = iam.client("nopolicy"), iam.data("nopolicy")
    before = db_snapshot(iam.data_dir)
    message = control_denied(control.list_keys)
    assert message == (
        f"User: arn:aws:iam::{A}:user/nopolicy is not authorized to perform: payment-cryptography:ListKeys "
        "because no identity-based policy allows the payment-cryptography:ListKeys action"
    )
    control_denied(control.create_key, Exportable=True, KeyAttributes=CVK)
    control_denied(control.get_key, KeyIdentifier=keys["plain"])
    control_denied(
        control.get_key, KeyIdentifier=keys["plain"].replace("key/", "key/zz")
    )  # not there: denied first
    data_denied(generate, data, keys["plain"])
    assert db_snapshot(iam.data_dir) == before
    identity = iam.client("nopolicy", "sts").get_caller_identity()  # STS needs no permission
    assert identity["Arn"] == f"arn:aws:iam::{A}:user/nopolicy"


# --- each condition operator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "allowed", "refused"),
    [
        ("op-string-not-equals", ["env-test", "plain"], ["env-prod"]),
        ("op-string-like", ["team-pay"], ["team-risk", "plain"]),
        ("op-string-not-like", ["team-risk", "plain"], ["team-pay"]),
        ("op-ignore-case", [], ["plain"]),
        ("op-null", ["plain", "env-prod"], ["owner-alice"]),
        ("op-if-exists", ["plain", "env-test"], ["env-prod"]),
        ("op-for-any-value", ["team-a"], ["plain"]),
        ("notaction", ["plain", "env-prod"], []),
    ],
)
def test_get_key_conditions(
    iam: IamServer, keys: dict[str, str], who: str, allowed: list[str], refused: list[str]
) -> None:
    control = iam.client(who)
    for name in allowed:
        assert control.get_key(KeyIdentifier=keys[name])["Key"]["KeyArn"] == keys[name]
    for name in refused:
        control_denied(control.get_key, KeyIdentifier=keys[name])


def test_string_equals_ignore_case(iam: IamServer, keys: dict[str, str]) -> None:
    control = iam.client("op-ignore-case")
    assert control.get_key(KeyIdentifier=keys["alpha"])["Key"]["KeyArn"] == keys["alpha"]
    assert control.get_key(KeyIdentifier=keys["alpha-lower"])["Key"]["KeyArn"] == keys["alpha-lower"]


@pytest.mark.parametrize(
    ("who", "operation", "allowed"),
    [
        ("op-arn-like", "list_keys", True),
        ("op-arn-equals", "list_keys", False),
        ("op-bool", "list_keys", True),  # plain HTTP: aws:SecureTransport is false
        ("op-bool-tls", "list_keys", False),
        ("op-numeric", "list_keys", True),
        ("op-numeric-past", "list_keys", False),
        ("op-date", "list_aliases", True),
        ("op-date-past", "list_aliases", False),
        ("op-ip", "list_keys", True),  # the tests call from 127.0.0.1
        ("op-not-ip", "list_keys", False),
        ("op-principal-account", "list_keys", True),
    ],
)
def test_request_conditions(
    iam: IamServer, keys: dict[str, str], who: str, operation: str, allowed: bool
) -> None:
    call = getattr(iam.client(who), operation)
    if allowed:
        call()
    else:
        control_denied(call)


def test_service_condition_keys_on_create_and_request_alias(iam: IamServer, keys: dict[str, str]) -> None:
    control = iam.client("op-key-usage")
    control.create_key(Exportable=True, KeyAttributes=CVK)
    control_denied(control.create_key, Exportable=True, KeyAttributes=D0)
    data = iam.data("op-request-alias")
    generate(data, "alias/team-a-cvk")
    data_denied(generate, data, keys["team-a"])  # the same key by ARN: no RequestAlias


def test_policy_variables(iam: IamServer, keys: dict[str, str]) -> None:
    for me, mine, theirs in (("alice", "owner-alice", "owner-bob"), ("bob", "owner-bob", "owner-alice")):
        control, data = iam.client(me), iam.data(me)
        control.get_key(KeyIdentifier=keys[mine])
        generate(data, keys[mine])
        control_denied(control.get_key, KeyIdentifier=keys[theirs])
        data_denied(generate, data, keys[theirs])
        assert control.get_alias(AliasName=f"alias/{me}-cvk")["Alias"]["KeyArn"] == keys[mine]
        other = "bob" if me == "alice" else "alice"
        control_denied(control.get_alias, AliasName=f"alias/{other}-cvk")


def test_not_action_and_not_resource(iam: IamServer, keys: dict[str, str]) -> None:
    control = iam.client("notaction")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    control_denied(control.delete_key, KeyIdentifier=arn)
    control_denied(
        control.export_key,
        ExportKeyIdentifier=arn,
        KeyMaterial={"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["kek-good"]}},
    )
    data = iam.data("notresource")
    generate(data, keys["plain"])
    data_denied(generate, data, keys["reserved-cvk"])


def test_explicit_deny_beats_a_wildcard_allow(iam: IamServer, keys: dict[str, str]) -> None:
    control = iam.client("deny-delete")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    control.create_alias(AliasName="alias/deny-delete", KeyArn=arn)
    assert control_denied(control.delete_key, KeyIdentifier=arn).endswith(
        "explicit deny in an identity-based policy"
    )
    control_denied(control.delete_alias, AliasName="alias/deny-delete")
    assert control.get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "CREATE_COMPLETE"


# --- operations that name several keys -------------------------------------------------------------------


def test_re_encrypt_needs_both_keys(iam: IamServer, keys: dict[str, str]) -> None:
    one, both = iam.data("reencrypt-one"), iam.data("reencrypt-both")
    assert re_encrypt(one, keys["multi-a"], keys["multi-a"])
    message = data_denied(re_encrypt, one, keys["multi-a"], keys["multi-b"])
    assert f"on resource: {keys['multi-b']}" in message  # the key the policy does not cover
    data_denied(re_encrypt, one, keys["multi-b"], keys["multi-a"])
    assert re_encrypt(both, keys["multi-a"], keys["multi-b"])


def test_export_decided_on_the_wrapping_key(iam: IamServer, keys: dict[str, str]) -> None:
    control = iam.client("exporter")
    exported = keys["plain"]
    good = {"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["kek-good"]}}
    assert control.export_key(ExportKeyIdentifier=exported, KeyMaterial=good)["WrappedKey"]["KeyMaterial"]
    other = {"Tr31KeyBlock": {"WrappingKeyIdentifier": keys["kek-other"]}}
    control_denied(control.export_key, ExportKeyIdentifier=exported, KeyMaterial=other)


# --- tag-based access: Project=X ----------------------------------------------------------------------------


def test_project_tag_scopes_keys_and_guards_its_own_tag(iam: IamServer, keys: dict[str, str]) -> None:
    control, data = iam.client("projx"), iam.data("projx")
    value = generate(data, keys["project-x"])
    verify(data, keys["project-x"], value)
    control.get_key(KeyIdentifier=keys["project-x"])
    for other in ("project-y", "plain"):
        data_denied(generate, data, keys[other])
        control_denied(control.get_key, KeyIdentifier=keys[other])
    before = db_snapshot(iam.data_dir)
    control_denied(control.tag_resource, ResourceArn=keys["project-x"], Tags=tags(Project="Y"))
    control_denied(control.untag_resource, ResourceArn=keys["project-x"], TagKeys=["Project"])
    control_denied(control.tag_resource, ResourceArn=keys["project-y"], Tags=tags(Project="X"))
    assert db_snapshot(iam.data_dir) == before
    control.tag_resource(ResourceArn=keys["project-x"], Tags=tags(Env="test"))  # other tags are theirs
    control.untag_resource(ResourceArn=keys["project-x"], TagKeys=["Env"])
    # The admin may create Project=X keys and set Project to X only.
    admin = iam.client("projx-admin")
    made = admin.create_key(Exportable=True, KeyAttributes=CVK, Tags=tags(Project="X"))["Key"]["KeyArn"]
    generate(data, made)  # now a Project=X key for the project
    control_denied(admin.create_key, Exportable=True, KeyAttributes=CVK, Tags=tags(Project="Y"))
    control_denied(admin.create_key, Exportable=True, KeyAttributes=CVK)
    admin.tag_resource(ResourceArn=keys["project-y"], Tags=tags(Project="X"))
    generate(data, keys["project-y"])  # re-tagged into the project
    control_denied(admin.tag_resource, ResourceArn=keys["project-y"], Tags=tags(Project="Y"))
    iam.client("root").tag_resource(ResourceArn=keys["project-y"], Tags=tags(Project="Y"))
    data_denied(generate, data, keys["project-y"])  # the tag is read at each request


# --- principals ---------------------------------------------------------------------------------------------


def test_a_role_is_its_session(iam: IamServer, keys: dict[str, str]) -> None:
    identity = iam.client("operator", "sts").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{A}:assumed-role/Operator/night-shift"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(":night-shift")
    control = iam.client("operator")
    control.get_key(KeyIdentifier=keys["plain"])
    message = control_denied(control.list_keys)
    assert message.startswith(f"User: arn:aws:sts::{A}:assumed-role/Operator/night-shift is not authorized")


def test_root_user_needs_no_policy(iam: IamServer) -> None:
    identity = iam.client("root", "sts").get_caller_identity()
    assert (identity["Arn"], identity["UserId"]) == (f"arn:aws:iam::{A}:root", A)
    iam.client("root").list_keys()


def test_denials_are_audited_with_the_caller(iam: IamServer, keys: dict[str, str]) -> None:
    response = denied(iam.client("nopolicy").list_aliases)
    request_id = response["ResponseMetadata"]["RequestId"]
    iam.app.audit.sync()
    [event] = [e for _, e in reader.read_events(iam.data_dir) if e["requestID"] == request_id]
    assert event["errorCode"] == "AccessDeniedException" and event["eventName"] == "ListAliases"
    assert event["userIdentity"]["arn"] == f"arn:aws:iam::{A}:user/nopolicy"
    assert event["errorMessage"].startswith("User: arn:aws:iam::111122223333:user/nopolicy is not authorized")

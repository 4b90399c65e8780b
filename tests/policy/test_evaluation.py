"""The IAM policy engine (paycrypt.policy.evaluation), called directly.

Policies P-2…T-5 are the normalized copies in seed-F §1.8 of the guide's examples (guide lines
given there); the cases numbered like seed-F §1.9's table are its expected decisions (18–25 are
VPC-endpoint cases, which do not apply to a self-hosted service). Case 16 is tested both as the
guide prints T-5 (a kms ARN: the deny never matches) and with the ARN corrected (Deny).
The other cases follow the IAM User Guide's condition-operator and evaluation-logic rules.
"""

from __future__ import annotations

import copy
import datetime as dt
import time

import pytest

from paycrypt.policy import evaluation as pol
from paycrypt.policy.evaluation import (
    Effect,
    PolicyError,
    RequestCatalog,
    RequestContext,
    Requester,
    ResourceRef,
    build_context,
    evaluate,
    is_public,
    parse_policy,
)
from paycrypt.wire import models

CATALOG = RequestCatalog(models.load().services)  # what the server builds from the models it loads
ACTIONS = CATALOG.actions
describe = CATALOG.describe

ACCT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCT}:user/ExampleUser"
PC = "payment-cryptography:"
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def key_arn(key_id: str, region: str = "us-east-2", account: str = ACCT) -> str:
    return f"arn:aws:payment-cryptography:{region}:{account}:key/{key_id}"


def alias_arn(name: str, region: str = "us-east-2", account: str = ACCT) -> str:
    return f"arn:aws:payment-cryptography:{region}:{account}:{name}"


def key(
    key_id: str = "tqv5yij6wtxx64pi", region: str = "us-east-2", account: str = ACCT, **kw
) -> ResourceRef:
    return ResourceRef(arn=key_arn(key_id, region, account), account=account, **kw)


def ctx(action: str, *resources: ResourceRef, **kw) -> RequestContext:
    fields = {
        "principal_arn": USER,
        "principal_account": ACCT,
        "region": "us-east-2",
        "username": "ExampleUser",
        "current_time": NOW,
    }
    fields.update(kw)
    return RequestContext(action=PC + action if ":" not in action else action, resources=resources, **fields)


def decide(policies, action: str, *resources: ResourceRef, **kw) -> Effect:
    return evaluate(policies, ctx(action, *resources, **kw)).effect


ALLOW, DENY, IMPLICIT = Effect.ALLOW, Effect.EXPLICIT_DENY, Effect.IMPLICIT_DENY

# --- The guide's policies (seed-F §1.8, normalized JSON) -----------------------------------------

P2 = {  # L8829–8860
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["payment-cryptography:*"], "Resource": ["*"]}],
}
P3 = {  # L8862–8886
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "payment-cryptography:VerifyCardValidationData",
                "payment-cryptography:GenerateCardValidationData",
            ],
            "Resource": ["arn:aws:payment-cryptography:us-east-2:111122223333:key/kwapwa6qaif1lw2h"],
        }
    ],
}
P4 = {  # L8888–8923
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "payment-cryptography:VerifyCardValidationData",
                "payment-cryptography:GenerateCardValidationData",
            ],
            "Resource": ["arn:aws:payment-cryptography:us-east-2:111122223333:key/*"],
        },
        {
            "Effect": "Deny",
            "Action": ["payment-cryptography:GenerateCardValidationData"],
            "Resource": ["arn:aws:payment-cryptography:us-east-2:111122223333:key/kwapwa6qaiFlw2h"],
        },
    ],
}
T2 = {  # L3659–3689
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IAMPolicyCreateKeys",
            "Effect": "Allow",
            "Action": "payment-cryptography:CreateKey",
            "Resource": "*",
        },
        {
            "Sid": "IAMPolicyTags",
            "Effect": "Allow",
            "Action": [
                "payment-cryptography:TagResource",
                "payment-cryptography:UntagResource",
                "payment-cryptography:ListTagsForResource",
            ],
            "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
        },
    ],
}
T3 = {  # L3691–3737
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IAMPolicyCreateKey",
            "Effect": "Allow",
            "Action": "payment-cryptography:CreateKey",
            "Resource": "*",
        },
        {
            "Sid": "IAMPolicyViewAllTags",
            "Effect": "Allow",
            "Action": "payment-cryptography:ListTagsForResource",
            "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
        },
        {
            "Sid": "IAMPolicyManageTags",
            "Effect": "Allow",
            "Action": ["payment-cryptography:TagResource", "payment-cryptography:UntagResource"],
            "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "Project"}},
        },
    ],
}
T4 = {  # L3739–3783
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IAMPolicyWithResourceTag",
            "Effect": "Allow",
            "Action": ["payment-cryptography:DecryptData"],
            "Resource": "arn:aws:payment-cryptography:us-east-1:111122223333:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        }
    ],
}
_CRYPTO = [
    "payment-cryptography:EncryptData",
    "payment-cryptography:DecryptData",
    "payment-cryptography:ReEncrypt*",
]
T5 = {  # L3785–3842, kept as printed: the third statement names a kms ARN
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "IAMAllowCryptographicOperations",
            "Effect": "Allow",
            "Action": _CRYPTO,
            "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
        },
        {
            "Sid": "IAMDenyOnTag",
            "Effect": "Deny",
            "Action": _CRYPTO,
            "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/Type": "Reserved"}},
        },
        {
            "Sid": "IAMDenyNoTag",
            "Effect": "Deny",
            "Action": _CRYPTO,
            "Resource": "arn:aws:kms:*:111122223333:key/*",
            "Condition": {"Null": {"aws:ResourceTag/Type": "true"}},
        },
    ],
}
T5_FIXED = copy.deepcopy(T5)  # seed-F §1.8: the digest's corrected variant
T5_FIXED["Statement"][2]["Resource"] = "arn:aws:payment-cryptography:*:111122223333:key/*"

KWAP = "kwapwa6qaif1lw2h"  # P-3's key
KWAP_DENIED = "kwapwa6qaiFlw2h"  # P-4's denied key, a literal string (seed-F §1.8 note)


# --- seed-F §1.9, cases 1–17 and 26 -----------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_case_1_p2_allows_every_action(action) -> None:
    assert decide([P2], action, key()) is ALLOW
    assert decide([P2], action) is ALLOW  # resource-less form ("*")


SECTION_1_9 = [
    # (case, policies, action, resource, expected)
    ("2", [P3], "GenerateCardValidationData", key(KWAP), ALLOW),
    ("2b", [P3], "VerifyCardValidationData", key(KWAP), ALLOW),
    ("3", [P3], "DeleteKey", key(KWAP), IMPLICIT),
    ("3b", [P3], "ExportKey", key(KWAP), IMPLICIT),
    ("3c", [P3], "GenerateCardValidationData", key("tqv5yij6wtxx64pi"), IMPLICIT),
    (
        "4",
        [P3],
        "VerifyCardValidationData",
        key(KWAP, alias_arn=alias_arn("alias/x"), request_alias="alias/x", aliases=("alias/x",)),
        ALLOW,
    ),
    ("5", [P4], "GenerateCardValidationData", key(KWAP_DENIED), DENY),
    ("6", [P4], "VerifyCardValidationData", key(KWAP_DENIED), ALLOW),
    ("7", [P4], "GenerateCardValidationData", key(KWAP), ALLOW),
    ("7b", [P4], "GenerateCardValidationData", key(KWAP, region="us-west-2"), IMPLICIT),
    ("13", [T4], "DecryptData", key(region="us-east-1", tags={"Project": "Alpha"}), ALLOW),
    ("13b", [T4], "DecryptData", key(region="us-east-1", tags={"Project": "alpha"}), IMPLICIT),
    ("13c", [T4], "DecryptData", key(region="us-east-1"), IMPLICIT),
    ("13d", [T4], "DecryptData", key(region="us-east-2", tags={"Project": "Alpha"}), IMPLICIT),
    ("13e", [T4], "EncryptData", key(region="us-east-1", tags={"Project": "Alpha"}), IMPLICIT),
    ("14", [T5], "EncryptData", key(tags={"Type": "Reserved"}), DENY),
    ("15", [T5], "EncryptData", key(tags={"Type": "Other"}), ALLOW),
    ("16-as-printed", [T5], "EncryptData", key(), ALLOW),
    ("16", [T5_FIXED], "EncryptData", key(), DENY),
    ("16b", [T5_FIXED], "EncryptData", key(tags={"Type": "Other"}), ALLOW),
    ("17", [T5], "ReEncryptData", key(tags={"Type": "Reserved"}), DENY),
    ("17b", [T5], "ReEncryptData", key(tags={"Type": "Other"}), ALLOW),
    ("26", [], "GetKey", key(), IMPLICIT),
    ("26b", [], "ListKeys", None, IMPLICIT),
]


@pytest.mark.parametrize(
    ("case", "policies", "action", "resource", "expected"), SECTION_1_9, ids=[c[0] for c in SECTION_1_9]
)
def test_section_1_9(case, policies, action, resource, expected) -> None:
    resources = (resource,) if resource is not None else ()
    assert decide(policies, action, *resources) is expected


def _tag_request(operation: str, params: dict, *resources: ResourceRef) -> RequestContext:
    shape = describe(operation, params)
    return build_context(shape, resources, Requester(USER, ACCT, "us-east-2", current_time=NOW))


TARGET = key("4kd6xud22e64wcbk", member="ResourceArn")
TAG_CASES = [
    # (case, policy, operation, params, resources, expected)
    ("8", T2, "CreateKey", {"Tags": [{"Key": "Project", "Value": "Alpha"}]}, (), ALLOW),
    (
        "9",
        T3,
        "TagResource",
        {"ResourceArn": TARGET.arn, "Tags": [{"Key": "Project", "Value": "X"}]},
        (TARGET,),
        ALLOW,
    ),
    (
        "10",
        T3,
        "TagResource",
        {"ResourceArn": TARGET.arn, "Tags": [{"Key": "Project", "Value": "X"}, {"Key": "Env", "Value": "Y"}]},
        (TARGET,),
        IMPLICIT,
    ),
    ("11", T3, "UntagResource", {"ResourceArn": TARGET.arn, "TagKeys": ["Project"]}, (TARGET,), ALLOW),
    ("11b", T3, "UntagResource", {"ResourceArn": TARGET.arn, "TagKeys": ["Owner"]}, (TARGET,), IMPLICIT),
    ("12", T3, "CreateKey", {"Tags": [{"Key": "Env", "Value": "Y"}]}, (), IMPLICIT),
    ("12b", T3, "CreateKey", {"Tags": [{"Key": "Project", "Value": "Y"}]}, (), ALLOW),
    ("12c", T3, "CreateKey", {}, (), ALLOW),
]


@pytest.mark.parametrize(
    ("case", "policy", "operation", "params", "resources", "expected"),
    TAG_CASES,
    ids=[c[0] for c in TAG_CASES],
)
def test_section_1_9_tag_cases(case, policy, operation, params, resources, expected) -> None:
    assert evaluate([policy], _tag_request(operation, params, *resources)).effect is expected


def test_case_12_names_the_dependent_action() -> None:
    decision = evaluate([T3], _tag_request("CreateKey", {"Tags": [{"Key": "Env", "Value": "Y"}]}))
    assert decision.action == PC + "TagResource"
    assert decision.resource == "arn:aws:payment-cryptography:us-east-2:111122223333:key/*"


def test_dependent_tag_resource_must_cover_every_key() -> None:
    one_key = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": PC + "CreateKey", "Resource": "*"},
            {"Effect": "Allow", "Action": PC + "TagResource", "Resource": key_arn("tqv5yij6wtxx64pi")},
        ],
    }
    tagged = _tag_request("CreateKey", {"Tags": [{"Key": "Project", "Value": "Alpha"}]})
    assert evaluate([one_key], tagged).effect is IMPLICIT
    assert evaluate([one_key], _tag_request("CreateKey", {})).effect is ALLOW


def test_invalid_action_names_in_the_guide_match_nothing() -> None:
    bogus = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [PC + "Decrypt", PC + "VerifyCardData", PC + "GenerateCardData"],
                "Resource": "*",
            }
        ],
    }
    assert all(decide([bogus], action, key()) is IMPLICIT for action in ACTIONS)


def test_actions_match_case_insensitively_with_wildcards() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["PAYMENT-CRYPTOGRAPHY:list*", PC + "Get?ey"], "Resource": "*"}
        ],
    }
    assert decide([policy], "ListKeys") is ALLOW
    assert decide([policy], "ListAliases") is ALLOW
    assert decide([policy], "GetKey") is ALLOW
    assert decide([policy], "GetAlias") is IMPLICIT
    assert decide([policy], "CreateKey") is IMPLICIT


def test_resource_scoped_statement_does_not_cover_resource_less_actions() -> None:
    # seed-F §7.3 item 22: ListKeys has no resource type; a key-scoped statement does not match it.
    scoped = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": PC + "List*", "Resource": key_arn(KWAP)}],
    }
    assert decide([scoped], "ListKeys") is IMPLICIT


# --- ACTIONS and describe() -------------------------------------------------------------------------


def test_actions_are_all_47_operations() -> None:
    assert len(ACTIONS) == 47 == len(set(ACTIONS))
    assert all(a.startswith(PC) for a in ACTIONS)
    for op in ("CreateKey", "PutResourcePolicy", "AssociateMpaTeam", "GenerateAuthRequestCryptogram"):
        assert PC + op in ACTIONS
    for op in ("TranslateKeyMaterial", "GenerateAs2805KekValidation", "ListTagsForResource"):
        assert PC + op in ACTIONS
    assert PC + "Decrypt" not in ACTIONS


def _members(shape) -> list[tuple[str, str]]:
    return [(t.member, t.identifier) for t in shape.targets]


def test_describe_two_key_operations() -> None:
    shape = describe(
        "TranslatePinData",
        {"IncomingKeyIdentifier": "alias/in", "OutgoingKeyIdentifier": key_arn("out0000000000000")},
    )
    assert shape.action == PC + "TranslatePinData"
    assert _members(shape) == [
        ("IncomingKeyIdentifier", "alias/in"),
        ("OutgoingKeyIdentifier", key_arn("out0000000000000")),
    ]
    shape = describe("ReEncryptData", {"IncomingKeyIdentifier": "a", "OutgoingKeyIdentifier": "b"})
    assert [m for m, _ in _members(shape)] == ["IncomingKeyIdentifier", "OutgoingKeyIdentifier"]
    shape = describe(
        "GenerateMacEmvPinChange",
        {
            "NewPinPekIdentifier": "alias/pek",
            "SecureMessagingIntegrityKeyIdentifier": "alias/smi",
            "SecureMessagingConfidentialityKeyIdentifier": "alias/smc",
            "DerivationMethodAttributes": {
                "Visa": {"AuthorizationRequestKeyIdentifier": "alias/ark", "CurrentPinAttributes": None}
            },
        },
    )
    assert [i for _, i in _members(shape)] == ["alias/pek", "alias/smi", "alias/smc", "alias/ark"]


def test_describe_import_and_export_service_keys() -> None:
    shape = describe(
        "ImportKey",
        {
            "KeyMaterial": {
                "Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/kek", "WrappedKeyBlock": "D0112..."}
            },
            "Tags": [{"Key": "Project", "Value": "X"}],
        },
    )
    assert _members(shape) == [("KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier", "alias/kek")]
    assert shape.service_keys == {"ImportKeyMaterial": "Tr31KeyBlock", "WrappingKeyIdentifier": "alias/kek"}
    assert shape.request_tags == {"Project": "X"} and shape.tag_keys == ("Project",)
    assert shape.dependent_actions == (PC + "TagResource",)

    shape = describe(
        "ExportKey",
        {
            "ExportKeyIdentifier": key_arn("exp0000000000000"),
            "KeyMaterial": {
                "Tr34KeyBlock": {
                    "CertificateAuthorityPublicKeyIdentifier": "alias/ca",
                    "SigningKeyIdentifier": "alias/sign",
                    "WrappingKeyCertificate": "MII...",
                    "KeyBlockFormat": "X9_TR34_2012",
                }
            },
        },
    )
    assert [m for m, _ in _members(shape)] == [
        "KeyMaterial.Tr34KeyBlock.CertificateAuthorityPublicKeyIdentifier",
        "KeyMaterial.Tr34KeyBlock.SigningKeyIdentifier",
        "ExportKeyIdentifier",
    ]
    assert shape.service_keys == {
        "ExportKeyMaterial": "Tr34KeyBlock",
        "CertificateAuthorityPublicKeyIdentifier": "alias/ca",
        "SigningKeyIdentifier": "alias/sign",
        "ExportDukptInitialKey": "false",
    }
    assert shape.dependent_actions == ()


def test_describe_create_key_alias_and_listing_operations() -> None:
    shape = describe(
        "CreateKey",
        {
            "KeyAttributes": {
                "KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY",
                "KeyClass": "SYMMETRIC_KEY",
                "KeyAlgorithm": "AES_128",
            },
            "Exportable": True,
        },
    )
    assert shape.targets == ()
    assert shape.service_keys == {
        "KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY",
        "KeyAlgorithm": "AES_128",
        "KeyClass": "SYMMETRIC_KEY",
    }
    shape = describe("GetAlias", {"AliasName": "alias/a"})
    assert [(t.kind, t.with_key) for t in shape.targets] == [("alias", True)]
    shape = describe("CreateAlias", {"AliasName": "alias/a", "KeyArn": key_arn("k000000000000000")})
    assert [(t.kind, t.with_key) for t in shape.targets] == [("alias", False), ("key", False)]
    assert describe("ListAliases", {"KeyArn": key_arn("k000000000000000")}).targets == ()
    assert describe("ListKeys", {}).targets == ()
    assert [
        t.kind
        for t in describe("GetMpaTeamAssociation", {"Action": "IMPORT_ROOT_PUBLIC_KEY_CERTIFICATE"}).targets
    ] == ["approval-team-association"]
    shape = describe("UntagResource", {"ResourceArn": key_arn("k000000000000000"), "TagKeys": ["A", "B"]})
    assert shape.tag_keys == ("A", "B") and shape.request_tags == {}
    with pytest.raises(KeyError):
        describe("Decrypt", {})


# --- Condition operators ------------------------------------------------------------------------------


def allow_if(condition: dict, version: str = "2012-10-17") -> dict:
    return {
        "Version": version,
        "Statement": [
            {"Effect": "Allow", "Action": PC + "EncryptData", "Resource": "*", "Condition": condition}
        ],
    }


TAGGED = {"Project": "Alpha", "Count": "5", "Owner": "ExampleUser", "Bin": "aGVsbG8="}
OPERATOR_CASES = [
    # (condition, context overrides, expected allowed)
    ({"StringEquals": {"aws:ResourceTag/Project": "Alpha"}}, {}, True),
    ({"StringEquals": {"aws:ResourceTag/Project": ["Beta", "Alpha"]}}, {}, True),  # values: OR
    ({"StringEquals": {"aws:ResourceTag/project": "Alpha"}}, {}, True),  # key names: any case
    ({"StringEquals": {"aws:ResourceTag/Project": "alpha"}}, {}, False),  # values: case-sensitive
    ({"StringEquals": {"aws:ResourceTag/Missing": "Alpha"}}, {}, False),
    ({"StringNotEquals": {"aws:ResourceTag/Project": "Beta"}}, {}, True),
    ({"StringNotEquals": {"aws:ResourceTag/Project": ["Beta", "Alpha"]}}, {}, False),
    ({"StringNotEquals": {"aws:ResourceTag/Missing": "Beta"}}, {}, True),  # negated, missing: true
    ({"StringEqualsIgnoreCase": {"aws:ResourceTag/Project": "ALPHA"}}, {}, True),
    ({"StringNotEqualsIgnoreCase": {"aws:ResourceTag/Project": "ALPHA"}}, {}, False),
    ({"StringLike": {"aws:ResourceTag/Project": "Al*"}}, {}, True),
    ({"StringLike": {"aws:ResourceTag/Project": "Alph?"}}, {}, True),
    ({"StringLike": {"aws:ResourceTag/Project": "al*"}}, {}, False),
    ({"StringNotLike": {"aws:ResourceTag/Project": "Be*"}}, {}, True),
    ({"StringNotLike": {"aws:ResourceTag/Project": "*ph*"}}, {}, False),
    ({"NumericEquals": {"aws:ResourceTag/Count": "5"}}, {}, True),
    ({"NumericEquals": {"aws:ResourceTag/Count": 5.0}}, {}, True),
    ({"NumericNotEquals": {"aws:ResourceTag/Count": "5"}}, {}, False),
    ({"NumericLessThan": {"aws:ResourceTag/Count": "6"}}, {}, True),
    ({"NumericLessThan": {"aws:ResourceTag/Count": "5"}}, {}, False),
    ({"NumericLessThanEquals": {"aws:ResourceTag/Count": "5"}}, {}, True),
    ({"NumericGreaterThan": {"aws:ResourceTag/Count": "4"}}, {}, True),
    ({"NumericGreaterThan": {"aws:ResourceTag/Count": "5"}}, {}, False),
    ({"NumericGreaterThanEquals": {"aws:ResourceTag/Count": "5"}}, {}, True),
    ({"NumericEquals": {"aws:ResourceTag/Project": "5"}}, {}, False),  # not a number: no match
    ({"DateLessThan": {"aws:CurrentTime": "2024-06-02T00:00:00Z"}}, {}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2024-06-01T11:00:00Z"}}, {}, False),
    ({"DateLessThanEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, True),
    ({"DateGreaterThan": {"aws:CurrentTime": "2024-01-01"}}, {}, True),
    ({"DateGreaterThanEquals": {"aws:CurrentTime": "1717243200"}}, {}, True),  # epoch = NOW
    ({"DateEquals": {"aws:CurrentTime": "2024-06-01T14:00:00+02:00"}}, {}, True),
    ({"DateNotEquals": {"aws:CurrentTime": "2024-06-01T12:00:00Z"}}, {}, False),
    ({"DateGreaterThan": {"aws:EpochTime": "1717243199"}}, {}, True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"secure_transport": True}, True),
    ({"Bool": {"aws:SecureTransport": True}}, {"secure_transport": False}, False),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"secure_transport": False}, True),
    ({"BinaryEquals": {"aws:ResourceTag/Bin": "aGVsbG8="}}, {}, True),
    ({"Null": {"aws:ResourceTag/Missing": "true"}}, {}, True),
    ({"Null": {"aws:ResourceTag/Project": "true"}}, {}, False),
    ({"Null": {"aws:ResourceTag/Project": "false"}}, {}, True),
    ({"Null": {"aws:TagKeys": "true"}}, {}, True),  # no tag keys in the request
    (
        {"Null": {"payment-cryptography:ResourceAliases": "true"}},
        {"service_keys": {"ResourceAliases": []}},
        True,
    ),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "203.0.113.7"}, True),
    ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.7"]}}, {"source_ip": "203.0.113.7"}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "198.51.100.1"}, False),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"source_ip": "2001:db8::1"}, True),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, {"source_ip": "2001:db8::1"}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {}, False),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "198.51.100.1"}, True),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"source_ip": "203.0.113.9"}, False),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/*"}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/Example*"}}, {}, True),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam:*"}}, {}, False),  # a * stays in its ARN part
    ({"ArnEquals": {"aws:PrincipalArn": USER}}, {}, True),
    ({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/exampleuser"}}, {}, False),
    ({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::444455556666:*"}}, {}, True),
    ({"ArnNotEquals": {"aws:PrincipalArn": USER}}, {}, False),
    ({"StringEquals": {"aws:PrincipalAccount": ACCT}}, {}, True),
    ({"StringEquals": {"aws:username": "ExampleUser"}}, {}, True),
    ({"StringEquals": {"aws:RequestedRegion": "us-east-2"}}, {}, True),
    # IfExists: absent keys pass, present keys are tested
    ({"StringEqualsIfExists": {"aws:ResourceTag/Missing": "x"}}, {}, True),
    ({"StringEqualsIfExists": {"aws:ResourceTag/Project": "Beta"}}, {}, False),
    ({"NumericLessThanIfExists": {"aws:ResourceTag/Count": "3"}}, {}, False),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
    ({"IpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}}, {}, True),
    # several keys / operators: AND
    ({"StringEquals": {"aws:ResourceTag/Project": "Alpha", "aws:PrincipalAccount": ACCT}}, {}, True),
    ({"StringEquals": {"aws:ResourceTag/Project": "Alpha", "aws:PrincipalAccount": OTHER}}, {}, False),
    (
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}, "Bool": {"aws:SecureTransport": "true"}},
        {},
        False,
    ),
    # set operators on multi-valued keys
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["A", "B"]}}, {"tag_keys": ("A",)}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["A", "B"]}}, {"tag_keys": ("A", "C")}, False),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": ["A"]}}, {}, True),  # empty set: true
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["A", "B"]}}, {"tag_keys": ("C", "B")}, True),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["A"]}}, {"tag_keys": ("C",)}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["A"]}}, {}, False),  # empty set: false
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": "Project"}}, {"tag_keys": ("Env", "Owner")}, True),
    ({"ForAllValues:StringNotEquals": {"aws:TagKeys": "Project"}}, {"tag_keys": ("Env", "Project")}, False),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "Project"}}, {"tag_keys": ("Env", "Project")}, True),
    ({"ForAllValues:StringLike": {"aws:TagKeys": "app-*"}}, {"tag_keys": ("app-x", "app-y")}, True),
    ({"ForAllValues:StringEqualsIgnoreCase": {"aws:TagKeys": "project"}}, {"tag_keys": ("PROJECT",)}, True),
    ({"StringEquals": {"aws:TagKeys": "B"}}, {"tag_keys": ("A", "B")}, True),  # plain operator: any
    ({"StringNotEquals": {"aws:TagKeys": "B"}}, {"tag_keys": ("A", "B")}, False),  # negated: none
    # request tags
    ({"StringEquals": {"aws:RequestTag/Project": "X"}}, {"request_tags": {"Project": "X"}}, True),
    ({"StringEquals": {"aws:RequestTag/PROJECT": "X"}}, {"request_tags": {"Project": "X"}}, True),
    ({"StringEquals": {"aws:RequestTag/Project": "X"}}, {"request_tags": {"Env": "X"}}, False),
    # service keys
    (
        {"StringEquals": {"payment-cryptography:KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY"}},
        {"service_keys": {"payment-cryptography:KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY"}},
        True,
    ),
    (
        {"StringEquals": {"payment-cryptography:KeyClass": "SYMMETRIC_KEY"}},
        {"service_keys": {"KeyClass": "X"}},
        False,
    ),
]


@pytest.mark.parametrize(("condition", "overrides", "expected"), OPERATOR_CASES)
def test_condition_operator(condition, overrides, expected) -> None:
    decision = evaluate([allow_if(condition)], ctx("EncryptData", key(tags=TAGGED), **overrides))
    assert decision.allowed is expected, decision


def test_every_operator_is_covered() -> None:
    from paycrypt.policy.conditions import OPERATORS

    used = {op.split(":")[-1].removesuffix("IfExists") for cond, _, _ in OPERATOR_CASES for op in cond}
    assert used >= OPERATORS


def test_service_keys_resource_aliases_and_request_alias() -> None:
    via_alias = key(aliases=("alias/BIN_12345_CVK", "alias/other"), request_alias="alias/BIN_12345_CVK")
    via_arn = key(aliases=("alias/BIN_12345_CVK",))
    bare = key()
    request_alias = allow_if({"StringLike": {"payment-cryptography:RequestAlias": "alias/BIN_*"}})
    assert decide([request_alias], "EncryptData", via_alias) is ALLOW
    assert decide([request_alias], "EncryptData", via_arn) is IMPLICIT
    any_alias = allow_if({"ForAnyValue:StringLike": {"payment-cryptography:ResourceAliases": "alias/BIN_*"}})
    assert decide([any_alias], "EncryptData", via_arn) is ALLOW
    assert decide([any_alias], "EncryptData", bare) is IMPLICIT
    all_aliases = allow_if(
        {"ForAllValues:StringLike": {"payment-cryptography:ResourceAliases": "alias/BIN_*"}}
    )
    assert decide([all_aliases], "EncryptData", via_alias) is IMPLICIT  # alias/other fails
    assert decide([all_aliases], "EncryptData", bare) is ALLOW  # empty set


def test_create_key_service_keys_through_describe() -> None:
    only_pek = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "CreateKey",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"payment-cryptography:KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY"},
                    "StringLike": {"payment-cryptography:KeyAlgorithm": "AES_*"},
                },
            }
        ],
    }
    attrs = {"KeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY", "KeyClass": "SYMMETRIC_KEY", "KeyAlgorithm": "AES_128"}
    assert evaluate([only_pek], _tag_request("CreateKey", {"KeyAttributes": attrs})).allowed
    attrs = {**attrs, "KeyAlgorithm": "TDES_2KEY"}
    assert not evaluate([only_pek], _tag_request("CreateKey", {"KeyAttributes": attrs})).allowed
    attrs = {**attrs, "KeyAlgorithm": "AES_128", "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY"}
    assert not evaluate([only_pek], _tag_request("CreateKey", {"KeyAttributes": attrs})).allowed


def test_wrapping_key_identifier_is_the_resolved_key_arn() -> None:
    kek_arn = key_arn("kek0000000000000")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [PC + "ExportKey"],
                "Resource": f"arn:aws:payment-cryptography:us-east-2:{ACCT}:key/*",
                "Condition": {"ArnEquals": {"payment-cryptography:WrappingKeyIdentifier": kek_arn}},
            }
        ],
    }
    params = {
        "ExportKeyIdentifier": "alias/exported",
        "KeyMaterial": {"Tr31KeyBlock": {"WrappingKeyIdentifier": "alias/kek"}},
    }
    member = "KeyMaterial.Tr31KeyBlock.WrappingKeyIdentifier"
    exported = key("exp0000000000000", member="ExportKeyIdentifier", request_alias="alias/exported")
    kek = ResourceRef(arn=kek_arn, account=ACCT, member=member, request_alias="alias/kek")
    context = _tag_request("ExportKey", params, exported, kek)
    assert context.service_keys["WrappingKeyIdentifier"] == kek_arn
    assert evaluate([policy], context).allowed
    other = ResourceRef(arn=key_arn("zzz0000000000000"), account=ACCT, member=member)
    assert not evaluate([policy], _tag_request("ExportKey", params, exported, other)).allowed


# --- Policy variables ---------------------------------------------------------------------------------

P1_VIEW_OWN_USER = {  # seed-F §1.8 P-1 (L8785–8827), first statement
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ViewOwnUserInfo",
            "Effect": "Allow",
            "Action": ["iam:GetUserPolicy", "iam:ListGroupsWithUser", "iam:GetUser"],
            "Resource": ["arn:aws:iam::*:user/${aws:username}"],
        }
    ],
}


def test_policy_variable_in_resource() -> None:
    own = ResourceRef(arn=f"arn:aws:iam::{ACCT}:user/ExampleUser", account=ACCT)
    other = ResourceRef(arn=f"arn:aws:iam::{ACCT}:user/Someone", account=ACCT)
    assert decide([P1_VIEW_OWN_USER], "iam:GetUser", own) is ALLOW
    assert decide([P1_VIEW_OWN_USER], "iam:GetUser", other) is IMPLICIT
    # no aws:username (a role session): the variable is unresolvable and the pattern matches nothing
    assert decide([P1_VIEW_OWN_USER], "iam:GetUser", own, username=None) is IMPLICIT


def test_policy_variables_in_conditions_and_resources() -> None:
    owner = allow_if({"StringEquals": {"aws:ResourceTag/Owner": "${aws:username}"}})
    assert decide([owner], "EncryptData", key(tags={"Owner": "ExampleUser"})) is ALLOW
    assert decide([owner], "EncryptData", key(tags={"Owner": "Mallory"})) is IMPLICIT
    assert decide([owner], "EncryptData", key(tags={"Owner": "ExampleUser"}), username=None) is IMPLICIT
    # an unresolvable variable makes the pair false whatever the operator
    not_mine = allow_if({"StringNotLike": {"aws:ResourceTag/Owner": "${aws:username}*"}})
    assert decide([not_mine], "EncryptData", key(tags={"Owner": "Mallory"})) is ALLOW
    assert decide([not_mine], "EncryptData", key(tags={"Owner": "ExampleUser2"})) is IMPLICIT
    assert decide([not_mine], "EncryptData", key(tags={"Owner": "Mallory"}), username=None) is IMPLICIT
    not_owner = allow_if({"StringNotEquals": {"aws:ResourceTag/Owner": "${aws:username}"}})
    assert decide([not_owner], "EncryptData", key(tags={"Owner": "Mallory"}), username=None) is IMPLICIT
    defaulted = allow_if({"StringEquals": {"aws:ResourceTag/Owner": "${aws:username, 'nobody'}"}})
    assert decide([defaulted], "EncryptData", key(tags={"Owner": "nobody"}), username=None) is ALLOW
    account_keys = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "*",
                "Resource": "arn:aws:payment-cryptography:*:${aws:PrincipalAccount}:key/*",
            }
        ],
    }
    assert decide([account_keys], "GetKey", key()) is ALLOW
    assert decide([account_keys], "GetKey", key(account=OTHER), principal_account=OTHER) is ALLOW
    assert decide([account_keys], "GetKey", key(account=OTHER)) is IMPLICIT
    literal_star = allow_if({"StringLike": {"aws:ResourceTag/Project": "A${*}"}})
    assert decide([literal_star], "EncryptData", key(tags={"Project": "A*"})) is ALLOW
    assert decide([literal_star], "EncryptData", key(tags={"Project": "Alpha"})) is IMPLICIT


def test_policy_variables_need_version_2012() -> None:
    old = allow_if({"StringEquals": {"aws:ResourceTag/Owner": "${aws:username}"}}, version="2008-10-17")
    assert decide([old], "EncryptData", key(tags={"Owner": "ExampleUser"})) is IMPLICIT
    assert decide([old], "EncryptData", key(tags={"Owner": "${aws:username}"})) is ALLOW
    unversioned = {"Statement": old["Statement"]}
    assert decide([unversioned], "EncryptData", key(tags={"Owner": "${aws:username}"})) is ALLOW


# --- NotAction, NotResource, explicit deny -------------------------------------------------------------


def test_not_action() -> None:
    all_but_delete = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": [PC + "Delete*", "iam:*"], "Resource": "*"}],
    }
    assert decide([all_but_delete], "GetKey", key()) is ALLOW
    assert decide([all_but_delete], "DeleteKey", key()) is IMPLICIT
    assert decide([all_but_delete], "DeleteAlias", key()) is IMPLICIT
    deny_all_but_reads = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": [PC + "Get*", PC + "List*"], "Resource": "*"},
        ],
    }
    assert decide([deny_all_but_reads], "ListKeys") is ALLOW
    assert decide([deny_all_but_reads], "EncryptData", key()) is DENY


def test_not_resource() -> None:
    reserved = key_arn("reserved00000000")
    all_but_one = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": PC + "EncryptData", "NotResource": reserved}],
    }
    assert decide([all_but_one], "EncryptData", key()) is ALLOW
    assert decide([all_but_one], "EncryptData", key("reserved00000000")) is IMPLICIT
    # through an alias the key has two names; an exclusion of either one still exempts it
    via_alias = key("reserved00000000", alias_arn=alias_arn("alias/r"), request_alias="alias/r")
    assert decide([all_but_one], "EncryptData", via_alias) is IMPLICIT
    deny_outside_region = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": PC + "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": PC + "*",
                "NotResource": "arn:aws:payment-cryptography:us-east-2:*:*",
            },
        ],
    }
    assert decide([deny_outside_region], "GetKey", key()) is ALLOW
    assert decide([deny_outside_region], "GetKey", key(region="eu-west-1")) is DENY
    assert decide([deny_outside_region], "ListKeys") is DENY  # "*" is outside the NotResource list


def test_explicit_deny_wins_across_policies() -> None:
    deny_encrypt = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoEncrypt", "Effect": "Deny", "Action": PC + "EncryptData", "Resource": "*"}],
    }
    decision = evaluate([P2, deny_encrypt], ctx("EncryptData", key()))
    assert decision.effect is DENY and decision.statement_id == "NoEncrypt"
    assert decision.policy_type == "identity"
    assert evaluate([deny_encrypt, P2], ctx("DecryptData", key())).allowed


def test_alias_names_in_resource_elements() -> None:
    via_alias = key(alias_arn=alias_arn("alias/BIN_12345_CVK"), request_alias="alias/BIN_12345_CVK")
    alias_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "GenerateCardValidationData",
                "Resource": alias_arn("alias/BIN_*"),
            }
        ],
    }
    assert decide([alias_only], "GenerateCardValidationData", via_alias) is ALLOW
    assert decide([alias_only], "GenerateCardValidationData", key()) is IMPLICIT  # by key ARN
    deny_alias = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": PC + "*", "Resource": "*"},
            {"Effect": "Deny", "Action": PC + "*", "Resource": alias_arn("alias/BIN_12345_CVK")},
        ],
    }
    assert decide([deny_alias], "GenerateCardValidationData", via_alias) is DENY
    assert decide([deny_alias], "GenerateCardValidationData", key()) is ALLOW


def test_resource_patterns_are_case_sensitive_and_per_part() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "GetKey",
                "Resource": "arn:aws:payment-cryptography:*:*:key/tqv5*",
            }
        ],
    }
    assert decide([policy], "GetKey", key()) is ALLOW
    assert decide([policy], "GetKey", key("TQV5yij6wtxx64pi")) is IMPLICIT
    per_part = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": PC + "GetKey", "Resource": "arn:aws:*:us-*:*:key/*"}],
    }
    assert decide([per_part], "GetKey", key()) is ALLOW
    with pytest.raises(PolicyError):  # five parts: a * cannot stand for region and account
        parse_policy(
            {"Statement": [{**per_part["Statement"][0], "Resource": "arn:aws:payment-cryptography:*:key/*"}]}
        )


# --- Several keys in one request ------------------------------------------------------------------------


def _translate(policy: dict, incoming: ResourceRef, outgoing: ResourceRef) -> pol.Decision:
    params = {"IncomingKeyIdentifier": incoming.arn, "OutgoingKeyIdentifier": outgoing.arn}
    return evaluate([policy], _tag_request("TranslatePinData", params, incoming, outgoing))


def test_multi_key_operation_needs_every_key() -> None:
    pek_in = key("pekin00000000000", member="IncomingKeyIdentifier")
    pek_out = key("pekout0000000000", member="OutgoingKeyIdentifier")
    only_in = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": PC + "TranslatePinData", "Resource": pek_in.arn}],
    }
    decision = _translate(only_in, pek_in, pek_out)
    assert decision.effect is IMPLICIT and decision.resource == pek_out.arn
    both = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": PC + "TranslatePinData", "Resource": [pek_in.arn, pek_out.arn]}
        ],
    }
    assert _translate(both, pek_in, pek_out).allowed
    deny_out = copy.deepcopy(both)
    deny_out["Statement"].append({"Effect": "Deny", "Action": PC + "*", "Resource": pek_out.arn})
    # an explicit deny on the second key beats the implicit deny of any other
    only_in_deny_out = copy.deepcopy(only_in)
    only_in_deny_out["Statement"].append({"Effect": "Deny", "Action": PC + "*", "Resource": pek_out.arn})
    assert _translate(deny_out, pek_in, pek_out).effect is DENY
    assert _translate(only_in_deny_out, pek_out, pek_in).effect is DENY


def test_multi_key_operation_uses_each_keys_own_tags() -> None:
    project_x = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/Project": "X"}},
            }
        ],
    }
    x_in = key("pekin00000000000", tags={"Project": "X"}, member="IncomingKeyIdentifier")
    x_out = key("pekout0000000000", tags={"Project": "X"}, member="OutgoingKeyIdentifier")
    y_out = key("pekout0000000000", tags={"Project": "Y"}, member="OutgoingKeyIdentifier")
    assert _translate(project_x, x_in, x_out).allowed
    decision = _translate(project_x, x_in, y_out)
    assert decision.effect is IMPLICIT and decision.resource == y_out.arn


# --- Cross-account and resource policies -----------------------------------------------------------------

BOB = f"arn:aws:iam::{OTHER}:user/bob"
EVE = f"arn:aws:iam::{OTHER}:user/eve"
SHARED = key_arn("shared0000000000")


def share_with(principal, *, effect: str = "Allow", action=PC + "*", condition=None) -> dict:
    statement = {"Sid": "Share", "Effect": effect, "Principal": principal, "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def shared_key(policy=None, **kw) -> ResourceRef:
    return ResourceRef(arn=SHARED, account=ACCT, policy=policy, **kw)


def as_bob(
    policies, resource: ResourceRef, action: str = "EncryptData", principal: str = BOB
) -> pol.Decision:
    return evaluate(
        policies,
        ctx(
            action,
            resource,
            principal_arn=principal,
            principal_account=OTHER,
            username=principal.rsplit("/")[-1],
        ),
    )


def test_cross_account_needs_a_resource_policy() -> None:
    decision = as_bob([P2], shared_key())
    assert decision.effect is IMPLICIT and decision.reason == "resource"
    assert decision.message(BOB) == (
        f"User: {BOB} is not authorized to perform: payment-cryptography:EncryptData on resource: {SHARED} "
        "because no resource-based policy allows the payment-cryptography:EncryptData action"
    )


@pytest.mark.parametrize(
    ("principal", "expected_bob", "expected_eve"),
    [
        ({"AWS": OTHER}, ALLOW, ALLOW),
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, ALLOW, ALLOW),
        ({"AWS": [BOB]}, ALLOW, IMPLICIT),
        ("*", ALLOW, ALLOW),
        ({"AWS": ACCT}, IMPLICIT, IMPLICIT),
        ({"Service": "payment-cryptography.amazonaws.com"}, IMPLICIT, IMPLICIT),
    ],
)
def test_cross_account_with_a_resource_policy(principal, expected_bob, expected_eve) -> None:
    resource = shared_key(share_with(principal))
    assert as_bob([P2], resource).effect is expected_bob
    assert as_bob([P2], resource, principal=EVE).effect is expected_eve


def test_cross_account_needs_the_identity_policy_too() -> None:
    resource = shared_key(share_with({"AWS": OTHER}))
    decision = as_bob([], resource)
    assert decision.effect is IMPLICIT and decision.reason == "identity"
    assert as_bob([P3], resource).effect is IMPLICIT  # bob's policy names another key


def test_resource_policy_limits_actions_and_denies() -> None:
    only_encrypt = shared_key(share_with({"AWS": OTHER}, action=PC + "EncryptData"))
    assert as_bob([P2], only_encrypt).allowed
    assert as_bob([P2], only_encrypt, action="DecryptData").effect is IMPLICIT
    guarded = {
        "Version": "2012-10-17",
        "Statement": [
            share_with({"AWS": OTHER})["Statement"][0],
            {
                "Sid": "OnlyOverTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": PC + "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    decision = as_bob([P2], shared_key(guarded))
    assert (
        decision.effect is DENY
        and decision.policy_type == "resource"
        and decision.statement_id == "OnlyOverTls"
    )
    assert decision.message(BOB).endswith("with an explicit deny in a resource-based policy")
    # the key's own account is bound by the resource policy's deny as well
    assert decide([P2], "EncryptData", shared_key(guarded)) is DENY
    assert decide([P2], "EncryptData", shared_key(guarded), secure_transport=True) is ALLOW


def test_v3_style_deny_for_other_accounts() -> None:
    # seed-F V-3 (L7893–7916) used as a key policy: deny every principal outside the account.
    v3 = {
        "Statement": [
            {
                "Sid": "AccessForASpecificAccount",
                "Principal": {"AWS": "*"},
                "Action": "payment-cryptography:*",
                "Effect": "Deny",
                "Resource": "arn:aws:payment-cryptography:*:111122223333:key/*",
                "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "111122223333"}},
            }
        ]
    }
    shared = {
        "Version": "2012-10-17",
        "Statement": [*share_with({"AWS": OTHER})["Statement"], *v3["Statement"]],
    }
    assert as_bob([P2], shared_key(shared)).effect is DENY
    assert decide([P2], "EncryptData", shared_key(shared)) is ALLOW


def test_same_account_resource_policy_naming_the_principal_is_enough() -> None:
    direct = shared_key(share_with({"AWS": USER}))
    assert decide([], "EncryptData", direct) is ALLOW
    decision = evaluate([], ctx("EncryptData", direct))
    assert decision.policy_type == "resource" and decision.statement_id == "Share"
    # naming the account only delegates to the account's identity policies
    assert decide([], "EncryptData", shared_key(share_with({"AWS": ACCT}))) is IMPLICIT
    assert decide([], "EncryptData", shared_key(share_with({"AWS": f"arn:aws:iam::{ACCT}:root"}))) is IMPLICIT
    assert decide([P2], "EncryptData", shared_key(share_with({"AWS": ACCT}))) is ALLOW


def test_assumed_role_session_matches_its_role() -> None:
    session = f"arn:aws:sts::{OTHER}:assumed-role/Partner/app-1"
    resource = shared_key(share_with({"AWS": f"arn:aws:iam::{OTHER}:role/Partner"}))
    context = ctx("EncryptData", resource, principal_arn=session, principal_account=OTHER, username=None)
    assert evaluate([P2], context).allowed
    resource = shared_key(share_with({"AWS": f"arn:aws:iam::{OTHER}:role/Other"}))
    context = ctx("EncryptData", resource, principal_arn=session, principal_account=OTHER, username=None)
    assert not evaluate([P2], context).allowed


def test_not_principal() -> None:
    everyone_but_eve = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": PC + "*", "Resource": "*"},
            {"Effect": "Deny", "NotPrincipal": {"AWS": [BOB]}, "Action": PC + "*", "Resource": "*"},
        ],
    }
    assert as_bob([P2], shared_key(everyone_but_eve)).allowed
    assert as_bob([P2], shared_key(everyone_but_eve), principal=EVE).effect is DENY


def test_resource_tags_are_not_visible_to_key_policies() -> None:
    # guide L3747: aws:ResourceTag is supported only in IAM policies
    by_tag = share_with({"AWS": OTHER}, condition={"StringEquals": {"aws:ResourceTag/Project": "X"}})
    assert as_bob([P2], shared_key(by_tag, tags={"Project": "X"})).effect is IMPLICIT


def test_account_root_has_full_access_to_its_own_account() -> None:
    root = f"arn:aws:iam::{ACCT}:root"
    assert decide([], "DeleteKey", key(), principal_arn=root, username=None) is ALLOW
    assert decide([], "CreateKey", principal_arn=root, username=None) is ALLOW
    deny = shared_key(share_with("*", effect="Deny"))
    assert decide([], "EncryptData", deny, principal_arn=root, username=None) is DENY
    other_root = f"arn:aws:iam::{OTHER}:root"
    context = ctx("EncryptData", shared_key(), principal_arn=other_root, principal_account=OTHER)
    assert evaluate([], context).reason == "resource"
    shared = shared_key(share_with({"AWS": OTHER}))
    assert evaluate([], ctx("EncryptData", shared, principal_arn=other_root, principal_account=OTHER)).allowed


# --- Tag-based access (ABAC) -------------------------------------------------------------------------------

PROJECT_X_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "UseProjectXKeys",
            "Effect": "Allow",
            "Action": [PC + "EncryptData", PC + "DecryptData", PC + "GetKey", PC + "ListTagsForResource"],
            "Resource": f"arn:aws:payment-cryptography:*:{ACCT}:key/*",
            "Condition": {"StringEquals": {"aws:ResourceTag/Project": "X"}},
        },
        {
            "Sid": "TagProjectXKeysButNotTheProjectTag",
            "Effect": "Allow",
            "Action": [PC + "TagResource", PC + "UntagResource"],
            "Resource": f"arn:aws:payment-cryptography:*:{ACCT}:key/*",
            "Condition": {
                "StringEquals": {"aws:ResourceTag/Project": "X"},
                "ForAllValues:StringNotEquals": {"aws:TagKeys": "Project"},
            },
        },
        {"Sid": "List", "Effect": "Allow", "Action": PC + "ListKeys", "Resource": "*"},
    ],
}
KEY_X = key("keyx000000000000", tags={"Project": "X", "Env": "dev"}, member="ResourceArn")
KEY_Y = key("keyy000000000000", tags={"Project": "Y"}, member="ResourceArn")
KEY_UNTAGGED = key("keyu000000000000", member="ResourceArn")


@pytest.mark.parametrize("action", ["EncryptData", "DecryptData", "GetKey", "ListTagsForResource"])
def test_abac_project_x_keys_only(action) -> None:
    assert decide([PROJECT_X_ONLY], action, KEY_X) is ALLOW
    assert decide([PROJECT_X_ONLY], action, KEY_Y) is IMPLICIT
    assert decide([PROJECT_X_ONLY], action, KEY_UNTAGGED) is IMPLICIT
    assert decide([PROJECT_X_ONLY], "DeleteKey", KEY_X) is IMPLICIT


@pytest.mark.parametrize(
    ("operation", "extra", "resource", "expected"),
    [
        ("TagResource", {"Tags": [{"Key": "Env", "Value": "prod"}]}, KEY_X, ALLOW),
        ("TagResource", {"Tags": [{"Key": "Project", "Value": "Y"}]}, KEY_X, IMPLICIT),  # move it out
        (
            "TagResource",
            {"Tags": [{"Key": "Env", "Value": "a"}, {"Key": "Project", "Value": "X"}]},
            KEY_X,
            IMPLICIT,
        ),
        ("TagResource", {"Tags": [{"Key": "Project", "Value": "X"}]}, KEY_Y, IMPLICIT),  # pull one in
        ("TagResource", {"Tags": [{"Key": "Project", "Value": "X"}]}, KEY_UNTAGGED, IMPLICIT),
        ("TagResource", {"Tags": [{"Key": "Env", "Value": "prod"}]}, KEY_Y, IMPLICIT),
        ("UntagResource", {"TagKeys": ["Env"]}, KEY_X, ALLOW),
        ("UntagResource", {"TagKeys": ["Project"]}, KEY_X, IMPLICIT),
        ("UntagResource", {"TagKeys": ["Env", "Project"]}, KEY_X, IMPLICIT),
    ],
)
def test_abac_cannot_change_the_project_tag(operation, extra, resource, expected) -> None:
    context = _tag_request(operation, {"ResourceArn": resource.arn, **extra}, resource)
    assert evaluate([PROJECT_X_ONLY], context).effect is expected


def test_abac_request_tag_allows_only_the_own_project() -> None:
    may_tag_x = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": PC + "CreateKey", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": PC + "TagResource",
                "Resource": f"arn:aws:payment-cryptography:*:{ACCT}:key/*",
                "Condition": {
                    "StringEquals": {"aws:RequestTag/Project": "X"},
                    "ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Env"]},
                },
            },
        ],
    }
    create = "CreateKey"
    assert evaluate([may_tag_x], _tag_request(create, {"Tags": [{"Key": "Project", "Value": "X"}]})).allowed
    tags = [{"Key": "Project", "Value": "X"}, {"Key": "Env", "Value": "dev"}]
    assert evaluate([may_tag_x], _tag_request(create, {"Tags": tags})).allowed
    assert not evaluate(
        [may_tag_x], _tag_request(create, {"Tags": [{"Key": "Project", "Value": "Y"}]})
    ).allowed
    assert not evaluate([may_tag_x], _tag_request(create, {"Tags": [{"Key": "Env", "Value": "dev"}]})).allowed
    tags = [{"Key": "Project", "Value": "X"}, {"Key": "Owner", "Value": "me"}]
    assert not evaluate([may_tag_x], _tag_request(create, {"Tags": tags})).allowed
    retag = {"ResourceArn": KEY_Y.arn, "Tags": [{"Key": "Project", "Value": "X"}]}
    assert evaluate([may_tag_x], _tag_request("TagResource", retag, KEY_Y)).allowed


# --- is_public -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "condition", "effect", "public"),
    [
        ("*", None, "Allow", True),
        ({"AWS": "*"}, None, "Allow", True),
        ({"AWS": ["*", OTHER]}, None, "Allow", True),
        ({"AWS": OTHER}, None, "Allow", False),
        ({"AWS": BOB}, None, "Allow", False),
        ("*", None, "Deny", False),
        ("*", {"StringEquals": {"aws:PrincipalAccount": OTHER}}, "Allow", False),
        ({"AWS": "*"}, {"StringEquals": {"aws:SourceAccount": OTHER}}, "Allow", False),
        ("*", {"ArnEquals": {"aws:PrincipalArn": BOB}}, "Allow", False),
        ("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, "Allow", False),
        ("*", {"StringLike": {"aws:PrincipalAccount": "4444*"}}, "Allow", True),
        ("*", {"StringEqualsIfExists": {"aws:PrincipalAccount": OTHER}}, "Allow", True),
        ("*", {"StringNotEquals": {"aws:PrincipalAccount": OTHER}}, "Allow", True),
        ("*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, "Allow", True),
        ("*", {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "Allow", False),
        ("*", {"Bool": {"aws:SecureTransport": "true"}}, "Allow", True),
        ("*", {"StringEquals": {"aws:ResourceTag/Project": "X"}}, "Allow", True),
    ],
)
def test_is_public(principal, condition, effect, public) -> None:
    policy = share_with(principal, effect=effect, condition=condition)
    assert is_public(policy) is public
    assert is_public(__import__("json").dumps(policy)) is public


def test_not_principal_allow_is_public() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": PC + "*", "Resource": "*"}],
    }
    assert is_public(policy)


# --- Validation ------------------------------------------------------------------------------------------

GOOD = {"Effect": "Allow", "Action": PC + "GetKey", "Resource": "*"}


@pytest.mark.parametrize(
    ("document", "kind", "names"),
    [
        ("{not json", "identity", "not valid JSON"),
        ("[]", "identity", "JSON object"),
        ({"Version": "2012-10-17"}, "identity", "Statement"),
        ({"Statement": []}, "identity", "Statement"),
        ({"Version": "2020-01-01", "Statement": [GOOD]}, "identity", "Version"),
        ({"Statement": [GOOD], "Extra": 1}, "identity", "Extra"),
        ({"Statement": [{**GOOD, "Effect": "allow"}]}, "identity", "Statement[0].Effect"),
        ({"Statement": [GOOD, {"Effect": "Deny", "Resource": "*"}]}, "identity", "Statement[1]"),
        ({"Statement": [{**GOOD, "NotAction": "*"}]}, "identity", "Action and NotAction"),
        ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "identity", "Resource and NotResource"),
        ({"Statement": [{**GOOD, "Action": []}]}, "identity", "Action"),
        ({"Statement": [{**GOOD, "Action": "GetKey"}]}, "identity", "invalid action"),
        ({"Statement": [{**GOOD, "Resource": "key/*"}]}, "identity", "resource"),
        ({"Statement": [{**GOOD, "Resource": "arn:aws:payment-cryptography:key/*"}]}, "identity", "resource"),
        ({"Statement": [{**GOOD, "Actions": "*"}]}, "identity", "Actions"),
        ({"Statement": [{**GOOD, "Sid": 7}]}, "identity", "Sid"),
        ({"Statement": [{**GOOD, "Principal": "*"}]}, "identity", "Principal"),
        ({"Statement": [GOOD]}, "resource", "Principal"),
        ({"Statement": [{**GOOD, "Principal": {"AWS": "bob"}}]}, "resource", "principal"),
        ({"Statement": [{**GOOD, "Principal": {"Users": "*"}}]}, "resource", "principal type"),
        ({"Statement": [{**GOOD, "Principal": "*", "NotPrincipal": "*"}]}, "resource", "Principal"),
        ({"Statement": [{**GOOD, "Condition": []}]}, "identity", "Condition"),
        (
            {"Statement": [{**GOOD, "Condition": {"StringEqual": {"aws:username": "a"}}}]},
            "identity",
            "StringEqual",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"StringEquals": {"username": "a"}}}]},
            "identity",
            "condition key",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:username": []}}}]},
            "identity",
            "no values",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"StringEquals": {"aws:username": {"a": 1}}}}]},
            "identity",
            "values",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"NumericEquals": {"aws:EpochTime": "x"}}}]},
            "identity",
            "numbers",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}]},
            "identity",
            "dates",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}]},
            "identity",
            "CIDR",
        ),
        (
            {"Statement": [{**GOOD, "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}]},
            "identity",
            "Bool",
        ),
        ({"Statement": [{**GOOD, "Condition": {"Null": {"aws:username": "maybe"}}}]}, "identity", "Null"),
        (
            {"Statement": [{**GOOD, "Condition": {"NullIfExists": {"aws:username": "true"}}}]},
            "identity",
            "Null",
        ),
    ],
)
def test_malformed_policies_are_refused(document, kind, names) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(document, kind)
    assert names in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9" * 5000, "a number too long to read"),  # ValueError past the 4,300-digit limit: was a 500
        ("[" * 50_000, "nested too deeply"),  # RecursionError
        (
            '{"Statement": [' + "[" * 500 + "]" * 500 + "]}",
            "Statement[0] must be an object",
        ),  # deep, decodable
        ('{"Version": "2012-10-17", "Statement": NaN}', "NaN is not a JSON value"),
        ('{"Statement": Infinity}', "Infinity is not a JSON value"),
        ('{"Statement": [{"Effect": "Allow"}]', "line 1 column 36"),
        ("", "line 1 column 1"),
    ],
)
def test_policy_text_that_is_not_json(text, reason) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, "resource")
    assert reason in str(raised.value)


def test_any_json_is_a_policy_or_a_policy_error() -> None:
    """Whatever JSON a caller stores, parsing answers a Policy or PolicyError, nothing else."""
    import contextlib
    import json

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    words = st.sampled_from(
        ["Version", "Statement", "Sid", "Effect", "Allow", "Deny", "Principal", "NotPrincipal", "AWS", "*",
         "Action", "NotAction", "Resource", "NotResource", "Condition", "StringEquals", "IpAddress",
         "NumericLessThan", "DateGreaterThan", "Bool", "Null", "ForAnyValue:StringLike", "aws:SourceIp",
         "aws:username", "aws:PrincipalAccount", "payment-cryptography:*", "2012-10-17", "${aws:username}"]
    )  # fmt: skip
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8), words
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=5),
        max_leaves=20,
    )
    documents = st.fixed_dictionaries(
        {"Version": st.sampled_from(["2012-10-17", "2008-10-17"]), "Statement": st.lists(values, max_size=3)}
    )

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(documents, values), st.sampled_from(["identity", "resource"]))
    def parses_or_refuses(document, kind) -> None:
        with contextlib.suppress(PolicyError):
            parse_policy(json.dumps(document), kind)

    parses_or_refuses()


def test_guide_policies_all_parse() -> None:
    for document in (P2, P3, P4, T2, T3, T4, T5, T5_FIXED, P1_VIEW_OWN_USER):
        assert parse_policy(document).statements
    parse_policy(share_with({"AWS": [OTHER, BOB, f"arn:aws:iam::{OTHER}:root", "*"]}), "resource")


def test_compiled_policies_are_cached() -> None:
    text = __import__("json").dumps(P4)
    assert parse_policy(text) is parse_policy(text)
    assert parse_policy(P4) is parse_policy(P4)
    compiled = parse_policy(P4)
    assert parse_policy(compiled) is compiled
    with pytest.raises(PolicyError):
        parse_policy(compiled, "resource")


def test_parsed_documents_are_cached_by_content() -> None:
    """An equal document shares the compiled policy; a dict changed after use is compiled again
    (a cache by id() returned the stale policy, and an id names another object once collected)."""
    document = copy.deepcopy(P4)
    first = parse_policy(document)
    assert parse_policy(copy.deepcopy(P4)) is first
    document["Statement"][0]["Effect"] = "Deny" if first.statements[0].allow else "Allow"
    changed = parse_policy(document)
    assert changed is not first and changed.statements[0].allow != first.statements[0].allow


def test_decision_messages() -> None:
    decision = evaluate([], ctx("ListKeys"))
    assert decision.message(USER) == (
        f"User: {USER} is not authorized to perform: payment-cryptography:ListKeys "
        "because no identity-based policy allows the payment-cryptography:ListKeys action"
    )
    decision = evaluate([P4], ctx("GenerateCardValidationData", key(KWAP_DENIED)))
    assert decision.message(USER) == (
        f"User: {USER} is not authorized to perform: payment-cryptography:GenerateCardValidationData "
        f"on resource: {key_arn(KWAP_DENIED)} with an explicit deny in an identity-based policy"
    )


def test_evaluation_is_fast() -> None:
    """A typical 3-statement policy: the whole evaluation stays well under a millisecond."""
    context = ctx("EncryptData", key(tags={"Type": "Other"}))
    policies = [parse_policy(T5_FIXED)]
    assert evaluate(policies, context).allowed
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        evaluate(policies, context)
    per_call = (time.perf_counter() - start) / rounds
    assert per_call < 1e-3, per_call


def test_derive_key_usage_condition_key() -> None:
    """payment-cryptography:DeriveKeyUsage: only K3 keys that derive KEKs may be created."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "CreateKey",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "payment-cryptography:DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY"
                    }
                },
            }
        ],
    }
    attrs = {
        "KeyUsage": "TR31_K3_ASYMMETRIC_KEY_FOR_KEY_AGREEMENT",
        "KeyClass": "ASYMMETRIC_KEY_PAIR",
        "KeyAlgorithm": "ECC_NIST_P256",
    }
    kbpk = {"KeyAttributes": attrs, "DeriveKeyUsage": "TR31_K1_KEY_BLOCK_PROTECTION_KEY"}
    assert evaluate([policy], _tag_request("CreateKey", kbpk)).allowed
    pek = {"KeyAttributes": attrs, "DeriveKeyUsage": "TR31_P0_PIN_ENCRYPTION_KEY"}
    assert not evaluate([policy], _tag_request("CreateKey", pek)).allowed
    assert not evaluate([policy], _tag_request("CreateKey", {"KeyAttributes": attrs})).allowed


def test_private_key_identifier_condition_key_is_the_resolved_arn() -> None:
    """payment-cryptography:PrivateKeyIdentifier on an ECDH import names the K3 key pair by ARN,
    even when the request names it through an alias."""
    k3 = key("k3k3k3k3k3k3k3k3", member="KeyMaterial.DiffieHellmanTr31KeyBlock.PrivateKeyIdentifier")
    k3.request_alias = "alias/agreement"
    ca = key(
        "ca00000000000000",
        member="KeyMaterial.DiffieHellmanTr31KeyBlock.CertificateAuthorityPublicKeyIdentifier",
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": PC + "ImportKey",
                "Resource": "*",
                "Condition": {"ArnEquals": {"payment-cryptography:PrivateKeyIdentifier": k3.arn}},
            }
        ],
    }
    material = {
        "DiffieHellmanTr31KeyBlock": {
            "PrivateKeyIdentifier": "alias/agreement",
            "CertificateAuthorityPublicKeyIdentifier": ca.arn,
            "PublicKeyCertificate": "LS0t",
            "DeriveKeyAlgorithm": "AES_128",
            "KeyDerivationFunction": "NIST_SP800",
            "KeyDerivationHashAlgorithm": "SHA_256",
            "DerivationData": {"SharedInformation": "00"},
            "WrappedKeyBlock": "D0112...",
        }
    }
    assert evaluate([policy], _tag_request("ImportKey", {"KeyMaterial": material}, k3, ca)).allowed
    other = key("k3other000000000", member="KeyMaterial.DiffieHellmanTr31KeyBlock.PrivateKeyIdentifier")
    material["DiffieHellmanTr31KeyBlock"]["PrivateKeyIdentifier"] = other.arn
    assert not evaluate([policy], _tag_request("ImportKey", {"KeyMaterial": material}, other, ca)).allowed

"""Resource (key) policies and cross-account use (issue 8 item 3), through boto3.

Account 111122223333 (A) owns the keys; 444455556666 (B) is the partner it shares with and
777788889999 (C) a stranger. A key is invisible to another account (ResourceNotFoundException)
until its resource policy names that account or one of its principals; then the identity policy
of the caller and the resource policy must both allow (the root user needs only the latter).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.helpers import expect_error
from tests.api.iam_support import CVK, CVV2, PAN, A, B, IamServer, denied, iam_server

PC = "payment-cryptography:"
USE = [PC + "GenerateCardValidationData", PC + "VerifyCardValidationData", PC + "GetKey"]


def shared_with(principal: Any, actions: list[str] = USE, effect: str = "Allow", **extra: Any) -> str:
    statement = {
        "Sid": "Share",
        "Effect": effect,
        "Principal": {"AWS": principal},
        "Action": actions,
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, **extra}]})


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamServer]:
    with iam_server(tmp_path_factory.mktemp("paycrypt-rp")) as running:
        yield running


def new_key(iam: IamServer) -> str:
    return iam.client("root").create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]


def generate(data: Any, key: str) -> str:
    return data.generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def test_a_key_is_invisible_to_other_accounts_until_shared(iam: IamServer) -> None:
    arn = new_key(iam)
    partner, partner_data = iam.client("partner"), iam.data("partner")
    expect_error(partner.get_key, "ResourceNotFoundException", 400, KeyIdentifier=arn)
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, arn)
    expect_error(partner.list_tags_for_resource, "ResourceNotFoundException", 400, ResourceArn=arn)
    expect_error(
        partner.put_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn, Policy=shared_with(B)
    )

    root = iam.client("root")
    put = root.put_resource_policy(ResourceArn=arn, Policy=shared_with(B))
    assert (put["ResourceArn"], put["Policy"]) == (arn, shared_with(B))
    assert root.get_resource_policy(ResourceArn=arn)["Policy"] == shared_with(B)

    value = generate(partner_data, arn)  # shared: B's identity policy and A's key policy both allow
    partner_data.verify_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=value
    )
    assert partner.get_key(KeyIdentifier=arn)["Key"]["KeyArn"] == arn
    assert generate(iam.data("b-root"), arn) == value  # B's root needs only the key policy
    message = denied(partner.delete_key, KeyIdentifier=arn)["Error"]["Message"]  # not in the key policy
    assert message.endswith(
        "because no resource-based policy allows the payment-cryptography:DeleteKey action"
    )
    response = denied(generate, iam.data("partner-nopolicy"), arn)  # B's own policy must allow too
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Message"].endswith(
        "no identity-based policy allows the " + PC + "GenerateCardValidationData action"
    )
    expect_error(generate, "ResourceNotFoundException", 404, iam.data("stranger"), arn)  # C: not named
    # Operations the model keeps to the owner stay invisible even for a shared key.
    expect_error(partner.get_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn)
    # Alias names never cross accounts.
    root.create_alias(AliasName="alias/shared-cvk", KeyArn=arn)
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, "alias/shared-cvk")
    alias_arn = f"arn:aws:payment-cryptography:us-east-1:{A}:alias/shared-cvk"
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, alias_arn)

    root.delete_resource_policy(ResourceArn=arn)
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, arn)
    expect_error(root.get_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn)
    expect_error(root.delete_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn)


def test_sharing_with_one_role(iam: IamServer) -> None:
    arn = new_key(iam)
    iam.client("root").put_resource_policy(
        ResourceArn=arn, Policy=shared_with(f"arn:aws:iam::{B}:role/PartnerRole")
    )
    generate(iam.data("partner-role"), arn)  # the role's session matches the role ARN
    expect_error(generate, "ResourceNotFoundException", 404, iam.data("partner"), arn)


def test_the_owning_account_and_key_policies(iam: IamServer) -> None:
    arn = new_key(iam)
    root = iam.client("root")
    # A statement naming the account trusts it and delegates to its identity policies: no grant.
    root.put_resource_policy(ResourceArn=arn, Policy=shared_with(A))
    denied(generate, iam.data("nopolicy"), arn)
    # A statement naming a principal of the account grants it directly.
    root.put_resource_policy(ResourceArn=arn, Policy=shared_with(f"arn:aws:iam::{A}:user/nopolicy"))
    generate(iam.data("nopolicy"), arn)
    # An explicit deny in the key policy beats the caller's identity allow.
    deny = shared_with(f"arn:aws:iam::{A}:user/p2", [PC + "GenerateCardValidationData"], "Deny")
    root.put_resource_policy(ResourceArn=arn, Policy=deny)
    message = denied(generate, iam.data("p2"), arn)["Error"]["Message"]
    assert message.endswith("with an explicit deny in a resource-based policy")
    iam.client("p2").get_key(KeyIdentifier=arn)  # other actions are not denied
    generate(iam.data("root"), arn)  # nor other principals


def test_public_and_malformed_policies_are_refused(iam: IamServer) -> None:
    arn = new_key(iam)
    root = iam.client("root")
    response = expect_error(
        root.put_resource_policy, "PublicPolicyException", 400, ResourceArn=arn, Policy=shared_with("*")
    )
    assert "public" in response["Error"]["Message"]
    expect_error(
        root.put_resource_policy,
        "PublicPolicyException",
        400,
        ResourceArn=arn,
        Policy=json.dumps(
            {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": B}, "Action": "*", "Resource": "*"}]}
        ),
    )
    pinned = shared_with("*", Condition={"StringEquals": {"aws:PrincipalAccount": B}})
    root.put_resource_policy(ResourceArn=arn, Policy=pinned)  # "*" pinned to one account is not public
    generate(iam.data("partner"), arn)
    expect_error(generate, "ResourceNotFoundException", 404, iam.data("stranger"), arn)
    for bad in (
        "not json",
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),  # no Principal
        json.dumps(
            {"Statement": [{"Effect": "Maybe", "Principal": {"AWS": B}, "Action": "*", "Resource": "*"}]}
        ),
        json.dumps({"Statement": []}),
        shared_with(B, Condition={"StringEqualz": {"aws:PrincipalAccount": B}}),
    ):
        message = expect_error(
            root.put_resource_policy, "ValidationException", 400, ResourceArn=arn, Policy=bad
        )
        assert message["Error"]["Message"].startswith("Policy is not a valid resource-based policy")
    assert root.get_resource_policy(ResourceArn=arn)["Policy"] == pinned  # unchanged by the refusals


def test_pending_deletion(iam: IamServer) -> None:
    arn = new_key(iam)
    root = iam.client("root")
    root.put_resource_policy(ResourceArn=arn, Policy=shared_with(B))
    root.delete_key(KeyIdentifier=arn)
    assert iam.client("partner").get_key(KeyIdentifier=arn)["Key"]["KeyState"] == "DELETE_PENDING"
    expect_error(root.put_resource_policy, "ConflictException", 400, ResourceArn=arn, Policy=shared_with(B))
    expect_error(generate, "ValidationException", 400, iam.data("partner"), arn)  # visible, not usable

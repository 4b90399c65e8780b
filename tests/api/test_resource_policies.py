"""Resource (key) policies and cross-account use (issue 8 item 3), through boto3.

Account 111122223333 (A) owns the keys; 444455556666 (B) is the partner it shares with and
777788889999 (C) a stranger. A key ARN of another account is AccessDeniedException ("… because no
resource-based policy allows …", seed-F §1.7 step 7 and the guide's resource-based policy page)
until the key's resource policy names the caller's account or the caller, whether or not the key
exists, so the answer reveals nothing (issue 12 item 8); then the identity policy of the caller
and the resource policy must both allow (the root user needs only the latter).
Put/Get/DeleteResourcePolicy are decided by identity policies alone, so no key policy can lock
its own account out of its key (issue 12 item 9).
"""

from __future__ import annotations

import json
from typing import Any

from tests.api.helpers import absent_key_arn, expect_error
from tests.api.iam_support import CVK, CVV2, PAN, A, B, IamServer, denied

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


def new_key(iam: IamServer) -> str:
    return iam.client("root").create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]


def generate(data: Any, key: str) -> str:
    return data.generate_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]


def no_resource_policy(who: str, action: str, arn: str) -> str:
    """AWS's message for a cross-account call that no key policy allows."""
    return (
        f"User: {who} is not authorized to perform: {PC}{action} on resource: {arn} "
        f"because no resource-based policy allows the {PC}{action} action"
    )


def expect_denied(call: Any, status: int, message: str, *args: Any, **kwargs: Any) -> None:
    response = expect_error(call, "AccessDeniedException", status, *args, **kwargs)
    assert response["Error"]["Message"] == message


def test_a_foreign_key_not_shared_is_access_denied(iam: IamServer) -> None:
    """Issue 12 item 8: the same AccessDeniedException for an unshared key and for no key at all."""
    arn = new_key(iam)
    missing = absent_key_arn(arn)
    other = new_key(iam)
    iam.client("root").put_resource_policy(
        ResourceArn=other, Policy=shared_with(f"arn:aws:iam::{B}:role/Nobody")
    )
    for name in ("partner-cvv", "partner", "b-root", "stranger"):
        who = iam.principals[name].arn
        for key in (arn, missing, other):  # no policy / no key / shared with another principal only
            message = no_resource_policy(who, "GenerateCardValidationData", key)
            expect_denied(generate, 403, message, iam.data(name), key)
    partner, who = iam.client("partner"), iam.principals["partner"].arn
    for key in (arn, missing):
        expect_denied(partner.get_key, 400, no_resource_policy(who, "GetKey", key), KeyIdentifier=key)
        expect_denied(
            partner.list_tags_for_resource,
            400,
            no_resource_policy(who, "ListTagsForResource", key),
            ResourceArn=key,
        )
        # Operations that cannot cross accounts: no key policy can allow them.
        expect_denied(
            partner.put_resource_policy,
            400,
            no_resource_policy(who, "PutResourcePolicy", key),
            ResourceArn=key,
            Policy=shared_with(B),
        )
    # The caller's own identity policy is decided first, the same for every ARN.
    nopolicy = iam.principals["partner-nopolicy"].arn
    for key in (arn, missing):
        response = denied(generate, iam.data("partner-nopolicy"), key)
        assert response["Error"]["Message"] == (
            f"User: {nopolicy} is not authorized to perform: {PC}GenerateCardValidationData on resource: "
            f"{key} because no identity-based policy allows the {PC}GenerateCardValidationData action"
        )


def test_a_key_is_shared_by_its_resource_policy(iam: IamServer) -> None:
    arn = new_key(iam)
    partner, partner_data = iam.client("partner"), iam.data("partner")
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
    assert generate(iam.data("partner-cvv"), arn) == value
    message = denied(partner.delete_key, KeyIdentifier=arn)["Error"]["Message"]  # not in the key policy
    assert message == no_resource_policy(iam.principals["partner"].arn, "DeleteKey", arn)
    response = denied(generate, iam.data("partner-nopolicy"), arn)  # B's own policy must allow too
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Message"].endswith(
        "no identity-based policy allows the " + PC + "GenerateCardValidationData action"
    )
    stranger = iam.principals["stranger"].arn  # C: not named
    expect_denied(
        generate,
        403,
        no_resource_policy(stranger, "GenerateCardValidationData", arn),
        iam.data("stranger"),
        arn,
    )
    # Operations the model keeps to the owner stay refused even for a shared key.
    expect_denied(
        partner.get_resource_policy,
        400,
        no_resource_policy(iam.principals["partner"].arn, "GetResourcePolicy", arn),
        ResourceArn=arn,
    )
    # Alias names and alias ARNs never cross accounts.
    root.create_alias(AliasName="alias/shared-cvk", KeyArn=arn)
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, "alias/shared-cvk")
    alias_arn = f"arn:aws:payment-cryptography:us-east-1:{A}:alias/shared-cvk"
    expect_error(generate, "ResourceNotFoundException", 404, partner_data, alias_arn)

    root.delete_resource_policy(ResourceArn=arn)
    expect_denied(
        generate,
        403,
        no_resource_policy(iam.principals["partner"].arn, "GenerateCardValidationData", arn),
        partner_data,
        arn,
    )
    expect_error(root.get_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn)
    expect_error(root.delete_resource_policy, "ResourceNotFoundException", 400, ResourceArn=arn)


def test_sharing_with_one_role(iam: IamServer) -> None:
    arn = new_key(iam)
    iam.client("root").put_resource_policy(
        ResourceArn=arn, Policy=shared_with(f"arn:aws:iam::{B}:role/PartnerRole")
    )
    generate(iam.data("partner-role"), arn)  # the role's session matches the role ARN
    denied(generate, iam.data("partner"), arn)


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
    denied(generate, iam.data("stranger"), arn)
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


def test_a_key_policy_cannot_lock_its_account_out(iam: IamServer) -> None:
    """Issue 12 item 9: a key policy denying everything to everyone still binds every use of the
    key, but Put/Get/DeleteResourcePolicy are decided by identity policies alone (the guide's
    resource-based policy page: resource policies do not apply to them, to prevent lock-out)."""
    arn = new_key(iam)
    root = iam.client("root")
    lock = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Principal": "*", "Action": PC + "*", "Resource": "*"}],
        }
    )
    root.put_resource_policy(ResourceArn=arn, Policy=lock)
    message = denied(generate, iam.data("root"), arn)["Error"]["Message"]
    assert message.endswith("with an explicit deny in a resource-based policy")
    denied(iam.client("p2").get_key, KeyIdentifier=arn)
    # The account's principals allowed by their identity policies manage the policy regardless.
    assert iam.client("p2").get_resource_policy(ResourceArn=arn)["Policy"] == lock
    iam.client("p2").put_resource_policy(ResourceArn=arn, Policy=lock)
    assert root.get_resource_policy(ResourceArn=arn)["Policy"] == lock
    root.delete_resource_policy(ResourceArn=arn)
    generate(iam.data("root"), arn)  # usable again
    # A key policy cannot grant these operations either: a principal without an identity policy
    # named in the key policy may use the key, not manage its policy.
    nopolicy = f"arn:aws:iam::{A}:user/nopolicy"
    grant = shared_with(nopolicy, [PC + "*"])
    root.put_resource_policy(ResourceArn=arn, Policy=grant)
    generate(iam.data("nopolicy"), arn)
    for call, extra in (
        (iam.client("nopolicy").get_resource_policy, {}),
        (iam.client("nopolicy").delete_resource_policy, {}),
        (iam.client("nopolicy").put_resource_policy, {"Policy": lock}),
    ):
        response = expect_error(call, "AccessDeniedException", 400, ResourceArn=arn, **extra)
        assert "because no identity-based policy allows" in response["Error"]["Message"]
    assert root.get_resource_policy(ResourceArn=arn)["Policy"] == grant

"""A request reads its key once (issue 14 item 1): the pipeline resolves it, the authorizer decides
on it, the service function uses it.

A CVV2 verification through boto3, against a server whose store counts every call, for each kind
of caller: the root user on its fast path, a user whose policy allows every key, one whose policy
tests the key's tags (so they are read), the same key named through its alias, and another account
the key's resource policy shares it with. Each reads the key (and each thing a policy may test
about it) at most once; before the pipeline resolved keys, every caller but the root user on its
fast path read the key twice, once to authorize and once to use it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.iam_support import CVK, CVV2, P2, PAN, PC, PRINCIPALS, A, B, IamServer, Who, allow
from tests.counting_store import CountingStore, counting

VERIFY = [PC + "VerifyCardValidationData", PC + "GenerateCardValidationData"]
TAGGED = allow(
    VERIFY, f"arn:aws:payment-cryptography:*:{A}:key/*", {"StringEquals": {"aws:ResourceTag/Project": "X"}}
)
CALLERS = {
    "root": PRINCIPALS["root"],
    "p2": Who("user", A, "p2", (P2,)),
    "tagged": Who("user", A, "tagged", (TAGGED,)),
    "partner": PRINCIPALS["partner"],
}
ALIAS = "alias/resolved-once"


@pytest.fixture(scope="module")
def iam_options() -> dict[str, Any]:
    return {"principals": CALLERS}


@pytest.fixture
def store(iam: IamServer) -> Iterator[CountingStore]:
    """The server's store, counted, in the place of both its users: the service and the authorizer."""
    app = iam.app
    original = app.service.store
    counted = CountingStore(original)
    app.service.store = app.authorizer.store = counted  # type: ignore[assignment]
    try:
        yield counted
    finally:
        app.service.store = app.authorizer.store = original


def verify(iam: IamServer, who: str, key: str, value: str) -> None:
    result = iam.data(who).verify_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=value
    )
    assert result["KeyArn"].endswith(key.rsplit("/", 1)[-1]) or key == ALIAS


def reads_of(iam: IamServer, store: CountingStore, who: str, key: str, value: str) -> Counter[str]:
    return counting(lambda: verify(iam, who, key, value), store)


def test_a_cvv2_verification_reads_its_key_once(iam: IamServer, store: CountingStore) -> None:
    root = iam.client("root")
    arn = root.create_key(Exportable=True, KeyAttributes=CVK, Tags=[{"Key": "Project", "Value": "X"}])["Key"][
        "KeyArn"
    ]
    root.create_alias(AliasName=ALIAS, KeyArn=arn)
    value = iam.data("root").generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]

    # The development default: no key has a resource policy, so nothing but the key is read.
    assert reads_of(iam, store, "root", arn, value) == {"get_key": 1}
    assert store.count("get_key", arn) == 1

    # A user whose policy tests nothing about the key: the key, and whether it has a resource policy.
    assert reads_of(iam, store, "p2", arn, value) == {"get_key": 1, "get_resource_policy": 1}
    # A policy that tests the key's tags: read once more, the tags.
    expected: dict[str, Any] = {"get_key": 1, "get_resource_policy": 1, "get_tags": 1}
    assert reads_of(iam, store, "tagged", arn, value) == expected
    # Named through its alias: the alias, then the key, once.
    assert reads_of(iam, store, "tagged", ALIAS, value) == {**expected, "get_alias": 1}

    # Shared with account B by its resource policy: B's user reads it once, policy included.
    share = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": B}, "Action": VERIFY, "Resource": "*"}],
    }
    root.put_resource_policy(ResourceArn=arn, Policy=json.dumps(share))
    assert reads_of(iam, store, "partner", arn, value) == {"get_key": 1, "get_resource_policy": 1}
    # The root user is now off its fast path (some key has a policy), and still reads the key once.
    reads = reads_of(iam, store, "root", arn, value)
    assert reads["get_key"] == 1 and max(reads.values()) == 1, reads

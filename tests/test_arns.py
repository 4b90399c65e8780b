"""paycrypt/arns.py: the one way to build and split a payment-cryptography ARN.

The ARN format is AWS's (`arn:partition:service:region:account-id:resource`, IAM User Guide, "IAM
identifiers"); the resource part may itself hold colons, so only the first five split."""

from __future__ import annotations

import pytest

from paycrypt import arns


def test_build_and_parse_are_inverse() -> None:
    arn = arns.build("us-east-1", "111122223333", "key/kwapwa6qaif1lw2h")
    assert arn == "arn:aws:payment-cryptography:us-east-1:111122223333:key/kwapwa6qaif1lw2h"
    assert arns.parse(arn) == ("us-east-1", "111122223333", "key/kwapwa6qaif1lw2h")
    parsed = arns.parse(arns.build("eu-west-1", "444455556666", "alias/a:b"))
    assert parsed is not None
    assert (parsed.region, parsed.account, parsed.resource) == ("eu-west-1", "444455556666", "alias/a:b")


@pytest.mark.parametrize(
    "text",
    [
        "alias/x",  # an alias name, not an ARN
        "arn:aws:kms:us-east-1:111122223333:key/x",  # another service's ARN
        "arn:aws:payment-cryptography:us-east-1:111122223333",  # too few fields
        "",
    ],
)
def test_what_is_not_a_paycrypt_arn(text: str) -> None:
    assert arns.parse(text) is None

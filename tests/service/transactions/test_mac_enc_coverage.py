"""Every member the pinned model defines for the MAC and data-encryption operations is served,
and every key-usage row those operations use can be met by a key CreateKey can make."""

from __future__ import annotations

import itertools

import pytest

from paycrypt.service.rules import combinations, key_usage
from paycrypt.service.transactions import data_encryption, macs
from paycrypt.wire import models

MAC_OPS = ("GenerateMac", "VerifyMac")
DATA_OPS = ("EncryptData", "DecryptData", "ReEncryptData")
DATA_MODEL = models.load().data


def _shape(name: str):
    return DATA_MODEL.shape_for(name)


def test_every_mac_attributes_member_and_algorithm_is_served() -> None:
    members = set(_shape("MacAttributes").members)
    assert members == set(macs.TAGS)
    for op, algorithm in itertools.product(MAC_OPS, _shape("MacAlgorithm").enum):
        assert (op, f"Algorithm={algorithm}", "KeyIdentifier") in key_usage.RULES
    for op, member in itertools.product(MAC_OPS, members - {"Algorithm"}):
        assert (op, member, "KeyIdentifier") in key_usage.RULES


def test_every_encryption_member_is_served() -> None:
    one_way = set(_shape("EncryptionDecryptionAttributes").members)
    both_ways = set(_shape("ReEncryptionAttributes").members)
    assert one_way | both_ways <= set(data_encryption.CIPHERS)
    for op, member in itertools.product(("EncryptData", "DecryptData"), one_way):
        assert (op, member, "KeyIdentifier") in key_usage.RULES
    for member, role in itertools.product(both_ways, ("IncomingKeyIdentifier", "OutgoingKeyIdentifier")):
        assert ("ReEncryptData", member, role) in key_usage.RULES


@pytest.mark.parametrize(
    "row", [row for row in key_usage.RULES if row[0] in MAC_OPS + DATA_OPS], ids=lambda row: "/".join(row)
)
def test_each_row_admits_a_creatable_key(row: tuple[str, str, str]) -> None:
    """No dead rows: some (usage, algorithm, modes) CreateKey accepts passes the row's check."""
    rule = key_usage.RULES[row]
    for usage in rule.usages:
        create = combinations.RULES[usage]
        if not rule.algorithms & create.algorithms:
            continue
        for modes in create.modes:
            if "NoRestrictions" in modes or modes & rule.modes:
                return
    pytest.fail(f"no creatable key satisfies {row}")

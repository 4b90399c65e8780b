"""The request path's authorizer (auth/authorize.py), called directly.

The cross-account table against the models' own documentation, the root user's fast path (no
store access at all), and how a data-plane request is classed for the rate quotas.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.loaders import Loader

from paycrypt.auth import authorize
from paycrypt.auth.credentials import dev_credentials
from paycrypt.auth.throttle import ASYMMETRIC, CONTROL, SYMMETRIC
from paycrypt.policy.requests import RequestCatalog
from paycrypt.store.records import KeyRecord
from paycrypt.wire import models

CATALOG = RequestCatalog(models.load().services)


def test_cross_account_operations_are_the_ones_the_model_documents() -> None:
    model = Loader().load_service_model("payment-cryptography", "service-2")
    documented = {
        name
        for name, op in model["operations"].items()
        if re.search(
            r"Cross-account use:</b>\s*This operation supports cross-account use", op.get("documentation", "")
        )
    }
    assert documented == authorize.CROSS_ACCOUNT_CONTROL


class NoStore:
    """A store that must not be touched."""

    def __getattr__(self, name: str) -> Any:
        if name == "has_resource_policies":
            return lambda: False
        raise AssertionError(f"the root fast path read the store ({name})")


class FakeService:
    store = NoStore()


def test_root_fast_path_reads_nothing() -> None:
    [root] = dev_credentials().values()
    checker = authorize.Authorizer(FakeService(), CATALOG)  # type: ignore[arg-type]
    params = {"KeyIdentifier": "alias/anything", "PrimaryAccountNumber": "4111111111111111"}
    assert checker.check("GenerateCardValidationData", True, params, root, "us-east-1") == frozenset()


OTHER_ACCOUNT_KEY = "arn:aws:payment-cryptography:us-east-1:444455556666:key/k000000000000000"
OTHER_REGION_KEY = "arn:aws:payment-cryptography:us-west-2:111122223333:key/k000000000000000"


@pytest.mark.parametrize(
    ("operation", "params", "foreign"),
    [
        ("GetKey", {"KeyIdentifier": OTHER_ACCOUNT_KEY}, True),
        ("GetKey", {"KeyIdentifier": OTHER_REGION_KEY}, False),
        ("GetKey", {"KeyIdentifier": "alias/anything"}, False),
        (
            "ReEncryptData",
            {"IncomingKeyIdentifier": "alias/in", "OutgoingKeyIdentifier": OTHER_ACCOUNT_KEY},
            True,
        ),
        ("TagResource", {"ResourceArn": OTHER_ACCOUNT_KEY}, True),
        ("ListKeys", {}, False),
    ],
)
def test_names_other_account(operation: str, params: dict, foreign: bool) -> None:
    """The fast path's question: does the request name an ARN of another account (issue 12 item 8)?"""
    assert CATALOG.names_other_account(operation, params, authorize.ARN_PREFIX, "111122223333") is foreign


def test_root_fast_path_resolves_another_accounts_arn() -> None:
    """The root user naming another account's key takes the full path: the store is read, and the
    answer is AccessDenied, not the service's ResourceNotFound (issue 12 item 8)."""
    [root] = dev_credentials().values()
    checker = authorize.Authorizer(FakeService(), CATALOG)  # type: ignore[arg-type]
    params = {"KeyIdentifier": OTHER_ACCOUNT_KEY}
    with pytest.raises(AssertionError, match="the root fast path read the store"):
        checker.check("GetKey", False, params, root, "us-east-1")


def record(algorithm: str) -> KeyRecord:
    return KeyRecord(
        arn="arn",
        account="111122223333",
        region="us-east-1",
        key_id="k",
        key_attributes={"KeyAlgorithm": algorithm},
        key_check_value="",
        key_check_value_algorithm="",
        enabled=True,
        exportable=True,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=None,  # type: ignore[arg-type]
        key_block="",
    )


@pytest.mark.parametrize(
    ("data_plane", "algorithms", "kind"),
    [
        (False, ["RSA_2048"], CONTROL),
        (True, [], SYMMETRIC),
        (True, ["TDES_2KEY"], SYMMETRIC),
        (True, ["TDES_2KEY", "ECC_NIST_P256"], ASYMMETRIC),  # any asymmetric key makes it asymmetric
        (True, ["RSA_4096"], ASYMMETRIC),
    ],
)
def test_quota_kind(data_plane: bool, algorithms: list[str], kind: str) -> None:
    assert authorize._kind(data_plane, [record(a) for a in algorithms]) == kind

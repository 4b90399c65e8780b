"""Service functions called directly: plain dicts in and out, no HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from paycrypt.crypto import cvv
from paycrypt.errors import Conflict, ResourceNotFound, ServiceQuotaExceeded, VerificationFailed
from paycrypt.service.core import Quotas
from paycrypt.service.issuer import card_validation
from paycrypt.service.keys import aliases, lifecycle
from tests.conftest import CVK_ATTRIBUTES as CVK
from tests.service.stored_keys import context as ctx


@pytest.fixture
def service_options() -> dict[str, Any]:
    """Quotas small enough to reach."""
    return {"quotas": Quotas(keys_per_region=3, aliases_per_region=1)}


def test_create_generate_verify(svc) -> None:
    c = ctx(svc)
    key = lifecycle.create_key(svc, c, {"KeyAttributes": CVK, "Exportable": True})["Key"]
    out = card_validation.generate_card_validation_data(
        svc,
        c,
        {
            "KeyIdentifier": key["KeyArn"],
            "PrimaryAccountNumber": "4123456789012345",
            "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "8701"}},
        },
    )
    material = svc.keycache.material(svc.store.get_key(key["KeyArn"]))
    assert out["ValidationData"] == cvv.cvv(material, "4123456789012345", "8701", "000")
    params = {
        "KeyIdentifier": key["KeyArn"],
        "PrimaryAccountNumber": "4123456789012345",
        "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "8701"}},
    }
    card_validation.verify_card_validation_data(svc, c, {**params, "ValidationData": out["ValidationData"]})
    with pytest.raises(VerificationFailed) as info:
        card_validation.verify_card_validation_data(
            svc, c, {**params, "ValidationData": f"{(int(out['ValidationData']) + 1) % 1000:03d}"}
        )
    assert info.value.fields == {"Reason": "INVALID_VALIDATION_DATA"}


def test_key_quota_is_per_account_and_region(svc) -> None:
    for _ in range(3):
        lifecycle.create_key(svc, ctx(svc), {"KeyAttributes": CVK, "Exportable": True})
    with pytest.raises(ServiceQuotaExceeded):
        lifecycle.create_key(svc, ctx(svc), {"KeyAttributes": CVK, "Exportable": True})
    lifecycle.create_key(svc, ctx(svc, region="eu-west-1"), {"KeyAttributes": CVK, "Exportable": True})
    lifecycle.create_key(svc, ctx(svc, account="444455556666"), {"KeyAttributes": CVK, "Exportable": True})


def test_alias_quota(svc) -> None:
    aliases.create_alias(svc, ctx(svc), {"AliasName": "alias/one"})
    with pytest.raises(ServiceQuotaExceeded):
        aliases.create_alias(svc, ctx(svc), {"AliasName": "alias/two"})


def test_delete_restore_and_purge(svc) -> None:
    c = ctx(svc)
    arn = lifecycle.create_key(svc, c, {"KeyAttributes": CVK, "Exportable": True})["Key"]["KeyArn"]
    aliases.create_alias(svc, c, {"AliasName": "alias/k", "KeyArn": arn})
    pending = lifecycle.delete_key(svc, c, {"KeyIdentifier": "alias/k", "DeleteKeyInDays": 3})["Key"]
    assert pending["DeletePendingTimestamp"] == c.now + dt.timedelta(days=3)
    with pytest.raises(Conflict):
        lifecycle.delete_key(svc, c, {"KeyIdentifier": arn})
    assert lifecycle.purge_due(svc, c.now + dt.timedelta(days=2)) == []
    assert lifecycle.purge_due(svc, c.now + dt.timedelta(days=3)) == [arn]
    with pytest.raises(ResourceNotFound):
        lifecycle.get_key(svc, c, {"KeyIdentifier": arn})
    assert aliases.get_alias(svc, c, {"AliasName": "alias/k"})["Alias"] == {"AliasName": "alias/k"}


def test_other_account_cannot_see_key(svc) -> None:
    arn = lifecycle.create_key(svc, ctx(svc), {"KeyAttributes": CVK, "Exportable": True})["Key"]["KeyArn"]
    with pytest.raises(ResourceNotFound):
        lifecycle.get_key(svc, ctx(svc, account="444455556666"), {"KeyIdentifier": arn})
    assert lifecycle.list_keys(svc, ctx(svc, account="444455556666"), {})["Keys"] == []

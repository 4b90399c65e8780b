"""The request path's authorizer (auth/authorize.py), called directly.

The cross-account table against the models' own documentation, the root user's fast path (no
store access beyond the key read the pipeline made), which keys it hands on to the service, and
how a data-plane request is classed for the rate quotas.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.loaders import Loader

from paycrypt.auth import authorize
from paycrypt.auth.credentials import dev_credentials
from paycrypt.auth.sigv4 import Credential
from paycrypt.auth.throttle import ASYMMETRIC, CONTROL, SYMMETRIC
from paycrypt.errors import AccessDenied
from paycrypt.policy.requests import RequestCatalog
from paycrypt.service.identifiers import ResolvedKey, resolve, resolve_request
from paycrypt.store.records import KeyRecord
from paycrypt.store.sqlite import SqliteStore
from paycrypt.wire import models

CATALOG = RequestCatalog(models.load().services)  # what the server builds from the models it loads


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
        raise AssertionError(f"the store was read ({name})")


ACCOUNT = "111122223333"
OWN_KEY = "arn:aws:payment-cryptography:us-east-1:111122223333:key/k000000000000000"
OTHER_ACCOUNT_KEY = "arn:aws:payment-cryptography:us-east-1:444455556666:key/k000000000000000"


def test_root_fast_path_reads_nothing() -> None:
    """The key the pipeline resolved is handed on as it is: no tags, aliases or policy are read."""
    [root] = dev_credentials().values()
    checker = authorize.Authorizer(NoStore())  # type: ignore[arg-type]
    keys = {OWN_KEY: ResolvedKey(NoStore(), OWN_KEY, ACCOUNT, record("TDES_2KEY"))}  # type: ignore[arg-type]
    params = {"KeyIdentifier": OWN_KEY, "PrimaryAccountNumber": "4111111111111111"}
    shape = CATALOG.describe("GenerateCardValidationData", params)
    assert checker.check(shape, True, root, "us-east-1", keys) is keys


@pytest.mark.parametrize(("reads", "read"), [(True, "the store was read (get_tags)"), (False, None)])
def test_every_credential_says_whether_a_keys_tags_and_aliases_are_read(
    reads: bool, read: str | None
) -> None:
    """A plain SigV4 credential carries reads_tags / reads_aliases as a Principal does (default True:
    read them); False, as the credential store sets for a caller whose policies test neither, reads
    nothing of the key."""
    caller = Credential(
        "AKIAEXAMPLE", "secret", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/a", "AIDA", None, reads, reads
    )
    key = ResolvedKey(NoStore(), OWN_KEY, ACCOUNT, record("TDES_2KEY"))  # type: ignore[arg-type]
    if read is None:
        ref = authorize._ref(key, "KeyIdentifier", caller, policies=False)
        assert ref.tags == {} and ref.aliases == ()
    else:
        with pytest.raises(AssertionError, match=re.escape(read)):
            authorize._ref(key, "KeyIdentifier", caller, policies=False)


def test_root_naming_another_accounts_key_is_evaluated() -> None:
    """The root user naming another account's key takes the full path, and is denied on the ARN
    alone when the key is not shared (issue 12 item 8), not answered ResourceNotFound."""
    [root] = dev_credentials().values()
    checker = authorize.Authorizer(NoStore())  # type: ignore[arg-type]
    keys = {OTHER_ACCOUNT_KEY: ResolvedKey(NoStore(), OTHER_ACCOUNT_KEY, "444455556666")}  # type: ignore[arg-type]
    with pytest.raises(AccessDenied, match="because no resource-based policy allows"):
        checker.check(
            CATALOG.describe("GetKey", {"KeyIdentifier": OTHER_ACCOUNT_KEY}), False, root, "us-east-1", keys
        )


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
def test_names_other_account(tmp_path: Path, operation: str, params: dict, foreign: bool) -> None:
    """The fast path's question: does the request name a key of another account (issue 12 item 8)?
    The pipeline's resolution answers it, and then the fast path is not taken."""
    shape = CATALOG.describe(operation, params)
    keys = resolve_request(SqliteStore(tmp_path / "db"), ACCOUNT, "us-east-1", shape.targets)
    assert any(key.account != ACCOUNT for key in keys.values()) is foreign
    [root] = dev_credentials().values()
    checker = authorize.Authorizer(NoStore())  # type: ignore[arg-type]
    if foreign:
        with pytest.raises(AccessDenied):
            checker.check(shape, operation == "ReEncryptData", root, "us-east-1", keys)
    else:
        assert checker.check(shape, False, root, "us-east-1", keys) is keys


def shared_key(tmp_path: Path, policy: dict[str, Any]) -> tuple[SqliteStore, dict[str, ResolvedKey]]:
    """Account 444455556666's key, with this resource policy, as the pipeline resolves it for 111122223333."""
    store = SqliteStore(tmp_path / "db")
    store.insert_key(dataclasses.replace(record("TDES_2KEY"), arn=OTHER_ACCOUNT_KEY, account="444455556666"))
    store.put_resource_policy(OTHER_ACCOUNT_KEY, "444455556666", "us-east-1", json.dumps(policy))
    return store, {OTHER_ACCOUNT_KEY: resolve(store, ACCOUNT, "us-east-1", OTHER_ACCOUNT_KEY)}


def share(principal: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "*", "Resource": "*"}],
    }


def test_a_shared_key_of_another_account_is_handed_on(tmp_path: Path) -> None:
    [root] = dev_credentials().values()
    store, keys = shared_key(tmp_path, share(ACCOUNT))
    params = {"KeyIdentifier": OTHER_ACCOUNT_KEY}
    allowed = authorize.Authorizer(store).check(
        CATALOG.describe("GetKey", params), False, root, "us-east-1", keys
    )
    assert allowed == keys


def test_a_key_of_another_account_shared_with_someone_else_is_not(tmp_path: Path) -> None:
    [root] = dev_credentials().values()
    store, keys = shared_key(tmp_path, share("777788889999"))
    params = {"KeyIdentifier": OTHER_ACCOUNT_KEY}
    with pytest.raises(AccessDenied, match="because no resource-based policy allows"):
        authorize.Authorizer(store).check(CATALOG.describe("GetKey", params), False, root, "us-east-1", keys)
    # Nor where the operation cannot cross accounts, whatever the key's policy says.
    store, keys = shared_key(tmp_path / "control", share(ACCOUNT))
    params = {"ResourceArn": OTHER_ACCOUNT_KEY, "Policy": "{}"}
    with pytest.raises(AccessDenied, match="because no resource-based policy allows"):
        shape = CATALOG.describe("PutResourcePolicy", params)
        authorize.Authorizer(store).check(shape, False, root, "us-east-1", keys)


def record(algorithm: str) -> KeyRecord:
    return KeyRecord(
        arn=OWN_KEY,
        account=ACCOUNT,
        region="us-east-1",
        key_id="k",
        key_attributes={"KeyAlgorithm": algorithm},
        key_check_value="",
        key_check_value_algorithm="",
        enabled=True,
        exportable=True,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
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

"""The key resolver (service/identifiers.py) over a real SQLite store, with every read counted.

What each kind of identifier resolves to, that a request reads each key once however many members
name it, that tags, alias names and the resource policy are read only when asked and then once,
and that a service function takes the pipeline's resolution without reading the store again.
"""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from paycrypt import arns
from paycrypt.errors import ResourceNotFound
from paycrypt.policy.requests import RequestCatalog
from paycrypt.service import identifiers
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store.records import AliasRecord
from paycrypt.wire import models
from tests.counting_store import CountingStore, counting
from tests.service.stored_keys import ACCOUNT, GEN_VERIFY, context, put

CATALOG = RequestCatalog(models.load().services)  # what the server builds from the models it loads

OTHER = "444455556666"
REGION = "us-east-1"


@pytest.fixture
def store(svc: Service) -> CountingStore:
    return CountingStore(svc.store)


def cvk(svc: Service, ctx: Context | None = None) -> str:
    if ctx is None:
        return put(svc, secrets.token_bytes(16), "TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)
    new = lifecycle.NewKey(
        attributes={
            "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
            "KeyAlgorithm": "TDES_2KEY",
            "KeyClass": "SYMMETRIC_KEY",
            "KeyModesOfUse": GEN_VERIFY,
        },
        material=secrets.token_bytes(16),
        exportable=True,
        enabled=True,
        origin="EXTERNAL",
    )
    return lifecycle.store_key(svc, ctx, new).arn


def other_account(svc: Service) -> Context:
    return Context(Caller(OTHER, f"arn:aws:iam::{OTHER}:root", OTHER), REGION, svc.clock.now(), "r")


def test_a_key_arn_reads_the_key_once_and_nothing_else(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc)
    found = identifiers.resolve(store, ACCOUNT, REGION, arn)
    assert found.record is not None and found.record.arn == arn
    assert (found.arn, found.account, found.alias_name, found.alias_arn) == (arn, ACCOUNT, None, None)
    assert store.reads() == {"get_key": 1}


def test_tags_aliases_and_policy_are_read_when_asked_and_once(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc)
    svc.store.put_tags(arn, [{"Key": "Project", "Value": "X"}])
    svc.store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/cvk", arn))
    svc.store.put_resource_policy(arn, ACCOUNT, REGION, '{"Statement": []}')
    found = identifiers.resolve(store, ACCOUNT, REGION, arn)
    store.reset()
    for _ in range(2):
        assert found.tags == {"Project": "X"}
        assert found.aliases == ("alias/cvk",)
        assert found.policy == '{"Statement": []}'
    assert store.reads() == {"get_tags": 1, "list_aliases": 1, "get_resource_policy": 1}


def test_an_alias_name_and_an_alias_arn_name_the_key(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc)
    svc.store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/cvk", arn))
    alias_arn = arns.build(REGION, ACCOUNT, "alias/cvk")
    for identifier in ("alias/cvk", alias_arn):
        store.reset()
        found = identifiers.resolve(store, ACCOUNT, REGION, identifier)
        assert found.record is not None and found.arn == arn
        assert (found.alias_name, found.alias_arn) == ("alias/cvk", alias_arn)
        assert store.reads() == {"get_alias": 1, "get_key": 1}


def test_an_alias_without_a_key_is_its_own_arn(svc: Service, store: CountingStore) -> None:
    svc.store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/empty", None))
    for name in ("alias/empty", "alias/absent"):
        found = identifiers.resolve(store, ACCOUNT, REGION, name)
        assert found.record is None
        assert (found.arn, found.account, found.alias_name) == (
            arns.build(REGION, ACCOUNT, name),
            ACCOUNT,
            name,
        )
        assert (found.tags, found.aliases, found.policy) == ({}, (), None)


@pytest.mark.parametrize(
    "identifier",
    [
        "arn:aws:payment-cryptography:us-west-2:111122223333:key/k000000000000000",  # another region
        "arn:aws:payment-cryptography:us-west-2:111122223333:alias/cvk",
        "arn:aws:payment-cryptography:us-east-1:111122223333",  # too few fields
        "arn:aws:payment-cryptography:us-east-1:111122223333:mpa/k000000000000000",  # not a key or alias
    ],
)
def test_what_the_callers_region_cannot_see_reads_nothing(store: CountingStore, identifier: str) -> None:
    found = identifiers.resolve(store, ACCOUNT, REGION, identifier)
    assert (found.record, found.arn, found.account, found.alias_name) == (None, identifier, ACCOUNT, None)
    assert store.reads() == {}


def test_another_accounts_key_is_read_for_the_authorizer_only(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc, other_account(svc))
    found = identifiers.resolve(store, ACCOUNT, REGION, arn)
    assert found.record is not None and found.account == OTHER
    # Without the pipeline (a service function called directly) it is not even read.
    store.reset()
    direct = identifiers.resolve(store, ACCOUNT, REGION, arn, foreign=False)
    assert (direct.record, direct.account) == (None, OTHER)
    assert store.reads() == {}
    ctx = context(svc)
    with pytest.raises(ResourceNotFound, match=f"Key {arn} was not found"):
        identifiers.resolve_key(store, ctx, arn)
    in_another_region = arn.replace(REGION, "us-west-2")
    assert identifiers.resolve(store, ACCOUNT, REGION, in_another_region).record is None


@pytest.mark.parametrize(("member", "kind"), [("KeyIdentifier", "Key"), ("ResourceArn", "Resource")])
def test_another_accounts_alias_arn_is_not_found(store: CountingStore, member: str, kind: str) -> None:
    alias = arns.build(REGION, OTHER, "alias/theirs")
    with pytest.raises(ResourceNotFound, match=f"^{kind} {alias} was not found"):
        identifiers.resolve(store, ACCOUNT, REGION, alias, member)
    assert store.reads() == {}


def test_a_request_reads_each_key_once(svc: Service, store: CountingStore) -> None:
    """ReEncryptData naming one key as both its incoming and its outgoing key."""
    arn = cvk(svc)
    params = {"IncomingKeyIdentifier": arn, "OutgoingKeyIdentifier": arn, "CipherText": "00"}
    found = identifiers.resolve_request(
        store, ACCOUNT, REGION, CATALOG.describe("ReEncryptData", params).targets
    )
    assert list(found) == [arn]
    assert store.reads() == {"get_key": 1}


def test_get_alias_resolves_the_key_of_its_alias(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc)
    svc.store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/cvk", arn))
    named = CATALOG.describe("GetAlias", {"AliasName": "alias/cvk"}).targets
    assert identifiers.resolve_request(store, ACCOUNT, REGION, named)["alias/cvk"].arn == arn
    # DeleteAlias names the alias alone, not its key.
    named = CATALOG.describe("DeleteAlias", {"AliasName": "alias/cvk"}).targets
    assert identifiers.resolve_request(store, ACCOUNT, REGION, named) == {}


def test_a_service_function_takes_what_the_pipeline_resolved(svc: Service, store: CountingStore) -> None:
    arn = cvk(svc)
    svc.store.put_alias(AliasRecord(ACCOUNT, REGION, "alias/cvk", arn))
    named = CATALOG.describe("GetKey", {"KeyIdentifier": "alias/cvk"}).targets
    resolved = identifiers.resolve_request(store, ACCOUNT, REGION, named)
    ctx = dataclasses.replace(context(svc), keys=resolved)
    svc.store = store  # type: ignore[assignment]
    reads = counting(lambda: lifecycle.get_key(svc, ctx, {"KeyIdentifier": "alias/cvk"}), store)
    assert reads == {}
    # Resolved or not, a ResourceArn member names a key by its key ARN only.
    with pytest.raises(ResourceNotFound, match=r"^Resource alias/cvk was not found"):
        identifiers.resolve_resource_arn(store, ctx, "alias/cvk")
    assert identifiers.resolve_resource_arn(store, context(svc), arn).arn == arn


def test_a_resolved_key_without_a_record_reads_nothing_more(store: CountingStore) -> None:
    found = identifiers.ResolvedKey(store, arns.build(REGION, ACCOUNT, "key/k000000000000000"), ACCOUNT)
    assert (found.tags, found.aliases, found.policy) == ({}, (), None)
    assert store.calls == {}

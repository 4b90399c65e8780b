"""Clear key material leaves the key cache when a key stops being usable: DeleteKey, StopKeyUsage,
purge, a replica's update or deletion. Counted at the vault: the next use of such a key (once it is
usable again) unseals it again. Everything derived from the key goes with it: DUKPT transaction
secrets and parsed private lifecycle."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from paycrypt.jobs.replicator import Replicator
from paycrypt.service.core import Service
from paycrypt.service.issuer import card_validation
from paycrypt.service.keys import lifecycle
from paycrypt.service.replication import key_regions
from paycrypt.service.transactions import data_encryption
from paycrypt.vault.keycache import KeyCache
from tests.service.replication.test_replication_service import WEST, create
from tests.service.stored_keys import context as ctx
from tests.vault.test_keycache import CountingVault

PAN = "4123456789012345"


@pytest.fixture
def vault() -> CountingVault:
    return CountingVault()


@pytest.fixture
def service_options(vault: CountingVault) -> dict[str, Any]:
    """`svc` unseals through the counting vault."""
    return {"keycache": KeyCache(vault)}


def cvv2(svc: Service, arn: str) -> str:
    params = {
        "KeyIdentifier": arn,
        "PrimaryAccountNumber": PAN,
        "GenerationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1230"}},
    }
    return card_validation.generate_card_validation_data(svc, ctx(svc, region=arn.split(":")[3]), params)[
        "ValidationData"
    ]


def identifier(arn: str) -> dict[str, str]:
    return {"KeyIdentifier": arn}


def test_delete_key_forgets_and_a_restored_key_is_unsealed_again(svc: Service, vault: CountingVault) -> None:
    arn = create(svc)
    value = cvv2(svc, arn)
    cvv2(svc, arn)
    assert vault.unseals[arn] == 1 and svc.keycache.holds(arn)
    lifecycle.delete_key(svc, ctx(svc), identifier(arn))
    assert not svc.keycache.holds(arn)
    lifecycle.restore_key(svc, ctx(svc), identifier(arn))
    lifecycle.start_key_usage(svc, ctx(svc), identifier(arn))
    assert cvv2(svc, arn) == value and vault.unseals[arn] == 2


def test_stop_key_usage_forgets(svc: Service, vault: CountingVault) -> None:
    arn = create(svc)
    value = cvv2(svc, arn)
    lifecycle.stop_key_usage(svc, ctx(svc), identifier(arn))
    assert not svc.keycache.holds(arn)
    lifecycle.start_key_usage(svc, ctx(svc), identifier(arn))
    assert cvv2(svc, arn) == value and vault.unseals[arn] == 2


def test_purge_forgets(svc: Service, vault: CountingVault) -> None:
    """A request that read the key just before DeleteKey may cache it again; the purge drops it."""
    arn = create(svc)
    lifecycle.delete_key(svc, ctx(svc), {**identifier(arn), "DeleteKeyInDays": 3})
    svc.keycache.material(svc.store.get_key(arn))  # that late request
    assert svc.keycache.holds(arn)
    svc.clock.advance(dt.timedelta(days=4))
    assert lifecycle.purge_due(svc, svc.clock.now()) == [arn]
    assert not svc.keycache.holds(arn) and len(svc.keycache) == 0


def test_a_replica_is_forgotten_when_the_replicator_updates_or_deletes_it(
    svc: Service, vault: CountingVault
) -> None:
    replicator = Replicator(svc, clock=svc.clock)
    arn = create(svc, [WEST])
    assert replicator.run_once() == 1
    replica = key_regions.replica_arn(arn, WEST)
    value = cvv2(svc, replica)
    assert svc.keycache.holds(replica)
    lifecycle.stop_key_usage(svc, ctx(svc), identifier(arn))  # the primary's change reaches the replica...
    assert svc.keycache.holds(replica)  # ...only when the replicator applies it
    assert replicator.run_once() == 1
    assert not svc.keycache.holds(replica)
    lifecycle.start_key_usage(svc, ctx(svc), identifier(arn))
    assert replicator.run_once() == 1
    assert cvv2(svc, replica) == value and vault.unseals[replica] == 2
    lifecycle.delete_key(svc, ctx(svc), {**identifier(arn), "DeleteKeyInDays": 3})
    svc.keycache.material(svc.store.get_key(replica))  # a late request on the replica
    svc.clock.advance(dt.timedelta(days=4))
    assert lifecycle.purge_due(svc, svc.clock.now()) == [arn]  # the replica's deletion is queued
    assert svc.keycache.holds(replica)
    assert replicator.run_once() == 1
    assert svc.store.get_key(replica) is None and not svc.keycache.holds(replica)


def test_dukpt_secrets_and_parsed_private_keys_go_with_their_key(svc: Service, vault: CountingVault) -> None:
    c = ctx(svc)
    bdk = lifecycle.create_key(
        svc,
        c,
        {
            "KeyAttributes": {
                "KeyAlgorithm": "AES_128",
                "KeyUsage": "TR31_B0_BASE_DERIVATION_KEY",
                "KeyClass": "SYMMETRIC_KEY",
                "KeyModesOfUse": {"DeriveKey": True},
            },
            "Exportable": True,
        },
    )["Key"]["KeyArn"]
    pair = lifecycle.create_key(
        svc,
        c,
        {
            "KeyAttributes": {
                "KeyAlgorithm": "RSA_2048",
                "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
                "KeyClass": "ASYMMETRIC_KEY_PAIR",
                "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
            },
            "Exportable": True,
        },
    )["Key"]["KeyArn"]
    for ksn in ("123456789012345600000001", "123456789012345600000002"):
        data_encryption.encrypt_data(
            svc,
            c,
            {
                "KeyIdentifier": bdk,
                "PlainText": "00112233445566778899AABBCCDDEEFF",
                "EncryptionAttributes": {"Dukpt": {"KeySerialNumber": ksn, "Mode": "ECB"}},
            },
        )
    sealed = data_encryption.encrypt_data(
        svc,
        c,
        {
            "KeyIdentifier": pair,
            "PlainText": "00112233",
            "EncryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
        },
    )["CipherText"]
    assert len(svc.keycache) == 5  # BDK, its two transaction secrets; the pair, its parsed key
    for arn in (bdk, pair):
        lifecycle.delete_key(svc, c, identifier(arn))
        assert not svc.keycache.holds(arn)
    assert len(svc.keycache) == 0
    lifecycle.restore_key(svc, c, identifier(pair))
    lifecycle.start_key_usage(svc, c, identifier(pair))
    decrypt = {
        "KeyIdentifier": pair,
        "CipherText": sealed,
        "DecryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    }
    assert data_encryption.decrypt_data(svc, c, decrypt)["PlainText"] == "00112233"
    assert vault.unseals[pair] == 2

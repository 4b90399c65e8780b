"""The readiness probe's vault check (vault/probe.py): a vault that seals and unseals passes; one
that fails either way, or gives back other material, does not."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord
from paycrypt.vault import probe
from paycrypt.vault.local import MasterKeyVault


def test_a_working_vault_passes() -> None:
    probe.check(MasterKeyVault(secrets.token_bytes(32)))


class Forgetful(MasterKeyVault):
    """Unseals under another master key than it sealed with: a token that lost its key."""

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        return MasterKeyVault(secrets.token_bytes(32)).unseal(record, block)


class Garbling(MasterKeyVault):
    def unseal(self, record: KeyRecord, block: str) -> bytes:
        return bytes(16)


class Broken(MasterKeyVault):
    def seal(self, record: KeyRecord, material: bytes) -> str:
        raise OSError("the token is gone")


FAILURES = [(Forgetful, InternalServer), (Garbling, probe.VaultUnusable), (Broken, OSError)]


@pytest.mark.parametrize(("vault_class", "error"), FAILURES)
def test_a_vault_that_cannot_round_trip_fails(vault_class: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        probe.check(vault_class(secrets.token_bytes(32)))

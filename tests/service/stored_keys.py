"""A Service on a temporary store, and known keys put into it through lifecycle.store_key."""

from __future__ import annotations

import secrets
from pathlib import Path

from paycrypt.clock import ManualClock
from paycrypt.crypto import keygen
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import lifecycle
from paycrypt.service.rules import combinations
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault

ACCOUNT = "111122223333"

GEN_VERIFY = {"Generate": True, "Verify": True}
DERIVE = {"DeriveKey": True}
ENC_DEC = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}


def new_keycache(master_key: bytes | None = None) -> KeyCache:
    """An empty key cache over a vault with this master key (a random one if None)."""
    return KeyCache(MasterKeyVault(master_key or secrets.token_bytes(32)))


def file_service(data_dir: Path, keys_per_region: int = 100_000) -> Service:
    """A Service on the store and master key files of a server's data directory (`data_dir`)."""
    return Service(
        SqliteStore(data_dir / "paycrypt.db"),
        KeyCache(LocalKeyFileVault(data_dir / "master.key")),
        ManualClock(),
        Quotas(keys_per_region=keys_per_region),
    )


def service(tmp_path: Path) -> Service:
    return Service(SqliteStore(tmp_path / "db"), new_keycache(), ManualClock())


def context(svc: Service) -> Context:
    return Context(
        Caller(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/t", "AIDA"), "us-east-1", svc.clock.now(), "r"
    )


def put(svc: Service, material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> str:
    """Store `material` as a key with these attributes (checked by the CreateKey rules); its ARN."""
    attributes = {
        "KeyUsage": usage,
        "KeyAlgorithm": algorithm,
        "KeyClass": combinations.RULES[usage].key_class,
        "KeyModesOfUse": modes,
    }
    combinations.check_create(attributes, None)
    new = lifecycle.NewKey(
        attributes=attributes, material=material, exportable=True, enabled=True, origin="EXTERNAL"
    )
    return lifecycle.store_key(svc, context(svc), new).arn


CVK = ("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)


def fill(svc: Service, count: int) -> list[str]:
    """`count` card verification keys of random material, stored in one transaction; their ARNs."""
    with svc.store.transaction():
        return [put(svc, keygen.generate("TDES_2KEY"), *CVK) for _ in range(count)]

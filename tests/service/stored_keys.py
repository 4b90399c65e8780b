"""A Service on a temporary store, a caller's context, and known keys put into it through
lifecycle.store_key. The one way the tests build a Service by hand: tests/conftest.py's `svc` and
`ctx` fixtures are built from these, and a test needing a Service of its own (a second one on the
same database, a module-wide one) calls `new_service`."""

from __future__ import annotations

import secrets
from pathlib import Path

from paycrypt.clock import ManualClock
from paycrypt.crypto import keygen
from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.service.context import Caller, Context
from paycrypt.service.core import Quotas, Service
from paycrypt.service.keys import lifecycle
from paycrypt.service.rules import combinations
from paycrypt.store.records import KeyRecord
from paycrypt.store.sqlite import SqliteStore
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import LocalKeyFileVault, MasterKeyVault

ACCOUNT = "111122223333"
REGION = "us-east-1"

GEN_VERIFY = {"Generate": True, "Verify": True}
DERIVE = {"DeriveKey": True}
ENC_DEC = {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True}


def new_keycache(master_key: bytes | None = None) -> KeyCache:
    """An empty key cache over a vault with this master key (a random one if None)."""
    return KeyCache(MasterKeyVault(master_key or secrets.token_bytes(32)))


def new_service(
    database: Path,
    *,
    keycache: KeyCache | None = None,
    clock: ManualClock | None = None,
    quotas: Quotas | None = None,
    regions: tuple[str, ...] = DEFAULT_REGIONS,
) -> Service:
    """A Service over the SQLite database at `database`; what is not given is fresh: an empty key
    cache over a random master key, a ManualClock, the default quotas and regions."""
    keycache = new_keycache() if keycache is None else keycache
    return Service(SqliteStore(database), keycache, clock or ManualClock(), quotas, regions)


def file_service(data_dir: Path, keys_per_region: int = 100_000) -> Service:
    """A Service on the store and master key files of a server's data directory (`data_dir`)."""
    return Service(
        SqliteStore(data_dir / "paycrypt.db"),
        KeyCache(LocalKeyFileVault(data_dir / "master.key")),
        ManualClock(),
        Quotas(keys_per_region=keys_per_region),
    )


def context(svc: Service, *, account: str = ACCOUNT, region: str = REGION) -> Context:
    """A direct call's context: an IAM user of `account` calling in `region`, at the service's now."""
    return Context(Caller(account, f"arn:aws:iam::{account}:user/t", "AIDA"), region, svc.clock.now(), "r")


def store(svc: Service, material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> KeyRecord:
    """Store `material` as an exportable key of the tests' account with these attributes, checked
    by the CreateKey rules (the path ImportKey itself ends in); its record."""
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
    return lifecycle.store_key(svc, context(svc), new)


def put(svc: Service, material: bytes, usage: str, algorithm: str, modes: dict[str, bool]) -> str:
    """`store`; the key's ARN."""
    return store(svc, material, usage, algorithm, modes).arn


CVK = ("TR31_C0_CARD_VERIFICATION_KEY", "TDES_2KEY", GEN_VERIFY)


def fill(svc: Service, count: int) -> list[str]:
    """`count` card verification keys of random material, stored in one transaction; their ARNs."""
    with svc.store.transaction():
        return [put(svc, keygen.generate("TDES_2KEY"), *CVK) for _ in range(count)]

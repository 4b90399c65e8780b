"""The service object: the store, the key cache (and its vault) and the clock every operation shares."""

from __future__ import annotations

from dataclasses import dataclass

from paycrypt import defaults
from paycrypt.clock import Clock
from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.store.base import Store
from paycrypt.vault.base import Vault
from paycrypt.vault.keycache import KeyCache


@dataclass(frozen=True)
class Quotas:
    keys_per_region: int = defaults.KEYS_PER_REGION
    aliases_per_region: int = defaults.ALIASES_PER_REGION
    tags_per_key: int = 50


class Service:
    def __init__(
        self,
        store: Store,
        keycache: KeyCache,
        clock: Clock,
        quotas: Quotas | None = None,
        regions: tuple[str, ...] = DEFAULT_REGIONS,
    ) -> None:
        self.store = store
        self.keycache = keycache  # clear keys, unsealed once; forget(arn) when a key changes
        self.vault: Vault = keycache.vault  # seals new keys; never hands out its master key
        self.clock = clock
        self.quotas = quotas or Quotas()
        self.regions = regions  # the regions this deployment serves (requests and replication)

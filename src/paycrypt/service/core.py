"""The service object: the store, the sealer and the clock that every operation shares."""

from __future__ import annotations

from dataclasses import dataclass

from paycrypt import defaults
from paycrypt.clock import Clock
from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.service.material import Sealer
from paycrypt.store.base import Store


@dataclass(frozen=True)
class Quotas:
    keys_per_region: int = defaults.KEYS_PER_REGION
    aliases_per_region: int = defaults.ALIASES_PER_REGION
    tags_per_key: int = 50


class Service:
    def __init__(
        self,
        store: Store,
        master_key: bytes,
        clock: Clock,
        quotas: Quotas | None = None,
        regions: tuple[str, ...] = DEFAULT_REGIONS,
    ) -> None:
        self.store = store
        self.sealer = Sealer(master_key)
        self.clock = clock
        self.quotas = quotas or Quotas()
        self.regions = regions  # the regions this deployment serves (requests and replication)

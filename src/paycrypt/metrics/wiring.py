"""A server's metrics, built for server.py: the families, the request meter, the timed store, the
key cache's and throttle's counters, the sampled gauges, and the jobs that serve or sample them.

Which process does what (exposition.py): one process builds a registry of its own and serves it on
--metrics-port, reading its gauges at each scrape; a worker of several (PROMETHEUS_MULTIPROC_DIR
set by its supervisor) writes its values to the shared directory, reads its gauges every few
seconds and serves no port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from paycrypt.metrics import exposition
from paycrypt.metrics.families import Families
from paycrypt.metrics.meter import RequestMeter
from paycrypt.metrics.sampling import Sampler, Sources
from paycrypt.metrics.store_timing import TimedStore
from paycrypt.vault.keycache import Counters

MATERIAL, DERIVED = "material", "derived"


@dataclass
class Instruments:
    families: Families
    meter: RequestMeter
    exposition: exposition.Exposition | None  # None in a worker of several
    sampler: Sampler | None = None  # set by `read_from`

    def timed(self, store: Any) -> Any:
        """The store, each protocol call timed."""
        return TimedStore(store, self.families.store)

    def cache_counters(self) -> dict[str, Counters]:
        """The key cache's hit and miss counters, as KeyCache's keyword arguments."""
        family = self.families.key_cache

        def counters(entry: str) -> Counters:
            return Counters(hit=family.labels(entry, "hit").inc, miss=family.labels(entry, "miss").inc)

        return {"material_counters": counters(MATERIAL), "derived_counters": counters(DERIVED)}

    def throttled(self, kinds: Iterable[str]) -> Callable[[str], None]:
        """What the throttle calls with a refused request's quota kind."""
        children = {kind: self.families.throttled.labels(kind) for kind in kinds}

        def refused(kind: str) -> None:
            children[kind].inc()

        return refused

    def read_from(self, sources: Sources) -> None:
        self.sampler = Sampler(self.families, sources)
        if self.exposition is not None:
            self.exposition.before_scrape = self.sampler.sample

    def jobs(self) -> list[Any]:
        """For the lifespan: the port's server (one process), or the periodic sampler (a worker)."""
        if self.exposition is not None:
            return [self.exposition]
        return [self.sampler] if self.sampler is not None else []


def build(
    host: str, port: int, *, per_key: bool, operations: Iterable[str], reasons: Iterable[str]
) -> Instruments:
    """Bind --metrics-port (one process) or write to the workers' directory (a worker)."""
    if exposition.worker_directory() is not None:
        exposition.enable_worker_values()
        families = Families(None, per_key=per_key)
        served = None
    else:
        families = Families(CollectorRegistry(), per_key=per_key)
        served = exposition.Exposition(host, port, families.registry)  # type: ignore[arg-type]
    return Instruments(families, RequestMeter(families, operations, reasons), served)

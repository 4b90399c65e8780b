"""A mapping bounded to a number of entries that evicts the least recently used one, one at a time.

The caches of the request path (the store's parsed records and resource policies, the audit
writer's clean strings) hold far fewer entries than there may be keys. Clearing such a cache
when it is full empties it at once: every caller then misses together, and with more keys than
entries the cache is cleared over and over. Evicting the oldest entry keeps the hot ones, so a
lookup costs the same at any number of keys.

Reads take no lock: each OrderedDict operation is atomic under the GIL, and a read racing an
eviction of the same entry is a miss, never an error. Writers that must keep the cache exact
against their rows (the SQLite store) hold their own lock around them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_MISSING = object()


class Lru(Generic[K, V]):
    __slots__ = ("_table", "entries")

    def __init__(self, entries: int) -> None:
        if entries < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self.entries = entries
        self._table: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value of `key` (now the most recently used), or `default`."""
        value = self._table.get(key, _MISSING)
        if value is _MISSING:
            return default
        try:  # noqa: SIM105 - the hot path: a try costs nothing when nothing is raised
            self._table.move_to_end(key)
        except KeyError:  # evicted or dropped by another thread since the read: the value stands
            pass
        return value  # type: ignore[return-value]

    def put(self, key: K, value: V) -> None:
        """Keep `value` under `key`, evicting the least recently used entry when over the bound."""
        table = self._table
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.entries:
            try:
                table.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break

    def pop(self, key: K) -> None:
        """Forget `key` (nothing if absent)."""
        self._table.pop(key, None)

    def clear(self) -> None:
        self._table.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._table

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._table))

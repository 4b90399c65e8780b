"""The one cache of clear key material: unsealed keys, and what is derived from them.

Unsealing costs a key-block unwrap (and, with a key in an HSM, a call to the token); parsing an
RSA private key costs milliseconds of key checks; a DUKPT transaction secret costs up to 16
cipher steps. Each is done once per key and kept here, and nowhere else: no module keeps clear
key material in a global, so this one place bounds it and forgets it.

- Entries are the material of a key (`material`) and objects derived from it (`derived`: a parsed
  private key, a DUKPT transaction secret per KSN), each keyed by the key's ARN and a kind.
- A key's material entry holds it as a `crypto.primitives.CipherKey` (`cipher_key`): the material
  and the cipher contexts built from it on first use, so a data-plane call enciphers with a
  context built once per key instead of building one per call. The contexts are in the same
  entry as the material: whatever drops the entry (forget, forget_all, eviction, a changed
  block) drops them with it.
- Bounded: at most `entries` entries in all; inserting one more evicts the least recently used
  one, one at a time.
- `forget(arn)` drops every entry of a key. The service calls it when a key stops being usable
  or changes hands: DeleteKey, StopKeyUsage (every change of a key's state), purge, a replica's
  update or deletion, and a re-seal (master-key rotation); and for each of these made by another
  process or node, within a second: the server follows the store's feed of key changes
  (jobs/changes.py). `forget_all()` when that feed no longer reaches back far enough to say which
  keys changed, or its listening connection is lost.
- An entry is served only for the block it was unsealed from: a record whose key block changed
  (re-sealed under a new master key, possibly by another node) misses and unseals again.
- Counted: each lookup calls the `Counters` given for its entry's kind (material or derived), hit
  or miss, which server.py wires to the metrics when they are on; the default counts nothing.
- Thread-safe: one lock around every change of the table. Unsealing and deriving run outside it,
  so a slow unseal does not hold up hits; a value computed while `forget` ran is returned but not
  kept, so a key forgotten mid-request is not cached again by that request. A hit takes no lock
  (as paycrypt/lru.py's reads): each OrderedDict step is atomic under the GIL, and a hit racing a
  `forget` of its key is the same as a hit just before it; a miss looks again under the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple, TypeVar

from paycrypt.crypto.primitives import CipherKey
from paycrypt.defaults import KEY_CACHE_ENTRIES
from paycrypt.store.records import KeyRecord
from paycrypt.vault.base import Vault

MATERIAL = "material"

T = TypeVar("T")
EntryKey = tuple[str, Hashable]  # (key ARN, kind)


def _uncounted() -> None:
    pass


class Counters(NamedTuple):
    """What a lookup calls: `hit` when the entry was cached, `miss` when it was unsealed or derived."""

    hit: Callable[[], object] = _uncounted
    miss: Callable[[], object] = _uncounted


UNCOUNTED = Counters()


class _Entry(NamedTuple):
    block: str  # the key block the value comes from
    value: Any


class KeyCache:
    def __init__(
        self,
        vault: Vault,
        entries: int = KEY_CACHE_ENTRIES,
        *,
        material_counters: Counters = UNCOUNTED,
        derived_counters: Counters = UNCOUNTED,
    ) -> None:
        if entries < 1:
            raise ValueError("the key cache holds at least one entry")
        self.vault = vault
        self.entries = entries
        self._table: OrderedDict[EntryKey, _Entry] = OrderedDict()
        self._by_arn: dict[str, set[EntryKey]] = {}
        self._lock = threading.Lock()
        self._forgets = 0  # forget() calls so far: a value computed across one is not kept
        self._material_counters = material_counters
        self._derived_counters = derived_counters

    def material(self, record: KeyRecord) -> bytes:
        """The clear key of `record`, unsealed by the vault on first use."""
        return self.cipher_key(record).key

    def cipher_key(self, record: KeyRecord) -> CipherKey:
        """The clear key of `record` with its cipher contexts (kept in the material's entry)."""
        return self._get(record, MATERIAL, self._material_counters, self._unseal, record)

    def derived(self, record: KeyRecord, kind: Hashable, build: Callable[[bytes], T]) -> T:
        """`build(material)`, once per key and `kind` (e.g. "rsa-private", ("dukpt", ksn)).

        An exception from `build` (bad input) propagates and nothing is kept.
        """
        return self._get(record, kind, self._derived_counters, self._build, record, build)

    def forget(self, arn: str) -> None:
        """Drop every entry of the key `arn`; its next use unseals again."""
        with self._lock:
            self._forgets += 1
            for entry_key in self._by_arn.pop(arn, ()):
                del self._table[entry_key]

    def forget_all(self) -> None:
        """Drop every entry; every key's next use unseals again."""
        with self._lock:
            self._forgets += 1
            self._table.clear()
            self._by_arn.clear()

    def holds(self, arn: str) -> bool:
        """Whether anything of the key `arn` is cached."""
        with self._lock:
            return arn in self._by_arn

    def __len__(self) -> int:
        with self._lock:
            return len(self._table)

    def _unseal(self, record: KeyRecord) -> CipherKey:
        return CipherKey(self.vault.unseal(record, record.key_block))

    def _build(self, record: KeyRecord, build: Callable[[bytes], T]) -> T:
        return build(self.material(record))

    def _get(
        self, record: KeyRecord, kind: Hashable, counters: Counters, make: Callable[..., T], *args: Any
    ) -> T:
        """The cached value, or `make(*args)` on a miss (a hit builds nothing: this is the hot path)."""
        entry_key = (record.arn, kind)
        table = self._table
        entry = table.get(entry_key)  # a hit takes no lock (see the module's docstring)
        if entry is not None and entry.block == record.key_block:
            try:  # noqa: SIM105 - the hot path: a try costs nothing when nothing is raised
                table.move_to_end(entry_key)
            except KeyError:  # forgotten or evicted since the read: this call still gets its value
                pass
            counters.hit()
            return entry.value  # type: ignore[no-any-return]
        with self._lock:  # a miss: looked up again under the lock, as forget and _put hold it
            entry = self._table.get(entry_key)
            if entry is not None and entry.block == record.key_block:
                self._table.move_to_end(entry_key)
                counters.hit()
                return entry.value  # type: ignore[no-any-return]
            forgets = self._forgets
        counters.miss()
        value = make(*args)
        with self._lock:
            if self._forgets == forgets:
                self._put(entry_key, record.key_block, value)
        return value

    def _put(self, entry_key: EntryKey, block: str, value: object) -> None:
        self._table[entry_key] = _Entry(block, value)
        self._table.move_to_end(entry_key)
        self._by_arn.setdefault(entry_key[0], set()).add(entry_key)
        if len(self._table) > self.entries:
            evicted, _ = self._table.popitem(last=False)
            same_key = self._by_arn[evicted[0]]
            same_key.discard(evicted)
            if not same_key:
                del self._by_arn[evicted[0]]

"""DUKPT working keys for data-plane operations: one place from (BDK, KSN, members) to a key.

Every operation that takes DukptAttributes (MACs, data encryption, and PIN translation) derives
its working key here, so the members' defaults, the errors that name them, and the cache are the
same everywhere. The table from DukptKeyVariant to the standards' keys is in
`crypto.dukpt_variants`.

Cache (measured in bench/README.md): deriving a transaction key walks the KSN counter's one-bits
(up to 10 TDES or 16 AES steps, ~50–250 µs), while turning it into a PIN, MAC or data key is
one or two cipher calls. A terminal transaction uses one KSN for all of its keys (the request
MAC, the data, the PIN, then the response MAC), so the per-transaction secret is kept per
(BDK ARN, KSN) in a small bounded LRU per Service. It is held only in memory, like the unsealed
BDK it comes from (which the Sealer caches anyway), and is reached only after the BDK has been
resolved and its usage checked, so a disabled, deleted or purged BDK cannot use it; entries of
a purged BDK age out of the LRU.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from paycrypt.crypto import dukpt_variants
from paycrypt.crypto.dukpt_tdes import InvalidKsnError
from paycrypt.crypto.dukpt_variants import DukptKey, Purpose
from paycrypt.service.core import Service
from paycrypt.service.member_errors import invalid
from paycrypt.store.records import KeyRecord

__all__ = ["CACHE_SIZE", "DukptKey", "Purpose", "TransactionCache", "cache_for", "working_key"]

CACHE_SIZE = 4096


class TransactionCache:
    """A bounded LRU of per-transaction DUKPT secrets, keyed by (BDK ARN, KSN)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, bytes]) -> bytes | None:
        with self._lock:
            secret = self._entries.get(key)
            if secret is not None:
                self._entries.move_to_end(key)
            return secret

    def put(self, key: tuple[str, bytes], secret: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = secret
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CACHES: weakref.WeakKeyDictionary[Service, TransactionCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(svc: Service) -> TransactionCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(svc)
        if cache is None:
            cache = _CACHES[svc] = TransactionCache()
        return cache


def working_key(
    svc: Service,
    record: KeyRecord,
    ksn_hex: str,
    purpose: Purpose,
    variant: str | None,
    derivation_type: str | None,
    *,
    ksn_path: str,
    type_path: str,
) -> DukptKey:
    """The working key for a stored BDK whose usage the caller has checked.

    `ksn_path` and `type_path` name the KeySerialNumber and derivation-type members in errors.
    """
    algorithm = record.key_attributes["KeyAlgorithm"]
    ksn = dukpt_variants.full_ksn(bytes.fromhex(ksn_hex), algorithm)
    cache = cache_for(svc)
    cache_key = (record.arn, ksn)
    secret = cache.get(cache_key)
    if secret is None:
        try:
            secret = dukpt_variants.transaction_secret(svc.sealer.material(record), algorithm, ksn)
        except InvalidKsnError as exc:
            raise invalid(ksn_path, str(exc)) from None
        cache.put(cache_key, secret)
    try:
        return dukpt_variants.working_key(secret, algorithm, ksn, purpose, variant, derivation_type)
    except ValueError as exc:
        raise invalid(type_path, str(exc)) from None

"""Sealing key material into vault key blocks, and unsealing it once per key.

Every stored key is an X9.143 version D key block under the AES-256 master key. Two proprietary
optional blocks bind the block to its record: '01' carries the key ARN and '02' a digest of the
immutable attributes, so a block copied to another row, or a row whose usage or exportability
was edited in the database, fails to unseal instead of lending its key to the wrong rules.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from paycrypt.crypto import tr31
from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord

ALGORITHM_LETTERS = {"TDES": "T", "AES": "A", "HMAC": "H", "RSA": "R", "ECC": "E"}
CACHE_SIZE = 50_000


def usage_code(key_usage: str) -> str:
    """'TR31_C0_CARD_VERIFICATION_KEY' -> 'C0'."""
    return key_usage.split("_")[1]


def binding_digest(record: KeyRecord) -> str:
    immutable: dict[str, Any] = {
        "arn": record.arn,
        "attributes": record.key_attributes,
        "exportable": record.exportable,
        "origin": record.key_origin,
        "derive": record.derive_key_usage,
    }
    canonical = json.dumps(immutable, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:32].upper()


class Sealer:
    def __init__(self, master_key: bytes) -> None:
        self._kbpk = master_key
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()  # the event loop's thread and the offload workers share the cache

    def seal(self, record: KeyRecord, material: bytes) -> str:
        attributes = record.key_attributes
        header = tr31.Header(
            version_id="D",
            key_usage=usage_code(attributes["KeyUsage"]),
            algorithm=ALGORITHM_LETTERS[attributes["KeyAlgorithm"].split("_")[0]],
            mode_of_use="N",
            exportability="E" if record.exportable else "N",
            optional_blocks=(("01", record.arn), ("02", binding_digest(record))),
        )
        return tr31.wrap(self._kbpk, header, material)

    def material(self, record: KeyRecord) -> bytes:
        """The clear key of a record, unsealed once and then kept in a bounded cache."""
        with self._lock:
            cached = self._cache.get(record.arn)
            if cached is not None:
                self._cache.move_to_end(record.arn)
                return cached
        material = self._unseal(record)
        with self._lock:
            self._cache[record.arn] = material
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return material

    def forget(self, arn: str) -> None:
        with self._lock:
            self._cache.pop(arn, None)

    def _unseal(self, record: KeyRecord) -> bytes:
        try:
            header, material = tr31.unwrap(self._kbpk, record.key_block)
        except tr31.KeyBlockError as exc:
            raise InternalServer("Stored key material failed its integrity check.") from exc
        blocks = dict(header.optional_blocks)
        if blocks.get("01") != record.arn or blocks.get("02") != binding_digest(record):
            raise InternalServer("Stored key material does not belong to this key record.")
        return material

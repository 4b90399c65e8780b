"""What every vault does: seal and unseal key blocks. No vault hands out its master key.

A vault holds the keys that protect stored key material (the master key, in versions once it is
rotated) and does every operation that needs them itself, so a vault whose master key lives in an
HSM (PKCS#11) implements the same protocol as the local key file: the service above never sees a
master key, only blocks and the material of one key at a time.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from paycrypt.store.records import KeyRecord


@runtime_checkable
class Vault(Protocol):
    @property
    def key_id(self) -> str:
        """The identifier of the master key that new blocks are sealed under (its version)."""
        ...

    def seal(self, record: KeyRecord, material: bytes) -> str:
        """`material` as a block bound to `record` (its ARN and immutable attributes)."""
        ...

    def unseal(self, record: KeyRecord, block: str) -> bytes:
        """The material of `block`; InternalServer if it fails its check, belongs to another record,
        or is sealed under a master key this vault does not hold."""
        ...

    def sealed_by(self, block: str) -> str:
        """The identifier of the master key `block` is sealed under, without unsealing it."""
        ...

    def reseal(self, record: KeyRecord, block: str) -> str:
        """The same material sealed under the current master key (`key_id`), for rotation."""
        ...

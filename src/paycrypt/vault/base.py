"""What every vault does: seal and unseal key blocks. No vault hands out its master key.

A vault holds the keys that protect stored key material (the master key, in versions once it is
rotated) and does every operation that needs them itself, so a vault whose master key lives in an
HSM (PKCS#11) implements the same protocol as the local key file: the service above never sees a
master key, only blocks and the material of one key at a time.

Versions: a vault may hold several master keys at once, numbered from 1. It seals under the
newest (`key_id`) and unseals under whichever one a block names (its KP optional block, see
`blocks`). `refresh` re-reads the set from where it lives, so a running server learns a version
that `paycrypt vault rotate` added, and drops one it retired; a vault also refreshes by itself
when a block names a version it does not hold. `RotatableVault` adds what the rotation command
does to the set: add a version, retire one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from paycrypt.store.records import KeyRecord


@dataclass(frozen=True, order=True)
class MasterKeyVersion:
    version: int  # 1, 2, …: the order of creation; the highest seals
    key_id: str  # the check value KP names (never the key)


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

    def versions(self) -> list[MasterKeyVersion]:
        """The master keys this vault holds, oldest first; the last one seals."""
        ...

    def refresh(self) -> None:
        """Re-read the set of master keys from where it lives: learn new versions, drop retired ones."""
        ...


@runtime_checkable
class RotatableVault(Vault, Protocol):
    def add_version(self) -> MasterKeyVersion:
        """Make a new master key, newer than every other: from now on blocks are sealed under it."""
        ...

    def retire(self, version: int) -> None:
        """Destroy an older master key (the caller has made sure no block is sealed under it)."""
        ...

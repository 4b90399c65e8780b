"""What a backup records of the vault, and whether the configured vault can open a backup.

A backup holds sealed key blocks, useless without the master key they are sealed under; so its
manifest names that key by check value (the vault's `key_id`: the AES-CMAC check value, 40 bits,
that every block's KP optional block carries), with how many blocks each master key seals. A
restore refuses a backup whose master keys the configured vault does not hold before it writes
anything, then opens every block (the X9.143 MAC under the master key and the binding to its
record): a block forged or moved in a backup whose checksum was recomputed is refused too. The
unsealed material is dropped at once; nothing of it is kept or shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from paycrypt.errors import InternalServer
from paycrypt.store.records import KeyRecord
from paycrypt.vault.base import Vault


class VaultMismatch(Exception):
    """A backup the configured vault cannot open; the message says which key and why."""


def describe(vault: Vault, kind: str, records: Iterable[KeyRecord]) -> dict[str, Any]:
    """The manifest's `vault` section: kind, master-key KCV, and blocks per sealing key."""
    sealed = Counter(vault.sealed_by(record.key_block) for record in records)
    return {"kind": kind, "master_key_kcv": vault.key_id, "sealed_under": dict(sorted(sealed.items()))}


def check_master_key(vault: Vault, described: Mapping[str, Any]) -> None:
    """Refuse a backup whose blocks are sealed under a master key this vault does not hold (the
    vault holds one key today, `key_id`; rotation's versions will widen `held`)."""
    held = {vault.key_id}
    foreign = sorted(set(described.get("sealed_under", {})) - held)
    if foreign:
        raise VaultMismatch(
            f"the backup's keys are sealed under master key KCV {', '.join(foreign)}; the configured "
            f"vault ({described.get('kind', '?')} in the backup) holds KCV {', '.join(sorted(held))}"
        )


def check_blocks(vault: Vault, records: Iterable[KeyRecord], described: Mapping[str, Any]) -> int:
    """Open every block of the backup; VaultMismatch naming the first that does not open, or if
    the blocks are not those the manifest counts. The number of blocks checked."""
    checked = 0
    for record in records:
        try:
            vault.unseal(record, record.key_block)
        except InternalServer as exc:
            raise VaultMismatch(f"the key block of {record.arn} does not open: {exc.message}") from None
        checked += 1
    expected = sum(described.get("sealed_under", {}).values())
    if checked != expected:
        raise VaultMismatch(f"the backup holds {checked} key blocks, its manifest {expected}")
    return checked

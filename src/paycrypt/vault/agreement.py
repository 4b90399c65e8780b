"""Whether this node's vault holds the master keys its store's blocks are sealed under.

Several nodes share one store and must share its master key (docs/key-protection.md: the file
vault's key copied to every node, or one PKCS#11 token). A node started with another key — a data
directory where `paycrypt serve` made a fresh `master.key`, a wrong token — would seal new keys
that no other node can open and fail to open every existing one. So the store records each master
key version with its check value (never the key) on first start, and a node refuses to start when:

- a version both name has another check value in the vault than in the store, or
- the newest version the store records (what its newest blocks are sealed under) is not in the vault.

Versions the vault holds beyond the store's newest are recorded (a rotation added them on this
node: `rotation.rotate` records them too, before it seals anything under them). Versions the store
records and the vault no longer holds are retired ones: nothing is sealed under them any more.
"""

from __future__ import annotations

from paycrypt.store.base import MasterKeyRecords
from paycrypt.vault.base import Vault


class MasterKeyMismatch(Exception):
    """This vault's master key is not the store's; the message names both check values."""


def agree(store: MasterKeyRecords, vault: Vault, store_name: str) -> str:
    """Record or check the vault's master keys against the store's; a line for the start-up log.
    Raises MasterKeyMismatch."""
    held = {version.version: version.key_id for version in vault.versions()}
    recorded = store.master_keys()
    if not recorded:  # first start; two at once: one insert wins, the other compares below
        store.record_master_keys(held)
        recorded = store.master_keys()
    for version in sorted(held.keys() & recorded.keys()):
        if held[version] != recorded[version]:
            raise MasterKeyMismatch(
                f"this node's vault holds master key version {version} with check value "
                f"{held[version]}, but the store {store_name} records version {version} with check "
                f"value {recorded[version]}: every node on one store needs the same master key "
                "(copy master.key from a node already serving, or use the same PKCS#11 token; "
                "docs/key-protection.md)"
            )
    newest = max(recorded)
    if newest not in held:
        versions = ", ".join(f"version {v} ({k})" for v, k in sorted(held.items()))
        raise MasterKeyMismatch(
            f"the store {store_name} has blocks sealed under master key version {newest} with check "
            f"value {recorded[newest]}, which this node's vault does not hold (it holds {versions}): "
            "give this node that key (docs/key-protection.md)"
        )
    newer = {version: key_id for version, key_id in held.items() if version > newest}
    if newer:
        store.record_master_keys(newer)
    return f"master key version {max(held)} (check value {held[max(held)]}) agrees with the store's"

"""Whether this node's vault holds the master keys its store's blocks are sealed under.

Several nodes share one store and must share its master key (docs/key-protection.md: the file
vault's key copied to every node, or one PKCS#11 token). A node started with another key — a data
directory where `paycrypt serve` made a fresh `master.key`, a wrong token, the old vault after
`paycrypt vault migrate` moved every block to another — would seal new keys that no other node
can open and fail to open every existing one. So the store records each master key version with
its check value (never the key) and the kind of vault holding it, on first start, and a node
refuses to start when:

- a version both name has another check value in the vault than in the store, or
- the newest version the store records is not in the vault. That version may be pending: a
  rotation records its new version before it checks that every live node holds it
  (jobs/holdings.py), so that a node starting while it checks is refused here rather than missed
  there;
- a vault migration is under way (its target recorded in the store, pending or admitted) and this
  node cannot open the target: it has no copy of the migration's marker (vault/migration.py). The
  command records the target before it waits for every live node to hold it, as a rotation does.

The message says what to do: copy the key file, use the token that holds the key, or, when the
store's keys are another kind of vault's (a finished migration), switch the node's `--vault`.

Versions the vault holds beyond the store's newest are not recorded here: only a rotation records
a version, pending until every live node holds it. Versions the store records and the vault no
longer holds are retired ones: nothing is sealed under them any more.
"""

from __future__ import annotations

from paycrypt.store.base import MasterKeyRecords
from paycrypt.vault.base import Vault

GIVE_THE_KEY = (
    "with the file vault, copy master.key (or master.key.N for version N) from a node that holds it, "
    "mode 0600; with PKCS#11, use the token that holds it (docs/key-protection.md)"
)


class MasterKeyMismatch(Exception):
    """This vault's master key is not the store's; the message names both check values."""


def agree(
    store: MasterKeyRecords, vault: Vault, store_name: str, kind: str = "", opens: set[str] | None = None
) -> str:
    """Record or check the vault's master keys against the store's; a line for the start-up log.
    `kind` is this node's `--vault`; `opens`, the check values of every master key it can open
    (a migration's other end too; its own versions' by default). Raises MasterKeyMismatch."""
    held = {version.version: version.key_id for version in vault.versions()}
    if not store.master_keys():  # first start; two at once: one insert wins, the other compares below
        store.record_master_keys(held, kind)
    records = store.master_key_records()
    recorded = {record.version: record.key_id for record in records}
    newest = records[-1]
    switch = _switch_vault(newest.vault, kind, held, recorded)
    for version in sorted(held.keys() & recorded.keys()):
        if held[version] != recorded[version]:
            raise MasterKeyMismatch(
                f"this node's vault holds master key version {version} with check value "
                f"{held[version]}, but the store {store_name} records version {version} with check "
                f"value {recorded[version]}: every node on one store needs the same master key "
                f"({switch or GIVE_THE_KEY})"
            )
    if newest.version not in held:
        versions = ", ".join(f"version {v} ({k})" for v, k in sorted(held.items()))
        state = "" if newest.admitted else ", recorded by a master-key rotation that is under way,"
        raise MasterKeyMismatch(
            f"the store {store_name} has blocks sealed under master key version {newest.version} with "
            f"check value {newest.key_id}{state} which this node's vault does not hold (it holds "
            f"{versions}): {switch or 'give this node that key: ' + GIVE_THE_KEY}"
        )
    migrating = store.migration_target()
    target = None if migrating is None else migrating[0]
    if target is not None and target not in recorded.values() and target not in (opens or set(held.values())):
        raise MasterKeyMismatch(
            f"a vault migration (`paycrypt vault migrate`) to the master key with check value {target} "
            f"is under way on the store {store_name}, and this node cannot open that key: copy "
            "vault-migration.json from the data directory of the node running it into this node's, and "
            'make sure this node can open the target (docs/key-protection.md, "Migration on several '
            'nodes")'
        )
    return f"master key version {max(held)} (check value {held[max(held)]}) agrees with the store's"


def _switch_vault(recorded_kind: str, kind: str, held: dict[int, str], recorded: dict[int, str]) -> str:
    """What to say when the store's keys are another kind of vault's and this vault holds none of
    them (a finished `paycrypt vault migrate`); '' otherwise."""
    if not recorded_kind or not kind or recorded_kind == kind or set(held.values()) & set(recorded.values()):
        return ""
    return (
        f"the store's keys are in a {recorded_kind} vault (moved there by `paycrypt vault migrate "
        f"--to {recorded_kind}`) and this node runs --vault {kind}: start it with --vault "
        f"{recorded_kind} and that vault's options, as the other nodes (docs/key-protection.md)"
    )

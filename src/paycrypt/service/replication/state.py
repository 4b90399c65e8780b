"""The replication state a key record carries, and the Key members that report it.

It lives in `KeyRecord.extra["replication"]`, a plain dict, so the store needs no column for it:

- a primary (PRK): {"type": "PRIMARY", "using_default": bool, "regions": {region: status}}
- a replica (RRK): {"type": "REPLICA", "primary_arn": arn, "primary_region": region,
  "using_default": bool, "regions": {its own region: status}} (the status mirrors the PRK's entry
  for that region)
- a key whose replication was decided but goes nowhere (an explicit empty ReplicationRegions,
  an asymmetric key under region defaults, a PRK whose last region was removed):
  {"using_default": false, "regions": {}}

A status is {"Status": one of KeyReplicationState, "StatusMessage": text (optional)}, the API's
ReplicationStatusType. Functions here are pure: they return new records, never mutate one (the
store caches records and shares them).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from paycrypt.store.records import KeyRecord

PRIMARY = "PRIMARY"
REPLICA = "REPLICA"
IN_PROGRESS = "IN_PROGRESS"
SYNCHRONIZED = "SYNCHRONIZED"
FAILED = "FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"

KEY = "replication"


def info(record: KeyRecord) -> dict[str, Any] | None:
    return record.extra.get(KEY)


def is_replica(record: KeyRecord) -> bool:
    state = info(record)
    return state is not None and state.get("type") == REPLICA


def primary_region(record: KeyRecord) -> str:
    state = info(record)
    return state["primary_region"] if state and state.get("type") == REPLICA else record.region


def primary_arn(record: KeyRecord) -> str:
    state = info(record)
    return state["primary_arn"] if state and state.get("type") == REPLICA else record.arn


def regions(record: KeyRecord) -> dict[str, dict[str, str]]:
    """A primary's replication regions and their statuses (empty for any other key)."""
    state = info(record)
    if state is None or state.get("type") == REPLICA:
        return {}
    return state.get("regions", {})


def status(state_name: str, message: str | None = None) -> dict[str, str]:
    return {"Status": state_name} if message is None else {"Status": state_name, "StatusMessage": message}


def with_primary(record: KeyRecord, statuses: dict[str, dict[str, str]], using_default: bool) -> KeyRecord:
    """The record as a primary replicating to `statuses`' regions (a plain key again if none)."""
    state: dict[str, Any] = {"using_default": using_default, "regions": copy.deepcopy(statuses)}
    if statuses:
        state = {"type": PRIMARY, **state}
    return _with_state(record, state)


def with_status(record: KeyRecord, region: str, new: dict[str, str]) -> KeyRecord:
    """A primary with one region's status replaced, or a replica with its own status replaced."""
    state = copy.deepcopy(info(record) or {"using_default": False})
    state.setdefault("regions", {})[region] = dict(new)
    if state.get("type") != REPLICA:
        state["type"] = PRIMARY  # a key with a replication region is a primary
    return _with_state(record, state)


def without_region(record: KeyRecord, region: str) -> KeyRecord:
    statuses = dict(regions(record))
    statuses.pop(region, None)
    return with_primary(record, statuses, using_default=bool(info(record) and info(record)["using_default"]))


def replica_state(primary: KeyRecord, region: str, own: dict[str, str]) -> dict[str, Any]:
    return {
        "type": REPLICA,
        "primary_arn": primary.arn,
        "primary_region": primary.region,
        "using_default": bool(info(primary) and info(primary).get("using_default")),
        "regions": {region: dict(own)},
    }


def with_replica_state(record: KeyRecord, state: dict[str, Any]) -> KeyRecord:
    return _with_state(record, state)


def without_state(extra: dict[str, Any]) -> dict[str, Any]:
    """A primary's extra without its replication state: what a replica inherits."""
    return {name: value for name, value in extra.items() if name != KEY}


def _with_state(record: KeyRecord, state: dict[str, Any]) -> KeyRecord:
    return dataclasses.replace(record, extra={**record.extra, KEY: state})


# --- the API's view -----------------------------------------------------------------------------


def key_members(record: KeyRecord) -> dict[str, Any]:
    """MultiRegionKeyType, PrimaryRegion, ReplicationStatus, UsingDefaultReplicationRegions."""
    state = info(record)
    if state is None:
        return {}
    members: dict[str, Any] = {}
    kind = state.get("type")
    if kind is not None:
        members["MultiRegionKeyType"] = kind
        members["PrimaryRegion"] = state["primary_region"] if kind == REPLICA else record.region
        members["ReplicationStatus"] = copy.deepcopy(state.get("regions", {}))
    members["UsingDefaultReplicationRegions"] = bool(state.get("using_default"))
    return members


def summary_members(record: KeyRecord) -> dict[str, Any]:
    """The KeySummary's MultiRegionKeyType and PrimaryRegion."""
    members = key_members(record)
    return {name: members[name] for name in ("MultiRegionKeyType", "PrimaryRegion") if name in members}

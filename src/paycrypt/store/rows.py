"""How a key record becomes a row and back, the same for every backend: the record's JSON (its
`meta` column) beside the sealed key block, with the columns the store selects on."""

from __future__ import annotations

import json

from paycrypt.store.records import KeyRecord


def meta(record: KeyRecord) -> str:
    return json.dumps(record.to_json(), separators=(",", ":"))


def mutable(record: KeyRecord) -> tuple[str, float | None, str]:
    """(key_state, delete_pending, meta): the columns an update rewrites."""
    pending = record.delete_pending_timestamp
    return record.key_state, pending.timestamp() if pending is not None else None, meta(record)


def record(meta_text: str, key_block: str) -> KeyRecord:
    return KeyRecord.from_json(json.loads(meta_text), key_block)


# The tables of sealed blocks (store.base.SEALED_TABLES) and the column that names a row.
SEALED_NAME = {"keys": "arn", "exchange_keys": "name"}


def sealed_name_column(table: str) -> str:
    """The column naming a row of `table`; ValueError for a table that holds no sealed blocks."""
    try:
        return SEALED_NAME[table]
    except KeyError:
        raise ValueError(f"{table!r} holds no sealed blocks") from None

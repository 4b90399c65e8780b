"""KeyRecord.to_json, written out field by field for speed (issue 17), is what the generic
`dataclasses.asdict` gave: every field but the key block, in order, times as epoch seconds, and
a record read back from it is the record."""

from __future__ import annotations

import dataclasses
import datetime as dt

from paycrypt.store import rows
from paycrypt.store.records import KeyRecord
from tests.store.test_behaviour import key


def reference(record: KeyRecord) -> dict:
    data = dataclasses.asdict(record)
    data.pop("key_block")
    for name in KeyRecord._TIMES:
        data[name] = data[name].timestamp() if data[name] is not None else None
    return data


def test_to_json_is_every_field_but_the_block_in_order() -> None:
    full = dataclasses.replace(
        key(1),
        usage_start_timestamp=dt.datetime(2026, 2, 3, tzinfo=dt.UTC),
        delete_pending_timestamp=dt.datetime(2026, 3, 4, 5, 6, 7, 250000, tzinfo=dt.UTC),
        derive_key_usage="TR31_P0_PIN_ENCRYPTION_KEY",
        extra={"replication": {"regions": ["us-west-2"]}},
    )
    names = [f.name for f in dataclasses.fields(KeyRecord) if f.name != "key_block"]
    for record in (key(2), full):
        assert list(record.to_json()) == names
        assert record.to_json() == reference(record)
        assert rows.record(rows.meta(record), record.key_block) == record

"""The API's Key and KeySummary shapes, built from a stored record."""

from __future__ import annotations

from typing import Any

from paycrypt.service.replication import state
from paycrypt.store.records import KeyRecord


def key(record: KeyRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "KeyArn": record.arn,
        "KeyAttributes": record.key_attributes,
        "KeyCheckValue": record.key_check_value,
        "KeyCheckValueAlgorithm": record.key_check_value_algorithm,
        "Enabled": record.enabled,
        "Exportable": record.exportable,
        "KeyState": record.key_state,
        "KeyOrigin": record.key_origin,
        "CreateTimestamp": record.create_timestamp,
        "UsageStartTimestamp": record.usage_start_timestamp,
        "UsageStopTimestamp": record.usage_stop_timestamp,
        "DeletePendingTimestamp": record.delete_pending_timestamp,
        "DeriveKeyUsage": record.derive_key_usage,
        "MpaStatus": record.extra.get("MpaStatus"),  # multi-party approval (service/approval/mpa.py)
        **state.key_members(record),
    }
    return {k: v for k, v in view.items() if v is not None}


def summary(record: KeyRecord) -> dict[str, Any]:
    return {
        "KeyArn": record.arn,
        "KeyState": record.key_state,
        "KeyAttributes": record.key_attributes,
        "KeyCheckValue": record.key_check_value,
        "Exportable": record.exportable,
        "Enabled": record.enabled,
        **state.summary_members(record),
    }

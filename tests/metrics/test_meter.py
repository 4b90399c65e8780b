"""The request meter bounds its labels whatever a request holds, and counts each call once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from paycrypt.errors import ProtocolError, Throttling, VerificationFailed
from paycrypt.metrics.families import Families
from paycrypt.metrics.meter import MAX_CODES, OTHER, UNKNOWN, RequestMeter

REASONS = ("INVALID_MAC", "INVALID_PIN", "INVALID_VALIDATION_DATA", "INVALID_AUTH_REQUEST_CRYPTOGRAM")


def meter(per_key: bool = False) -> tuple[RequestMeter, CollectorRegistry]:
    registry = CollectorRegistry()
    return RequestMeter(Families(registry, per_key=per_key), ["VerifyMac", "GetKey"], REASONS), registry


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_each_call_counted_under_its_operation_status_and_code() -> None:
    m, registry = meter()
    m.observe("GetKey", 200, None, 0.0003)
    m.observe("GetKey", 200, None, 0.002)
    m.observe("VerifyMac", 429, Throttling("Rate exceeded."), 0.0001)
    name = "paycrypt_request_duration_seconds_count"
    assert count(registry, name, operation="GetKey", status="200", code="none") == 2
    assert count(registry, name, operation="VerifyMac", status="429", code="ThrottlingException") == 1
    bucket = "paycrypt_request_duration_seconds_bucket"
    assert count(registry, bucket, operation="GetKey", status="200", code="none", le="0.0005") == 1
    assert count(registry, bucket, operation="GetKey", status="200", code="none", le="0.0025") == 2


def test_verification_failures_by_reason_and_unknown_reasons_as_other() -> None:
    m, registry = meter()
    m.observe("VerifyMac", 400, VerificationFailed("MAC verification failed.", "INVALID_MAC"), 0.001)
    m.observe("VerifyMac", 400, VerificationFailed("odd", "4111111111111111"), 0.001)
    name = "paycrypt_verification_failures_total"
    assert count(registry, name, operation="VerifyMac", reason="INVALID_MAC") == 1
    assert count(registry, name, operation="VerifyMac", reason=OTHER) == 1


def test_operations_the_models_do_not_name_collapse_to_unknown() -> None:
    m, registry = meter()
    for name in ("NoSuchOperation", "4111111111111111", "../etc"):
        m.observe(name, 404, ProtocolError("UnknownOperationException", "no", 404), 0.0)
    labels = {"operation": UNKNOWN, "status": "404", "code": "UnknownOperationException"}
    assert count(registry, "paycrypt_request_duration_seconds_count", **labels) == 3
    text = "\n".join(str(metric) for metric in registry.collect())
    assert "4111111111111111" not in text and "NoSuchOperation" not in text


def test_error_codes_are_capped() -> None:
    m, registry = meter()
    for n in range(MAX_CODES + 10):
        m.observe("GetKey", 400, ProtocolError(f"Code{n}", "x", 400), 0.0)
    codes = {
        sample.labels["code"]
        for metric in registry.collect()
        if metric.name == "paycrypt_request_duration_seconds"
        for sample in metric.samples
    }
    assert len(codes) == MAX_CODES + 1 and OTHER in codes


@dataclass
class Record:
    arn: str


@dataclass
class Resolved:
    record: Any
    extra: dict[str, str] = field(default_factory=dict)


def test_key_labels_only_per_key_and_only_for_stored_keys() -> None:
    stored = "arn:aws:payment-cryptography:us-east-1:111122223333:key/abcdefghijklmnop"
    keys = {stored: Resolved(Record(stored)), "alias/none": Resolved(None)}
    failure = VerificationFailed("MAC verification failed.", "INVALID_MAC")
    off, registry = meter()
    off.observe("VerifyMac", 400, failure, 0.001, keys)
    assert not hasattr(off.families, "key_requests")
    assert stored not in "\n".join(str(metric) for metric in registry.collect())
    on, registry = meter(per_key=True)
    on.observe("VerifyMac", 400, failure, 0.001, keys)
    key_requests = "paycrypt_key_requests_total"
    assert count(registry, key_requests, key_arn=stored, operation="VerifyMac", code=failure.code) == 1
    assert (
        count(registry, "paycrypt_key_verification_failures_total", key_arn=stored, reason="INVALID_MAC") == 1
    )
    assert "alias/none" not in "\n".join(str(metric) for metric in registry.collect())

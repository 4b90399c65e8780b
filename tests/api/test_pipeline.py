"""The request pipeline (wire/pipeline.py): a call passes each step once, in order (issue 14).

Each step of `Pipeline` is wrapped to record its name, in the server the session's tests share
(it runs in a thread of this process), and one real call is made through boto3.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from paycrypt.wire.pipeline import Pipeline

STEPS = [
    "authenticate",
    "decode_and_validate",
    "resolve_keys",
    "authorize",
    "dispatch",
    "settle",
    "serialize",
    "record",
]
PAN = "4111111111111111"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}


def _record_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    for name in STEPS:
        original: Callable[..., Any] = getattr(Pipeline, name)
        if inspect.iscoroutinefunction(original):

            async def step(self: Pipeline, *args: Any, _original=original, _name=name) -> Any:
                seen.append(_name)
                return await _original(self, *args)

        else:

            def step(self: Pipeline, *args: Any, _original=original, _name=name) -> Any:
                seen.append(_name)
                return _original(self, *args)

        monkeypatch.setattr(Pipeline, name, step)
    return seen


def test_a_cvv2_verification_takes_each_step_once_in_order(server, data, cvk, monkeypatch) -> None:
    value = data.generate_card_validation_data(
        KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
    )["ValidationData"]
    seen = _record_steps(monkeypatch)
    result = data.verify_card_validation_data(
        KeyIdentifier=cvk, PrimaryAccountNumber=PAN, VerificationAttributes=CVV2, ValidationData=value
    )
    assert result["KeyArn"] == cvk
    assert seen == STEPS


def test_a_refused_call_stops_at_its_step_and_is_still_audited(server, data, cvk, monkeypatch) -> None:
    seen = _record_steps(monkeypatch)
    with pytest.raises(data.exceptions.ValidationException):
        data.verify_card_validation_data(
            KeyIdentifier=cvk, PrimaryAccountNumber="x", VerificationAttributes=CVV2, ValidationData="1"
        )
    assert seen == ["authenticate", "decode_and_validate", "record"]


def test_sts_needs_no_key_resolution_nor_authorization(server, monkeypatch) -> None:
    """GetCallerIdentity is not IAM-governed (its model: "No permissions are required")."""
    seen = _record_steps(monkeypatch)
    assert server.client("sts").get_caller_identity()["Account"] == "111122223333"
    assert seen == ["authenticate", "decode_and_validate", "dispatch", "settle", "serialize", "record"]

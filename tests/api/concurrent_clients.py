"""Client processes for tests/api/test_concurrency.py: each runs in a process of its own (spawned),
so the requests really are concurrent (no GIL shared with the test or the servers).

Each function returns plain data through a multiprocessing queue; times are CLOCK_MONOTONIC, the
same clock in every process of the machine.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from tests.aws_sessions import session as aws_session

REGION = "us-east-1"
CVK_ATTRIBUTES = {
    "KeyAlgorithm": "TDES_2KEY",
    "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Generate": True, "Verify": True},
}
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}
PAN = "4111111111111111"


def client(endpoint: str, service: str, region: str = REGION) -> Any:
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    session = aws_session("test", "test", region)
    return session.client(service, endpoint_url=endpoint, config=config)


def _create_key(control: Any, n: int) -> str:
    return control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]


def _create_alias(control: Any, n: int) -> str:
    return control.create_alias(AliasName=f"alias/q-{time.monotonic_ns()}-{n}")["Alias"]["AliasName"]


CREATES = {"key": _create_key, "alias": _create_alias}


def create_until_quota(kind: str, endpoints: list[str], region: str, barrier: Any, out: Any) -> None:
    """Create keys or aliases in a loop, round-robin over the servers, until the quota refuses three
    times; what was created, and any other error."""
    controls = [client(e, "payment-cryptography", region) for e in endpoints]
    create = CREATES[kind]
    created: list[str] = []
    refusals, errors = 0, []
    barrier.wait()
    n = 0
    while refusals < 3:
        try:
            created.append(create(controls[n % len(controls)], n))
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code != "ServiceQuotaExceededException":
                errors.append(code)
                break
            refusals += 1
        n += 1
    out.put({"created": created, "errors": errors})


def create_aliases(endpoint: str, names: list[str], barrier: Any, out: Any) -> None:
    """CreateAlias of each name, in step with the other process (a barrier before each)."""
    control = client(endpoint, "payment-cryptography")
    results = []
    for name in names:
        barrier.wait()
        try:
            control.create_alias(AliasName=name)
            results.append("ok")
        except ClientError as exc:
            results.append(exc.response["Error"]["Code"])
    out.put(results)


def use_key_until_refused(
    endpoint: str, arn: str, region: str, acknowledged: Any, barrier: Any, out: Any
) -> None:
    """GenerateCardValidationData in a loop, (sent, answered, outcome) each, until five calls after
    the test has seen its DeleteKey acknowledged (`acknowledged`, an event)."""
    data = client(endpoint, "payment-cryptography-data", region)
    calls = []
    barrier.wait()
    deadline = time.monotonic() + 120
    after = 0
    while after < 5 and time.monotonic() < deadline:
        sent = time.monotonic()
        after += acknowledged.is_set()
        try:
            data.generate_card_validation_data(
                KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
            )
            outcome = "ok"
        except ClientError as exc:
            outcome = exc.response["Error"]["Code"] + ": " + exc.response["Error"]["Message"]
        calls.append((sent, time.monotonic(), outcome))
    out.put(calls)

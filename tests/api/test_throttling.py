"""Request-rate quotas through boto3 (issue 8 item 6).

A server with throttling on and small rates (control 4/s, symmetric 3/s, asymmetric 1/s, each
with a burst of one second's worth): a burst over the limit gets ThrottlingException (HTTP 400
on the control plane, 429 on the data plane), other accounts and the other kind of data-plane
call keep their own buckets, and botocore's standard retry mode recovers.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from tests.api.iam_support import CVK, CVV2, PAN, PRINCIPALS, IamServer

RSA_D1 = {
    "KeyAlgorithm": "RSA_2048",
    "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
    "KeyClass": "ASYMMETRIC_KEY_PAIR",
    "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
}


@pytest.fixture(scope="module")
def iam_options() -> dict[str, Any]:
    """Two accounts' root users, and rate limits small enough to reach."""
    return {
        "principals": {name: PRINCIPALS[name] for name in ("root", "b-root")},
        "throttling": "on",
        "rate_limits": ("control=4", "symmetric=3", "asymmetric=1"),
    }


def burst(call: Any, times: int, **kwargs: Any) -> list[tuple[str, int]]:
    """(outcome, HTTP status) of each call, fired back to back."""
    outcomes = []
    for _ in range(times):
        try:
            response = call(**kwargs)
            outcomes.append(("ok", response["ResponseMetadata"]["HTTPStatusCode"]))
        except botocore.exceptions.ClientError as exc:
            error = exc.response
            assert error["Error"]["Message"] == "Rate exceeded.", error
            outcomes.append((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]))
    return outcomes


def test_control_plane_burst_is_throttled_per_account(iam: IamServer) -> None:
    outcomes = burst(iam.client("root").list_keys, 10)
    assert outcomes[:3] == [("ok", 200)] * 3
    assert ("ThrottlingException", 400) in outcomes
    assert {o for o in outcomes} <= {("ok", 200), ("ThrottlingException", 400)}
    iam.client("b-root").list_keys()  # another account has its own bucket


def test_data_plane_symmetric_and_asymmetric_buckets(iam: IamServer) -> None:
    setup = iam.client("root", attempts=10)
    cvk = setup.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    rsa = setup.create_key(Exportable=True, KeyAttributes=RSA_D1)["Key"]["KeyArn"]
    data = iam.data("root")
    outcomes = burst(
        data.generate_card_validation_data,
        10,
        KeyIdentifier=cvk,
        PrimaryAccountNumber=PAN,
        GenerationAttributes=CVV2,
    )
    assert ("ThrottlingException", 429) in outcomes and outcomes[0] == ("ok", 200)
    encrypt = {
        "KeyIdentifier": rsa,
        "PlainText": "31323334",
        "EncryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}},
    }
    outcomes = burst(data.encrypt_data, 4, **encrypt)  # an RSA key: the asymmetric bucket (1/s)
    assert outcomes[0] == ("ok", 200) and ("ThrottlingException", 429) in outcomes


def test_the_sdk_standard_retry_recovers(iam: IamServer) -> None:
    control = iam.client("root", attempts=10)  # botocore's standard mode retries ThrottlingException
    retried = 0
    for _ in range(12):
        response = control.list_keys()
        retried += response["ResponseMetadata"]["RetryAttempts"]
    assert retried > 0  # some calls were throttled and retried, and every call succeeded
    data = iam.data("root", attempts=10)
    cvk = control.create_key(Exportable=True, KeyAttributes=CVK)["Key"]["KeyArn"]
    for _ in range(8):
        data.generate_card_validation_data(
            KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
        )

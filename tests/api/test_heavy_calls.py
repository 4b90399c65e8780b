"""CPU-heavy calls do not stall everyone (issue 13, item 3).

Before: a GetParametersForImport with RSA_4096 spent 0.7-2.2 s of CPU on the one event loop, and
every other caller waited. Now the operations service.heavy names run their service call on a
worker thread. This is not a timing benchmark (that is bench/heavy_bench.py): the RSA_4096 key
generation of a GetParametersForImport is held inside the server until a CVV2 request on another
connection has been answered, which cannot happen if generation runs on the event loop's thread
(the light request would time out). The tripwire (heavy_tripwire.py) checks the thread of every
heavy call here and in the key-exchange, data-encryption, PIN and key tests, and is shown to trip.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.config import Config

from paycrypt.crypto import keygen
from paycrypt.service import heavy, registry
from tests.api.heavy_tripwire import HeavyCall, install
from tests.conftest import RunningServer
from tests.kx_partner import load_b64

PAN = "4123456789012345"
CVV2 = {"CardVerificationValue2": {"CardExpiryDate": "1230"}}


def test_every_operation_of_the_table_is_served() -> None:
    served = set(registry.CONTROL) | set(registry.DATA)
    assert set(heavy.HEAVY) <= served, set(heavy.HEAVY) - served


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        ("CreateKey", {"KeyAttributes": {"KeyAlgorithm": "RSA_4096"}}, True),
        ("CreateKey", {"KeyAttributes": {"KeyAlgorithm": "ECC_NIST_P521"}}, False),
        ("CreateKey", {"KeyAttributes": {"KeyAlgorithm": "TDES_2KEY"}}, False),
        ("DecryptData", {"DecryptionAttributes": {"Asymmetric": {"PaddingType": "OAEP_SHA256"}}}, True),
        ("DecryptData", {"DecryptionAttributes": {"Symmetric": {"Mode": "CBC"}}}, False),
        ("EncryptData", {"EncryptionAttributes": {"Asymmetric": {}}}, False),  # a public-key operation
        ("EncryptData", {"WrappedKey": {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": {}}}}, True),
        ("EncryptData", {"WrappedKey": {"WrappedKeyMaterial": {"Tr31KeyBlock": "B0"}}}, False),
        (
            "TranslatePinData",
            {"OutgoingWrappedKey": {"WrappedKeyMaterial": {"DiffieHellmanSymmetricKey": {}}}},
            True,
        ),
        ("ReEncryptData", {"OutgoingEncryptionAttributes": {"Asymmetric": {}}}, False),
        ("ReEncryptData", {"IncomingEncryptionAttributes": {"Asymmetric": {}}}, True),
        ("GetParametersForImport", {}, True),
        ("VerifyCardValidationData", {}, False),
    ],
)
def test_the_table_decides_on_the_members_that_cost(operation: str, params: dict, expected: bool) -> None:
    assert heavy.is_heavy(operation, params) is expected


def _client(server: RunningServer, service: str, read_timeout: float) -> Any:
    config = Config(
        retries={"max_attempts": 1, "mode": "standard"}, read_timeout=read_timeout, parameter_validation=False
    )
    return server.session().client(service, endpoint_url=server.endpoint, config=config)


def test_a_light_request_is_answered_while_an_rsa_4096_key_is_generated(
    server: RunningServer, cvk: str, monkeypatch: pytest.MonkeyPatch, heavy_off_loop: list[HeavyCall]
) -> None:
    entered, release = threading.Event(), threading.Event()
    generate = keygen.generate  # the tripwire's wrapper

    def held(algorithm: str, *args: Any, **kwargs: Any) -> bytes:
        if algorithm == "RSA_4096":
            entered.set()
            release.wait(timeout=60)
        return generate(algorithm, *args, **kwargs)

    monkeypatch.setattr(keygen, "generate", held)
    # The light call must be answered within 10 s; the heavy one, run at a lower priority on a
    # machine that may be busy, is given two minutes.
    control = _client(server, "payment-cryptography", read_timeout=120)
    data = _client(server, "payment-cryptography-data", read_timeout=10)
    outcome: dict[str, Any] = {}

    def heavy_call() -> None:
        try:
            outcome["result"] = control.get_parameters_for_import(
                KeyMaterialType="TR34_KEY_BLOCK", WrappingKeyAlgorithm="RSA_4096"
            )
        except Exception as exc:  # reported below
            outcome["error"] = exc

    caller = threading.Thread(target=heavy_call)
    caller.start()
    try:
        assert entered.wait(timeout=30), "the RSA_4096 key generation never started"
        value = data.generate_card_validation_data(
            KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes=CVV2
        )["ValidationData"]
        assert caller.is_alive() and not release.is_set()  # answered while the heavy call was held
    finally:
        release.set()
        caller.join(timeout=120)
    assert len(value) == 3 and value.isdigit()
    assert "error" not in outcome, outcome
    certificate = load_b64(outcome["result"]["WrappingKeyCertificate"])
    assert certificate.public_key().key_size == 4096
    workers = {call.thread for call in heavy_off_loop if call.function == "keygen.generate"}
    assert workers and all(name.startswith("paycrypt-heavy") for name in workers), heavy_off_loop


def test_the_tripwire_trips_on_a_heavy_call_left_on_the_loop(
    control: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[HeavyCall] = []
    install(monkeypatch, seen)
    monkeypatch.delitem(heavy.HEAVY, "CreateKey")
    attributes = {
        "KeyUsage": "TR31_D1_ASYMMETRIC_KEY_FOR_DATA_ENCRYPTION",
        "KeyAlgorithm": "RSA_2048",
        "KeyClass": "ASYMMETRIC_KEY_PAIR",
        "KeyModesOfUse": {"Encrypt": True, "Decrypt": True, "Wrap": True, "Unwrap": True},
    }
    control.create_key(Exportable=False, KeyAttributes=attributes)
    assert [call.on_loop for call in seen if call.function == "keygen.generate"] == [True], seen

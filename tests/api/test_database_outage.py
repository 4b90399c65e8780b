"""A node through a PostgreSQL outage under load (issue 15, item 8; docs/decisions/availability.md).

A server on a cluster of this module's own serves a small load of boto3 calls from several
threads — CVV2 verifications that must pass, ones that must fail, GetKey, and a verification on a
key deleted before the outage — while PostgreSQL is stopped with `pg_ctl stop -m immediate` (as a
crash) and started again, or frozen with SIGSTOP (it accepts and acknowledges, and never answers)
and thawed. Every answer must be the right one or ServiceUnavailableException (503), within the
store's time bound; never a wrong answer, a 500 or a hang. `/healthz` keeps answering throughout:
at once while the database is stopped (its closed sockets fail calls at once), and within the
store's bound while it is frozen (the event loop waits out one statement's deadline, once per
outage). `/readyz` is 503 during the outage, and the same server process answers correctly again
once the database is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from paycrypt.server import Settings
from tests.api.test_health import get
from tests.conftest import CVK_ATTRIBUTES, RunningServer, free_port, serving

PAN = "171234567890123"
EXPIRY = {"CardVerificationValue2": {"CardExpiryDate": "0123"}}
SLACK = 1.5  # scheduling on a loaded 2-core CI machine


@dataclass(frozen=True)
class Outage:
    begin: Callable[[Any], None]
    end: Callable[[Any], None]
    store_timeout: float  # the server's --store-timeout
    lasts: float  # seconds it lasts once /readyz has turned 503
    loop_held: bool  # whether the event loop may wait out one statement's deadline

    @property
    def healthz_bound(self) -> float:
        """The slowest /healthz answer allowed: below the store's bound when the loop never waits
        on the database (a loop held for a store wait would show), else that bound."""
        return self.store_timeout + SLACK if self.loop_held else 2.0


OUTAGES = {
    "stopped": Outage(lambda c: c.stop("immediate"), lambda c: c.start(), 3.0, 2.0, loop_held=False),
    "frozen": Outage(lambda c: c.freeze(), lambda c: c.thaw(), 1.5, 1.0, loop_held=True),
}


@dataclass
class Answer:
    name: str
    outcome: str  # "right", "unavailable", or what was wrong
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def outcome(call: Callable[[], Any], expected: Callable[[Any], bool], error: str | None) -> str:
    """ "right" when the call gives the expected result (or the expected error code), "unavailable"
    for ServiceUnavailableException with HTTP 503, else a description of the wrong answer."""
    try:
        result = call()
    except botocore.exceptions.ClientError as exc:
        code = exc.response["Error"]["Code"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        if code == "ServiceUnavailableException" and status == 503:
            return "unavailable"
        return "right" if code == error else f"error {code} {status}"
    except botocore.exceptions.BotoCoreError as exc:  # a connection error, a read timeout
        return f"transport {type(exc).__name__}"
    if error is not None:
        return f"succeeded where {error} was due"
    return "right" if expected(result) else f"wrong result {result}"


@pytest.mark.parametrize("kind", OUTAGES)
def test_an_outage_under_load_is_answered_503_within_the_bound_and_recovers(
    own_pg_cluster: Any, tmp_path: Path, kind: str
) -> None:
    cluster = own_pg_cluster
    outage = OUTAGES[kind]
    settings = Settings(
        port=free_port(),
        data_dir=tmp_path / "node",
        store=cluster.database(f"outage_api_{kind}"),
        store_timeout=outage.store_timeout,
    )
    with serving(settings) as server:
        control, data = server.client("payment-cryptography"), server.client("payment-cryptography-data")
        cvk = control.create_key(Exportable=False, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
        cvv2 = data.generate_card_validation_data(
            KeyIdentifier=cvk, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
        )["ValidationData"]
        wrong = f"{(int(cvv2) + 1) % 1000:03d}"
        deleted = control.create_key(Exportable=False, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
        deleted_cvv2 = data.generate_card_validation_data(  # its key material cached before its deletion
            KeyIdentifier=deleted, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
        )["ValidationData"]
        control.delete_key(KeyIdentifier=deleted)  # acknowledged before the outage
        deleted_error = outcome(verify_once(data, deleted, deleted_cvv2), lambda _: False, None)
        assert deleted_error.startswith("error "), deleted_error
        deleted_code = deleted_error.split()[1]

        def calls(client_control: Any, client_data: Any) -> list[tuple[str, Callable[[], str]]]:
            def verify(key: str, value: str, expected: str | None) -> Callable[[], str]:
                return lambda: outcome(
                    verify_once(client_data, key, value), lambda r: r["KeyArn"] == key, expected
                )

            def get_key() -> str:
                return outcome(
                    lambda: client_control.get_key(KeyIdentifier=cvk),
                    lambda r: r["Key"]["KeyState"] == "CREATE_COMPLETE",
                    None,
                )

            return [
                ("verify", verify(cvk, cvv2, None)),
                ("verify wrong", verify(cvk, wrong, "VerificationFailedException")),
                ("get key", get_key),
                ("verify deleted", verify(deleted, deleted_cvv2, deleted_code)),
            ]

        answers: list[Answer] = []
        health: list[tuple[float, int]] = []
        stop = threading.Event()

        def load() -> None:
            mine = calls(server.client("payment-cryptography"), server.client("payment-cryptography-data"))
            while not stop.is_set():
                for name, call in mine:
                    started = time.monotonic()
                    answers.append(Answer(name, call(), started, time.monotonic()))

        def probe_health() -> None:
            while not stop.is_set():
                started = time.monotonic()
                status, _ = get(server.endpoint, "/healthz")
                health.append((time.monotonic() - started, status))
                time.sleep(0.05)

        threads = [threading.Thread(target=load) for _ in range(3)] + [threading.Thread(target=probe_health)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 30
            while len(answers) < 12 and time.monotonic() < deadline:  # every thread's client is made
                time.sleep(0.1)
            stopping = time.monotonic()
            outage.begin(cluster)
            stopped = time.monotonic()
            try:
                assert wait_for_readyz(server, 503, outage.store_timeout + 5) == 503
                time.sleep(outage.lasts)
            finally:
                starting = time.monotonic()
                outage.end(cluster)
            recovered = wait_for_readyz(server, 200, 30)
            ready = time.monotonic()
            time.sleep(1.5)  # load on the recovered database
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

        wrong_answers = [a for a in answers if a.outcome not in ("right", "unavailable")]
        assert not wrong_answers, wrong_answers[:10]
        slowest = max(answers, key=lambda a: a.seconds)
        assert slowest.seconds <= outage.store_timeout + SLACK, slowest
        before = {a.outcome for a in answers if a.ended < stopping}
        during = [a.outcome for a in answers if stopped < a.started and a.ended < starting]
        assert before == {"right"}
        assert during and set(during) == {"unavailable"}, during  # not one answered from a cache
        assert recovered == 200
        settled = [a for a in answers if a.started > ready + 0.5]
        assert settled and {a.outcome for a in settled} == {"right"}, settled
        assert all(status == 200 for _, status in health)
        assert max(seconds for seconds, _ in health) < outage.healthz_bound, sorted(health, reverse=True)[:5]
        # the same process, without a restart, serves the key deleted before the outage as deleted
        assert outcome(verify_once(data, deleted, deleted_cvv2), lambda _: False, deleted_code) == "right"


def verify_once(data: Any, key: str, value: str) -> Callable[[], Any]:
    return lambda: data.verify_card_validation_data(
        KeyIdentifier=key, PrimaryAccountNumber=PAN, VerificationAttributes=EXPIRY, ValidationData=value
    )


def wait_for_readyz(server: RunningServer, status: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        got, _ = get(server.endpoint, "/readyz")
        if got == status or time.monotonic() > deadline:
            return got
        time.sleep(0.1)

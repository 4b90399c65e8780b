"""Prometheus metrics through boto3 (issue 15 item 9): a server started with --metrics-port is
called through boto3 — a CVV2 generated, verified wrongly, then throttled, then verified — and
its /metrics, scraped over HTTP, counts exactly those calls, and holds no PAN, CVV2, key ARN or
key material.

The data plane's symmetric rate is 1/s (burst 1), so the second of two calls back to back is
refused, and a pause of just over a second lets the next one through.
"""

from __future__ import annotations

import base64
import socket
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from paycrypt.cli import main as cli
from paycrypt.server import Settings, StartupError, build_app
from paycrypt.vault.keycache import MATERIAL
from tests.api.helpers import expect_error
from tests.api.replication_support import Hook
from tests.conftest import CVK_ATTRIBUTES, RunningServer, free_port, serving

PAN = "4111111111111111"
EXPIRY = {"CardVerificationValue2": {"CardExpiryDate": "1228"}}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = Settings(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("paycrypt-metrics"),
        metrics_port=free_port(),
        throttling="on",
        rate_limits=("symmetric=1", "control=0"),
    )
    with serving(settings) as running:
        yield running


def once(running: RunningServer, service: str) -> object:
    """A client that sends each call once: no retry of a throttled call (the fixtures' retries once)."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return running.session().client(service, endpoint_url=running.endpoint, config=config)


def wait_for_token() -> None:
    time.sleep(1.1)  # the symmetric bucket (1/s, burst 1) refills


def test_scrape_counts_verify_failure_throttle_and_cache(metered: RunningServer) -> None:
    port = metered.settings.metrics_port
    assert port is not None
    control = metered.client("payment-cryptography")
    data = once(metered, "payment-cryptography-data")
    arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
    before = samples(scrape_text(port))

    cvv = data.generate_card_validation_data(
        KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
    )["ValidationData"]
    wrong = f"{(int(cvv) + 1) % 1000:03d}"
    wait_for_token()
    verify = {"KeyIdentifier": arn, "PrimaryAccountNumber": PAN, "VerificationAttributes": EXPIRY}
    failed = expect_error(
        data.verify_card_validation_data, "VerificationFailedException", 400, ValidationData=wrong, **verify
    )
    assert failed["Reason"] == "INVALID_VALIDATION_DATA"
    expect_error(data.verify_card_validation_data, "ThrottlingException", 429, ValidationData=cvv, **verify)
    wait_for_token()
    data.verify_card_validation_data(ValidationData=cvv, **verify)

    text = scrape_text(port)
    after = samples(text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "paycrypt_request_duration_seconds_count"
    verify_op = "VerifyCardValidationData"
    assert delta(requests, operation="GenerateCardValidationData", status="200", code="none") == 1
    assert delta(requests, operation=verify_op, status="200", code="none") == 1
    assert delta(requests, operation=verify_op, status="400", code="VerificationFailedException") == 1
    assert delta(requests, operation=verify_op, status="429", code="ThrottlingException") == 1
    failures = "paycrypt_verification_failures_total"
    assert delta(failures, operation=verify_op, reason="INVALID_VALIDATION_DATA") == 1
    assert delta("paycrypt_throttled_requests_total", kind="symmetric") == 1
    # The key's material: unsealed once by the first call (a miss), then found by the two verifications
    # that reached the service (hits); the throttled one never asked for it.
    cache = "paycrypt_key_cache_lookups_total"
    assert delta(cache, entry=MATERIAL, result="miss") == 1
    assert delta(cache, entry=MATERIAL, result="hit") == 2
    assert value(after, "paycrypt_key_cache_entries") >= 1
    # Latency is observed: the successful verify's time is in the sum and its +Inf bucket.
    assert delta("paycrypt_request_duration_seconds_sum", operation=verify_op, status="200", code="none") > 0
    bucket = "paycrypt_request_duration_seconds_bucket"
    assert delta(bucket, operation=verify_op, status="200", code="none", le="+Inf") == 1
    # Each request read its key from the store: the store's calls are timed by method.
    assert delta("paycrypt_store_call_duration_seconds_count", call="get_key") >= 3
    # One process runs every background job; nothing waits to be replicated.
    assert value(after, "paycrypt_job_lease_held", job="replication") == 1
    assert value(after, "paycrypt_job_lease_held", job="purge") == 1
    assert ("paycrypt_replication_backlog_jobs", frozenset({("state", "due")})) in after
    assert value(after, "paycrypt_replication_lag_seconds") == 0

    # Nothing sensitive, and no key ARN (no --metrics-per-key).
    record = metered.parts.service.store.get_key(arn)
    material = metered.parts.service.keycache.material(record)
    for secret in (PAN, arn, arn.rsplit("/", 1)[1], material.hex(), material.hex().upper()):
        assert secret not in text
    assert base64.b64encode(material).decode() not in text
    # A CVV is three digits, so it may equal an HTTP status label ("400"): look for it in every other label.
    label_values = {value for (_, labels) in after for (name, value) in labels if name != "status"}
    assert cvv not in label_values and wrong not in label_values
    # Left in the data directory, so the run's secret scan (tests/secret_scan.py) reads it too.
    (metered.data_dir / "metrics-scrape.txt").write_text(text)


def test_unknown_operations_collapse_to_one_label(metered: RunningServer) -> None:
    port = metered.settings.metrics_port
    assert port is not None
    before = samples(scrape_text(port))
    for path in ("/no-such-thing/4111111111111111", "/another/path"):
        request = urllib.request.Request(f"http://127.0.0.1:{metered.settings.port}{path}", method="POST")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=10)
    text = scrape_text(port)
    after = samples(text)
    name = "paycrypt_request_duration_seconds_count"
    labels = {"operation": "unknown", "status": "404", "code": "UnknownOperationException"}
    assert value(after, name, **labels) - value(before, name, **labels) == 2
    assert "4111111111111111" not in text and "no-such-thing" not in text


def test_only_metrics_is_served(metered: RunningServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{metered.settings.metrics_port}/", timeout=10)
    assert refused.value.code == 404


def test_the_metrics_port_is_on_loopback_by_default(metered: RunningServer) -> None:
    assert Settings().metrics_host == "127.0.0.1"
    instruments = metered.parts.instruments
    assert instruments is not None and instruments.exposition is not None
    assert instruments.exposition.server.server_address[0] == "127.0.0.1"
    # `paycrypt serve --metrics-port N` alone listens there too.
    args = cli.build_parser().parse_args(["serve", "--metrics-port", "9464"])
    assert (cli._settings(args).metrics_port, cli._settings(args).metrics_host) == (9464, "127.0.0.1")


def test_metrics_are_off_without_a_port(server: RunningServer) -> None:
    assert server.settings.metrics_port is None
    assert server.parts.instruments is None
    assert server.parts.app.pipeline.meter is None


def test_a_metrics_port_in_use_refuses_to_start(tmp_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(port=free_port(), data_dir=tmp_path, metrics_port=taken.getsockname()[1])
        with pytest.raises(StartupError, match=r"cannot serve metrics on 127\.0\.0\.1"):
            build_app(settings)


def test_per_key_metrics_only_when_switched_on(tmp_path) -> None:
    settings = Settings(port=free_port(), data_dir=tmp_path, metrics_port=free_port(), metrics_per_key=True)
    with serving(replace(settings)) as running:
        control = running.client("payment-cryptography")
        data = running.client("payment-cryptography-data")
        arn = control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]
        cvv = data.generate_card_validation_data(
            KeyIdentifier=arn, PrimaryAccountNumber=PAN, GenerationAttributes=EXPIRY
        )["ValidationData"]
        wrong = f"{(int(cvv) + 1) % 1000:03d}"
        expect_error(
            data.verify_card_validation_data,
            "VerificationFailedException",
            400,
            KeyIdentifier=arn,
            PrimaryAccountNumber=PAN,
            VerificationAttributes=EXPIRY,
            ValidationData=wrong,
        )
        text = scrape_text(running.settings.metrics_port)
    with pytest.raises(OSError):  # the port closes with the server
        socket.create_connection(("127.0.0.1", settings.metrics_port), 1).close()
    found = samples(text)
    failures = "paycrypt_key_verification_failures_total"
    assert value(found, failures, key_arn=arn, reason="INVALID_VALIDATION_DATA") == 1
    key_requests = "paycrypt_key_requests_total"
    assert value(found, key_requests, key_arn=arn, operation="GenerateCardValidationData", code="none") == 1
    assert PAN not in text


def test_replication_backlog_and_lag_follow_the_replicator(tmp_path) -> None:
    """A key replicated to us-west-2 while the replicator holds that region's jobs: the scrape shows
    one due job waiting longer and longer; once released, the backlog and the lag return to 0."""
    hook = Hook()
    hook.hold.add("us-west-2")
    settings = Settings(
        port=free_port(), data_dir=tmp_path, metrics_port=free_port(), replication_interval=0.05
    )
    with serving(settings, replication_hook=hook) as running:
        port = running.settings.metrics_port
        assert port is not None
        control = running.client("payment-cryptography")
        control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES, ReplicationRegions=["us-west-2"])
        due = ("paycrypt_replication_backlog_jobs", frozenset({("state", "due")}))
        lag = ("paycrypt_replication_lag_seconds", frozenset())
        deadline = time.monotonic() + 10
        while samples(scrape_text(port))[lag] < 0.3:
            assert time.monotonic() < deadline, "the held job's lag did not grow"
            time.sleep(0.05)
        assert samples(scrape_text(port))[due] == 1
        hook.hold.clear()
        while (found := samples(scrape_text(port)))[due] != 0 or found[lag] != 0:
            assert time.monotonic() < deadline + 10, found
            time.sleep(0.05)

"""Shared fixtures: a real paycrypt server on a free loopback port, and clients for it; a Service
to call service functions directly, and a caller's context for it.

The server runs in a thread of the test process with a ManualClock, so tests can move the
key-lifecycle clock forward (purges) while SigV4 keeps checking against real time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import hypothesis
import pytest
import uvicorn
from botocore.config import Config

from paycrypt.clock import ManualClock
from paycrypt.server import Assembly, Settings, build_app, uvicorn_config
from paycrypt.service.context import Context
from paycrypt.service.core import Service
from paycrypt.vault.factory import KINDS, VaultSettings
from tests import backend, cli_marker
from tests import softhsm as hsm_support
from tests.aws_sessions import session as aws_session
from tests.service.stored_keys import context, new_service

REGION = "us-east-1"

# Property tests check values, not speed: on a 2-core CI shared by two pytest workers and test
# servers, hypothesis's default 200 ms deadline per example fails correct code.
hypothesis.settings.register_profile("paycrypt", deadline=None)
hypothesis.settings.load_profile("paycrypt")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    endpoint: str
    clock: ManualClock
    parts: Assembly  # the app and the parts server.py wired into it
    data_dir: Path
    settings: Settings

    def session(self, access_key: str = "test", secret: str = "test", region: str = REGION) -> boto3.Session:
        return aws_session(access_key, secret, region)

    def client(self, service: str, region: str = REGION, **kwargs: object) -> object:
        # Client-side validation off: the server's own validation is what these tests exercise.
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False)
        return self.session(region=region).client(
            service, endpoint_url=self.endpoint, config=config, **kwargs
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--vault",
        choices=KINDS,
        default="file",
        help="the vault of every test server: file (each its own master.key) or pkcs11 (the run's "
        "SoftHSM2 token, tests/softhsm.py)",
    )
    parser.addoption(
        "--store",
        choices=(backend.SQLITE, backend.POSTGRESQL),
        default=backend.SQLITE,
        help="the store every test server runs on (tests/backend.py); postgresql starts a cluster",
    )


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> hsm_support.SoftHsm:
    """This run's SoftHSM2 token with its master key (one per xdist worker)."""
    return hsm_support.start(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="session", autouse=True)
def run_vault(request: pytest.FixtureRequest) -> Iterator[None]:
    """With --vault pkcs11, every test server's vault is the run's token (see `with_run_vault`)."""
    if request.config.getoption("vault") == "pkcs11":
        hsm = request.getfixturevalue("softhsm")
        hsm_support.RUN.settings, hsm_support.RUN.hsm = hsm.vault_settings(), hsm
    yield
    hsm_support.RUN.settings = hsm_support.RUN.hsm = None


def with_run_vault(settings: Settings) -> Settings:
    """`settings` with the run's vault (--vault), unless they name a vault of their own."""
    if hsm_support.RUN.settings is None or settings.vault != VaultSettings():
        return settings
    return replace(settings, vault=hsm_support.RUN.settings)


def start_server(
    settings: Settings, clock: ManualClock, run_vault: bool = True, **build: Any
) -> tuple[uvicorn.Server, threading.Thread, Assembly]:
    """A server built as `paycrypt serve` builds it (`build`: build_app's test-only parts), in a
    thread of this process, on the run's vault (--vault) if `run_vault` and `settings` name no
    vault of their own, and on the store `--store` picks (tests/backend.py) unless they name one."""
    if settings.store is None:
        settings = replace(settings, store=backend.store_for(settings.data_dir))
    parts = build_app(with_run_vault(settings) if run_vault else settings, clock, **build)
    server = uvicorn.Server(uvicorn_config(parts.app, settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("paycrypt test server did not start")
        time.sleep(0.01)
    return server, thread, parts


@contextlib.contextmanager
def serving(settings: Settings, clock: ManualClock | None = None, **build: Any) -> Iterator[RunningServer]:
    """A server built by server.py from `settings` (`build`: build_app's test-only parts), run in a
    thread of the test process on settings.port until the block ends (start_server, and its stop);
    its key-lifecycle clock is `clock` (a new ManualClock)."""
    clock = clock or ManualClock()
    settings = with_run_vault(settings)
    server, thread, parts = start_server(settings, clock, **build)
    try:
        scheme = "https" if settings.tls_cert else "http"
        yield RunningServer(
            f"{scheme}://127.0.0.1:{settings.port}", clock, parts, settings.data_dir, settings
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = Settings(
        port=free_port(), data_dir=tmp_path_factory.mktemp("paycrypt-data"), purge_interval=0.05
    )
    with serving(settings) as running:
        yield running


@pytest.fixture(scope="session")
def control(server: RunningServer) -> object:
    return server.client("payment-cryptography")


@pytest.fixture(scope="session")
def data(server: RunningServer) -> object:
    return server.client("payment-cryptography-data")


CVK_ATTRIBUTES = {
    "KeyAlgorithm": "TDES_2KEY",
    "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Generate": True, "Verify": True},
}


@pytest.fixture
def cvk(control: object) -> str:
    return control.create_key(Exportable=True, KeyAttributes=CVK_ATTRIBUTES)["Key"]["KeyArn"]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    """A throwaway PostgreSQL cluster for the session (tests/pg_cluster.py), one per xdist worker."""
    from tests.pg_cluster import Cluster

    cluster = Cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session", autouse=True)
def _store_backend(request: pytest.FixtureRequest) -> None:
    """Every test server on the backend `--store` names."""
    backend.BACKEND = request.config.getoption("--store")
    if backend.BACKEND == backend.POSTGRESQL:
        backend.CLUSTER = request.getfixturevalue("pg_cluster")


@pytest.fixture
def service_options() -> dict[str, Any]:
    """What `svc` is built with beyond tests/service/stored_keys.new_service's defaults (keycache,
    clock, quotas, regions): a test module that needs a variation overrides this fixture."""
    return {}


@pytest.fixture
def svc(tmp_path: Path, service_options: dict[str, Any]) -> Service:
    """A Service on a database of its own, for calling service functions directly."""
    return new_service(tmp_path / "db", **service_options)


@pytest.fixture
def ctx(svc: Service) -> Context:
    """The context of a direct call to `svc` by an IAM user of the tests' account."""
    return context(svc)


# The `cli` marker (pyproject.toml) stays on every test that runs `aws` or `paycrypt` as a subprocess.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    with cli_marker.running(item):
        return (yield)


# After the run: no secret the tests handled in any file a test server left (tests/secret_scan.py),
# every clear key, PIN and PAN registered as it passes through the code (tests/secret_registry.py).
def pytest_configure(config: pytest.Config) -> None:
    from tests import secret_registry

    secret_registry.install()
    cli_marker.install()


def pytest_sessionstart(session: pytest.Session) -> None:
    from tests import secret_scan

    secret_scan.start_server_log(session.config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests import secret_scan

    secret_scan.finish(session)


@pytest.fixture(scope="module")
def own_pg_cluster() -> Iterator[object]:
    """A PostgreSQL cluster of the module's own, for tests that stop and restart it (a database
    outage): the session's cluster serves every other test's servers."""
    from tests.pg_cluster import Cluster

    cluster = Cluster()
    yield cluster
    cluster.destroy()

"""Fixtures for the API tests: server processes of their own, the AWS CLI, and a server with the
identity and access tests' credentials file."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.cli import AwsCli
from tests.api.heavy_tripwire import heavy_off_loop  # noqa: F401  (a fixture, offered to every API test)
from tests.api.iam_support import IamServer, iam_server
from tests.api.processes import processes  # noqa: F401  (a fixture, offered to every API test)


@pytest.fixture
def aws(server, tmp_path) -> AwsCli:
    """The `aws` CLI against the session's server, with the development credentials."""
    return AwsCli(server.endpoint, tmp_path)


@pytest.fixture(scope="module")
def iam_options() -> dict[str, Any]:
    """What the module's `iam` server starts with beyond iam_server's defaults (`principals`, and
    Settings fields): a test module that needs a variation overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory, iam_options: dict[str, Any]) -> Iterator[IamServer]:
    """A server of the module's own, with the principals of tests/api/iam_support.py (PRINCIPALS)."""
    with iam_server(tmp_path_factory.mktemp("paycrypt-iam"), **iam_options) as running:
        yield running

"""Fixtures for the API tests: server processes of their own, and the AWS CLI."""

import pytest

from tests.api.cli import AwsCli
from tests.api.heavy_tripwire import heavy_off_loop  # noqa: F401  (a fixture, offered to every API test)
from tests.api.processes import processes  # noqa: F401  (a fixture, offered to every API test)


@pytest.fixture
def aws(server, tmp_path) -> AwsCli:
    """The `aws` CLI against the session's server, with the development credentials."""
    return AwsCli(server.endpoint, tmp_path)

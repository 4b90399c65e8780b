"""Fixtures for the console tests: one server per module with the console's principals."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.iam_support import IamServer, iam_server
from tests.console.browser_support import chromium  # noqa: F401  (a fixture, for the browser tests)
from tests.console.support import PRINCIPALS, Browser, browser


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamServer]:
    with iam_server(tmp_path_factory.mktemp("paycrypt-console"), PRINCIPALS) as running:
        yield running


@pytest.fixture
def web(console_server: IamServer) -> Iterator[Browser]:
    client = browser(console_server.endpoint)
    yield client
    client.client.close()

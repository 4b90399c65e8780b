"""Fixtures for the API tests that start server processes of their own."""

from tests.api.processes import processes  # noqa: F401  (a fixture, offered to every API test)

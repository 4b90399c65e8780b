"""The `store` fixture of tests/store/test_behaviour.py (a fresh store, once on each backend) for
every test of the store's protocols."""

from tests.store.test_behaviour import spec, store  # noqa: F401

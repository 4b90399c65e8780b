"""The `store` fixture of tests/store/test_behaviour.py (a fresh store, once on each backend) for
the jobs that keep their state in it."""

from tests.store.test_behaviour import spec, store  # noqa: F401

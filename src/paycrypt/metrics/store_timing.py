"""The store with each of its protocol calls timed: a proxy built once, each timed method a
closure over its histogram child, so a call costs two clock reads and one observation more.

Only the calls `store.base`'s protocols declare are timed (a bounded label: the method's name);
anything else (the `mpa` tables, a transaction) passes through untimed. Calls that return an
iterator are left untimed too: timing them would measure only the generator's creation; and so is
`has_resource_policies`, a flag kept in memory that every request asks (its timing would cost more
than it).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import Histogram

from paycrypt.store import base

UNTIMED = frozenset({"transaction", "close", "has_resource_policies"})


def timed_calls() -> tuple[str, ...]:
    """The store protocols' methods that are timed, in a stable order."""
    names: set[str] = set()
    for part in base.Store.__bases__:
        if part.__module__ != base.__name__:
            continue  # typing.Protocol itself
        for name, member in vars(part).items():
            if name.startswith("_") or name in UNTIMED or not callable(member):
                continue
            if str(inspect.signature(member).return_annotation).startswith("Iterator"):
                continue
            names.add(name)
    return tuple(sorted(names))


class TimedStore:
    """Behaves as the store it wraps; see the module's docstring."""

    def __init__(self, store: Any, histogram: Histogram, calls: Iterable[str] | None = None) -> None:
        self.store = store
        for name in timed_calls() if calls is None else calls:
            setattr(self, name, _timed(getattr(store, name), histogram.labels(name)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def _timed(method: Callable[..., Any], child: Any) -> Callable[..., Any]:
    observe, clock = child.observe, time.perf_counter

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return method(*args, **kwargs)
        finally:
            observe(clock() - started)

    return timed

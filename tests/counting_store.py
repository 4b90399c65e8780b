"""A store that counts the calls made to it, and otherwise is the store it wraps."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

READS = frozenset({"get_key", "get_alias", "get_tags", "list_aliases", "get_resource_policy"})


class CountingStore:
    """Every method call is counted by (method, first argument if a string); attributes pass through.

    Safe to put in a server's place while it runs (its calls come from the server's thread)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, Any]] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            first = args[0] if args and isinstance(args[0], str) else None  # an ARN, an account
            with self._lock:
                self.calls[(name, first)] += 1
            return found(*args, **kwargs)

        return counted

    def count(self, method: str, argument: Any = None) -> int:
        """Calls of `method` (with that first argument, if given)."""
        with self._lock:
            return sum(
                n for (name, arg), n in self.calls.items() if name == method and argument in (None, arg)
            )

    def reads(self) -> Counter[str]:
        """Calls of the methods that read keys and what a policy may test about them, by method."""
        with self._lock:
            found: Counter[str] = Counter()
            for (name, _), n in self.calls.items():
                if name in READS:
                    found[name] += n
            return found

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


def counting(call: Callable[[], Any], store: CountingStore) -> Counter[str]:
    """The reads `call` makes through `store`."""
    store.reset()
    call()
    return store.reads()

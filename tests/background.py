"""A loop in a thread of the test or bench process, running from `with` until the block ends."""

from __future__ import annotations

import threading
from typing import Self


class Background:
    """Subclasses write `_run`, which returns soon after `stopping` is set."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        raise NotImplementedError

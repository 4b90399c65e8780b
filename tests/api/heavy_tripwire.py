"""A tripwire on the CPU-heavy crypto calls (issue 13, item 3): none may run on a thread that is
running an event loop.

`heavy_off_loop` wraps each heavy entry point of paycrypt.crypto for one test, records every call
(which function, which thread, whether that thread was running an event loop) and fails the test
if any ran on one. The servers of the API tests run in threads of the test process, so their
calls pass through the wrappers; calls the tests make themselves (a partner building a TR-34
block) run on the test's own thread, which runs no loop. Modules whose flows cover the heavy
operations use it for every test (`pytestmark`); test_heavy_calls.py checks that it trips.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from paycrypt.crypto import certificates, ecdh, key_cryptogram, keygen, rsa_data, tr34


def _rsa_only(algorithm: str, *args: Any, **kwargs: Any) -> bool:
    return algorithm.startswith("RSA_")  # ECC key generation is light (0.03-0.2 ms) and may stay


# (module, function, which calls count: None for all)
HEAVY_ENTRY_POINTS: list[tuple[ModuleType, str, Callable[..., bool] | None]] = [
    (keygen, "generate", _rsa_only),
    (certificates, "create_ca", None),
    (certificates, "issue_certificate", None),
    (certificates, "build_csr", None),
    (tr34, "build", None),
    (tr34, "unwrap", None),
    (ecdh, "shared_secret", None),
    (rsa_data, "decrypt", None),
    (key_cryptogram, "unwrap", None),
]


@dataclass(frozen=True)
class HeavyCall:
    function: str
    thread: str
    on_loop: bool


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def install(monkeypatch: pytest.MonkeyPatch, seen: list[HeavyCall]) -> None:
    for module, name, counts in HEAVY_ENTRY_POINTS:
        original = getattr(module, name)
        label = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"

        def wrapper(
            *args: Any,
            _original: Callable[..., Any] = original,
            _label: str = label,
            _counts: Callable[..., bool] | None = counts,
            **kwargs: Any,
        ) -> Any:
            if _counts is None or _counts(*args, **kwargs):
                seen.append(HeavyCall(_label, threading.current_thread().name, _on_loop()))
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)


@pytest.fixture
def heavy_off_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[HeavyCall]]:
    seen: list[HeavyCall] = []
    install(monkeypatch, seen)
    yield seen
    on_loop = [call for call in seen if call.on_loop]
    assert not on_loop, f"CPU-heavy calls ran on the event loop: {on_loop}"

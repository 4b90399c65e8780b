"""The bounded LRU mapping of the request-path caches (paycrypt/lru.py, issue 17 item 4): full, it
evicts the least recently used entry, one at a time, and keeps the rest."""

from __future__ import annotations

import threading

import pytest

from paycrypt.lru import Lru


def test_evicts_the_least_recently_used_one_at_a_time() -> None:
    cache: Lru[str, int] = Lru(3)
    for n, name in enumerate("abc"):
        cache.put(name, n)
    assert cache.get("a") == 0  # a is now the most recently used: b is the oldest
    cache.put("d", 3)
    assert list(cache) == ["c", "a", "d"] and len(cache) == 3
    assert cache.get("b") is None and cache.get("b", -1) == -1
    cache.put("c", 20)  # a write refreshes too
    cache.put("e", 4)
    assert list(cache) == ["d", "c", "e"] and cache.get("c") == 20


def test_pop_and_clear() -> None:
    cache: Lru[str, int | None] = Lru(2)
    cache.put("a", None)
    assert "a" in cache and cache.get("a", -1) is None  # a cached None is a value, not a miss
    cache.pop("a")
    cache.pop("absent")
    assert "a" not in cache
    cache.put("b", 1)
    cache.clear()
    assert len(cache) == 0


def test_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        Lru(0)


def test_threads_reading_and_writing_never_fail_and_stay_bounded() -> None:
    cache: Lru[int, int] = Lru(50)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(20_000):
                cache.put((i + offset) % 200, i)
                cache.get((i * 7 + offset) % 200)
                if i % 97 == 0:
                    cache.pop(i % 200)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(cache) <= 50

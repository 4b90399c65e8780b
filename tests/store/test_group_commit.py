"""Group commit on the SQLite store (issue 17 target 2): writes the event loop's thread makes in one
turn share one COMMIT, each request is released only once that COMMIT is done, and a failed write
fails only its own request.

The requests are asyncio tasks on a real event loop, as the pipeline runs them: each writes in a
transaction, then awaits `store.settled()` (what `Pipeline.settle` does before answering). The
statements the connection runs are traced (sqlite3's trace callback), and a second connection to
the same file shows what is committed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from paycrypt.store.sqlite import SqliteStore
from tests.store.test_behaviour import key


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "paycrypt.db")
    yield opened
    opened.close()


def traced(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store._db._db.set_trace_callback(statements.append)
    return statements


def committed_arns(path: Path) -> set[str]:
    """What another connection sees: only committed rows."""
    other = sqlite3.connect(path)
    try:
        return {arn for (arn,) in other.execute("SELECT arn FROM keys")}
    finally:
        other.close()


async def request(
    store: SqliteStore, write: Callable[[], None], seen: dict[str, set[str]], name: str
) -> None:
    """One request: its write, then the wait for the commit, then what is on disk as it answers."""
    write()
    pending = store.settled()
    assert pending is not None  # a write on the loop's thread is never committed on the spot
    await pending
    seen[name] = committed_arns(Path(store_path(store)))


def store_path(store: SqliteStore) -> str:
    return store._db._db.execute("PRAGMA database_list").fetchone()[2]


def test_concurrent_writes_share_one_commit_and_answer_after_it(store: SqliteStore) -> None:
    statements = traced(store)
    seen: dict[str, set[str]] = {}

    async def main() -> None:
        store.group_commits(asyncio.get_running_loop())
        tasks = [
            asyncio.create_task(request(store, lambda n=n: store.insert_key(key(n)), seen, f"r{n}"))
            for n in range(20)
        ]
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert statements.count("COMMIT") == 1 and statements.count("BEGIN IMMEDIATE") == 1
    assert statements.count("SAVEPOINT request") == 20
    everyone = {key(n).arn for n in range(20)}
    for n in range(20):  # when each answered, its key (and every other of the batch) was committed
        assert seen[f"r{n}"] == everyone
    assert store.settled() is None


def test_a_failed_write_fails_only_its_own_request(store: SqliteStore) -> None:
    seen: dict[str, set[str]] = {}
    outcomes: list[BaseException | None] = []

    def failing() -> None:
        with store.transaction():
            store.insert_key(key(100))
            store.put_tags(key(100).arn, [{"Key": "k", "Value": "v"}])
            raise ValueError("refused after writing")

    async def main() -> None:
        store.group_commits(asyncio.get_running_loop())
        good = [
            asyncio.create_task(request(store, lambda n=n: store.insert_key(key(n)), seen, f"r{n}"))
            for n in range(3)
        ]
        try:
            failing()
        except ValueError as exc:
            outcomes.append(exc)
        good.append(asyncio.create_task(request(store, lambda: store.insert_key(key(3)), seen, "r3")))
        await asyncio.gather(*good)

    asyncio.run(main())
    assert isinstance(outcomes[0], ValueError)
    assert committed_arns(Path(store_path(store))) == {key(n).arn for n in range(4)}
    assert store.get_key(key(100).arn) is None and store.get_tags(key(100).arn) == []
    assert store.count_keys(key(0).account, key(0).region) == 4  # the quota counter rolled back too


def test_a_failed_commit_fails_every_request_of_the_batch(store: SqliteStore) -> None:
    errors: list[BaseException] = []

    class BrokenCommit:
        """The connection, but COMMIT fails as a full disk would make it."""

        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self.db, name)

    real = store._db._db

    async def one(n: int) -> None:
        store.insert_key(key(n))
        pending = store.settled()
        assert pending is not None
        try:
            await pending
        except sqlite3.OperationalError as exc:
            errors.append(exc)

    async def main() -> None:
        store.group_commits(asyncio.get_running_loop())
        store._db._db = BrokenCommit(real)  # type: ignore[assignment]
        await asyncio.gather(*(one(n) for n in range(5)))
        store._db._db = real

    asyncio.run(main())
    assert len(errors) == 5
    assert committed_arns(Path(store_path(store))) == set()
    assert store.get_key(key(0).arn) is None  # the caches hold nothing rolled back
    store.insert_key(key(7))  # the store goes on: no batch left open, the lock released
    assert committed_arns(Path(store_path(store))) == {key(7).arn}


def test_a_worker_threads_transaction_commits_on_its_own_after_the_batch(store: SqliteStore) -> None:
    statements = traced(store)
    done = threading.Event()

    def worker() -> None:
        store.insert_key(dataclasses.replace(key(50)))
        done.set()

    async def main() -> None:
        store.group_commits(asyncio.get_running_loop())
        store.insert_key(key(1))  # opens a batch: the lock is the loop thread's until its COMMIT
        thread = threading.Thread(target=worker)
        thread.start()
        assert not done.wait(0.2)  # the worker waits for the batch
        pending = store.settled()
        assert pending is not None
        await pending
        await asyncio.to_thread(thread.join)

    asyncio.run(main())
    assert done.is_set()
    assert statements.count("COMMIT") == 2  # the batch's, then the worker's own
    assert committed_arns(Path(store_path(store))) == {key(1).arn, key(50).arn}


def test_without_group_commit_each_transaction_commits_before_it_returns(store: SqliteStore) -> None:
    statements = traced(store)
    store.insert_key(key(1))
    assert statements[-1] == "COMMIT" and store.settled() is None


def test_closing_the_store_commits_an_open_batch(tmp_path: Path) -> None:
    """At shutdown the store may be closed with a batch's COMMIT still queued: close commits it."""
    opened = SqliteStore(tmp_path / "paycrypt.db")
    states: list[bool] = []

    async def write_then_close() -> None:
        opened.group_commits(asyncio.get_running_loop())
        opened.insert_key(key(1))
        pending = opened.settled()
        assert pending is not None and not pending.done()
        opened.close()
        states.append(pending.done() and pending.exception() is None)

    asyncio.run(write_then_close())
    assert states == [True]
    assert committed_arns(tmp_path / "paycrypt.db") == {key(1).arn}

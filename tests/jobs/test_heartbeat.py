"""Rate quotas across processes (issue 15 item 6): each process beats in the store's heartbeat
table and takes rate / (live processes) of each per-account quota; on real stores of both backends.

The throttle runs on a clock of the test's, so what it admits is counted exactly; the heartbeats
run in real time, as in a server. A process that dies is one whose store calls fail from then on
(tests/jobs/test_leases.py `Dying`): it neither beats nor removes its row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from paycrypt.auth import throttle
from paycrypt.errors import Throttling
from paycrypt.jobs.heartbeat import PERIODS, Heartbeat
from paycrypt.store.base import Store
from tests.jobs.test_leases import Dying, until

INTERVAL = 0.25  # seconds between beats (production: a quarter of --lease-seconds)
RATE = 20.0  # control-plane requests per second for the cluster
ACCOUNT, REGION = "111122223333", "us-east-1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admitted(quota: throttle.Throttle, clock: FakeClock, seconds: float, per_second: int = 200) -> int:
    """Requests admitted in `seconds` of `clock` with `per_second` offered, after the burst is spent."""
    while True:  # spend what the bucket holds
        try:
            quota.take(ACCOUNT, REGION, throttle.CONTROL)
        except Throttling:
            break
    count = 0
    for _ in range(int(seconds * per_second)):
        clock.now += 1 / per_second
        try:
            quota.take(ACCOUNT, REGION, throttle.CONTROL)
            count += 1
        except Throttling:
            pass
    return count


def quota_for(participants: Callable[[], int]) -> tuple[throttle.Throttle, FakeClock]:
    clock = FakeClock()
    limits = throttle.limits_from_options([f"control={RATE:g}"])
    return throttle.Throttle(limits, clock, participants), clock


def test_two_live_processes_each_admit_half_and_the_survivor_all_when_one_dies(store: Store) -> None:
    async def scenario() -> None:
        b_tables = Dying(store.cluster)
        a = Heartbeat(store.cluster, "node-a", 0, INTERVAL)
        b = Heartbeat(b_tables, "node-b", 0, INTERVAL)  # type: ignore[arg-type]
        tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
        await until(lambda: a.participants() == 2 and b.participants() == 2, 5)
        quota, clock = quota_for(a.participants)
        assert admitted(quota, clock, 10) == pytest.approx(RATE / 2 * 10, abs=2)  # 100 of 200 in 10 s
        b_tables.dead = True  # SIGKILL: b stops beating and leaves its row behind
        died = time.monotonic()
        await until(lambda: a.participants() == 1, PERIODS * INTERVAL + INTERVAL + 2)
        took = time.monotonic() - died
        assert took <= (PERIODS + 1) * INTERVAL + 1.0, took  # + a loaded machine's scheduling slack
        assert admitted(quota, clock, 10) == pytest.approx(RATE * 10, abs=2)  # the whole rate again
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())


def test_a_clean_shutdown_leaves_at_once_and_an_unreachable_store_keeps_the_last_count(store: Store) -> None:
    async def scenario() -> None:
        a_tables = Dying(store.cluster)
        a = Heartbeat(a_tables, "node-a", 0, INTERVAL)  # type: ignore[arg-type]
        b = Heartbeat(store.cluster, "node-b", 0, INTERVAL)
        c = Heartbeat(store.cluster, "node-c", 0, INTERVAL)
        tasks = {name: asyncio.create_task(h.run()) for name, h in (("a", a), ("b", b), ("c", c))}
        await until(lambda: a.participants() == 3, 5)
        tasks["b"].cancel()  # a clean shutdown removes b's row: a sees 2 at its next beat
        await asyncio.gather(tasks["b"], return_exceptions=True)
        await until(lambda: a.participants() == 2, INTERVAL + 2)
        a_tables.dead = True  # the store cannot be reached from a
        tasks["c"].cancel()
        await asyncio.gather(tasks["c"], return_exceptions=True)
        await asyncio.sleep(INTERVAL * (PERIODS + 2))
        assert a.participants() == 2  # the last count read stays in force
        a_tables.dead = False
        await until(lambda: a.participants() == 1, INTERVAL + 2)
        tasks["a"].cancel()
        await asyncio.gather(tasks["a"], return_exceptions=True)

    asyncio.run(scenario())


def test_a_share_change_keeps_what_was_earned_up_to_the_new_burst() -> None:
    live = [1]
    quota, clock = quota_for(lambda: live[0])
    for _ in range(int(RATE)):  # the whole burst of one process
        quota.take(ACCOUNT, REGION, throttle.CONTROL)
    with pytest.raises(Throttling):
        quota.take(ACCOUNT, REGION, throttle.CONTROL)
    clock.now += 10  # refilled to the burst (20)
    live[0] = 4  # three more processes: the burst is a quarter (5)
    taken = 0
    while True:
        try:
            quota.take(ACCOUNT, REGION, throttle.CONTROL)
            taken += 1
        except Throttling:
            break
    assert taken == RATE / 4

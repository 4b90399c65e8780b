"""The cost of the PostgreSQL store's statement deadline (store/deadlines.py), side by side.

One connection to a throwaway cluster (tests/pg_cluster.py), `SELECT 1` in rounds of 1,000:
plainly, and under the deadline as the store runs every statement (`postgres.execute`: the
socket duplicated and armed, disarmed and closed). The two alternate round by round, in reversed
order every other round, so that a neighbour's load on the shared machine falls on both; the
figure is the client thread's CPU per statement (and wall time, noisier). Also the arming and
disarming alone, without a statement.

    .venv/bin/python bench/deadline_bench.py --rounds 40
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg_cluster

import psycopg

from paycrypt.store.deadlines import Deadlines
from paycrypt.store.postgres import execute

PER_ROUND = 1000


def thread_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_THREAD)
    return used.ru_utime + used.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    from tests.pg_cluster import Cluster

    cluster = Cluster()
    deadlines = Deadlines(2.0)
    try:
        with psycopg.connect(cluster.url(), autocommit=True) as connection:
            ways: dict[str, Callable[[], object]] = {
                "plain": lambda: connection.execute("SELECT 1").fetchall(),
                "deadline": lambda: execute(deadlines, connection, "SELECT 1"),
            }
            totals = {name: [0.0, 0.0] for name in ways}
            for round_ in range(args.rounds):
                for name in ways if round_ % 2 == 0 else reversed(ways):
                    wall, cpu = time.perf_counter(), thread_cpu()
                    for _ in range(PER_ROUND):
                        ways[name]()
                    totals[name][0] += time.perf_counter() - wall
                    totals[name][1] += thread_cpu() - cpu
            statements = args.rounds * PER_ROUND
            for name, (wall, cpu) in totals.items():
                print(
                    f"{name:9} client CPU {cpu / statements * 1e6:6.1f} µs/statement, "
                    f"wall {wall / statements * 1e6:6.1f} µs/statement"
                )
            fd = connection.pgconn.socket
            cpu = thread_cpu()
            for _ in range(statements):
                deadlines.disarm(deadlines.arm(fd))
            print(f"arm+disarm alone: {(thread_cpu() - cpu) / statements * 1e6:.1f} µs of CPU")
    finally:
        deadlines.close()
        cluster.destroy()


if __name__ == "__main__":
    main()

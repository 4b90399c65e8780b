"""A server's rate quotas are its share of the cluster's (issue 15 item 6), through boto3.

The server runs with throttling on and a control-plane quota of 4/s, leases of 1 s (heartbeats
every 0.25 s). Another participant beats in the same store's heartbeat table, as a second node
would: the server then admits about half the quota. The participant stops beating without a word
(as after SIGKILL): within four beats the server admits the whole quota again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import botocore.exceptions

from paycrypt.jobs.heartbeat import PERIODS
from paycrypt.server import Settings
from paycrypt.store import factory
from tests import backend
from tests.api.test_cluster_jobs import wait_for
from tests.conftest import free_port, serving

RATE = 4.0  # control-plane requests per second, for the cluster
LEASE = 1.0
BEAT = LEASE / 4
WINDOW = 4.0  # seconds of requests counted


def admitted(control: object, seconds: float) -> int:
    """Control-plane calls admitted in `seconds` of calls back to back, after the burst is spent."""
    for _ in range(50):  # spend the bucket
        try:
            control.list_keys()  # type: ignore[attr-defined]
        except botocore.exceptions.ClientError:
            break
    count, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            control.list_keys()  # type: ignore[attr-defined]
            count += 1
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "ThrottlingException"
            time.sleep(0.02)
    return count


def test_two_participants_halve_the_rate_and_a_dead_ones_share_returns(tmp_path: Path) -> None:
    settings = Settings(
        port=free_port(),
        data_dir=tmp_path / "data",
        throttling="on",
        rate_limits=(f"control={RATE:g}",),
        lease_seconds=LEASE,
    )
    with serving(settings) as server:
        store = factory.open_store(factory.parse(backend.store_for(server.data_dir), server.data_dir))
        alive = threading.Event()
        alive.set()

        def other_node() -> None:
            while alive.is_set():
                store.cluster.beat("node-other", 0, BEAT * PERIODS)
                time.sleep(BEAT)

        beating = threading.Thread(target=other_node, daemon=True)
        beating.start()
        try:
            control = server.client("payment-cryptography")
            wait_for(lambda: server.parts.heartbeat.participants() == 2, 10, "the server counts two")
            shared = admitted(control, WINDOW)
            alive.clear()  # the other node dies: no more beats, its row left behind
            beating.join()
            died = time.monotonic()
            wait_for(lambda: server.parts.heartbeat.participants() == 1, 10, "the server counts itself alone")
            took = time.monotonic() - died
            alone = admitted(control, WINDOW)
        finally:
            alive.clear()
            store.close()
    # Never more than half the quota's rate over the window (2/s: 8, a call or two more for where
    # the window's edges fall between refills), then more than that and at most the whole (4/s: 16).
    # A loaded machine's pauses can only lower what is admitted, so the lower bounds are loose.
    assert RATE / 2 * WINDOW - 4 <= shared <= RATE / 2 * WINDOW + 2, shared
    assert RATE / 2 * WINDOW + 2 < alone <= RATE * WINDOW + 2, alone
    assert took <= (PERIODS + 1) * BEAT + 1.0, took

"""What the SQLite store's cross-process check costs on the request path (docs/decisions/coherence.md).

Before its record caches answer, the SQLite store compares the token in its change signal (shared
memory, store/sqlite_signal.py) with the last one it saw. A data-plane request reads its key
(`get_key`) and asks whether any key has a resource policy (`has_resource_policies`): two checks a
request. This measures those two reads from a warm cache with the check and with it replaced by
nothing, alternating run after run, in CPU time of this process (a neighbour's load stretches the
wall clock, not the CPU spent per call); and, for scale, the check first tried and replaced,
SQLite's `PRAGMA data_version` (a read transaction and its file locks). A CVV2 verification costs
about 0.3 ms of CPU (bench/README.md).

    .venv/bin/python bench/coherence_bench.py --seconds 2 --runs 3
    .venv/bin/python bench/coherence_bench.py --quick
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import harness

from paycrypt.store.records import KeyRecord
from paycrypt.store.sqlite import SqliteStore


def a_key() -> KeyRecord:
    return KeyRecord(
        arn="arn:aws:payment-cryptography:us-east-1:111122223333:key/benchcoherence01",
        account="111122223333",
        region="us-east-1",
        key_id="benchcoherence01",
        key_attributes={"KeyAlgorithm": "TDES_2KEY", "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY"},
        key_check_value="0A1B2C",
        key_check_value_algorithm="ANSI_X9_24",
        enabled=True,
        exportable=True,
        key_state="CREATE_COMPLETE",
        key_origin="AWS_PAYMENT_CRYPTOGRAPHY",
        create_timestamp=None,  # type: ignore[arg-type]
        key_block="D0112K0TB00E0000",
    )


def per_request(store: SqliteStore, arn: str, seconds: float) -> float:
    """Microseconds of CPU for one request's reads (get_key and has_resource_policies)."""

    def reads() -> None:
        store.get_key(arn)
        store.has_resource_policies()

    return 1e6 / harness.rate(reads, seconds, clock=time.process_time, batch=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run (0.2 s, one run)")
    args = parser.parse_args()
    seconds, runs = (0.2, 1) if args.quick else (args.seconds, args.runs)
    with tempfile.TemporaryDirectory() as workdir:
        store = SqliteStore(Path(workdir) / "paycrypt.db")
        record = a_key()
        store.insert_key(record)
        checked: list[float] = []
        unchecked: list[float] = []
        check = store._check_caches
        for run in range(runs):
            for with_check in (True, False) if run % 2 == 0 else (False, True):
                store._check_caches = check if with_check else (lambda: None)  # type: ignore[method-assign]
                (checked if with_check else unchecked).append(per_request(store, record.arn, seconds))
        store._check_caches = check  # type: ignore[method-assign]
        pragma = 1e6 / harness.rate(
            lambda: store._db.execute("PRAGMA data_version"), seconds, clock=time.process_time
        )
        store.close()
    print(f"one request's reads, with the check:    {' '.join(f'{v:.2f}' for v in checked)} µs CPU")
    print(f"one request's reads, without the check: {' '.join(f'{v:.2f}' for v in unchecked)} µs CPU")
    print(f"PRAGMA data_version alone, for scale:   {pragma:.2f} µs CPU")
    print(f"added per request: {min(checked) - min(unchecked):.2f} µs CPU (best runs)")


if __name__ == "__main__":
    main()

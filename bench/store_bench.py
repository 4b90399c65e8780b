"""CreateKey and GetKey through the service functions on SQLite and on PostgreSQL, side by side.

In process, no HTTP: the service's create_key and get_key on a Service over each store (the
master key in memory), alternating the backends run after run so that a neighbour's load on the
shared machine falls on both. PostgreSQL is a throwaway cluster on loopback (tests/pg_cluster.py)
unless --postgresql names a database; SQLite is a file in a temporary directory with
synchronous=FULL (each write fsynced), as the server runs it.

    .venv/bin/python bench/store_bench.py --seconds 3 --runs 2
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import harness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg_cluster

from paycrypt.clock import ManualClock
from paycrypt.service.core import Service
from paycrypt.service.keys import lifecycle
from paycrypt.store import factory
from paycrypt.vault.keycache import KeyCache
from paycrypt.vault.local import MasterKeyVault

CVK = {
    "KeyAlgorithm": "TDES_2KEY",
    "KeyUsage": "TR31_C0_CARD_VERIFICATION_KEY",
    "KeyClass": "SYMMETRIC_KEY",
    "KeyModesOfUse": {"Generate": True, "Verify": True},
}


def measure(svc: Service, seconds: float) -> dict[str, float]:
    arns: list[str] = []
    params = {"KeyAttributes": CVK, "Exportable": True}

    def create_one() -> None:
        arns.append(lifecycle.create_key(svc, harness.context(svc.clock.now()), params)["Key"]["KeyArn"])

    created = harness.rate(create_one, seconds, batch=10)
    position = iter(range(10**9))

    def get_one() -> None:
        arn = arns[next(position) % len(arns)]
        lifecycle.get_key(svc, harness.context(svc.clock.now()), {"KeyIdentifier": arn})

    got = harness.rate(get_one, seconds)
    return {"CreateKey/s": created, "GetKey/s": got}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--postgresql", default=None, help="a database URL (default: a throwaway cluster)")
    args = parser.parse_args()
    cluster = None
    url = args.postgresql
    if url is None:
        from tests.pg_cluster import Cluster

        cluster = Cluster()
    try:
        results: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
        with tempfile.TemporaryDirectory() as workdir:
            for run in range(args.runs):
                for backend in ("sqlite", "postgresql") if run % 2 == 0 else ("postgresql", "sqlite"):
                    if backend == "sqlite":
                        spec = factory.parse(f"sqlite:{workdir}/run{run}.db", Path(workdir))
                    else:
                        target = url or cluster.database(f"bench_{run}_{int(time.time())}")
                        spec = factory.parse(target, Path(workdir))
                    store = factory.open_store(spec)
                    try:
                        svc = Service(store, KeyCache(MasterKeyVault(secrets.token_bytes(32))), ManualClock())
                        results[backend].append(measure(svc, args.seconds))
                    finally:
                        store.close()
                    print(run, backend, {k: round(v) for k, v in results[backend][-1].items()}, flush=True)
        for name in ("CreateKey/s", "GetKey/s"):
            sqlite = [r[name] for r in results["sqlite"]]
            postgresql = [r[name] for r in results["postgresql"]]
            print(
                f"{name}: sqlite {' '.join(f'{v:,.0f}' for v in sqlite)}; "
                f"postgresql {' '.join(f'{v:,.0f}' for v in postgresql)}; "
                f"postgresql/sqlite {sum(postgresql) / sum(sqlite):.2f}"
            )
    finally:
        if cluster is not None:
            cluster.destroy()


if __name__ == "__main__":
    main()

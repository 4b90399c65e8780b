"""What the audit hash chain costs per event (issue 16 item 8): `AuditWriter.record` of a real
VerifyCardValidationData event, chained (this tree) against the writer before the chain (from
git, `--baseline REV`), in one run, alternating rounds; and the chain's own steps alone.

    .venv/bin/python bench/audit_chain_bench.py [--events 50000] [--rounds 5] [--baseline 0ebb762]

Both writers write to a fresh directory on the same file system, batched fsync (the server's
default, 0.2 s). The figure is CPU time (user + system, `time.process_time`) per `record` call,
the median round: on a shared two-core machine wall time mostly measures the neighbours. Digests
are written only when a file closes, so a round of 64 MiB files has none; one digest (hash, sign,
two fsynced files) is timed apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from paycrypt.audit import chain, events
from paycrypt.audit.writer import AuditWriter
from paycrypt.wire import models

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "111122223333"


def sample_event() -> dict[str, Any]:
    """A data-plane CVV2 verification's event, as the server builds it (about 1 KB of JSON)."""
    plans = events.compile_plans(events.DATA, models.load().data)
    identity = events.Identity(
        ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/bench", "AIDABENCH0000000001", "AKIAEXAMPLEBENCH0001"
    )
    return events.build_event(
        plans["VerifyCardValidationData"],
        identity=identity,
        region="us-east-1",
        source_ip="127.0.0.1",
        user_agent="Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9",
        params={
            "KeyIdentifier": f"arn:aws:payment-cryptography:us-east-1:{ACCOUNT}:key/abcdefghijklmnop",
            "PrimaryAccountNumber": "4111111111111111",
            "VerificationAttributes": {"CardVerificationValue2": {"CardExpiryDate": "1229"}},
            "ValidationData": "123",
        },
        result={"KeyArn": f"arn:aws:payment-cryptography:us-east-1:{ACCOUNT}:key/abcdefghijklmnop"},
        request_id="f2a99da8-91e2-47a9-b9d2-1706e733991e",
        event_time=dt.datetime.now(dt.UTC),
    )


def baseline_writer(revision: str) -> Any:
    """The AuditWriter class of `revision` (the unchained writer), loaded from git."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:src/paycrypt/audit/writer.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "baseline_writer.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("baseline_writer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AuditWriter


def per_event(make: Any, event: dict[str, Any], count: int) -> float:
    """CPU microseconds per record() of `count` events into a fresh directory."""
    with tempfile.TemporaryDirectory() as directory:
        log = make(Path(directory))
        try:
            started = time.process_time()
            for _ in range(count):
                log.record(event)
            elapsed = time.process_time() - started
        finally:
            log.close()
    return elapsed / count * 1e6


def digest_cost(event: dict[str, Any], rounds: int) -> float:
    """Wall milliseconds of closing a file: its fsync, digest, signature and directory fsync."""
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as directory:
            log = AuditWriter(Path(directory), node_id="bench", fsync_interval=60)
            for _ in range(100):
                log.record(event)
            started = time.perf_counter()
            log.close()
            times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def steps(event: dict[str, Any], count: int) -> dict[str, float]:
    """Microseconds per event of each step the chain adds, alone."""
    body = json.dumps(event, separators=(",", ":"))
    line = chain.chained_line(body, '"bench"', 0, 123456, "A" * 43)
    file_hash = hashlib.sha256()
    summary = chain.Summary()
    timed = {
        "json.dumps (both writers)": lambda: json.dumps(event, separators=(",", ":")),
        "splice the chain members": lambda: chain.chained_line(body, '"bench"', 0, 123456, "A" * 43),
        "SHA-256 of the line (the link)": lambda: chain.line_hash(line),
        "SHA-256 update of the file hash": lambda: file_hash.update(line),
        "summary for the digest": lambda: summary.add(1, None, "x", "2024-07-09T10:00:00Z"),
    }
    result = {}
    for name, step in timed.items():
        started = time.process_time()
        for _ in range(count):
            step()
        result[name] = (time.process_time() - started) / count * 1e6
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", default="0ebb762", help="git revision of the unchained writer")
    args = parser.parse_args()
    event = sample_event()
    size = len(json.dumps(event, separators=(",", ":")))
    unchained = baseline_writer(args.baseline)
    runs: dict[str, list[float]] = {"unchained": [], "chained": []}
    for _ in range(args.rounds):  # alternate, so that a neighbour's load falls on both
        runs["unchained"].append(per_event(lambda d: unchained(d / "audit.jsonl"), event, args.events))
        runs["chained"].append(per_event(lambda d: AuditWriter(d, node_id="bench"), event, args.events))
    print(f"event: VerifyCardValidationData, {size} bytes of JSON before the chain members")
    print(f"{args.rounds} rounds of {args.events} events each, alternating")
    print("| writer | CPU us/event, median | min | max |")
    print("|---|---|---|---|")
    for name, values in runs.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |")
    cost = statistics.median(runs["chained"]) - statistics.median(runs["unchained"])
    print(f"chain cost per event (median difference): {cost:.2f} us")
    print(f"closing a file with its digest (fsyncs included, wall): {digest_cost(event, 5):.1f} ms")
    print("| step | CPU us/event |")
    print("|---|---|")
    for name, micros in steps(event, args.events).items():
        print(f"| {name} | {micros:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

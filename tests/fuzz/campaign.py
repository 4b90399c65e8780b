"""A fuzz run against a running server: what the CI test and bench/fuzz.py both call.

`Target.start` launches `paycrypt serve` (replicator parked, tests/fuzz/serve.py) on a data
directory of its own and makes the pool of real keys through boto3; `run` sends the requests,
checks each answer and the store after it (tests/fuzz/oracle.py), and at the end that the crypto
keys read as they did; `finish` checks the server is still alive and serving and its log holds no
traceback.

Requests are drawn from one `random.Random` with a fixed seed (PAYCRYPT_FUZZ_SEED varies it), so
a run is reproducible: the operations are drawn uniformly, and one request in five is raw-HTTP
abuse.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from paycrypt.wire import models
from tests.api.processes import ServerProcess
from tests.fuzz import abuse, gen, pool, serve
from tests.fuzz.oracle import StoreWatch, Tally, problems
from tests.fuzz.sender import HttpRequest, Sender, Signer
from tests.fuzz.strategies import Call, Strategies

DEFAULT_SEED = 13
RAW_EVERY = 5  # one request in five is raw-HTTP abuse
HOST = "127.0.0.1"
RAW = "(raw) "  # the tally's name prefix of raw-HTTP abuse


def seed_from_environment() -> int:
    return int(os.environ.get("PAYCRYPT_FUZZ_SEED", DEFAULT_SEED))


@dataclass
class Target:
    """A fuzzed server and what a run needs of it."""

    process: ServerProcess
    data_dir: Path
    pool: pool.Pool
    control: Any  # a boto3 client, for the pool and the crypto-state snapshots
    workdir: Path

    @classmethod
    def start(cls, port: int, *args: str) -> Target:
        # Not under pytest's base temporary directory: the secret scan reads every audit file
        # there, and random fuzz strings of 13-19 digits read as PANs to it. The fuzz server
        # handles no real secret: its keys are made by the server and never exported in clear.
        workdir = Path(tempfile.mkdtemp(prefix="paycrypt-fuzz-"))
        data_dir = workdir / "data"
        program = (sys.executable, str(Path(serve.__file__)))
        process = ServerProcess(
            data_dir,
            port,
            "--audit-max-bytes",
            str(16 * 1024 * 1024),
            "--audit-backups",
            "2",
            # SQLite whatever --store the run gives other servers: StoreWatch reads its file (and its
            # PRAGMA data_version) to prove a refused request changed nothing.
            "--store",
            f"sqlite:{data_dir / 'paycrypt.db'}",
            *args,
            program=program,
        )
        try:
            process.wait_listening()
            control = _control(port)
            return cls(process, data_dir, pool.build(control), control, workdir)
        except BaseException:
            process.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def stop(self) -> None:
        self.process.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _control(port: int) -> Any:
    """A boto3 control-plane client for the fuzzed server."""
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60)
    return boto3.client(
        "payment-cryptography",
        endpoint_url=f"http://{HOST}:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


@dataclass
class Drawn:
    """One request ready to send, with what the tally and a failure report need to know of it."""

    name: str  # the operation, or RAW + the kind of abuse
    kind: str  # valid | mutated | broken, or the abuse and its detail
    request: HttpRequest
    example: dict[str, Any]
    abusive: bool  # raw-HTTP abuse: the HTTP parser may answer it, or nobody


class Requests:
    """The run's request source: operations drawn uniformly, one request in RAW_EVERY abuse."""

    def __init__(self, target: Target, seed: int) -> None:
        self.signer = Signer(HOST, target.process.port)
        strategies = Strategies(target.pool, models.load())
        self.operations = {op.name: op for op in strategies.operations}
        self.names = sorted(self.operations)
        self.calls = {name: strategies.call(op) for name, op in self.operations.items()}
        self.raw = abuse.Abuser(strategies, self.signer).requests()
        self.rnd = random.Random(seed)

    def next(self) -> Drawn:
        while True:
            try:
                return self._draw()
            except gen.Rejected:
                continue

    def _draw(self) -> Drawn:
        rnd = self.rnd
        if rnd.randrange(RAW_EVERY) == 0:
            label, request = self.raw.draw(rnd)
            return Drawn(RAW + label.split()[0], label, request, abuse.describe(request), True)
        name = self.names[rnd.randrange(len(self.names))]
        call = self.calls[name].draw(rnd)
        request = self.signer.encode(call)
        example = {"params": repr(call.params)[:1200]}
        return Drawn(name, call.kind, request, example, False)

    def barrier(self) -> HttpRequest:
        """A read-only request, signed now: once it is answered, the server is done with what came
        before it."""
        return self.signer.encode(Call(self.operations["GetDefaultKeyReplicationRegions"], {}, "valid"))


def run(target: Target, requests: int, seed: int, progress: Callable[[Tally], None] | None = None) -> Tally:
    """Send `requests` generated requests to the target, checking each; the tally."""
    source = Requests(target, seed)
    sender = Sender(HOST, target.process.port)
    store = StoreWatch(target.data_dir / "paycrypt.db")
    tally = Tally()
    before = pool.crypto_state(target.control, target.pool)
    while tally.total < requests:
        drawn = source.next()
        request = drawn.request
        started = time.perf_counter()
        answer = sender.send(request)
        elapsed = time.perf_counter() - started
        found = problems(answer, request.method, request.transport, drawn.abusive)
        if answer.status is None:
            # Whatever the server still does with a request it did not answer is done once it has
            # answered the next one: the store is looked at after that.
            after_it = sender.send(source.barrier())
            if after_it.status != 200:
                found.append(f"no answer to a plain request after it: {after_it.status} {after_it.failure}")
        changed = store.after(refused=answer.status is None or answer.status >= 400)
        if changed:
            found.append(changed)
        tally.record(drawn.name, answer, found, elapsed, {"kind": drawn.kind, **drawn.example})
        if progress is not None and tally.total % 1000 == 0:
            progress(tally)
    sender.close()
    store.close()
    after = pool.crypto_state(target.control, target.pool)
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            tally.fail("crypto keys", f"{key} changed", {"before": before.get(key), "after": after.get(key)})
    return tally


def finish(target: Target, tally: Tally) -> None:
    """The server is alive and serving at the end, and logged no traceback."""
    if target.process.process.poll() is not None:
        tally.fail("server", f"exited with {target.process.process.returncode}")
        return
    try:
        target.control.list_keys(MaxResults=1)
    except Exception as exc:
        tally.fail("server", f"ListKeys after the run failed: {exc}")
    log = target.process.log()
    if "Traceback" in log:
        at = log.index("Traceback")
        tally.fail("server", "traceback in the server log", {"log": log[max(0, at - 300) : at + 3000]})

"""The one place where a server is built and wired: from the settings, the store, vault, key cache,
service, authorizer, audit writer, the models served with their protocols, the request pipeline,
the background jobs and the ASGI app, run by uvicorn.

Nothing below builds a collaborator of its own: every part is made here and handed down. Tests
that need a part of their own (a replicator hook, a store that does not sync) build the server
through `build_app` with it.

uvicorn with httptools and uvloop was chosen by measurement (bench/README.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import resource
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import uvicorn

from paycrypt import defaults
from paycrypt.audit import writer as audit_writer
from paycrypt.auth import caller_identity
from paycrypt.auth import credentials as creds
from paycrypt.auth import throttle as rate_quotas
from paycrypt.auth.authorize import Authorizer
from paycrypt.clock import Clock, SystemClock
from paycrypt.console.mount import mount_console
from paycrypt.jobs.changes import ChangeFollower
from paycrypt.jobs.heartbeat import Heartbeat
from paycrypt.jobs.leases import RENEWALS, Leases
from paycrypt.jobs.purge import PurgeSweeper
from paycrypt.jobs.replicator import Hook, Replicator
from paycrypt.metrics.sampling import Sources
from paycrypt.policy.requests import RequestCatalog
from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.service import registry
from paycrypt.service.core import Quotas, Service
from paycrypt.store import factory as store_factory
from paycrypt.store.base import Store
from paycrypt.store.migrations import SchemaError
from paycrypt.tls import server_context
from paycrypt.vault import agreement, keycache
from paycrypt.vault.factory import VaultSettings, VaultUnavailable, audit_signer
from paycrypt.vault.migration import open_serving_vault
from paycrypt.wire import connections, health, models, protocols
from paycrypt.wire.app import App, Lifespan
from paycrypt.wire.drain import DrainingServer
from paycrypt.wire.pipeline import Api, Pipeline

if TYPE_CHECKING:
    from paycrypt.metrics import wiring as metrics

log = logging.getLogger("paycrypt")

# Worker threads for CPU-heavy calls: all cores but the one the event loop needs. They run at a
# lower priority (on Linux a thread's nice value is its own), so that when the machine is short of
# CPU the event loop's thread is served first and a heavy call takes longer instead of every call
# (bench/README.md, heavy calls).
HEAVY_WORKERS = max(1, (os.cpu_count() or 1) - 1)
HEAVY_NICENESS = 10


@dataclass
class Settings:
    """How `paycrypt serve` runs; every default is `paycrypt.defaults`'s, as the CLI's are."""

    host: str = defaults.HOST
    port: int = defaults.PORT
    data_dir: Path = field(default_factory=defaults.data_dir)
    store: str | None = None  # --store: sqlite:PATH or a postgresql:// URL; None: SQLite under data_dir
    credentials_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    purge_interval: float = defaults.PURGE_INTERVAL
    key_quota: int = defaults.KEYS_PER_REGION
    alias_quota: int = defaults.ALIASES_PER_REGION
    audit_data_events: tuple[str, ...] = ()
    audit_max_bytes: int = defaults.AUDIT_MAX_BYTES
    audit_backups: int = defaults.AUDIT_BACKUPS
    node_id: str = field(default_factory=defaults.node_id)  # in every audit event and audit file name
    worker_id: int = defaults.WORKER_ID  # set per process when a node runs several workers
    workers: int = defaults.WORKERS  # --workers: server processes on one port (workers/supervisor.py)
    regions: tuple[str, ...] = DEFAULT_REGIONS
    replication_interval: float = defaults.REPLICATION_INTERVAL
    replication_retry: float = defaults.REPLICATION_RETRY
    lease_seconds: float = defaults.LEASE_SECONDS  # jobs/leases.py; heartbeats come RENEWALS times per lease
    throttling: str = defaults.THROTTLING
    rate_limits: tuple[str, ...] = ()  # KIND=RATE or ACCOUNT:KIND=RATE overrides of the guide's figures
    request_head_timeout: float = defaults.REQUEST_HEAD_TIMEOUT
    request_body_timeout: float = defaults.REQUEST_BODY_TIMEOUT
    max_connections: int = defaults.MAX_CONNECTIONS  # capped by the file limit
    key_cache_entries: int = defaults.KEY_CACHE_ENTRIES
    store_timeout: float = defaults.STORE_TIMEOUT  # the most a call waits on an unreachable database
    drain_grace: float | None = None  # seconds /readyz answers 503 after SIGTERM, still serving; see grace()
    metrics_port: int | None = None  # --metrics-port: Prometheus metrics served there; None: off
    metrics_host: str = defaults.METRICS_HOST
    metrics_per_key: bool = False  # a key ARN label on the per-key families (docs/metrics.md)
    vault: VaultSettings = field(default_factory=VaultSettings)  # the master key file unless told
    console: bool = True  # the web console at /console/ (--no-console: off)
    console_audit_dirs: tuple[Path, ...] = ()  # other nodes' data directories the console's audit view reads

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def grace(self) -> float:
        """--drain-grace, else DRAIN_GRACE off loopback and none on it: a load balancer on another
        machine cannot probe a loopback address, and a development server stops at once."""
        if self.drain_grace is not None:
            return self.drain_grace
        return 0.0 if is_loopback(self.host) else defaults.DRAIN_GRACE


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class StartupError(Exception):
    """A configuration the server refuses to start with; the message says why."""


def resolve_credentials(settings: Settings) -> tuple[creds.CredentialStore, str]:
    path = settings.credentials_file
    if path is None and (settings.data_dir / "credentials.toml").exists():
        path = settings.data_dir / "credentials.toml"
    if path is not None:
        try:
            loaded = creds.load(path)
        except (OSError, ValueError) as exc:
            raise StartupError(f"cannot read credentials file: {exc}") from exc
        return creds.CredentialStore(loaded, path), f"access keys from {path}"
    if not is_loopback(settings.host):
        raise StartupError(
            f"refusing to listen on {settings.host} without a credentials file: "
            "the development access key 'test' is accepted on loopback only"
        )
    return creds.CredentialStore(creds.dev_credentials()), (
        f"no credentials file: access key 'test' / secret 'test' is accepted as account {creds.DEV_ACCOUNT}"
    )


def check_transport(settings: Settings) -> None:
    if not is_loopback(settings.host) and not settings.tls:
        raise StartupError(
            f"refusing to listen on {settings.host} without TLS: PANs, PIN blocks and key blocks must not "
            "cross a network in clear (give --tls-cert and --tls-key, or --tls-self-signed)"
        )


class Job(Protocol):
    """A background job: runs until cancelled."""

    async def run(self) -> None: ...


def open_store(settings: Settings, synchronous: str = "FULL") -> tuple[Store, str]:
    """The store `--store` names, its schema current, and how to name it in a log line (never with
    a password); `synchronous`: see build_app."""
    try:
        spec = store_factory.parse(settings.store, settings.data_dir)
        store = store_factory.open_store(spec, synchronous=synchronous, timeout=settings.store_timeout)
    except (ValueError, SchemaError) as exc:
        raise StartupError(str(exc)) from None
    return store, spec.describe()


@dataclass(frozen=True)
class Assembly:
    """A server as `build_app` wired it: the app, the parts tests and benchmarks reach for, and
    the start-up lines that describe it."""

    app: App
    service: Service
    credentials: creds.CredentialStore
    authorizer: Authorizer
    audit: audit_writer.AuditWriter
    replicator: Replicator
    sweeper: PurgeSweeper
    lines: list[str]
    readiness: health.Readiness  # what /readyz answers; drained by SIGTERM (wire/drain.py)
    leases: Leases  # who runs the jobs that run once (`holders()` for metrics)
    heartbeat: Heartbeat  # how many processes share the rate quotas (`participants()`)
    instruments: metrics.Instruments | None = None  # None when --metrics-port is not given


def build_app(
    settings: Settings,
    clock: Clock | None = None,
    *,
    replication_hook: Hook | None = None,
    synchronous: str = "FULL",
) -> Assembly:
    """Every part of a server, built once and wired.

    `clock`: the service's (tests give a ManualClock). For tests only: `replication_hook` holds or
    fails replication jobs (jobs/replicator.py); `synchronous` is the store's `PRAGMA synchronous`
    (the durability trace test runs a server with OFF to prove it would see a missing fsync)."""
    check_transport(settings)
    if settings.lease_seconds <= 0:
        raise StartupError("--lease-seconds must be positive")
    credential_store, auth_line = resolve_credentials(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store, store_line = open_store(settings, synchronous)
    try:
        vault = open_serving_vault(settings.vault, settings.data_dir, store)  # follows a `vault migrate`
        signer = audit_signer(settings.vault, settings.data_dir)  # None: the audit key file's
    except (VaultUnavailable, ValueError, PermissionError) as exc:  # no fallback to another vault
        raise StartupError(str(exc)) from exc
    heartbeat = Heartbeat(
        store.cluster, settings.node_id, settings.worker_id, settings.lease_seconds / RENEWALS, vault.held
    )
    try:
        heartbeat.beat()  # before the agreement: a rotation cannot miss this node (jobs/holdings.py)
        agreement.agree(store, vault, store_line, settings.vault.kind, {held.key_id for held in vault.held()})
    except agreement.MasterKeyMismatch as exc:
        heartbeat.leave()
        store.close()
        raise StartupError(str(exc)) from None
    quotas = Quotas(keys_per_region=settings.key_quota, aliases_per_region=settings.alias_quota)
    loaded = models.load()  # the one read of the service models; everything below is built from it
    instruments = _metrics(settings, loaded)
    if instruments is not None:
        store = instruments.timed(store)
    counters = instruments.cache_counters() if instruments is not None else {}
    keys = keycache.KeyCache(vault, settings.key_cache_entries, **counters)
    service = Service(store, keys, clock or SystemClock(), quotas, settings.regions)
    try:
        audit = audit_writer.AuditWriter(
            settings.data_dir,
            node_id=settings.node_id,
            worker_id=settings.worker_id,
            max_bytes=settings.audit_max_bytes,
            backups=settings.audit_backups,
            data_events=audit_writer.DataEventSelector.parse(settings.audit_data_events),
            signer=signer,
        )
    except ValueError as exc:  # a bad node id, or another process writing this node's and worker's stream
        raise StartupError(str(exc)) from exc
    replicator = Replicator(
        service,
        retry_base=settings.replication_retry,
        interval=settings.replication_interval,
        audit=audit,
        hook=replication_hook,
    )
    sweeper = PurgeSweeper(service, settings.purge_interval)
    leases = Leases(store.cluster, settings.node_id, settings.worker_id, settings.lease_seconds)
    throttle, throttle_line = _throttle(settings, heartbeat.participants, instruments)
    authorizer = Authorizer(store, throttle, secure=settings.tls)
    limits = connection_limits(settings)
    workers = ThreadPoolExecutor(
        HEAVY_WORKERS, thread_name_prefix="paycrypt-heavy", initializer=_lower_priority
    )
    pipeline = Pipeline(
        service=service,
        credentials=credential_store,
        requests=RequestCatalog(loaded.services),
        authorizer=authorizer,
        audit=audit,
        workers=workers,
        meter=instruments.meter if instruments is not None else None,
    )
    follower = ChangeFollower(service)  # key changes from other processes and nodes, master-key versions
    jobs: list[Job] = [
        leases.job("purge", sweeper),
        leases.job("replication", replicator),
        follower,
        heartbeat,
    ]
    if instruments is not None:
        instruments.read_from(Sources(leases.held, replicator.backlog, replicator.lag, keys.__len__))
        jobs += instruments.jobs()
    console = mount_console(
        settings.console,
        settings.regions,
        settings.tls,
        (settings.data_dir, *settings.console_audit_dirs),
        credential_store,
        audit,
        store,
    )
    readiness = health.Readiness(health.checks(store, vault), timeout=settings.store_timeout + 1)
    running = lifespan(jobs, workers, audit, store)
    app = App(apis(loaded), pipeline, running, mounts=console.mounts, readiness=readiness)
    console.connect(app.handle)
    scheme = "https" if settings.tls else "http"
    lines = [
        f"paycrypt listening on {scheme}://{_host_for_url(settings.host)}:{settings.port}",
        f"data directory: {settings.data_dir}",
        f"store: {store_line}",
        f"vault: {settings.vault.describe(settings.data_dir)}; master key check value {vault.key_id}",
        f"authentication: {auth_line}",
        f"audit log: {audit.path} (node {settings.node_id}, worker {settings.worker_id}; digests signed by "
        f"the key in {settings.data_dir / 'audit-signing.pub'})",
        f"request-rate quotas: {throttle_line}",
        f"background jobs: the purge sweeper and the replicator run in one process on the store at a "
        f"time, this one as {leases.holder} (leases of {settings.lease_seconds:g} s)",
        f"connections: at most {limits.max_connections} open (file limit {_soft_file_limit()}); "
        f"request head within {limits.head_timeout:g} s, body within {limits.body_timeout:g} s",
        f"health: GET /healthz, /readyz; a call waits at most {settings.store_timeout:g} s on an unreachable "
        f"store; SIGTERM drains after {settings.grace:g} s of /readyz 503",
        f"use it with: AWS_ENDPOINT_URL={scheme}://{_host_for_url(settings.host)}:{settings.port}",
        console.line(f"{scheme}://{_host_for_url(settings.host)}:{settings.port}"),
    ]
    if instruments is not None:
        lines.append(f"metrics: {_metrics_line(instruments)}")
    return Assembly(
        app,
        service,
        credential_store,
        authorizer,
        audit,
        replicator,
        sweeper,
        lines,
        readiness,
        leases,
        heartbeat,
        instruments,
    )


def _metrics(settings: Settings, loaded: models.Models) -> metrics.Instruments | None:
    """Prometheus metrics when --metrics-port is given (docs/metrics.md), else None: nothing metered."""
    if settings.metrics_port is None:
        return None
    from paycrypt.metrics import wiring as metrics  # here: prometheus_client is 0.2 s of start-up

    operations = [
        name for model in (loaded.control, loaded.data, loaded.sts) for name in model.operation_names
    ]
    reasons = loaded.data.shape_for("VerificationFailedReason").enum
    try:
        return metrics.build(
            settings.metrics_host,
            settings.metrics_port,
            per_key=settings.metrics_per_key,
            operations=operations,
            reasons=reasons,
        )
    except OSError as exc:
        raise StartupError(
            f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: {exc}"
        ) from exc


def _metrics_line(instruments: metrics.Instruments) -> str:
    per_key = "; per-key families on" if instruments.families.per_key else ""
    served = instruments.exposition
    if served is None:
        return f"written for the supervisor's /metrics (multiprocess){per_key}"
    return f"http://{_host_for_url(served.host)}:{served.port}/metrics{per_key}"


def apis(loaded: models.Models) -> list[Api]:
    """The models served, each behind the protocol class its metadata names, with the functions
    that serve its operations, in the order a request is offered to them: restJson1's routes
    catch every request the others do not recognise, so the data plane comes last."""
    served = [
        (models.CONTROL, loaded.control, registry.CONTROL, True),
        (models.STS, loaded.sts, caller_identity.FUNCTIONS, False),
        (models.DATA, loaded.data, registry.DATA, True),
    ]
    return [
        Api(protocols.for_model(plane, model, functions), functions, governed)
        for plane, model, functions, governed in served
    ]


def lifespan(
    jobs: Sequence[Job], workers: Executor, audit: audit_writer.AuditWriter, store: Store
) -> Lifespan:
    """What the app's ASGI lifespan enters at startup and leaves at shutdown: the store's writes on
    the event loop share commits (store.base.Transactions.group_commits), the background jobs
    run as tasks of the server's event loop; at shutdown they are cancelled and awaited (a job
    holding a lease releases it), the heavy-call workers stopped and the audit log closed."""

    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        store.group_commits(loop)
        tasks = [loop.create_task(job.run()) for job in jobs]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            workers.shutdown(wait=False, cancel_futures=True)
            audit.close()

    return running


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HEAVY_NICENESS)


def _throttle(
    settings: Settings,
    participants: Callable[[], int] = rate_quotas.alone,
    instruments: metrics.Instruments | None = None,
) -> tuple[rate_quotas.Throttle | None, str]:
    """The rate quotas in force (the guide's figures unless overridden), or None when off; each
    process takes its share, the rates divided by `participants()` (jobs/heartbeat.py)."""
    on = settings.throttling == "on" or (settings.throttling == "auto" and not is_loopback(settings.host))
    if not on:
        return None, "off (loopback default; --throttling on to enforce the guide's quotas)"
    try:
        limits = rate_quotas.limits_from_options(list(settings.rate_limits))
    except ValueError as exc:
        raise StartupError(f"--rate-limit: {exc}") from None
    if not limits.active:
        return None, "off (every rate is 0)"
    rates = ", ".join(f"{kind} {limits.rates.get(kind, 0):g}/s" for kind in rate_quotas.KINDS)
    refused = instruments.throttled(rate_quotas.KINDS) if instruments is not None else None
    return rate_quotas.Throttle(limits, participants=participants, refused=refused), (
        f"{rates} per account and region, shared among the live processes on the store"
    )


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# File descriptors kept back from the connection cap: the server's own (the database and its WAL
# and shared-memory files, the audit log and its directory, the listening socket, the event loop's
# own, standard streams, the credentials file re-read on change: about 20 at most), with room to
# spare, and those of refused connections still draining their request.
OWN_FILES = 48
RESERVED_FILES = OWN_FILES + connections.MAX_LINGERING


def raise_file_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard limit (Linux's soft default, 1024, is far below
    what a server holding many connections needs); (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return soft, _soft_file_limit()


def _soft_file_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_limits(settings: Settings) -> connections.ConnectionLimits:
    """The limits in force: --max-connections, lowered if the file limit leaves less room."""
    room = _soft_file_limit() - RESERVED_FILES
    if room < 1:
        raise StartupError(
            f"the open-file limit ({_soft_file_limit()}) leaves no room for connections: "
            f"{RESERVED_FILES} descriptors are kept for the server's own files"
        )
    if settings.request_head_timeout <= 0 or settings.request_body_timeout <= 0:
        raise StartupError("--request-head-timeout and --request-body-timeout must be positive")
    if settings.max_connections < 1:
        raise StartupError("--max-connections must be at least 1")
    return connections.ConnectionLimits(
        head_timeout=settings.request_head_timeout,
        body_timeout=settings.request_body_timeout,
        max_connections=min(settings.max_connections, room),
        tls=server_context(settings.tls_cert, settings.tls_key) if settings.tls_cert else None,
    )


def uvicorn_config(app: App, settings: Settings) -> uvicorn.Config:
    """uvicorn serving `app` through the connection guard, which also does TLS (see wire.connections)."""
    gate = connections.Gate(connection_limits(settings))
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=connections.protocol_factory(gate),  # type: ignore[arg-type]
        lifespan="on",
        # The caller's address is the connection's, as on AWS: it is the audit's sourceIPAddress and
        # what aws:SourceIp conditions test, so no header from the client may change it (uvicorn
        # would otherwise take X-Forwarded-For from any client connecting through loopback).
        proxy_headers=False,
        access_log=False,
        log_level="warning",
    )


def serve(settings: Settings, *, replication_hook: Hook | None = None, synchronous: str = "FULL") -> None:
    """`paycrypt serve`; the keyword arguments are `build_app`'s, for tests that launch a server."""
    before, after = raise_file_limit()
    built = build_app(settings, replication_hook=replication_hook, synchronous=synchronous)
    lines = list(built.lines)
    if after > before:
        lines.append(f"open-file limit raised from {before} to {after}")
    for line in lines:
        log.warning("%s", line)
    DrainingServer(uvicorn_config(built.app, settings), built.readiness, settings.grace).run()

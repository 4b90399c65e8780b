"""Assembling a server from settings: store, vault, key cache, service and the ASGI app, run by uvicorn.

uvicorn with httptools and uvloop was chosen by measurement (bench/README.md).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from paycrypt import defaults
from paycrypt.audit import writer as audit_writer
from paycrypt.auth import credentials as creds
from paycrypt.auth import throttle as rate_quotas
from paycrypt.auth.authorize import Authorizer
from paycrypt.clock import Clock, SystemClock
from paycrypt.jobs.replicator import TEST_FLAG, Replicator, hook_from_environment
from paycrypt.policy.requests import RequestCatalog
from paycrypt.regions import DEFAULT_REGIONS
from paycrypt.service.core import Quotas, Service
from paycrypt.store.sqlite import SqliteStore
from paycrypt.tls import server_context
from paycrypt.vault import keycache
from paycrypt.vault.factory import VaultSettings, VaultUnavailable, open_vault
from paycrypt.wire import connections, models
from paycrypt.wire.app import App
from paycrypt.wire.protocol import Protocols

log = logging.getLogger("paycrypt")

TEST_SYNCHRONOUS = "PAYCRYPT_TEST_SQLITE_SYNCHRONOUS"


@dataclass
class Settings:
    """How `paycrypt serve` runs; every default is `paycrypt.defaults`'s, as the CLI's are."""

    host: str = defaults.HOST
    port: int = defaults.PORT
    data_dir: Path = field(default_factory=defaults.data_dir)
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
    regions: tuple[str, ...] = DEFAULT_REGIONS
    replication_interval: float = defaults.REPLICATION_INTERVAL
    replication_retry: float = defaults.REPLICATION_RETRY
    throttling: str = defaults.THROTTLING
    rate_limits: tuple[str, ...] = ()  # KIND=RATE or ACCOUNT:KIND=RATE overrides of the guide's figures
    request_head_timeout: float = defaults.REQUEST_HEAD_TIMEOUT
    request_body_timeout: float = defaults.REQUEST_BODY_TIMEOUT
    max_connections: int = defaults.MAX_CONNECTIONS  # capped by the file limit
    key_cache_entries: int = defaults.KEY_CACHE_ENTRIES
    vault: VaultSettings = field(default_factory=VaultSettings)  # the master key file unless told

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


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


def synchronous_from_environment(environ: Mapping[str, str]) -> str:
    """FOR TESTS ONLY. With PAYCRYPT_TEST_HOOKS=1, PAYCRYPT_TEST_SQLITE_SYNCHRONOUS sets the store's
    `PRAGMA synchronous` (the durability trace test runs a server with OFF to prove it would see
    the missing fsync). Without the flag the environment is not read and the store's FULL holds."""
    if environ.get(TEST_FLAG) != "1":
        return "FULL"
    return environ.get(TEST_SYNCHRONOUS, "FULL")


def build_app(settings: Settings, clock: Clock | None = None) -> tuple[App, list[str]]:
    """The app and the start-up lines that describe it."""
    check_transport(settings)
    credential_store, auth_line = resolve_credentials(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = SqliteStore(settings.data_dir / "paycrypt.db", synchronous_from_environment(os.environ))
    try:
        vault = open_vault(settings.vault, settings.data_dir)
    except (VaultUnavailable, ValueError, PermissionError) as exc:  # no fallback to another vault
        raise StartupError(str(exc)) from exc
    quotas = Quotas(keys_per_region=settings.key_quota, aliases_per_region=settings.alias_quota)
    keys = keycache.KeyCache(vault, settings.key_cache_entries)
    service = Service(store, keys, clock or SystemClock(), quotas, settings.regions)
    replicator = Replicator(
        service, retry_base=settings.replication_retry, interval=settings.replication_interval
    )
    replicator.hook = hook_from_environment(os.environ)  # None unless PAYCRYPT_TEST_HOOKS=1 (tests only)
    loaded = models.load()  # the one read of the service models; everything below is built from it
    try:
        audit = audit_writer.AuditWriter(
            settings.data_dir,
            node_id=settings.node_id,
            worker_id=settings.worker_id,
            max_bytes=settings.audit_max_bytes,
            backups=settings.audit_backups,
            data_events=audit_writer.DataEventSelector.parse(settings.audit_data_events),
        )
    except ValueError as exc:  # a bad node id, or another process writing this node's and worker's stream
        raise StartupError(str(exc)) from exc
    replicator.audit = audit
    throttle, throttle_line = _throttle(settings)
    limits = connection_limits(settings)
    app = App(
        service,
        credential_store,
        Protocols(loaded),
        RequestCatalog(loaded.services),
        Authorizer(store, throttle, secure=settings.tls),
        purge_interval=settings.purge_interval,
        audit=audit,
        replicator=replicator,
    )
    scheme = "https" if settings.tls else "http"
    lines = [
        f"paycrypt listening on {scheme}://{_host_for_url(settings.host)}:{settings.port}",
        f"data directory: {settings.data_dir}",
        f"vault: {settings.vault.describe(settings.data_dir)}; master key check value {vault.key_id}",
        f"authentication: {auth_line}",
        f"audit log: {audit.path} (node {settings.node_id}, worker {settings.worker_id}; digests signed by "
        f"the key in {settings.data_dir / 'audit-signing.pub'})",
        f"request-rate quotas: {throttle_line}",
        f"connections: at most {limits.max_connections} open (file limit {_soft_file_limit()}); "
        f"request head within {limits.head_timeout:g} s, body within {limits.body_timeout:g} s",
        f"use it with: AWS_ENDPOINT_URL={scheme}://{_host_for_url(settings.host)}:{settings.port}",
    ]
    return app, lines


def _throttle(settings: Settings) -> tuple[rate_quotas.Throttle | None, str]:
    """The rate quotas in force (the guide's figures unless overridden), or None when off."""
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
    return rate_quotas.Throttle(limits), f"{rates} per account and region"


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
        access_log=False,
        log_level="warning",
    )


def serve(settings: Settings) -> None:
    before, after = raise_file_limit()
    app, lines = build_app(settings)
    if after > before:
        lines.append(f"open-file limit raised from {before} to {after}")
    for line in lines:
        log.warning("%s", line)
    uvicorn.Server(uvicorn_config(app, settings)).run()

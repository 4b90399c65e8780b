"""The `paycrypt` command: `serve` here, the other subcommands each in a module of this package.

Each subcommand is a pair, `add_<name>_parser(subparsers)` and `run_<name>(args) -> int`, listed in
`_RUNNERS`; a user's mistake is a `CliError`, which `main` alone prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from paycrypt import __version__, defaults, regions
from paycrypt.auth.throttle import PRODUCTION
from paycrypt.cli.audit import add_audit_parser, run_audit
from paycrypt.cli.backup import add_backup_parsers, run_backup, run_restore
from paycrypt.cli.ceremony import add_ceremony_parser, run_ceremony
from paycrypt.cli.db import add_db_parser, run_db
from paycrypt.cli.errors import EXIT_STATUS, CliError
from paycrypt.cli.iam import add_iam_parser, run_iam
from paycrypt.cli.mpa import add_mpa_parser, run_mpa
from paycrypt.cli.parser import Parser
from paycrypt.cli.vault import add_vault_options, add_vault_parser, run_vault, vault_settings

if TYPE_CHECKING:
    from paycrypt.server import Settings


def build_parser() -> argparse.ArgumentParser:
    """Every command and option; defaults come from `paycrypt.defaults`, as `Settings`'s do."""
    parser = Parser(prog="paycrypt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"paycrypt {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="start the AWS Payment Cryptography compatible endpoint")
    run.add_argument("--host", default=defaults.HOST, help="address to listen on (default %(default)s)")
    run.add_argument(
        "--port", type=int, default=defaults.PORT, help="port to listen on (default %(default)s)"
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where keys and the master key live (default $PAYCRYPT_DATA_DIR or ~/.local/share/paycrypt)",
    )
    run.add_argument(
        "--store",
        default=None,
        help="sqlite:PATH or a postgresql:// URL (password from the URL, PGPASSWORD or ~/.pgpass); "
        "default: sqlite: paycrypt.db in the data directory",
    )
    run.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="TOML file of access keys (see docs/identity-and-access.md)",
    )
    run.add_argument("--tls-cert", type=Path, default=None, help="PEM certificate for TLS")
    run.add_argument("--tls-key", type=Path, default=None, help="PEM private key for TLS")
    run.add_argument(
        "--tls-self-signed", action="store_true", help="generate (once) and use a self-signed certificate"
    )
    run.add_argument(
        "--purge-interval",
        type=float,
        default=defaults.PURGE_INTERVAL,
        help="seconds between deletion sweeps (default %(default)s)",
    )
    run.add_argument(
        "--key-quota",
        type=int,
        default=defaults.KEYS_PER_REGION,
        help="keys per account and region (default %(default)s)",
    )
    run.add_argument(
        "--alias-quota",
        type=int,
        default=defaults.ALIASES_PER_REGION,
        help="aliases per account and region (default %(default)s)",
    )
    run.add_argument(
        "--regions",
        type=_regions,
        default=regions.DEFAULT_REGIONS,
        help=f"comma-separated regions served (default: the {len(regions.DEFAULT_REGIONS)} AWS Payment "
        "Cryptography regions)",
    )
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning"],
        default="info",
        help="debug adds one line per request (operation, status, time; never a request body); "
        "default %(default)s",
    )
    run.add_argument(
        "--audit-data-events",
        action="append",
        default=[],
        metavar="SPEC",
        help="data-plane audit events: 'on' (default), 'off', or ACCOUNT[:REGION]=on|off (repeatable)",
    )
    run.add_argument(
        "--audit-max-bytes",
        type=int,
        default=defaults.AUDIT_MAX_BYTES,
        help="rotate the audit log when it would pass this many bytes (default %(default)s)",
    )
    run.add_argument(
        "--audit-backups",
        type=int,
        default=defaults.AUDIT_BACKUPS,
        help="rotated audit files kept (default %(default)s)",
    )
    run.add_argument(
        "--node-id",
        default=None,
        help="this node's name in audit events and audit file names (default: the host name)",
    )
    run.add_argument(
        "--lease-seconds",
        type=float,
        default=defaults.LEASE_SECONDS,
        metavar="SECONDS",
        help="term of the leases under which the purge sweeper and the replicator run in one process "
        "among all on the store; another takes over within 1.25 times this after the holder dies "
        "(default %(default)s)",
    )
    run.add_argument(
        "--throttling",
        choices=["auto", "on", "off"],
        default=defaults.THROTTLING,
        help="request-rate quotas per account and region (default %(default)s: on unless listening "
        "on loopback)",
    )
    run.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="[ACCOUNT:]KIND=RATE",
        help=f"requests/s for KIND {', '.join(PRODUCTION)} (default {_rates()}; 0 = no limit)",
    )
    run.add_argument(
        "--request-head-timeout",
        type=float,
        default=defaults.REQUEST_HEAD_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request head (TLS handshake included) takes longer "
        "(default %(default)s)",
    )
    run.add_argument(
        "--request-body-timeout",
        type=float,
        default=defaults.REQUEST_BODY_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request body takes longer after its head (default %(default)s)",
    )
    run.add_argument(
        "--max-connections",
        type=int,
        default=defaults.MAX_CONNECTIONS,
        help="open connections served at once, more get 503 (default %(default)s; lowered to fit the "
        "file limit)",
    )
    run.add_argument(
        "--workers",
        type=_positive,
        default=defaults.WORKERS,
        help="server processes on one port (default %(default)s; more need Linux), each with its own "
        "audit stream, under a supervisor that replaces one that dies",
    )
    run.add_argument(
        "--store-timeout",
        type=_seconds,
        default=defaults.STORE_TIMEOUT,
        metavar="SECONDS",
        help="the most a call waits on an unreachable database before ServiceUnavailableException "
        "(default %(default)s)",
    )
    run.add_argument(
        "--drain-grace",
        type=float,
        metavar="SECONDS",
        help="after SIGTERM, /readyz answers 503 and the server keeps accepting this long before it "
        f"drains (default {defaults.DRAIN_GRACE:g}, or 0 when listening on loopback)",
    )
    run.add_argument(
        "--key-cache-entries",
        type=_positive,
        default=defaults.KEY_CACHE_ENTRIES,
        help="clear keys kept unsealed in memory, with what is derived from them, least recently "
        "used out first (default %(default)s)",
    )
    run.add_argument("--no-console", action="store_true", help="do not serve the web console at /console/")
    run.add_argument(
        "--console-audit-dir",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="another node's data directory (or a copy of its audit files) whose audit events the "
        "console shows merged with this node's (repeatable; default: this node's only)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics at /metrics on this port (default: no metrics; docs/metrics.md)",
    )
    run.add_argument(
        "--metrics-host",
        default=defaults.METRICS_HOST,
        help="address the metrics port listens on (default %(default)s)",
    )
    run.add_argument(
        "--metrics-per-key",
        action="store_true",
        help="add metrics labelled by key ARN (requests and verification failures per key)",
    )
    add_vault_options(run)
    add_audit_parser(commands)
    add_iam_parser(commands)
    add_mpa_parser(commands)
    add_vault_parser(commands)
    add_db_parser(commands)
    add_backup_parsers(commands)
    add_ceremony_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _RUNNERS[args.command](args)
    except CliError as exc:
        print(f"paycrypt {args.command}: {exc}", file=sys.stderr)
        return EXIT_STATUS


def run_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    settings = _settings(args)
    # here, not at the top: the server (uvicorn, the service, the models) is a second of start-up
    # that no other command needs
    from paycrypt import server
    from paycrypt.workers.supervisor import supervise

    try:
        if settings.workers > 1:
            return supervise(settings, args.log_level)
        server.serve(settings)
    except server.StartupError as exc:
        raise CliError(str(exc)) from exc
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    from paycrypt import tls
    from paycrypt.server import Settings  # see run_serve

    data_dir = args.data_dir or defaults.data_dir()
    cert, key = args.tls_cert, args.tls_key
    if args.tls_self_signed and cert is None:
        cert, key = tls.self_signed(data_dir / "tls", [args.host, "localhost", "127.0.0.1"])
    if (cert is None) != (key is None):
        raise CliError("--tls-cert and --tls-key go together")
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        store=args.store,
        credentials_file=args.credentials,
        tls_cert=cert,
        tls_key=key,
        purge_interval=args.purge_interval,
        key_quota=args.key_quota,
        alias_quota=args.alias_quota,
        audit_data_events=tuple(args.audit_data_events),
        audit_max_bytes=args.audit_max_bytes,
        audit_backups=args.audit_backups,
        node_id=args.node_id or defaults.node_id(),
        regions=args.regions,
        lease_seconds=args.lease_seconds,
        throttling=args.throttling,
        rate_limits=tuple(args.rate_limit),
        request_head_timeout=args.request_head_timeout,
        request_body_timeout=args.request_body_timeout,
        max_connections=args.max_connections,
        key_cache_entries=args.key_cache_entries,
        workers=args.workers,
        store_timeout=args.store_timeout,
        drain_grace=None if args.drain_grace is None else max(0.0, args.drain_grace),
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        metrics_per_key=args.metrics_per_key,
        vault=vault_settings(args),
        console=not args.no_console,
        console_audit_dirs=tuple(args.console_audit_dir),
    )


def _rates() -> str:
    return ", ".join(f"{rate:g}" for rate in PRODUCTION.values())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _regions(text: str) -> tuple[str, ...]:
    try:
        return regions.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


_RUNNERS = {
    "serve": run_serve,
    "audit": run_audit,
    "iam": run_iam,
    "mpa": run_mpa,
    "vault": run_vault,
    "db": run_db,
    "backup": run_backup,
    "restore": run_restore,
    "ceremony": run_ceremony,
}

if __name__ == "__main__":
    sys.exit(main())

"""Every default of the server's settings, written once.

`paycrypt serve`'s options (cli.py), `Settings` (server.py), the service's `Quotas`, the audit
writer and the replicator all read their defaults here, so the help text, a `Settings()` built
in code and the layers below cannot drift apart (tests/test_defaults.py holds them together).
The request-rate quotas are the guide's figures and live with the token buckets
(`auth/throttle.py`), the regions with their list (`regions.py`).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

HOST = "127.0.0.1"  # loopback: the one address the development key test/test is accepted on
PORT = 8443
PURGE_INTERVAL = 60.0  # seconds between sweeps for keys whose deletion window has passed

# The guide's quotas per account and region (seed-F §5.1).
KEYS_PER_REGION = 2000
ALIASES_PER_REGION = 2000

AUDIT_MAX_BYTES = 64 * 1024 * 1024  # the audit log rotates before it would pass this size
AUDIT_BACKUPS = 10  # rotated audit files kept
WORKER_ID = 0  # this process's worker number on its node (its audit stream is node and worker)
WORKERS = 1  # server processes on one port (--workers); more than one runs under a supervisor
WORKER_STOP_TIMEOUT = 30.0  # seconds the supervisor waits for its workers to stop before SIGKILL

REPLICATION_INTERVAL = 0.2  # seconds between passes of the replicator
REPLICATION_RETRY = 1.0  # first retry delay of a failed replication; doubles up to 5 minutes

# Seconds a lease on a background job lasts (the purge sweeper, the replicator: they run in one
# process at a time); when its holder dies another takes over within 1.25 times this. Heartbeats
# for the rate-quota shares come four times per lease.
LEASE_SECONDS = 10.0

THROTTLING = "auto"  # request-rate quotas: on, off, or auto (on unless listening on loopback)

REQUEST_HEAD_TIMEOUT = 10.0  # seconds to receive a request head, TLS handshake included
REQUEST_BODY_TIMEOUT = 30.0  # seconds to receive its body, after the head
MAX_CONNECTIONS = 1024  # open connections served at once (lowered to fit the file limit)
MAX_REQUEST_HEAD_BYTES = 16 * 1024  # request line and headers (uvicorn's own h11 limit); 431 past it

STORE_TIMEOUT = 2.0  # seconds a call waits on an unreachable database before ServiceUnavailableException
# An operator's command (vault rotate, mpa, backup) may scan every key: a COUNT(*) of a million takes seconds
COMMAND_STORE_TIMEOUT = 60.0
DRAIN_GRACE = (
    5.0  # seconds /readyz answers 503 after SIGTERM before the server stops accepting (off loopback)
)
METRICS_HOST = "127.0.0.1"  # --metrics-port listens on loopback unless --metrics-host says otherwise

KEY_CACHE_ENTRIES = 50_000  # clear keys kept unsealed in memory, with what is derived from them


def data_dir() -> Path:
    """$PAYCRYPT_DATA_DIR, else paycrypt under $XDG_DATA_HOME (~/.local/share by default)."""
    env = os.environ.get("PAYCRYPT_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "paycrypt"


def node_id() -> str:
    """The host name, with any character a node id may not hold (see audit/streams.py) as '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:63].lstrip("._-")
    return cleaned or "localhost"

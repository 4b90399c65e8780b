"""The /metrics port, and the directory several worker processes write their values to.

One process (today's `paycrypt serve`): the server's own registry, served on --metrics-port from a
thread of the process; the port is bound when the server is built (a port in use fails the start)
and served while the server's lifespan runs.

Several workers (a supervisor forking N `serve` workers): the process that serves /metrics — the
supervisor, which outlives its workers — calls `for_workers` before forking any worker. It empties
`metrics-multiproc/` under the data directory (values of a previous run would add to this run's),
binds the port, and puts the directory in PROMETHEUS_MULTIPROC_DIR, which the workers inherit.
A worker that finds the variable set writes its values to files there (`enable_worker_values`) and
serves no port; a scrape merges every worker's files (prometheus_client's MultiProcessCollector):
counters and histograms are summed, dead workers' counts included, so a replaced worker loses no
count; when a worker exits the supervisor calls `worker_exited(pid)`, which drops its live gauges.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess, values

ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
DIRECTORY = "metrics-multiproc"  # under the data directory
PATH = "/metrics"
POLL = 0.1  # seconds between the serving thread's checks for a shutdown


def worker_directory() -> Path | None:
    """The shared directory when this process is one of several workers, else None."""
    found = os.environ.get(ENVIRONMENT)
    return Path(found) if found else None


def enable_worker_values() -> None:
    """Metrics built from now on write to the shared directory. prometheus_client picks its value
    class when first imported; a worker forked from a supervisor that had imported it before
    setting the variable would otherwise keep in-memory values nobody reads."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()


def prepare_directory(data_dir: Path) -> Path:
    """`metrics-multiproc/` under the data directory, emptied."""
    path = data_dir / DIRECTORY
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    return path


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not worth a log line


class Exposition:
    """The /metrics endpoint; see the module's docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        before_scrape: Callable[[], None] | None = None,
    ) -> None:
        """Binds at once. `before_scrape`: called before each scrape (one process reads its
        gauges then)."""
        metrics = make_wsgi_app(registry)
        self.before_scrape = before_scrape

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") != PATH:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"metrics are at /metrics\n"]
            if self.before_scrape is not None:
                self.before_scrape()
            return metrics(environ, start_response)  # type: ignore[no-any-return]

        server_class = type("Server", (_Server,), {"address_family": _family(host)})
        self.server = make_server(host, port, app, server_class, handler_class=_Quiet)
        self.host, self.port = host, self.server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(POLL,), name="paycrypt-metrics", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()

    async def run(self) -> None:
        """Serve until cancelled (a job of the server's lifespan)."""
        self.start()
        try:
            await asyncio.Event().wait()
        finally:
            self.stop()  # at most POLL seconds: the serving thread's next look at its shutdown flag


def for_workers(data_dir: Path, host: str, port: int) -> tuple[Exposition, Path]:
    """The supervisor's /metrics over its workers' directory, prepared and named in the environment
    its workers will inherit (see the module's docstring)."""
    path = prepare_directory(data_dir)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(path))
    exposition = Exposition(host, port, registry)
    os.environ[ENVIRONMENT] = str(path)
    return exposition, path


def worker_exited(path: Path, pid: int) -> None:
    """A worker is gone: its live gauges (lease held, cache size) no longer count."""
    multiprocess.mark_process_dead(pid, str(path))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET

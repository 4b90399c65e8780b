"""A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory, `pg_ctl start`
on a free loopback port, stopped (and removed) at the end of the session.

Debian's `postgresql` package (scripts/test installs it) puts the binaries under
/usr/lib/postgresql/<version>/bin, not on PATH: they are found with `pg_config --bindir` or there.
`initdb` refuses to run as root, and CI runs as root: then every server command runs as the
`postgres` user (`runuser -u postgres`), the temporary directory chowned to it.

Under pytest-xdist each worker starts a cluster of its own (the `pg_cluster` fixture is
session-scoped, and a session is a worker): no database name can collide between workers, and a
test that crashes its cluster cannot disturb another worker's servers. Within a cluster, each
server gets a database of its own (`database_for(data_dir)`).

Authentication: trust on loopback for the superuser, except the role `pw_user`, which must give
its password (SCRAM): the test that a URL's password reaches no log line needs a real one.

bench/ uses it too (`with Cluster() as cluster:`, stopped and removed on leaving, by failure or
Ctrl-C included): the benchmarks' PostgreSQL is the tests' one.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psycopg
import pytest

from tests.conftest import free_port

SUPERUSER = "postgres"
PASSWORD_USER = "pw_user"
SAFETY_THAW = 30.0  # seconds after which a frozen process is thawed whatever the test does


def stop_for(pid: int, seconds: float = SAFETY_THAW) -> threading.Timer:
    """SIGSTOP `pid`, and SIGCONT it after `seconds`: cancel the timer and `resume` it yourself
    sooner. A client that waits on the stopped process for ever then fails its test, not hangs it."""
    os.kill(pid, signal.SIGSTOP)
    return _timer(seconds, resume, pid)


def _timer(seconds: float, action: Callable[..., None], *args: object) -> threading.Timer:
    timer = threading.Timer(seconds, action, args)
    timer.daemon = True
    timer.start()
    return timer


def resume(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


def bindir() -> Path | None:
    """Where initdb and pg_ctl are, or None when PostgreSQL is not installed."""
    candidates = []
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if done.returncode == 0:
            candidates.append(Path(done.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    return next((c for c in candidates if (c / "initdb").exists() and (c / "pg_ctl").exists()), None)


def unavailable(reason: str) -> None:
    """Skip a PostgreSQL test where PostgreSQL is missing, but never in CI: fail there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


class Cluster:
    def __init__(self) -> None:
        found = bindir()
        if found is None:
            unavailable("no initdb/pg_ctl (apt-get install postgresql)")
        self.bin = found
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="paycrypt-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.frozen: list[int] = []  # processes stopped by `freeze`
        self._safety: threading.Timer | None = None
        self._made: set[str] = set()
        try:
            if self.as_root:
                user = pwd.getpwnam(SUPERUSER)
                os.chown(self.root, user.pw_uid, user.pw_gid)
            initdb = ("-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--locale=C", "-E", "UTF8")
            self._run("initdb", *initdb)
            (self.data / "pg_hba.conf").write_text(
                "local all all trust\n"
                f"host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
                "host all all 127.0.0.1/32 trust\n"
            )
            self.start()
            with self.connect() as db:
                db.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN CREATEDB PASSWORD 'not-a-real-secret'")
        except BaseException:  # a half-made cluster (or Ctrl-C during initdb) leaves nothing behind
            self.destroy()
            raise

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.destroy()

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / program), *args]
        if self.as_root:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}\n{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """`mode` immediate: as a crash (no checkpoint; recovery from the WAL at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children): whose CPU a benchmark reads."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def children(self, postmaster: int) -> list[int]:
        """The postmaster's child processes (backends, checkpointer, walwriter …)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if int(fields[1]) == postmaster:
                found.append(int(stat.parent.name))
        return found

    def freeze(self, thaw_after: float = SAFETY_THAW) -> None:
        """SIGSTOP every process of the server: it accepts nothing new and answers nothing, while
        the kernel still completes TCP handshakes and acknowledges data (a hung server). The
        postmaster is stopped before its children are listed, so that it forks none after.
        Thawed after `thaw_after` seconds if the test has not done it: a client that waits on a
        frozen server for ever (what the tests look for) makes its test fail, not hang."""
        postmaster = self.postmaster_pid()
        os.kill(postmaster, signal.SIGSTOP)
        self.frozen = [postmaster]
        for pid in self.children(postmaster):
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:  # a backend that ended since it was listed
                continue
            self.frozen.append(pid)
        self._safety = _timer(thaw_after, self.thaw)

    def thaw(self) -> None:
        if self._safety is not None:
            self._safety.cancel()
            self._safety = None
        for pid in self.frozen:
            resume(pid)
        self.frozen = []

    def destroy(self) -> None:
        self.thaw()  # a test that failed while the server was frozen: pg_ctl could not stop it
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(dbname), autocommit=True)

    def database(self, name: str, owner: str = SUPERUSER) -> str:
        """The URL (the superuser's) of database `name`, made empty, owned by `owner`, on first ask."""
        if name not in self._made:
            with self.connect() as db:
                exists = db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if not exists:
                    db.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
            self._made.add(name)
        return self.url(name)

    def database_for(self, data_dir: Path) -> str:
        """One database per data directory: a server restarted on the same directory finds its keys."""
        return self.database("pc_" + hashlib.sha256(str(data_dir).encode()).hexdigest()[:20])

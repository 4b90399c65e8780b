"""Reading an strace of a server: was each request's WAL write on disk before its response left?

`paycrypt serve` runs as a child of Debian's strace (`-f -yy`, so every descriptor is printed with
what it is: a file's path, or `TCP:[server->client]` for a connection). From the trace, for every
response (found by the `x-amzn-RequestId` header in the first bytes sent on a connection):

- the request's window runs from the first read on that connection after the previous response
  (the client sends one request at a time) to the first bytes of this response;
- `wal_writes` counts the writes to a `-wal` file in that window (a write path that wrote nothing
  would make the check empty, so the test requires some);
- `unsynced` lists the WAL files written in that window and not fsynced or fdatasynced
  (successfully, and after the write) before the response's first bytes were sent.

`kill -9` leaves the page cache intact, so a crash test cannot see a missing fsync; the order of
system calls can. Order across threads holds: a thread stopped at a traced call is not resumed
until strace has printed it, so a call that causes another is printed before it.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field

SYSCALLS = "pwrite64,pwritev,pwritev2,write,writev,fsync,fdatasync,sendto,sendmsg,read,readv,recvfrom,recvmsg"


def strace_command(output: str, *, strings: int = 512) -> list[str]:
    """The strace prefix for a traced server: threads followed, descriptors decoded, no signals."""
    strace = shutil.which("strace")
    if strace is None:
        raise FileNotFoundError("strace")
    return [
        strace, "-f", "-yy", "-qq", "-e", "signal=none", "-s", str(strings),
        "-e", f"trace={SYSCALLS}", "-o", output,
    ]  # fmt: skip


WRITES = {"pwrite64", "pwritev", "pwritev2", "write", "writev", "sendto", "sendmsg"}
SYNCS = {"fsync", "fdatasync"}
READS = {"read", "readv", "recvfrom", "recvmsg"}

# `1234 name(5</path>, ...` or `1234 name(7<TCP:[127.0.0.1:1->127.0.0.1:2]>, ...`; the descriptor's
# decoration may hold `>` inside brackets.
_ENTRY = re.compile(
    r"^(?P<tid>\d+)\s+(?P<call>\w+)\((?P<fd>\d+)<(?P<what>(?:\[[^\]]*\]|[^>\[])*)>(?P<rest>.*)$"
)
_RESUMED = re.compile(r"^(?P<tid>\d+)\s+<\.\.\. (?P<call>\w+) resumed>(?P<rest>.*)$")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)")
_REQUEST_ID = re.compile(r"x-amzn-requestid:\s*([0-9a-f-]{36})", re.IGNORECASE)


@dataclass(frozen=True)
class Event:
    """A traced call, at the moment it matters: a write when it starts, a sync or read when it ends."""

    kind: str  # "write", "sync" or "read"
    what: str  # the descriptor's decoration: a path or a connection
    data: str = ""  # a write's leading bytes as strace prints them


@dataclass
class Response:
    request_id: str
    connection: str
    wal_writes: int = 0
    unsynced: list[str] = field(default_factory=list)


def is_connection(what: str) -> bool:
    return what.startswith(("TCP:", "TCPv6:"))


def events(trace: str) -> list[Event]:
    found: list[Event] = []
    pending: dict[str, tuple[str, str]] = {}  # thread → the call it is in and its descriptor
    for line in trace.splitlines():
        entry = _ENTRY.match(line)
        if entry:
            call, what, rest = entry["call"], entry["what"], entry["rest"]
            if call in WRITES:
                found.append(Event("write", what, rest))
            if rest.endswith("<unfinished ...>"):
                pending[entry["tid"]] = (call, what)
            else:
                found += _finished(call, what, rest)
            continue
        resumed = _RESUMED.match(line)
        if resumed and resumed["tid"] in pending:
            call, what = pending.pop(resumed["tid"])
            found += _finished(call, what, resumed["rest"])
    return found


def _finished(call: str, what: str, rest: str) -> Iterable[Event]:
    result = _RESULT.search(rest)
    value = int(result[1]) if result else -1
    if call in SYNCS and value == 0:
        yield Event("sync", what)
    elif call in READS and value > 0:
        yield Event("read", what)


def responses(trace: str) -> dict[str, Response]:
    """Every response in the trace, by request id, with what its request's window did to the WAL."""
    found: dict[str, Response] = {}
    window_start: dict[str, int] = {}  # connection → index of the first read of its current request
    answered: set[str] = set()  # connections whose last event was a response's bytes
    listed = events(trace)
    for index, event in enumerate(listed):
        if not is_connection(event.what):
            continue
        if event.kind == "read" and (event.what not in window_start or event.what in answered):
            window_start[event.what] = index
            answered.discard(event.what)
        elif event.kind == "write":
            request_id = _REQUEST_ID.search(event.data)
            if request_id and request_id[1] not in found:
                response = Response(request_id[1], event.what)
                _judge(response, listed[window_start.get(event.what, 0) : index])
                found[response.request_id] = response
                answered.add(event.what)
    return found


def _judge(response: Response, window: list[Event]) -> None:
    dirty: dict[str, None] = {}  # WAL files written and not yet synced, in order
    for event in window:
        if not event.what.endswith("-wal"):
            continue
        if event.kind == "write":
            response.wal_writes += 1
            dirty[event.what] = None
        elif event.kind == "sync":
            dirty.pop(event.what, None)
    response.unsynced = list(dirty)

"""A Python load generator: replays pre-signed requests over keep-alive connections.

The alternative to wrk where wrk is not installed. One process drives ``--concurrency`` closed-loop
connections with a selector (one request in flight per connection, as an SDK client does); run
several processes to add load. Several ``--port`` values spread the connections round robin over
several servers (nodes), as a load balancer would. It never signs or parses JSON: it sends fixed
bytes and finds the end of each response (Content-Length or chunked), so its cost per request is a
few system calls.
Prints one JSON line: requests, non-2xx count, seconds, and the latency samples' p50/p99.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Connection:
    sock: socket.socket
    next_index: int
    started: int = 0
    buffer: bytearray = field(default_factory=bytearray)


def response_end(buffer: bytearray) -> tuple[int, int] | None:
    """(status, length of the complete response) once the buffer holds a whole one, else None.

    Enough HTTP/1.1 for a benchmark (RFC 9112 §6.3): a Content-Length body, or a chunked body that
    ends at the last-chunk marker (JSON bodies never contain CRLF, so the marker is unambiguous).
    """
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    status = int(head[9:12])
    at = head.find(b"\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r", at)
        total = head_end + 4 + int(head[at + 16 : line_end if line_end >= 0 else None])
        return (status, total) if len(buffer) >= total else None
    marker = buffer.find(b"\r\n0\r\n\r\n", head_end)
    return (status, marker + 7) if marker >= 0 else None


def run(
    host: str, ports: Sequence[int], requests: list[bytes], seconds: float, concurrency: int
) -> dict[str, float]:
    selector = selectors.DefaultSelector()
    for i in range(concurrency):
        sock = socket.create_connection((host, ports[i % len(ports)]))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        conn = Connection(sock, i % len(requests))
        selector.register(sock, selectors.EVENT_READ, conn)
        _send(conn, requests)
    latencies: list[int] = []
    non2xx = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=0.5):
            conn = key.data
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise RuntimeError("server closed a keep-alive connection")
            conn.buffer += chunk
            done = response_end(conn.buffer)
            if done is None:
                continue
            status, length = done
            latencies.append(time.perf_counter_ns() - conn.started)
            non2xx += not 200 <= status < 300
            del conn.buffer[:length]
            _send(conn, requests)
    elapsed = time.perf_counter() - started
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    latencies.sort()
    return {
        "requests": len(latencies),
        "non2xx": non2xx,
        "seconds": elapsed,
        "p50_us": _percentile(latencies, 50) / 1000,
        "p99_us": _percentile(latencies, 99) / 1000,
    }


def _send(conn: Connection, requests: list[bytes]) -> None:
    request = requests[conn.next_index]
    conn.next_index = (conn.next_index + 1) % len(requests)
    conn.started = time.perf_counter_ns()
    conn.sock.sendall(request)  # a few hundred bytes: fits the socket buffer, never blocks


def _percentile(sorted_values: list[int], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    return float(sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * pct / 100))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, action="append", required=True, help="repeatable: several nodes")
    parser.add_argument("--requests", required=True, help="file of raw requests separated by NUL bytes")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with open(args.requests, "rb") as f:
        requests = [r for r in f.read().split(b"\0") if r]
    print(json.dumps(run(args.host, args.port, requests, args.seconds, args.concurrency)))


if __name__ == "__main__":
    main()

"""How the kernel spreads new connections over two uvloop processes: one listening socket shared by
both, or one socket each with SO_REUSEPORT (docs/decisions/scale-out.md).

Two scenarios, each repeated: 40 connections one after the other, and a burst of 16 opened at
once (what a client's pool or a load balancer opens, then keeps alive). Prints how many
connections each process accepted. Linux only.

    python bench/accept_spread.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import threading
import time
from collections import Counter

import uvloop

HOST = "127.0.0.1"
PROCESSES = 2
SERVE_SECONDS = 6.0


def serve(sock: socket.socket) -> None:
    """In a forked child: answer each connection with this process's pid, for SERVE_SECONDS."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(2)
        writer.write(str(os.getpid()).encode())
        await writer.drain()
        writer.close()

    async def main() -> None:
        await asyncio.start_server(answer, sock=sock)
        await asyncio.sleep(SERVE_SECONDS)

    uvloop.run(main())
    os._exit(0)


def listeners(shared: bool) -> tuple[int, list[int]]:
    """Start the two processes; (port, their pids)."""
    pids = []
    if shared:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(128)
        port = sock.getsockname()[1]
        for _ in range(PROCESSES):
            pid = os.fork()
            if pid == 0:
                serve(sock)
            pids.append(pid)
        sock.close()
        return port, pids
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    for _ in range(PROCESSES):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, port))
        sock.listen(128)
        pid = os.fork()
        if pid == 0:
            serve(sock)
        sock.close()
        pids.append(pid)
    return port, pids


def ask(conn: socket.socket) -> bytes:
    conn.sendall(b"hi")
    answer = conn.recv(16)
    conn.close()
    return answer


def spread(shared: bool, burst: bool) -> list[int]:
    port, pids = listeners(shared)
    time.sleep(1.0)  # both listening
    counts: Counter[bytes] = Counter()
    if burst:
        opened: list[socket.socket] = []
        threads = [
            threading.Thread(target=lambda: opened.append(socket.create_connection((HOST, port))))
            for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counts.update(ask(conn) for conn in opened)
    else:
        for _ in range(40):
            counts[ask(socket.create_connection((HOST, port)))] += 1
            time.sleep(0.01)
    for pid in pids:
        os.waitpid(pid, 0)
    return sorted(counts.values())


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for burst in (False, True):
        for shared in (True, False):
            runs = [spread(shared, burst) for _ in range(args.repeat)]
            design = "one shared socket" if shared else "SO_REUSEPORT, one socket each"
            scenario = "burst of 16 at once" if burst else "40 one after the other"
            print(f"{scenario:24} {design:30} connections per process: {runs}", flush=True)


if __name__ == "__main__":
    main()

"""The change signal of an SQLite store shared by several processes on one machine.

Eight bytes in a file beside the database (`<database>-changes`, mode 0600), mapped into the memory
of every process that opens the store. A writer puts a fresh random token there after each commit,
before its write returns (before the client's acknowledgement); a reader compares the token with
the one it last saw before a record cache answers. Reading it is a load from shared memory (a
fraction of a microsecond), where asking SQLite itself (`PRAGMA data_version`) takes a read
transaction and its file locks: about 7 µs on the reference machine, twice a request
(bench/coherence_bench.py).

Why a random token and not a counter: two writers incrementing at once could write the same value
and a reader would miss the second change; two random 64-bit tokens are never the same. A torn
read (another process writing the bytes meanwhile) gives a value that differs from the last one
seen: an extra emptying of the caches, never a missed one.

What it does not cover, a process killed between its commit and its token, is covered by the
change follower's `PRAGMA data_version` every half second (SqliteStore.follow_block_changes).
"""

from __future__ import annotations

import mmap
import os
import secrets
from contextlib import suppress
from pathlib import Path

SIZE = 8
SUFFIX = "-changes"


class ChangeSignal:
    def __init__(self, database: Path) -> None:
        path = database.with_name(database.name + SUFFIX)
        with suppress(FileExistsError):  # private, as the database beside it
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, secrets.token_bytes(SIZE))
            finally:
                os.close(descriptor)
        descriptor = os.open(path, os.O_RDWR)
        try:
            if os.fstat(descriptor).st_size < SIZE:  # a crash between create and write
                os.ftruncate(descriptor, SIZE)
            self._map = mmap.mmap(descriptor, SIZE)
        finally:
            os.close(descriptor)  # the mapping keeps the file

    def token(self) -> bytes:
        return self._map[:SIZE]

    def announce(self) -> bytes:
        """Tell every process a commit happened; the token written."""
        token = secrets.token_bytes(SIZE)
        self._map[:SIZE] = token
        return token

    def close(self) -> None:
        self._map.close()

"""`paycrypt serve` for fuzz runs: the same command line, with the background replicator parked.

Why: a fuzz run checks after every refused request that the store did not change. Replication
jobs (queued by an accepted AddKeyReplicationRegions or CreateKey) would otherwise be applied in
the background 0.2 s later, a store change no request made. Parked, they stay queued, which is all
the request path under test does with them.
"""

from __future__ import annotations

import dataclasses
import sys

from paycrypt import server
from paycrypt.cli import main as cli

PARKED = 10.0**9  # seconds between replicator passes: the first pass, at start, is the only one


_build_and_serve = server.serve


def _serve(settings: server.Settings) -> None:
    _build_and_serve(dataclasses.replace(settings, replication_interval=PARKED))


if __name__ == "__main__":
    server.serve = _serve  # what `paycrypt serve` calls (cli/main.py's run_serve)
    sys.exit(cli.main(sys.argv[1:]))

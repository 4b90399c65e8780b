"""`paycrypt serve` with parts a test injects, for the tests that need a real server process.

    python tests/api/launcher.py [--hold REGIONS] [--synchronous MODE] serve --port ... --data-dir ...

`--hold`: the replicator holds every job into these regions (comma-separated), through
`replication_support.Hook`; `--synchronous`: the store's `PRAGMA synchronous` (OFF or NORMAL, to
prove the durability trace sees a write left unsynced). The server is built by `server.serve` as
`paycrypt serve` builds it, with these parts given to `build_app`: production code reads no
environment for them (as tests/fuzz/serve.py replaces settings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for `tests`

from paycrypt import server
from paycrypt.cli import main as cli
from tests.api.replication_support import Hook

LAUNCHER = Path(__file__)


def program(*options: str) -> tuple[str, ...]:
    """What `ServerProcess(program=...)` runs: this launcher with its options, before `serve`."""
    return (sys.executable, str(LAUNCHER), *options)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hold", default="", help="regions whose replication jobs are held")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL", "OFF"])
    options, rest = parser.parse_known_args(argv)
    hook = Hook()
    hook.hold.update(region for region in options.hold.split(",") if region)

    build_and_serve = server.serve

    def serve(settings: server.Settings) -> None:
        held = hook if hook.hold else None
        build_and_serve(settings, replication_hook=held, synchronous=options.synchronous)

    server.serve = serve  # what `paycrypt serve` calls (cli/main.py's run_serve)
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

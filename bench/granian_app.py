"""An app factory for granian: paycrypt's ASGI app built exactly as ``paycrypt serve`` builds it.

paycrypt has no factory entry point of its own (``paycrypt serve`` runs uvicorn), so this one
lives with the benchmark. Logging is configured as the CLI configures it (INFO to stderr), because
``App.handle`` logs one INFO line per request and the two stacks must pay for the same work.
The data directory comes from ``PAYCRYPT_DATA_DIR``, the port (for the start-up lines only) from
``GRANIAN_PORT``.
"""

from __future__ import annotations

import logging
import os
import sys

from paycrypt.server import Settings, build_app
from paycrypt.wire.app import App


def create_app() -> App:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    settings = Settings(port=int(os.environ.get("GRANIAN_PORT", "8443")))  # data_dir: $PAYCRYPT_DATA_DIR
    built = build_app(settings)
    for line in built.lines:
        logging.getLogger("paycrypt").warning("%s", line)
    return built.app

"""boto3 sessions for the tests, all reading botocore's service models through one loader.

A new `boto3.Session` loads and parses every model, endpoint and retry file again the first time it
makes a client: about 0.16 s of CPU each, and the suite makes thousands of clients (every fixture's
`client(...)`, every "new connection" a test wants). Sessions here share botocore's data loader,
whose cache holds those parsed files, so a session and its first client cost about 0.02 s. Each
session is still a session of its own (its own credentials and region, its clients their own
connection pools): only the read-only model data is shared.
"""

from __future__ import annotations

import threading

import boto3
import botocore.loaders
import botocore.session

_LOADER_LOCK = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def _shared_loader(session: botocore.session.Session) -> botocore.loaders.Loader:
    global _loader
    with _LOADER_LOCK:
        if _loader is None:
            _loader = session.get_component("data_loader")
        return _loader


def session(access_key: str = "test", secret: str = "test", region: str = "us-east-1") -> boto3.Session:
    """A session with these credentials and region whose clients reuse the parsed service models."""
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader(core))
    return boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret, region_name=region, botocore_session=core
    )

"""What server.py mounts: the console at /console/ on the API's listener, or nothing
(`--no-console`), and the start-up line that says which."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paycrypt.audit.writer import AuditWriter
from paycrypt.auth.credentials import CredentialStore
from paycrypt.console.api import Handler
from paycrypt.console.app import PREFIX, Console, ConsoleSettings
from paycrypt.console.signin import SharedSigninLimiter
from paycrypt.store.base import Store


@dataclass
class Mounted:
    console: Console | None

    @property
    def mounts(self) -> dict[str, Any]:
        return {PREFIX: self.console} if self.console is not None else {}

    def connect(self, handler: Handler) -> None:
        if self.console is not None:
            self.console.api.connect(handler)

    def line(self, base_url: str) -> str:
        if self.console is None:
            return "console: off (--no-console)"
        return f"console: {base_url}{PREFIX}/ (sign in with an access key of the credentials)"


def mount_console(
    enabled: bool,
    regions: tuple[str, ...],
    secure: bool,
    audit_dirs: tuple[Path, ...],  # this node's data directory first, then other nodes' (if given)
    credentials: CredentialStore,
    audit: AuditWriter,
    store: Store,
) -> Mounted:
    if not enabled:
        return Mounted(None)
    settings = ConsoleSettings(
        regions=tuple(regions),
        secure=secure,
        audit_dirs=audit_dirs,
        limiter=SharedSigninLimiter(store.cluster),  # one count for every worker and node on the store
    )
    return Mounted(Console(settings, credentials, audit, store))

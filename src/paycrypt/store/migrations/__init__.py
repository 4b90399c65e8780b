"""Versioned schema migrations, a folder of numbered SQL files per backend.

`NNNN_name.sql` in `sqlite/` or `postgresql/` brings a database from version NNNN-1 to NNNN; the
version a database is at is the highest in its `schema_version` table (0 when it has none). A
backend applies what is pending in one transaction with the version rows (store/sqlite.py,
store/postgres.py); this module only reads the files and decides what is pending, so the rule
that a database newer than the code is refused is written once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class SchemaError(Exception):
    """A database this code must not use as it is; the message says why and what to do."""


def available(backend: str) -> list[Migration]:
    """The backend's migrations in version order, numbered 1, 2, … without a gap."""
    found = []
    for entry in resources.files(__package__).joinpath(backend).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store/migrations/{backend}: versions must run 1, 2, … without a gap")
    return found


def latest(backend: str) -> int:
    return len(available(backend))


def pending(backend: str, current: int) -> list[Migration]:
    """What brings a database at `current` to this code's version; refuses a newer database."""
    migrations = available(backend)
    if current > len(migrations):
        raise SchemaError(
            f"the database's schema is at version {current}, newer than this paycrypt knows "
            f"(version {len(migrations)}): it was upgraded by a later release; run that release, "
            "or restore a backup taken before the upgrade"
        )
    return migrations[current:]


SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied DOUBLE PRECISION NOT NULL
)
"""

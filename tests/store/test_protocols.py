"""The store protocols name no backend, and the SQLite backend implements every one of them.

Issue 14 item 8: a PostgreSQL backend must be able to implement `store.base` without SQLite
coming along, so the protocol modules may import no database driver and no backend; and each
backend (SQLite, PostgreSQL) must have every member the protocols declare, with the same
parameters, and no public method they do not declare (else the service could come to depend on it
unseen). What the members do, on both backends, is tests/store/test_behaviour.py's.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from paycrypt.store import base
from paycrypt.store.postgres import PostgresStore
from paycrypt.store.postgres_cluster import PostgresClusterTables
from paycrypt.store.postgres_mpa import PostgresMpaTables
from paycrypt.store.records import Team
from paycrypt.store.sqlite import SqliteStore
from paycrypt.store.sqlite_cluster import SqliteClusterTables
from paycrypt.store.sqlite_mpa import SqliteMpaTables

STORE = Path(base.__file__).parent
# The modules a backend implements or uses: the protocols and the records they pass.
PROTOCOL_MODULES = ("paycrypt.store.base", "paycrypt.store.records")
BACKENDS = (
    *("sqlite3", "psycopg", "psycopg2", "psycopg_pool"),
    *(
        "paycrypt.store.sqlite",
        "paycrypt.store.sqlite_mpa",
        "paycrypt.store.sqlite_cluster",
        "paycrypt.store.postgres",
        "paycrypt.store.postgres_mpa",
        "paycrypt.store.postgres_cluster",
    ),
)
# Each backend: its store class, and the classes of its attributes' protocols (Store.mpa, Store.cluster).
IMPLEMENTATIONS = {"sqlite": SqliteStore, "postgresql": PostgresStore}
ATTRIBUTES = {
    "sqlite": {base.MpaTables: SqliteMpaTables, base.ClusterTables: SqliteClusterTables},
    "postgresql": {base.MpaTables: PostgresMpaTables, base.ClusterTables: PostgresClusterTables},
}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def is_backend(name: str) -> bool:
    return any(name == backend or name.startswith(backend + ".") for backend in BACKENDS)


@pytest.mark.parametrize("module", PROTOCOL_MODULES)
def test_protocol_modules_import_no_backend(module: str) -> None:
    named = imported_names(STORE / f"{module.rsplit('.', 1)[1]}.py")
    assert "paycrypt.store.records" in named or module.endswith("records")  # the scan sees imports
    assert [name for name in named if is_backend(name)] == []


def test_importing_the_protocols_loads_no_database_driver() -> None:
    script = (
        "import sys\n"
        f"import {', '.join(PROTOCOL_MODULES)}\n"
        f"print(sorted(m for m in {BACKENDS!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def members(protocol: type) -> Iterator[tuple[str, Any]]:
    """The methods (name, function) and attributes (name, None) a protocol and its bases declare."""
    seen: set[str] = set()
    for cls in protocol.__mro__:
        if cls is Protocol or not getattr(cls, "_is_protocol", False):
            continue
        for name in (*vars(cls).get("__annotations__", {}), *vars(cls)):
            if not name.startswith("_") and name not in seen:
                seen.add(name)
                yield name, vars(cls).get(name)


def _parameters(function: Any) -> list[tuple[str, Any, Any, Any]]:
    return [
        (p.name, p.kind, p.default, p.annotation) for p in inspect.signature(function).parameters.values()
    ]


def differences(implementation: type, protocol: type) -> list[str]:
    """How `implementation` fails to implement `protocol` (empty when it does): members missing,
    parameters or return types that differ."""
    found: list[str] = []
    for name, declaration in members(protocol):
        if declaration is None:  # an attribute (Store.mpa): set per instance, checked on the instance
            continue
        method = getattr(implementation, name, None)
        if method is None:
            found.append(f"missing {name}")
            continue
        if _parameters(method) != _parameters(declaration):
            found.append(f"parameters of {name}")
        # a @contextmanager method's own annotation is its generator's (Iterator[None])
        if not hasattr(method, "__wrapped__") and (
            inspect.signature(method).return_annotation != inspect.signature(declaration).return_annotation
        ):
            found.append(f"return type of {name}")
    return found


def undeclared(implementation: type, protocol: type) -> list[str]:
    """The public methods of `implementation` that `protocol` does not declare."""
    declared = {name for name, _ in members(protocol)}
    return sorted(
        name
        for name, _ in inspect.getmembers(implementation, callable)
        if not name.startswith("_") and name not in declared
    )


@pytest.mark.parametrize("backend", IMPLEMENTATIONS)
@pytest.mark.parametrize("protocol", base.PROTOCOLS, ids=[p.__name__ for p in base.PROTOCOLS])
def test_each_backend_implements_the_protocol(backend: str, protocol: type) -> None:
    store_class = IMPLEMENTATIONS[backend]
    if protocol in ATTRIBUTES[backend]:
        assert differences(ATTRIBUTES[backend][protocol], protocol) == []
    else:
        assert protocol in base.Store.__mro__  # each table's protocol is part of Store
        assert differences(store_class, protocol) == []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "paycrypt.db")
    yield opened
    opened.close()


# The capabilities each backend offers: SQLite announces no change (it is checked on every read).
OFFERED = {
    "sqlite": {base.Snapshots},
    "postgresql": {base.ChangeNotifications}
    | ({base.Snapshots} if hasattr(PostgresStore, "write_snapshot") else set()),
}


@pytest.mark.parametrize("backend", IMPLEMENTATIONS)
@pytest.mark.parametrize("capability", base.CAPABILITIES, ids=[p.__name__ for p in base.CAPABILITIES])
def test_each_backend_implements_the_capabilities_it_offers(backend: str, capability: type) -> None:
    assert capability not in base.Store.__mro__  # optional: a backend may come without it
    store_class = IMPLEMENTATIONS[backend]
    if capability in OFFERED[backend]:
        assert differences(store_class, capability) == []
    else:
        assert not any(hasattr(store_class, name) for name, _ in members(capability))


def test_the_sqlite_store_is_an_instance_of_its_capabilities(store: SqliteStore) -> None:
    for capability in base.CAPABILITIES:
        assert isinstance(store, capability) == (capability in OFFERED["sqlite"])


@pytest.mark.parametrize("backend", IMPLEMENTATIONS)
def test_the_protocols_declare_everything_the_backend_offers(backend: str) -> None:
    store_class = IMPLEMENTATIONS[backend]
    assert [name for name, value in members(base.Store) if value is None] == ["mpa", "cluster"]

    class Declared(base.Store, *base.CAPABILITIES, Protocol): ...

    assert undeclared(store_class, Declared) == []
    for protocol, implementation in ATTRIBUTES[backend].items():
        assert undeclared(implementation, protocol) == []
    assert undeclared(SqliteStore, base.Store) == sorted(
        name for capability in OFFERED["sqlite"] for name, _ in members(capability)
    )


def test_the_checks_name_what_a_backend_gets_wrong() -> None:
    """The checks can fail: a missing method, a renamed parameter, another return type, an extra
    public method are each reported."""

    class Teams:
        def put_team(self, record: Team) -> None: ...  # parameter renamed
        def get_team(self, arn: str) -> Team: ...  # return type differs
        def vacuum(self) -> None: ...  # not in the protocol

    found = differences(Teams, base.MpaTables)
    assert "parameters of put_team" in found
    assert "return type of get_team" in found
    assert "missing votes" in found
    assert "get_team" not in " ".join(f for f in found if f.startswith("missing"))
    assert undeclared(Teams, base.MpaTables) == ["vacuum"]

"""Start-up cost: a process imports an optional dependency only when its configuration uses it.

Why it matters: every `paycrypt` process (a server, each worker, every CLI command) pays for what it
imports, about a second of CPU for the server's stack; the modules below are a third of that and
most processes never use them (bench/README.md, start-up). Each check runs a fresh interpreter, as
a real start does, and also checks that the same code does load the module once the configuration
needs it, so that a check cannot pass only because the module's name changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

OPTIONAL = ("psycopg", "psycopg_pool", "prometheus_client", "jinja2")
#: What a CLI command other than `serve` never needs: the server and its ASGI stack, botocore.
SERVER_STACK = ("paycrypt.server", "uvicorn", "uvloop", "botocore", *OPTIONAL)


def loaded(code: str, *, among: tuple[str, ...]) -> list[str]:
    """Which of `among` (top-level packages, or modules by full name) `code` loaded, run in a fresh
    interpreter."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"among = {among!r}\n"
        "print(json.dumps(sorted({a for m in sys.modules for a in among if m == a or m.split('.')[0] == a})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_server_loads_no_optional_dependency() -> None:
    assert loaded("import paycrypt.server", among=OPTIONAL) == []


def test_a_sqlite_server_with_the_console_and_no_metrics_loads_none_until_used(tmp_path: Path) -> None:
    build = (
        "from paycrypt.server import Settings, build_app\n"
        f"built = build_app(Settings(data_dir=__import__('pathlib').Path({str(tmp_path)!r})))\n"
        "assert any(line.startswith('console: http') for line in built.lines), built.lines\n"
    )
    assert loaded(build, among=OPTIONAL) == []
    page = build + "from paycrypt.console.render import page\npage('signin.html', csrf='x', error='')\n"
    assert loaded(page, among=OPTIONAL) == ["jinja2"]  # the first page served loads Jinja2


def test_metrics_load_prometheus_client(tmp_path: Path) -> None:
    build = (
        "from paycrypt.server import Settings, build_app\n"
        f"build_app(Settings(data_dir=__import__('pathlib').Path({str(tmp_path)!r}), metrics_port=0))\n"
    )
    assert loaded(build, among=("prometheus_client",)) == ["prometheus_client"]


def test_the_cli_loads_no_server_stack_for_a_light_command(tmp_path: Path) -> None:
    assert loaded("import paycrypt.cli.main", among=SERVER_STACK) == []
    data = ("--data-dir", str(tmp_path))
    for argv in (["vault", "status", *data], ["audit", "verify", *data], ["mpa", *data, "list-teams"]):
        run = f"from paycrypt.cli.main import main\nmain({argv!r})\n"
        assert loaded(run, among=SERVER_STACK) == [], argv

"""mkdocs hooks: the architecture page shows the import-linter contracts as pyproject.toml has them.

Rendered at build time from the file the test suite enforces, so the page cannot drift from the
contracts (a copy in the page would).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

PLACEHOLDER = "<!-- import-linter contracts -->"


def contracts_markdown(pyproject: Path) -> str:
    """Each contract of `[tool.importlinter]` as a short Markdown section."""
    contracts = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]["contracts"]
    parts = []
    for contract in contracts:
        render = RENDERERS[contract["type"]]
        parts.append(f"**{contract['name']}** (`{contract['type']}`)\n\n{render(contract)}\n")
    return "\n".join(parts)


def _modules(names: list[str]) -> str:
    return ", ".join(f"`{name.strip()}`" for name in names)


def _layers(contract: dict[str, Any]) -> str:
    within = _modules(contract.get("containers", []))
    rows = [f"{n}. {_modules(layer.split(':'))}" for n, layer in enumerate(contract["layers"], 1)]
    exhaustive = ", every module of it placed in a layer" if contract.get("exhaustive") else ""
    return f"Within {within}{exhaustive}, from the top:\n\n" + "\n".join(rows)


def _forbidden(contract: dict[str, Any]) -> str:
    return f"{_modules(contract['source_modules'])} may not import {_modules(contract['forbidden_modules'])}."


def _independence(contract: dict[str, Any]) -> str:
    return f"{_modules(contract['modules'])} do not import each other."


RENDERERS = {"layers": _layers, "forbidden": _forbidden, "independence": _independence}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    pyproject = Path(config["config_file_path"]).parent / "pyproject.toml"
    return markdown.replace(PLACEHOLDER, contracts_markdown(pyproject))

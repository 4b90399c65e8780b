"""The documentation site builds with `mkdocs build --strict` (a broken link or anchor fails it), and
the README stays the short way in: its quick start as it was, its links resolving.

The examples the pages show are run by the tests that read them (tests/docs_pages.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.docs_pages import DOCS, README, ROOT, code_blocks, page, readme_section

# Material for MkDocs prints a banner about MkDocs 2.0 on every build unless told not to.
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
SITE_FILES = ("mkdocs.yml", "README.md", "pyproject.toml", "docs", "scripts/mkdocs_hooks.py")


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of root/mkdocs.yml into site, run from root as a developer would."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    return subprocess.run(command, cwd=root, env=ENV, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = build(ROOT, out)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_site_builds_strict(site: Path) -> None:
    pages = {p.relative_to(DOCS).with_suffix("") for p in DOCS.rglob("*.md")}
    for name in pages:
        html = site / (name.parent if name.name == "index" else name) / "index.html"
        assert html.is_file(), f"{name}.md was not built"
        text = html.read_text()
        assert "--8<--" not in text, f"{name}.md: a README section was not included"
        assert "<!-- import-linter contracts -->" not in text, f"{name}.md: the contracts were not rendered"


def test_the_included_readme_sections_and_contracts_are_on_the_pages(site: Path) -> None:
    home = (site / "index.html").read_text()
    assert "It is for payment engineers at issuers" in home
    assert "paycrypt serve" in home and "scripts/test" in home
    usage = (site / "usage" / "index.html").read_text()
    assert "generate_card_validation_data" in usage
    architecture = (site / "architecture" / "index.html").read_text()
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    for contract in contracts:
        assert contract["name"] in architecture, contract["name"]


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """The strict build is a real check: a link to a page that does not exist stops it."""
    copy = tmp_path / "repo"
    for name in SITE_FILES:
        source, target = ROOT / name, copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    configuration = copy / "docs" / "configuration.md"
    configuration.write_text(configuration.read_text() + "\nSee [the missing page](missing.md).\n")
    done = build(copy, tmp_path / "site")
    assert done.returncode != 0
    assert "missing.md" in done.stdout + done.stderr


def test_the_readme_keeps_its_quick_start_commands() -> None:
    quick_start = code_blocks(readme_section("quick-start"), "sh")
    assert quick_start == [
        "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/paycrypt serve\n",
        "scripts/test\n",
    ]
    assert "\nscripts/test\n" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's command


def test_the_readme_is_short_and_its_links_resolve() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 150, "the README is the short way in; the rest goes under docs/"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links to the documentation"
    for link in local:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_the_architecture_page_names_every_top_level_module() -> None:
    """A package added to src/paycrypt is described where the code is laid out."""
    [layout] = [block for block in code_blocks(page("architecture.md"), "") if "src/paycrypt/" in block]
    package = ROOT / "src" / "paycrypt"
    for path in package.iterdir():
        if path.name.startswith(("_", ".")) or not (path.suffix == ".py" or (path / "__init__.py").is_file()):
            continue
        name = path.name if path.suffix == ".py" else f"{path.name}/"
        assert re.search(rf"(^|[\s,]){re.escape(name)}", layout), f"docs/architecture.md does not name {name}"

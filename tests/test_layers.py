"""The layering of DESIGN.md holds: the import-linter contracts in pyproject.toml pass on the tree,
and each one fails when an import that breaks it is planted in a copy of the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "paycrypt"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
# The console script `lint-imports`, run through this interpreter so no PATH lookup is involved.
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    "--no-cache",
]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of root/pyproject.toml on the paycrypt found under root/src."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run(LINT_IMPORTS, cwd=root, env=env, capture_output=True, text=True)


def test_contracts_hold() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in done.stdout, done.stdout


def test_pure_packages_forbid_every_other_top_level_module() -> None:
    """A new top-level module fails here until it joins the list, so crypto never imports it unseen."""
    pure = next(contract for contract in CONTRACTS if contract["type"] == "forbidden")
    top_level = {
        f"paycrypt.{path.stem}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").is_file()) and path.name != "__init__.py"
    }
    assert set(pure["forbidden_modules"]) == top_level - set(pure["source_modules"])


# Each planted import (module under src/paycrypt, the line added to it), the type of the one contract
# it breaks and the line of the linter's report that names the culprit.
PLANTED = {
    "service imports wire": (
        "service/keys/pagination.py",
        "from paycrypt import wire",
        "layers",
        "paycrypt.service.keys.pagination -> paycrypt.wire",
    ),
    "an unplaced top-level module": (
        "scheduler.py",
        '"""A package no layer names."""',
        "layers",
        "- paycrypt.scheduler",
    ),
    "vault imports service": (
        "vault/keycache.py",
        "from paycrypt import service",
        "layers",
        "paycrypt.vault.keycache -> paycrypt.service",
    ),
    "crypto imports errors": (
        "crypto/kcv.py",
        "from paycrypt import errors",
        "forbidden",
        "paycrypt.crypto.kcv -> paycrypt.errors",
    ),
    "policy imports crypto": (
        "policy/conditions.py",
        "import paycrypt.crypto",
        "independence",
        "paycrypt.policy.conditions -> paycrypt.crypto",
    ),
}


@pytest.mark.parametrize("planted", PLANTED, ids=list(PLANTED))
def test_planted_violation_breaks_its_contract(tmp_path: Path, planted: str) -> None:
    module, line, broken, culprit = PLANTED[planted]
    shutil.copytree(PACKAGE, tmp_path / "src" / "paycrypt", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "src" / "paycrypt" / module).open("a") as source:
        source.write(f"\n{line}\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    for contract in CONTRACTS:
        verdict = "BROKEN" if contract["type"] == broken else "KEPT"
        assert f"{contract['name']} {verdict}" in done.stdout, done.stdout
    assert culprit in done.stdout, done.stdout

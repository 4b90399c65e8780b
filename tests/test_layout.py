"""tests/ mirrors src/paycrypt/: a module's tests are found in the folder named after its package."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "paycrypt"
TESTS = ROOT / "tests"
# Folders that test the whole, not one package: the API through a real server, and the fuzz suite.
WHOLE = {"api", "fuzz"}


def folders(base: Path) -> list[Path]:
    """The packages below `base`, as paths relative to it."""
    return sorted(p.parent.relative_to(base) for p in base.rglob("*/__init__.py"))


def test_every_test_folder_is_named_after_a_package() -> None:
    packages = set(folders(SOURCE))
    strays = [
        str(folder) for folder in folders(TESTS) if folder.parts[0] not in WHOLE and folder not in packages
    ]
    assert strays == [], f"test folders with no package of the same path under src/paycrypt: {strays}"

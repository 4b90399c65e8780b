"""The tree stays ruff clean: the suite fails on a lint or format regression."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff"]
TREES = [name for name in ("src", "tests", "bench", "scripts") if (ROOT / name).is_dir()]


def test_ruff_check() -> None:
    done = subprocess.run([*RUFF, "check", *TREES], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_format() -> None:
    done = subprocess.run([*RUFF, "format", "--check", *TREES], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

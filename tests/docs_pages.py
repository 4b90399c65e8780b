"""The documentation's text, for the tests that run its examples as written.

The pages live under docs/ (the mkdocs site); README.md keeps the quick start and one example,
marked as sections that the site includes (`<!-- --8<-- [start:NAME] -->`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def page(name: str) -> str:
    """The Markdown of one page, by its path under docs/ (`usage/known-keys.md`)."""
    return (DOCS / name).read_text()


def readme_section(name: str) -> str:
    """The text between README's `--8<-- [start:NAME]` and `[end:NAME]` markers."""
    text = README.read_text()
    start = re.search(rf"^.*--8<-- \[start:{name}\].*\n", text, re.MULTILINE)
    end = re.search(rf"^.*--8<-- \[end:{name}\].*$", text, re.MULTILINE)
    assert start and end, f"README has no section {name}"
    return text[start.end() : end.start()]


def code_blocks(text: str, kind: str) -> list[str]:
    """The fenced code blocks of one language (`python`, `sh`, `toml`; "" for none), in order."""
    blocks, language, lines = [], None, []
    for line in text.splitlines(keepends=True):
        fence = line.rstrip("\n")
        if language is None and fence.startswith("```"):
            language, lines = fence[3:].strip(), []
        elif language is not None and fence == "```":
            if language == kind:
                blocks.append("".join(lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def shell_commands(script: str) -> Iterator[str]:
    """The shell commands of a script: continuation lines joined, quotes spanning lines kept."""
    pending = ""
    for line in script.replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        if words:
            yield pending
        pending = ""

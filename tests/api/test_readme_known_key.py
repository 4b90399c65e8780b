"""The README's "Loading a known test key" snippet runs as written against the test server."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_known_key_snippet(control) -> None:
    text = README.read_text()
    section = text[text.index("### Loading a known test key") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {"control": control}
    exec(compile(snippet, "README.md", "exec"), namespace)  # our own README
    assert namespace["key"]["KeyCheckValue"] == "08D7B4"
    assert namespace["key"]["KeyOrigin"] == "EXTERNAL"

"""The "Loading a known test key" page's snippet (docs/usage/known-keys.md) runs as written
against the test server."""

from __future__ import annotations

from tests.docs_pages import code_blocks, page

PAGE = "usage/known-keys.md"


def test_known_key_snippet(control) -> None:
    [snippet] = code_blocks(page(PAGE), "python")
    namespace = {"control": control}
    exec(compile(snippet, PAGE, "exec"), namespace)  # our own documentation
    assert namespace["key"]["KeyCheckValue"] == "08D7B4"
    assert namespace["key"]["KeyOrigin"] == "EXTERNAL"

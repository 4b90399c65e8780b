"""Playwright for Python driving Debian's chromium (`apt install chromium`, scripts/test), never
Playwright's own browser download. Without chromium the browser tests skip locally and fail
under CI=true."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def screenshots() -> Path:
    """docs/console/ only when asked (PAYCRYPT_DOCS_SCREENSHOTS=1), so that a test run leaves the
    checkout clean; otherwise the shots are still taken (the code path runs) into a temp folder."""
    if os.environ.get("PAYCRYPT_DOCS_SCREENSHOTS") == "1":
        return DOCS_SCREENSHOTS
    return Path(tempfile.gettempdir()) / "paycrypt-console-screenshots"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


def shot(page: object, name: str) -> None:
    """A screenshot of the page for docs/console.md. Chromium under load fails a capture now and
    then ("Unable to capture screenshot"): it is tried twice, and a second failure fails the test
    only in a docs run (PAYCRYPT_DOCS_SCREENSHOTS=1) — the pictures are not what the tests check."""
    folder = screenshots()
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        try:
            page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
            return
        except Exception:  # chromium under load: "Unable to capture screenshot" now and then
            if attempt == 2 and folder == DOCS_SCREENSHOTS:
                raise  # asked for the docs' pictures: a missing one is a failure

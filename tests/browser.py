"""Headless Chromium for the tests that render a page (`make browser` installs it)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Yield the system Chromium launched headless by playwright; skip the test without one.

    The tests never install a browser: `make browser` (CI's .ci/run) does.
    """
    playwright = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip(
            "no Chromium on PATH: run `make browser` (apt-get install chromium) to include "
            "the browser checks"
        )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()

"""Fixtures shared by every test package: one headless Chromium for the whole session.

Playwright's sync API runs its own event loop; two of them alive in one process collide
("Sync API inside the asyncio loop"). Every browser test therefore takes ``browser`` from here.
Chromium comes from Debian (``/usr/bin/chromium``); Playwright's own download is never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (skips, with the reason, when it is absent)."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()

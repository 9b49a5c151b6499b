"""Debian's Chromium, driven by Playwright for Python (never a downloaded browser)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright import sync_api as playwright_api

CHROMIUM = "/usr/bin/chromium"
# Every browser test's screenshots, for a person to look at (git-ignored; CI keeps them as artifacts).
SCREENSHOTS = Path(__file__).resolve().parent / "__screenshots__"
SCREENSHOTS.mkdir(exist_ok=True)
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium missing at /usr/bin/chromium (CI must have it)")
        pytest.skip("Chromium not installed (optional component absent)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    return browser.new_page()

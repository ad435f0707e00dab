"""Debian's Chromium driven by Playwright: what every browser test shares.

Never a downloaded browser: /usr/bin/chromium from `scripts/install-browser.sh`.
Where it or the playwright package is missing, browser tests skip, except in CI,
where that is a broken set-up and fails.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--no-first-run"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


def skip_or_fail_without_chromium(**skip_kwargs) -> None:
    if sync_playwright is not None and Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium and the playwright package (see .ci/run)")
    pytest.skip("needs Debian's chromium at /usr/bin/chromium and the playwright package", **skip_kwargs)


@contextmanager
def launched():
    """A headless Chromium for one module's tests."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()

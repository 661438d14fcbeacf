"""Headless Chromium from the system's packages (Debian's `chromium`), driven by Playwright.

Playwright never downloads a browser here: it is pointed at the installed executable. Without one the test
skips with the reason, unless REWARDKIT_REQUIRE_BROWSER=1 (CI sets it), where it fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE_ENV = "REWARDKIT_REQUIRE_BROWSER"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    found = (
        os.environ.get("REWARDKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    return found if found and Path(found).exists() else None


def unavailable_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'rewardkit[dev]')"
    if chromium_path() is None:
        return "no Chromium executable (apt-get install -y chromium, or run scripts/browser-setup.sh)"
    return None


def require_browser() -> str:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but no browser can run: {reason}")
        pytest.skip(reason)
    path = chromium_path()
    assert path is not None
    return path

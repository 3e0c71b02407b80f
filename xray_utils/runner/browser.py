"""Which Chromium or Chrome to drive: the browser check (tests/browser) and ``xray-book pdf``.

Nothing is downloaded and nothing needs root: the browser is one already on the
machine (:func:`find_browser` says where it looks), driven by Playwright with
``executable_path``. Playwright is imported only when a browser is launched.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

BROWSER_ENV = "XRAY_BROWSER"  # a path to a Chromium or Chrome executable: use this one, nothing else
# Looked up on PATH, in this order (Debian, Ubuntu, Google's packages, Homebrew's chromium).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
# Headless, and nothing that reaches the network by itself (updates, sync, field trials):
# the book is read from this machine only.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "install one (apt-get install chromium, brew install --cask chromium, or "
    f".venv/bin/playwright install chromium) or set {BROWSER_ENV}=/path/to/chrome"
)


def _playwright_chromium() -> str | None:
    """The Chromium that `playwright install chromium` downloaded, if it did."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # playwright missing, or its driver cannot start: no browser from it
        return None
    return path if path and Path(path).is_file() else None


@functools.cache
def find_browser() -> tuple[str | None, str]:
    """(the browser executable to drive, or None; where it came from, or what was searched).

    ``$XRAY_BROWSER`` when set (an error if it is not an executable file), else the
    first of :data:`BROWSER_NAMES` on PATH, the macOS app bundles, and Playwright's own.
    Without any, the second item is one line naming what was searched and how to install one.
    """
    chosen = os.environ.get(BROWSER_ENV)
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise FileNotFoundError(f"{BROWSER_ENV}={chosen} is not an executable file")
        return chosen, BROWSER_ENV
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found, f"{name} on PATH"
    for app in MACOS_APPS:
        if Path(app).is_file():
            return app, app
    own = _playwright_chromium()
    if own:
        return own, "Playwright's own Chromium"
    return None, (
        f"no Chromium or Chrome found ({', '.join(BROWSER_NAMES)} on PATH, the macOS apps, Playwright's own): "
        + INSTALL_HINT
    )

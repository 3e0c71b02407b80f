"""Open pages of a built book in headless Chromium and list what is wrong with them.

The browser is the first one found (:func:`find_browser`); nothing is installed
and nothing needs root. Without one, the tests are skipped with the reason.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socketserver
import threading
from contextlib import contextmanager
from pathlib import Path

BROWSER_ENV = "XRAY_BROWSER"  # a path to a Chromium or Chrome executable: use this one, nothing else
# Looked up on PATH, in this order (Debian, Ubuntu, Google's packages, Homebrew's chromium).
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPS = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
)
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


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` on a free localhost port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


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
        f"install one (apt-get install chromium, brew install --cask chromium, or "
        f".venv/bin/playwright install chromium) or set {BROWSER_ENV}=/path/to/chrome"
    )


@contextmanager
def browser_page():
    from playwright.sync_api import sync_playwright

    executable, _ = find_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


def page_problems(page, url: str) -> list[str]:
    """Failed local requests, images that did not load, error cells and tracebacks on ``url``."""
    problems: list[str] = []
    local = url.split("/", 3)[:3]
    base = "/".join(local)

    def on_failed(request):
        if request.url.startswith(base):
            problems.append(f"request failed: {request.url}")

    def on_response(response):
        if response.url.startswith(base) and response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    problems += [f"image did not load: {src}" for src in broken]
    if page.locator(".output.error, .cell_output .traceback, div.output.traceback").count():
        problems.append("error output cell present")
    if "Traceback (most recent call last)" in page.inner_text("body"):
        problems.append("traceback text present")
    page.remove_listener("requestfailed", on_failed)
    page.remove_listener("response", on_response)
    return problems


def toc_links(page) -> list[str]:
    """The hrefs of the sidebar's table of contents."""
    return page.eval_on_selector_all(
        "nav.bd-links a, .bd-sidebar a.reference.internal", "links => links.map(a => a.getAttribute('href'))"
    )

"""Open pages of a built book in headless Chromium and list what is wrong with them.

The browser is the first one found (:func:`find_browser`); nothing is installed
and nothing needs root. Without one, the tests are skipped with the reason, and fail
when ``CI`` is set (:func:`browser_or_skip`; there .ci/install-browser installs one first).
"""

from __future__ import annotations

import functools
import http.server
import os
import socketserver
import threading
from contextlib import contextmanager
from pathlib import Path

# Where the browser is looked for lives in the package (`xray-book pdf` drives the same one);
# re-exported here for the checks and their tests.
from xray_utils.runner.browser import (  # noqa: F401
    BROWSER_ENV,
    BROWSER_NAMES,
    CHROMIUM_FLAGS,
    INSTALL_HINT,
    MACOS_APPS,
    _playwright_chromium,
    find_browser,
)


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


# The book is checked as a reader without network sees it, online or not (CI has network, this
# machine has none): every host but the local server fails to resolve, at once. Cheaper than
# intercepting requests (page.route), which costs every page a round trip per request.
OFFLINE_FLAG = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@contextmanager
def browser_page():
    """A page of a headless browser (a 1280 x 900 window) that reaches no host but this machine's."""
    from playwright.sync_api import sync_playwright

    executable, _ = find_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=[*CHROMIUM_FLAGS, OFFLINE_FLAG])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 900})
        finally:
            browser.close()


# CI services set CI (GitHub Actions, GitLab and Travis set CI=true); "0", "false" and "no" say it is not one.
CI_ENV = "CI"


def in_ci(environ=None) -> bool:
    """Whether this run is on CI: ``$CI`` set to anything but empty, ``0``, ``false`` or ``no``."""
    value = (os.environ if environ is None else environ).get(CI_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


def browser_or_skip() -> str:
    """The browser the checks drive (the ``browser`` fixture); without one the test is skipped, on CI it fails.

    A skipped browser check on CI would leave the run green without the book ever opened,
    so there the test fails, naming what was searched; elsewhere the skip says how to get one.
    """
    import pytest

    executable, where = find_browser()
    if executable is None:
        if in_ci():
            pytest.fail(
                f"{CI_ENV} is set and the browser check cannot run: {where} (.ci/run installs one)", pytrace=False
            )
        print(f"\nbrowser check skipped: {where}")
        pytest.skip(where)
    print(f"\nbrowser: {executable} ({where})")
    return executable


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


# A figure is "shrunk" below this rendered/natural width ratio: the PNGs' text (axis labels,
# titles) is drawn at about 10 pt, so at under 0.6 of its size it falls below a readable size.
SHRUNK_RATIO = 0.6
# Sub-pixel rounding and borders make scrollWidth exceed clientWidth by a pixel or two.
OVERFLOW_SLACK_PX = 2
READABILITY_PAGE_WIDTH = 1280  # the window width the measurements are taken at (browser_page's viewport)

# The start of every measurement in a page (here and in reader_checks.py): the article column,
# and how a place in it is named (the Nth cell, else the id of the section, else "page").
ARTICLE_JS = """
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const cells = Array.from(article.querySelectorAll("div.cell"));
  const where = el => {
    const cell = el.closest("div.cell");
    if (cell) return `cell ${cells.indexOf(cell) + 1}`;
    const section = el.closest("section[id]");
    return section ? `#${section.id}` : "page";
  };
"""
# The figures (``imgs``) of an async measurement after ARTICLE_JS: every <img> in the article
# but icons (the launch buttons'), code input and page chrome, each loaded (a lazy image below
# the fold has not started yet) or failed.
FIGURES_JS = """
  const imgs = Array.from(article.querySelectorAll("img")).filter(
    i => !i.closest(".btn__icon-container, .cell_input, header, nav, footer, .navbar-brand, .logo"));
  for (const i of imgs) i.loading = "eager";
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
"""

# Measures one loaded page. Figures: every <img> in the article except the launch buttons'
# icons. Outputs: cell outputs (and any table, markdown ones too), never code input. An
# output counts as overflowing when its content is wider than the room it has: its own box
# (it scrolls, or spills over) or the content column from its left edge (a table in a
# scroll wrapper is as wide as its content, so only the column shows it is too wide).
# Only the innermost overflowing element is reported: a pre that spills makes its
# ancestors overflow too.
_READABILITY_JS = (
    "async () => {"
    + ARTICLE_JS
    + FIGURES_JS
    + """
  const describe = el => {
    const cls = Array.from(el.classList).filter(c => c !== "docutils" && c !== "notranslate").slice(0, 2);
    return `${where(el)}: ${el.tagName.toLowerCase()}${cls.map(c => "." + c).join("")}`;
  };
  const figures = imgs.map(i => {
    const width = i.getBoundingClientRect().width;
    return {
      where: where(i), alt: (i.alt || "").slice(0, 60), src: i.currentSrc.split("/").pop(),
      natural_px: i.naturalWidth, rendered_px: Math.round(width),
      ratio: i.naturalWidth ? width / i.naturalWidth : null,
    };
  });
  const style = getComputedStyle(article);
  const columnRight = article.getBoundingClientRect().right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const candidates = new Set([
    ...article.querySelectorAll(".cell_output, .cell_output pre, .cell_output table, .cell_output div, .cell_output img"),
    ...article.querySelectorAll("table, div.output, div.output pre"),
  ]);
  const wide = [];
  for (const el of candidates) {
    if (el.closest(".cell_input")) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;  // hidden (a collapsed output)
    // content and box are both measured inside the borders: a bordered admonition is not too wide
    const inner = rect.left + el.clientLeft;
    const content = el.scrollWidth;
    const box = Math.min(el.clientWidth, columnRight - inner);
    if (content - box > SLACK_PX) wide.push({el, content, box});
  }
  const innermost = wide.filter(w => !wide.some(o => o !== w && w.el.contains(o.el)));
  const overflows = innermost.map(w => ({
    element: describe(w.el),
    kind: w.el.tagName === "TABLE" ? "table" : w.el.closest(".output_html .highlight, .text_html .highlight") ? "code listing" : "text",
    text: (w.el.innerText || "").replace(/\\s+/g, " ").trim().slice(0, 40),
    content_px: Math.round(w.content), box_px: Math.round(w.box),
  }));
  return {figures, overflows};
}"""
).replace("SLACK_PX", str(OVERFLOW_SLACK_PX))


def readability(page, url: str) -> dict:
    """How readable ``url`` is at the page's window width (1280 px with :func:`browser_page`).

    Returns ``{"figures": [...], "min_ratio", "overflows": [...], "widest_overflow_px"}``:
    each figure has ``natural_px``, ``rendered_px`` (CSS px) and ``ratio`` (rendered/natural,
    None when the image did not load) and ``shrunk`` (ratio < :data:`SHRUNK_RATIO`); each
    overflow has ``element`` (the cell or section and the element), ``text`` (its first
    40 characters), ``kind`` (``table``, ``code listing``: source shown as an output, or
    ``text``), ``content_px`` and ``box_px`` (how wide it is, how wide it may be, CSS px) and
    ``excess_px`` (the difference: how far a reader scrolls sideways). ``min_ratio`` is None
    without figures; ``widest_overflow_px`` is the largest ``content_px`` of an overflowing
    output, 0 without overflows.
    """
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return measure_readability(page)


def measure_readability(page) -> dict:
    """:func:`readability` of the page ``page`` shows now (loaded already)."""
    measured = page.evaluate(_READABILITY_JS)
    figures = measured["figures"]
    for figure in figures:
        figure["shrunk"] = figure["ratio"] is not None and figure["ratio"] < SHRUNK_RATIO
    overflows = measured["overflows"]
    for overflow in overflows:
        overflow["excess_px"] = overflow["content_px"] - overflow["box_px"]
    ratios = [f["ratio"] for f in figures if f["ratio"] is not None]
    return {
        "figures": figures,
        "min_ratio": min(ratios) if ratios else None,
        "overflows": overflows,
        "widest_overflow_px": max((o["content_px"] for o in overflows), default=0),
    }


def screenshot(page, path: Path) -> Path:
    """Save a full-page PNG of what ``page`` shows now to ``path`` (its folder is made); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def book_pages(page, base: str) -> list[str]:
    """The front page and every page the front page's table of contents links to, as paths under ``base``.

    Paths are relative to the book's root (``book/chapters/index.html``, ``book/dataset.html``...),
    in the order of the table of contents, without anchors or repeats.
    """
    from urllib.parse import urljoin, urlsplit

    front = f"{base}/book/chapters/index.html"
    page.goto(front, wait_until="load")
    found = ["book/chapters/index.html"]
    for href in toc_links(page):
        if not href or href.startswith(("#", "http:", "https:", "mailto:")):
            continue
        path = urlsplit(urljoin(front, href)).path.lstrip("/")
        if path.endswith(".html") and path not in found:
            found.append(path)
    return found


CODE_LISTING = "code listing"  # source shown as an output (page.show_code): code, like code input


def readability_offenders(measured: dict) -> list[str]:
    """One line per shrunk figure and per overflowing output in a :func:`readability` result."""
    lines = [
        f"figure shrunk to {f['ratio']:.2f} ({f['natural_px']} -> {f['rendered_px']} px), {f['where']}: {f['alt']!r}"
        for f in measured["figures"]
        if f["shrunk"]
    ]
    # Source code shown as an output (page.show_code) is code, like code input: it may keep its own scroll box.
    lines += [
        f"{o['kind']} {o['content_px']} px wide in {o['box_px']} px (+{o['excess_px']}), {o['element']}: {o['text']!r}"
        for o in measured["overflows"]
        if o["kind"] != CODE_LISTING
    ]
    return lines


def readability_table(rows: list[dict]) -> str:
    """The printed table of :func:`readability` results, one row per page (each row has ``page``) and a total.

    Columns: figures, the smallest ratio, shrunk figures, overflowing outputs, the widest
    overflowing output (px) and how far it runs past its box (px); the last line gives the
    minimum ratio and the widest overflow over all pages.
    """
    header = (
        f"{'page':<40} {'figures':>7} {'min ratio':>9} {'shrunk':>6} {'overflows':>9} "
        f"{'widest (px)':>11} {'over by (px)':>12}"
    )

    def line(name, figures, ratios, overflows):
        overflows = [o for o in overflows if o["kind"] != CODE_LISTING]  # code may scroll (readability_offenders)
        ratio = f"{min(ratios):.2f}" if ratios else "-"
        shrunk = sum(f["shrunk"] for f in figures)
        widest = max((o["content_px"] for o in overflows), default=0)
        over = max((o["excess_px"] for o in overflows), default=0)
        return f"{name:<40} {len(figures):>7} {ratio:>9} {shrunk:>6} {len(overflows):>9} {widest:>11} {over:>12}"

    lines = [header, "-" * len(header)]
    for row in rows:
        ratios = [] if row["min_ratio"] is None else [row["min_ratio"]]
        lines.append(line(row["page"], row["figures"], ratios, row["overflows"]))
    lines.append("-" * len(header))
    lines.append(
        line(
            f"all {len(rows)} pages",
            [f for row in rows for f in row["figures"]],
            [row["min_ratio"] for row in rows if row["min_ratio"] is not None],
            [o for row in rows for o in row["overflows"]],
        )
    )
    return "\n".join(lines)


def readability_report(html: Path) -> list[dict]:
    """:func:`readability` of every page of the book built in ``html`` (in TOC order), each with its ``page``."""
    rows = []
    with serve(html) as base, browser_page() as page:
        for path in book_pages(page, base):
            rows.append({"page": path, **readability(page, f"{base}/{path}")})
    return rows


def _main(argv: list[str]) -> int:
    """``book_browser.py readability HTML_FOLDER [--details]``: print the readability table of a built book."""
    if len(argv) < 2 or argv[0] != "readability":
        print("usage: book_browser.py readability HTML_FOLDER [--details]")
        return 2
    html = Path(argv[1])
    if not (html / "book" / "chapters" / "index.html").is_file():
        print(f"no built book at {html}: book/chapters/index.html is missing")
        return 2
    executable, where = find_browser()
    if executable is None:
        print(f"no browser: {where}")
        return 2
    rows = readability_report(html)
    print(readability_table(rows))
    if "--details" in argv:
        for row in rows:
            for offender in readability_offenders(row):
                print(f"{row['page']}: {offender}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))

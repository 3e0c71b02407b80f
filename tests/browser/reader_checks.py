"""What a reader of the built book would notice in a browser, beyond a page that loads.

Each check looks at a page already loaded (``page.goto``) and returns one line per
problem, naming the page's cell or section and the element:

- :func:`layout_problems`: the page scrolls sideways, or something in the article
  (an output, a table, a code block, a figure) reaches past the content column
  without a scroll box of its own to hold it;
- :func:`search_misses`: the search page does not find a page by a word of its title;
- :func:`figure_problems`: a figure that did not load, or is shown as a thumbnail;
- :class:`Watch`: errors the page's own scripts raised or logged.

:func:`walk_book` shows every page once at the wide window and keeps what all the checks
(these, ``book_browser.page_problems`` and ``book_browser.readability``) found there, so
that the tests of each read one walk.

Requests to other hosts (MathJax from a CDN) fail in ``book_browser.browser_page``,
online or not, so a check gives the same answer on CI as offline; their failures are not
the book's errors, and :class:`Watch` lists their addresses once for the test log.
"""

from __future__ import annotations

import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

from book_browser import (
    ARTICLE_JS,
    FIGURES_JS,
    book_pages,
    browser_page,
    measure_readability,
    page_problems,
    readability_offenders,
    screenshot,
    serve,
    toc_links,
)

# The windows a reader is checked at: a laptop, and half of one (or a tablet), where
# sphinx-book-theme has dropped both sidebars (below 960 px) and the column is the window.
READER_WINDOWS = (1280, 800)
WINDOW_HEIGHT = 900
# A figure shown narrower than this (CSS px) is a thumbnail: its axis labels cannot be read.
THUMBNAIL_PX = 300
# Sub-pixel rounding and borders: an element may reach a pixel or two past the column.
SPILL_SLACK_PX = 2

# Figures: as book_browser.readability takes them (FIGURES_JS).
_FIGURES_JS = (
    "async () => {"
    + ARTICLE_JS
    + FIGURES_JS
    + """
  return imgs.map(i => ({
    where: where(i), src: (i.getAttribute("src") || "").split("/").pop(),
    loaded: i.complete && i.naturalWidth > 0, shown_px: Math.round(i.getBoundingClientRect().width),
  }));
}"""
)

# An element spills when its box reaches past the column's content edges and no element
# between it and the article scrolls it (then the reader has a scrollbar on that box, which
# is fine; a box that only clips hides the rest, which is not). Only the outermost spilling
# element is named: a wide table's cells spill with it.
_LAYOUT_JS = (
    "async () => {"
    + ARTICLE_JS
    + """
  await document.fonts.ready;  // a web font arriving late changes where lines wrap
  const scroller = document.scrollingElement;
  const style = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const held = el => {
    for (let p = el.parentElement; p && p !== article; p = p.parentElement)
      if (/auto|scroll/.test(getComputedStyle(p).overflowX)) return true;
    return false;
  };
  const excess = el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || !el.checkVisibility({visibilityProperty: true})) return 0;
    return Math.max(r.right - right, left - r.left, 0);
  };
  const spills = el => el && el !== article && excess(el) > SLACK_PX && !held(el);
  const spilled = Array.from(article.querySelectorAll("*")).filter(el => spills(el) && !spills(el.parentElement));
  return {
    page_px: scroller.scrollWidth, window_px: scroller.clientWidth,
    spilled: spilled.map(el => ({
      where: where(el), tag: el.tagName.toLowerCase(),
      text: (el.innerText || el.getAttribute("src") || "").replace(/\\s+/g, " ").trim().slice(0, 40),
      excess_px: Math.round(excess(el)),
    })),
  };
}"""
).replace("SLACK_PX", str(SPILL_SLACK_PX))


def figure_problems(page) -> list[str]:
    """Figures on the loaded ``page`` that did not load or are shown under :data:`THUMBNAIL_PX` wide."""
    problems = []
    for figure in page.evaluate(_FIGURES_JS):
        if not figure["loaded"]:
            problems.append(f"figure did not load, {figure['where']}: {figure['src']}")
        elif figure["shown_px"] < THUMBNAIL_PX:
            problems.append(
                f"figure shown {figure['shown_px']} px wide, a thumbnail (under {THUMBNAIL_PX} px), "
                f"{figure['where']}: {figure['src']}"
            )
    return problems


def layout_problems(page) -> list[str]:
    """The loaded ``page`` scrolling sideways, and what in its article spills past the column unscrolled."""
    measured = page.evaluate(_LAYOUT_JS)
    problems = []
    if measured["page_px"] - measured["window_px"] > SPILL_SLACK_PX:
        problems.append(
            f"the page scrolls sideways: {measured['page_px']} px wide in a {measured['window_px']} px window"
        )
    problems += [
        f"{s['tag']} reaches {s['excess_px']} px past the content column with no scroll box, {s['where']}: {s['text']!r}"
        for s in measured["spilled"]
    ]
    return problems


class Watch:
    """What a page's scripts report while pages are shown: errors, and the requests to other hosts.

    Requests outside ``base`` (which ``browser_page`` lets fail: a CDN's answer must not
    decide a check) are kept, once each, in :attr:`external`; the console errors they cause
    are not the book's, nor is the 404 of the browser's own ``/favicon.ico`` request (a
    site's root, not a page of the book, answers it once published). Errors thrown by a
    script (``pageerror``) or logged by one (``console.error``) are kept until :meth:`take`.
    """

    def __init__(self, page, base: str):
        self.base = base
        self.external: list[str] = []
        self._errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", self._page_error)

    def _request(self, request):
        if not request.url.startswith(self.base) and request.url not in self.external:
            self.external.append(request.url)

    def _console(self, message):
        if message.type != "error":
            return
        source = (message.location or {}).get("url") or ""
        if (source and not source.startswith(self.base)) or source == f"{self.base}/favicon.ico":
            return
        self._errors.append(f"console error: {message.text} ({source.rsplit('/', 1)[-1] or 'inline'})")

    def _page_error(self, error):
        self._errors.append(f"script error: {error}")

    def take(self) -> list[str]:
        """The errors reported since the last call (the page shown since then), and forget them."""
        errors, self._errors = self._errors, []
        return errors


@contextmanager
def watched(page, base: str):
    """A :class:`Watch` on ``page`` for the block."""
    watch = Watch(page, base)
    try:
        yield watch
    finally:
        page.remove_listener("request", watch._request)
        page.remove_listener("console", watch._console)
        page.remove_listener("pageerror", watch._page_error)


def reader_problems(page, watch: Watch, settle: bool = True) -> list[str]:
    """Everything above for the page just loaded: script errors, figures, then layout.

    ``settle``: first wait until the network has been idle for half a second, for a script's
    late error; the figures and the layout wait for what they need themselves (images
    decoded, fonts loaded), so a second look at pages already settled once can skip it.
    """
    if settle:
        page.wait_for_load_state("networkidle")
    return watch.take() + figure_problems(page) + layout_problems(page)


def search_results(page, base: str, query: str) -> list[str]:
    """The pages (paths under ``base``, e.g. ``book/closing.html``) the book's search page lists for ``query``.

    Sphinx's search runs in the page from ``searchindex.js``, offline; it writes its summary
    line once every result is listed, which is what this waits for.
    """
    from urllib.parse import quote, urljoin, urlsplit

    url = f"{base}/search.html?q={quote(query)}"
    page.goto(url, wait_until="load")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results .search-summary'); return s && s.innerText; }",
        timeout=15_000,
    )
    hrefs = page.eval_on_selector_all(
        "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))"
    )
    return list(dict.fromkeys(urlsplit(urljoin(url, href)).path.lstrip("/") for href in hrefs))


def title_word(title: str) -> str:
    """The word of ``title`` a reader would search for: its longest (the first of equals), letters only."""
    words = re.findall(r"[^\W\d_]{3,}", title)
    if not words:
        raise ValueError(f"no word of 3 letters or more in the title {title!r}")
    return max(words, key=len)


def search_misses(page, base: str, titles: dict[str, str]) -> list[str]:
    """Pages of ``titles`` (path under ``base`` -> its title) that a search for their :func:`title_word` misses."""
    misses = []
    for path, title in titles.items():
        word = title_word(title)
        found = search_results(page, base, word)
        if path not in found:
            misses.append(f"search for {word!r} (from the title {title!r}) does not list {path}; it lists {found}")
    return misses


EXTRA_PAGES = ("search.html", "genindex.html")  # Sphinx's own pages, not in the table of contents
CHAPTER_SHOT = "book/chapters/02_model1_plain_cnn.html"  # the chapter photographed beside the front page
CHAPTER_SHOT_SCREENS = 2  # its first two windows, where a reader starts


def _first_screens(page, path: Path, screens: int) -> Path:
    """A PNG of the first ``screens`` windows of what ``page`` shows (the top of a long page)."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": screens * height})
    return path


def walk_book(html: Path, screenshot_dir: Path) -> dict:
    """Show every page of the book built in ``html`` once at :data:`READER_WINDOWS` [0] and check it.

    Pages: the front page, every page its table of contents links to (``pages``, in that
    order) and :data:`EXTRA_PAGES`. Returns ``pages``; ``problems`` (path -> the lines of
    ``page_problems`` and :func:`reader_problems`, only for pages with any); ``readability``
    (path -> ``measure_readability``, table-of-contents pages); ``external`` (the requests to
    other hosts, blocked); ``redirect_toc`` (the sidebar's links once the book's root has
    redirected to the front page); ``front_tables`` (tables on the front page); ``seconds``.
    Screenshots, in ``screenshot_dir``: ``front_page.png`` (full length) and the first screens
    of :data:`CHAPTER_SHOT`, always; in ``problems/``, every page with a problem or an
    unreadable figure or output, full length (photographing every page would double the walk).
    """
    started = time.perf_counter()
    found = {"problems": {}, "readability": {}}
    shutil.rmtree(screenshot_dir / "problems", ignore_errors=True)  # a fixed page keeps no old picture
    with serve(html) as base, browser_page() as page, watched(page, base) as watch:
        page.set_viewport_size({"width": READER_WINDOWS[0], "height": WINDOW_HEIGHT})
        pages = book_pages(page, base)
        # some errors come only on the first page a reader opens (an empty localStorage)
        first_visit = [f"first visit: {line}" for line in watch.take()]
        for path in pages + list(EXTRA_PAGES):
            problems = page_problems(page, f"{base}/{path}") + reader_problems(page, watch)
            problems += first_visit if path == pages[0] else []
            if problems:
                found["problems"][path] = problems
            if path in pages:
                found["readability"][path] = measured = measure_readability(page)
                problems = problems or readability_offenders(measured)
            if problems:
                screenshot(page, screenshot_dir / "problems" / f"{Path(path).stem}.png")
            if path == pages[0]:
                screenshot(page, screenshot_dir / "front_page.png")
            if path == CHAPTER_SHOT:
                _first_screens(page, screenshot_dir / Path(path).with_suffix(".png").name, CHAPTER_SHOT_SCREENS)
        page.goto(f"{base}/index.html", wait_until="load")  # the root redirects to the front page
        page.wait_for_url("**/book/chapters/index.html", timeout=10_000)
        found.update(redirect_toc=toc_links(page), front_tables=page.locator("table").count())
    return {**found, "pages": pages, "external": watch.external, "seconds": time.perf_counter() - started}

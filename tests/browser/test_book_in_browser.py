"""The built book in a real (headless Chromium) browser.

Every page loads with no failed local request, every image has loaded, no
error cell or traceback shows, and the sidebar lists every chapter. The
checker is shown to catch a missing image and an error cell in a broken copy.
"""

import re
import time

from book_browser import browser_page, page_problems, serve, toc_links
from helpers import CHAPTERS

PAGES = (
    ["book/chapters/index.html", "book/dataset.html"]
    + [f"book/chapters/{name}.html" for name in CHAPTERS]
    + ["book/references.html", "search.html"]
)


def test_every_page_renders_cleanly_and_the_toc_lists_all_chapters(built_book):
    started = time.perf_counter()
    screenshot_dir = built_book.parent / "screenshots"
    screenshot_dir.mkdir(exist_ok=True)
    with serve(built_book) as base, browser_page() as page:
        for path in PAGES:
            assert page_problems(page, f"{base}/{path}") == [], path
        page.goto(f"{base}/index.html", wait_until="load")  # the root redirects to the front page
        page.wait_for_url("**/book/chapters/index.html", timeout=10_000)
        links = " ".join(toc_links(page))
        for path in PAGES[1:-2] + ["book/references.html"]:
            assert path.rsplit("/", 1)[-1] in links, f"{path} missing from the table of contents"
        assert page.locator("table").count() >= 1  # the results table renders as a table
        page.screenshot(path=str(screenshot_dir / "front_page.png"), full_page=True)
    print(
        f"browser check of {len(PAGES)} pages in {time.perf_counter() - started:.1f} s; "
        f"screenshot: {screenshot_dir / 'front_page.png'}"
    )


def test_the_checker_catches_a_missing_image(book_copy):
    page_path = book_copy / "book" / "chapters" / "02_model1_plain_cnn.html"
    src = re.search(r'<img[^>]*src="([^"]+)"', page_path.read_text()).group(1)
    (page_path.parent / src).unlink()
    with serve(book_copy) as base, browser_page() as page:
        problems = page_problems(page, f"{base}/book/chapters/02_model1_plain_cnn.html")
    assert any("image did not load" in p for p in problems)
    assert any("HTTP 404" in p for p in problems)


def test_the_checker_catches_an_error_cell(book_copy):
    page_path = book_copy / "book" / "chapters" / "03_model2_batchnorm.html"
    html = page_path.read_text().replace(
        "</main>", '<div class="output error"><pre>Traceback (most recent call last):\nValueError</pre></div></main>', 1
    )
    page_path.write_text(html)
    with serve(book_copy) as base, browser_page() as page:
        problems = page_problems(page, f"{base}/book/chapters/03_model2_batchnorm.html")
    assert "error output cell present" in problems and "traceback text present" in problems

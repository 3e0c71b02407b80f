"""The built book in a real (headless Chromium) browser, as a reader would see it.

Every page of the table of contents, the search page and the index load with no failed
local request, every image loaded, and no error cell or traceback; the sidebar lists every
chapter. At a 1280-px and an 800-px window (``reader_checks.READER_WINDOWS``) no page
scrolls sideways, nothing in an article reaches past the content column without a scroll
box of its own, every figure is loaded and wider than a thumbnail, and no script of the
book's throws or logs an error. Requests to other hosts (MathJax from a CDN) are blocked,
online or not, and listed once. The search page finds every chapter by a word of its
title, offline. Screenshots of the front page and of chapter 2 land in
``_build/screenshots/``. Each check is shown to catch its fault in a broken copy.
"""

import json
import re
import struct
from pathlib import Path

from book_browser import book_pages, browser_page, page_problems, screenshot, serve
from helpers import CHAPTERS
from reader_checks import (
    CHAPTER_SHOT,
    CHAPTER_SHOT_SCREENS,
    EXTRA_PAGES,
    READER_WINDOWS,
    WINDOW_HEIGHT,
    reader_problems,
    search_misses,
    watched,
)


def _png_size(path) -> tuple[int, int]:
    """(width, height) of a PNG file, read from its header; an error when it is not a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{path}:\n" + "\n".join(f"  {line}" for line in lines) for path, lines in problems.items())


def test_every_page_renders_cleanly_and_the_toc_lists_all_chapters(book_walk):
    pages = book_walk["pages"]
    for name in ["dataset", "closing", "references", "glossary", *CHAPTERS]:
        assert any(path.endswith(f"/{name}.html") for path in pages), f"{name} missing from the table of contents"
    assert not book_walk["problems"], (
        f"at a {READER_WINDOWS[0]}-px window (screenshots in _build/screenshots/problems/):\n"
        + _report(book_walk["problems"])
    )
    links = " ".join(book_walk["redirect_toc"])
    assert all(path.rsplit("/", 1)[-1] in links for path in pages[1:]), "the root does not lead to the front page"
    assert book_walk["front_tables"] >= 1  # the results table renders as a table
    print(
        f"browser check of {len(pages) + len(EXTRA_PAGES)} pages in {book_walk['seconds']:.1f} s; "
        f"blocked requests to other hosts: {', '.join(book_walk['external']) or 'none'}"
    )


def test_the_front_page_and_chapter_2_are_photographed(book_walk, built_book):
    shots = built_book.parent / "screenshots"
    assert _png_size(shots / "front_page.png")[0] == READER_WINDOWS[0]
    assert _png_size(shots / Path(CHAPTER_SHOT).with_suffix(".png").name) == (
        READER_WINDOWS[0],
        CHAPTER_SHOT_SCREENS * WINDOW_HEIGHT,
    )
    print(f"screenshots: {shots / 'front_page.png'}, {shots / Path(CHAPTER_SHOT).with_suffix('.png').name}")


def test_in_a_narrow_window_nothing_spills_and_every_figure_shows(built_book):
    """The checks again at the narrow window, where the theme has dropped its sidebars.

    The pages settled once in the wide walk (book_walk): here each is measured once loaded.
    """
    width = READER_WINDOWS[1]
    found: dict[str, list[str]] = {}
    with serve(built_book) as base, browser_page() as page, watched(page, base) as watch:
        page.set_viewport_size({"width": width, "height": WINDOW_HEIGHT})
        pages = book_pages(page, base)
        first_visit = [f"first visit: {line}" for line in watch.take()]
        for path in pages + list(EXTRA_PAGES):
            page.goto(f"{base}/{path}", wait_until="load")
            problems = reader_problems(page, watch, settle=False) + (first_visit if path == pages[0] else [])
            if problems:
                found[path] = problems
                screenshot(page, built_book.parent / "screenshots" / "problems" / f"{Path(path).stem}-{width}px.png")
    assert not found, f"at a {width}-px window (screenshots in _build/screenshots/problems/):\n{_report(found)}"


def _titles(html, names) -> dict[str, str]:
    """Path -> the page's title as its <h1> shows it, for ``names`` under book/chapters/."""
    titles = {}
    for name in names:
        path = f"book/chapters/{name}.html"
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", (html / path).read_text(), re.S).group(1)
        titles[path] = re.sub(r"<[^>]+>|¶", "", heading).strip()
    return titles


def test_the_search_page_finds_every_chapter_offline(built_book):
    titles = _titles(built_book, CHAPTERS)
    with serve(built_book) as base, browser_page() as page, watched(page, base):
        assert search_misses(page, base, titles) == []


# Broken on purpose, one fault a page: what each check must report there, and nothing else.
WIDE_TABLE = "<table style='width:2400px'><tr><td>a table wider than any column</td></tr></table>"
THROWS = "<script>console.error('the book logged this'); null.boom();</script>"


def _break(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _figures(path) -> list[str]:
    """The src of every figure (not an icon) on the page at ``path``."""
    return re.findall(r'<img alt="[^"]*" src="(\.\./\.\./_images/[^"]+)"', path.read_text())


def test_the_reader_checks_catch_a_wide_table_a_broken_or_tiny_figure_and_a_script_error(book_copy):
    chapters = book_copy / "book" / "chapters"
    _break(
        chapters / "03_model2_batchnorm.html",
        '<article class="bd-article">',
        '<article class="bd-article">' + WIDE_TABLE,
    )
    broken = _figures(chapters / "04_model3_dropout.html")[0]
    (chapters / broken).write_bytes(b"not a PNG")
    broken = broken.rsplit("/", 1)[-1]
    tiny = _figures(chapters / "05_model4_chexnet.html")[0]
    _break(chapters / "05_model4_chexnet.html", f'src="{tiny}"', f'style="width:120px" src="{tiny}"')
    _break(chapters / "06_evaluation.html", "</article>", THROWS + "</article>")
    pages = ["02_model1_plain_cnn", "03_model2_batchnorm", "04_model3_dropout", "05_model4_chexnet", "06_evaluation"]
    found = {}
    with serve(book_copy) as base, browser_page() as page, watched(page, base) as watch:
        # every check at the wide window; the narrow one has the same checks, shown on the wide table
        for width, names in ((READER_WINDOWS[0], pages), (READER_WINDOWS[1], pages[1:2])):
            page.set_viewport_size({"width": width, "height": WINDOW_HEIGHT})
            for name in names:
                watch.take()
                page.goto(f"{base}/book/chapters/{name}.html", wait_until="load")
                found[width, name[:2]] = reader_problems(page, watch)
    # what the untouched chapter 2 reports (nothing, unless the book itself has a fault, which
    # the tests above report) is on every page: only what the faults add is compared here
    common = set(found[READER_WINDOWS[0], "02"])
    found = {key: [line for line in lines if line not in common] for key, lines in found.items()}
    for width in READER_WINDOWS:
        wide = found[width, "03"]
        assert len(wide) == 2 and wide[0].startswith("the page scrolls sideways: "), wide
        assert re.match(
            r"table reaches \d+ px past the content column with no scroll box, page: 'a table wider", wide[1]
        )
    figure, tiny_figure, script = (found[READER_WINDOWS[0], chapter] for chapter in ("04", "05", "06"))
    assert len(figure) == 1 and re.match(rf"figure did not load, cell \d+: {broken}$", figure[0]), figure
    assert len(tiny_figure) == 1 and re.match(
        r"figure shown 120 px wide, a thumbnail \(under 300 px\), cell \d+: ", tiny_figure[0]
    ), tiny_figure
    assert script == [
        "console error: the book logged this (06_evaluation.html)",
        "script error: Cannot read properties of null (reading 'boom')",
    ]


def test_the_search_check_catches_a_chapter_missing_from_the_index(book_copy):
    index_file = book_copy / "searchindex.js"
    text = index_file.read_text()
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    gone = index["docnames"].index("book/chapters/02_model1_plain_cnn")
    for group in ("terms", "titleterms"):  # a term lists one page (an int) or several
        for term, pages in list(index[group].items()):
            kept = [p for p in ([pages] if isinstance(pages, int) else pages) if p != gone]
            index[group][term] = kept
    for title, places in list(index["alltitles"].items()):
        index["alltitles"][title] = [place for place in places if place[0] != gone]
    index_file.write_text(f"Search.setIndex({json.dumps(index)})")
    titles = _titles(book_copy, ["02_model1_plain_cnn", "03_model2_batchnorm"])
    with serve(book_copy) as base, browser_page() as page, watched(page, base):
        misses = search_misses(page, base, titles)
    assert len(misses) == 1, misses  # chapter 3 is still found
    assert re.match(
        r"search for '\w+' \(from the title '2\. Model 1: a plain CNN'\) does not list book/chapters/02_", misses[0]
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

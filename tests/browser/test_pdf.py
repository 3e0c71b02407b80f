"""`xray-book pdf` on a copy of the built book, in the browser the browser check drives.

The PDF's text holds every page's title (each on the sheet its bookmark opens) and
the citation; it has one bookmark per page of the table of contents, more sheets
than pages, every figure embedded, and no link into this machine's files. The
book's "whole book (.pdf)" link serves it. A copy with a missing figure makes the
command fail, naming the figure. Everything expected is read from the built HTML,
_toc.yml and CITATION.cff, not from the code under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
LINK_CLASS = "btn-download-book-pdf-button"  # sphinx-book-theme's class for book/_ext/pdf_link.py's button


def _toc_docnames() -> list[str]:
    """The pages _toc.yml lists, root first, in its order."""
    toc = yaml.safe_load((PROJECT / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


class _Page(HTMLParser):
    """A built page's first <h1> (without its "#" link), its article's figures, and its whole-book PDF links."""

    def __init__(self):
        super().__init__()
        self.title, self.figures, self.pdf_links = "", set(), []
        self._in_h1 = self._in_headerlink = self._h1_done = False
        self._in_article = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "article":
            self._in_article += 1
        if tag == "h1" and not self._h1_done:
            self._in_h1 = True
        if tag == "a" and "headerlink" in classes:
            self._in_headerlink = True
        if tag == "a" and LINK_CLASS in classes:
            self.pdf_links.append(attrs.get("href", ""))
        if tag == "img" and self._in_article and "_images/" in (attrs.get("src") or ""):
            self.figures.add(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "article":
            self._in_article -= 1
        if tag == "a":
            self._in_headerlink = False
        if tag == "h1" and self._in_h1:
            self._in_h1, self._h1_done = False, True

    def handle_data(self, data):
        if self._in_h1 and not self._in_headerlink:
            self.title += data


def _read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.title = _normal(page.title)
    return page


def _normal(text: str) -> str:
    """Text as compared here: ligatures (ﬁ) unfolded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _print(html: Path, output: Path) -> subprocess.CompletedProcess:
    """`xray-book pdf --html html --output output` in a fresh interpreter."""
    command = [sys.executable, "-m", "xray_utils.runner", "pdf", "--html", str(html), "--output", str(output)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=PROJECT)


@pytest.fixture(scope="module")
def printed(built_book, tmp_path_factory):
    """(the built book's copy, the PDF printed from it, its pypdf reader)."""
    import shutil

    from pypdf import PdfReader

    html = Path(shutil.copytree(built_book, tmp_path_factory.mktemp("pdf") / "html"))
    output = html.parent / "book.pdf"
    started = time.perf_counter()
    done = _print(html, output)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    reader = PdfReader(output)
    print(
        f"\nxray-book pdf: {len(reader.pages)} pages, {output.stat().st_size / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s\n{done.stdout.strip()}"
    )
    return html, output, reader


@pytest.fixture(scope="module")
def pages(printed) -> dict[str, _Page]:
    html, _, _ = printed
    return {docname: _read_page(html / f"{docname}.html") for docname in _toc_docnames()}


def _chapter_sheets(reader) -> list[range]:
    """The sheets of each bookmarked page, in order: from its bookmark's page to the next one's."""
    starts = [reader.get_destination_page_number(item) for item in reader.outline]
    return [range(a, b) for a, b in zip(starts, starts[1:] + [len(reader.pages)])]


def test_one_bookmark_per_page_in_the_order_of_the_contents_and_more_sheets_than_pages(printed, pages):
    _, _, reader = printed
    assert [_normal(item.title) for item in reader.outline] == [page.title for page in pages.values()]
    starts = [reader.get_destination_page_number(item) for item in reader.outline]
    assert starts == sorted(set(starts)) and starts[0] >= 1, f"bookmarks out of order or on the title page: {starts}"
    assert len(reader.pages) > len(pages)


def test_every_title_is_on_the_sheet_its_bookmark_opens_and_the_citation_on_the_title_page(printed, pages):
    _, _, reader = printed
    for sheets, (docname, page) in zip(_chapter_sheets(reader), pages.items()):
        assert page.title in _normal(reader.pages[sheets.start].extract_text()), f"{docname}: {page.title!r}"
    cff = yaml.safe_load((PROJECT / "CITATION.cff").read_text())
    front = _normal(" ".join(reader.pages[i].extract_text() for i in range(_chapter_sheets(reader)[0].start)))
    expected = [cff["title"], str(cff["version"]), cff["url"], str(cff["date-released"])[:4]]
    expected += [author.get("name") or author["family-names"] for author in cff["authors"]]
    assert [text for text in expected if _normal(text) not in front] == []
    names = ", ".join(
        author.get("name") or f"{author['given-names']} {author['family-names']}" for author in cff["authors"]
    )
    line = f"{names} ({expected[3]}). {cff['title']} (version {cff['version']}). {cff['url']}"  # APA's pattern
    assert _normal(line) in front
    assert "Contents" in front and all(page.title in front for page in pages.values())


def _image_objects(sheet) -> set[int]:
    """The image XObjects a sheet draws (their object numbers), without decoding them."""
    resources = sheet.get("/Resources") or {}
    xobjects = resources.get("/XObject") or {}
    found = set()
    for ref in xobjects.values():
        if ref.get_object().get("/Subtype") == "/Image":
            found.add(ref.idnum)
    return found


def test_every_figure_is_embedded(printed, pages):
    _, _, reader = printed
    with_figures = 0
    for sheets, (docname, page) in zip(_chapter_sheets(reader), pages.items()):
        embedded = set().union(*(_image_objects(reader.pages[i]) for i in sheets))
        assert len(embedded) >= len(page.figures), f"{docname}: {len(embedded)} images for {len(page.figures)} figures"
        with_figures += bool(page.figures)
    assert with_figures >= 5  # the chapters plot; a PDF without images would pass nothing above


def test_no_link_points_into_this_machine(printed):
    _, _, reader = printed
    local = []
    for number, sheet in enumerate(reader.pages):
        for annotation in sheet.get("/Annots") or []:
            action = annotation.get_object().get("/A") or {}
            if str(action.get("/URI", "")).startswith("file:"):
                local.append((number, action["/URI"]))
    assert local == []


def test_every_page_s_whole_book_link_serves_this_pdf(printed, pages):
    html, output, _ = printed
    for docname, page in pages.items():
        assert page.pdf_links, f"{docname}.html has no whole-book PDF link: rebuild the book (`xray-book build`)"
        for href in page.pdf_links:
            target = (html / docname).parent / unquote(href)
            assert target.resolve().is_relative_to(html.resolve()), f"{docname}: {href} leaves the book"
            assert target.is_file() and target.read_bytes() == output.read_bytes(), f"{docname}: {href}"


def test_a_missing_figure_stops_the_pdf_and_is_named(book_copy, tmp_path):
    chapter = book_copy / "book" / "chapters" / "01_data_exploration.html"
    figure = sorted(_read_page(chapter).figures)[0]
    (chapter.parent / figure).unlink()
    done = _print(book_copy, tmp_path / "broken.pdf")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {chapter}: 1 image(s) did not load") and Path(figure).name in line
    assert not (tmp_path / "broken.pdf").exists()

"""``xray-book pdf``: the built HTML book as one PDF, printed by the browser the browser check finds.

Every page the table of contents lists (``_toc.yml``, in its order) is opened from
disk and printed on its own by headless Chromium or Chrome (:func:`.browser.find_browser`;
nothing is downloaded), so each chapter starts on a new sheet. ``book/_static/print.css``
makes the pages fit paper: code wraps, folded cells are opened, buttons are hidden.
The sheets are merged with pypdf behind a title page (title, authors, version, how to
cite, the contents with page numbers); every sheet after it gets the chapter's title
and its page number, and the PDF's outline (bookmarks) has one entry per page of the book.

Why page by page rather than Sphinx's ``singlehtml`` builder: the PDF is made of the
very pages the HTML book publishes (and the browser check checks), from any built copy
(``--html``), with no second Sphinx build; page breaks between chapters come for free.

Nothing outside the book is fetched: every request that is not a file of the book is
refused. The book loads MathJax from a CDN, so its few formulas (chapter 7) print as
their TeX source set as code, e.g. ``1/\\sqrt{n}``; the title page says so when there are any.
"""

from __future__ import annotations

import html as html_text
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import project
from ..errors import XrayError
from ..paths import project_root
from .browser import CHROMIUM_FLAGS, find_browser

PDF_NAME = "xray-cnn-book.pdf"
# Under the HTML folder: where the book's "whole book (.pdf)" entry links (book/_ext/pdf_link.py).
DOWNLOAD_DIR = "_downloads"
PAPER = "A4"  # the size most of the book's readers print on
MARGINS = {"top": "16mm", "bottom": "20mm", "left": "14mm", "right": "14mm"}
PAGE_TIMEOUT_MS = 60_000  # one page's load and print; the longest chapter takes a few seconds

# Run in each loaded page before it is printed. Paper cannot be clicked: folded cells are
# opened, and links into the book (file: URLs of this machine) lose their target.
# Lazy images are made eager and decoded, so every figure is on the sheet.
_PREPARE_JS = r"""
async () => {
  const main = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  for (const d of document.querySelectorAll("details")) d.open = true;
  for (const a of document.querySelectorAll("a[href]")) if (a.protocol === "file:") a.removeAttribute("href");
  const imgs = Array.from(document.images);
  for (const i of imgs) i.loading = "eager";
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  for (const m of main.querySelectorAll(".math")) {
    m.textContent = m.textContent.trim().replace(/^\\[(\[]/, "").replace(/\\[)\]]$/, "").trim();
    m.classList.add("xray-tex");
  }
  const h1 = main.querySelector("h1");
  let title = "";
  if (h1) {
    const copy = h1.cloneNode(true);
    copy.querySelectorAll(".headerlink").forEach(e => e.remove());
    title = copy.textContent.replace(/\s+/g, " ").trim();
  }
  return {
    title,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
    figures: main.querySelectorAll("img").length,
    formulas: main.querySelectorAll(".math").length,
  };
}
"""


@dataclass
class PrintedPage:
    """One page of the book, printed: where from, its title, its part of the contents, its sheets."""

    docname: str
    title: str
    part: str | None
    pdf: Path
    sheets: int
    figures: int
    formulas: int


def default_html() -> Path:
    """The HTML book ``xray-book build`` writes."""
    return project_root() / "_build" / "html"


def default_output(html: Path) -> Path:
    """``<html>/../pdf/xray-cnn-book.pdf``: ``_build/pdf/`` beside the default ``_build/html``."""
    return Path(html).parent / "pdf" / PDF_NAME


def toc_pages(root: Path | None = None) -> list[tuple[str, str | None]]:
    """Every page ``_toc.yml`` lists, in reading order (the root first), each with its part's caption.

    Read with Jupyter Book's own parser, walked depth first, so nested entries come
    right after their parent, as in the book's sidebar.
    """
    from sphinx_external_toc.parsing import MalformedError, parse_toc_yaml

    path = (root or project_root()) / "_toc.yml"
    try:
        site_map = parse_toc_yaml(path)
    except (OSError, MalformedError) as exc:
        raise XrayError(f"cannot read the table of contents {path}: {exc}") from exc
    found: list[tuple[str, str | None]] = []

    def walk(docname: str, part: str | None) -> None:
        found.append((docname, part))
        for tree in site_map[docname].subtrees:
            for item in tree.items:
                if isinstance(item, str) and item in site_map:  # URL entries are not pages of the book
                    walk(item, tree.caption or part)

    walk(site_map.root.docname, None)
    return found


def check_built(html: Path, pages: list[tuple[str, str | None]]) -> None:
    """Raise :class:`XrayError` unless ``html`` holds a built page for every entry of ``pages``."""
    missing = [f"{docname}.html" for docname, _ in pages if not (html / f"{docname}.html").is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise XrayError(f"no built book at {html} ({shown} missing): run `xray-book build` first")


def citation_line(cite: project.Citation) -> str:
    """The citation as plain text, the front page's pattern (:meth:`xray_utils.project.Citation.text`)."""
    return f"{cite.authors} ({cite.year}). {cite.title} (version {cite.version}). {cite.url}"


def _only_book_files(route) -> None:
    """Let the page read the book's own files; refuse the network (MathJax's CDN above all)."""
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


@contextmanager
def printing_page(executable: str):
    """A headless browser page that prints with print media and reaches nothing but local files."""
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        except Error as exc:
            raise XrayError(f"cannot start the browser {executable}: {str(exc).splitlines()[0]}") from exc
        try:
            page = browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.route("**/*", _only_book_files)
            page.emulate_media(media="print")
            yield page
        finally:
            browser.close()


def print_page(page, html: Path, docname: str, part: str | None, folder: Path, css: str) -> PrintedPage:
    """Print the built ``docname`` to ``folder``; :class:`XrayError` if it has no title or an image fails."""
    from pypdf import PdfReader

    source = html / f"{docname}.html"
    page.goto(source.resolve().as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    page.add_style_tag(content=css)
    found = page.evaluate(_PREPARE_JS)
    if found["broken"]:
        raise XrayError(f"{source}: {len(found['broken'])} image(s) did not load, e.g. {found['broken'][0]}")
    if not found["title"]:
        raise XrayError(f"{source} has no <h1> title to put in the contents")
    target = folder / f"{docname.replace('/', '__')}.pdf"
    page.pdf(path=str(target), format=PAPER, margin=MARGINS, print_background=True)
    sheets = len(PdfReader(target).pages)
    return PrintedPage(docname, found["title"], part, target, sheets, found["figures"], found["formulas"])


def first_sheets(printed: list[PrintedPage]) -> list[int]:
    """The page number each printed page starts on, counting from 1 after the title page."""
    starts, number = [], 1
    for entry in printed:
        starts.append(number)
        number += entry.sheets
    return starts


_FRONT_CSS = """
@page { size: A4; margin: 25mm 22mm; }
body { font-family: sans-serif; color: #222; font-size: 11pt; line-height: 1.45; }
h1 { font-size: 24pt; line-height: 1.2; margin: 30mm 0 6mm; }
.authors { font-size: 14pt; margin: 0 0 2mm; }
.version { color: #555; margin: 0 0 14mm; }
h2 { font-size: 14pt; margin: 10mm 0 3mm; }
.cite { border-left: 3px solid #888; padding-left: 4mm; }
.contents { break-before: page; }
.contents h3 { font-size: 11pt; margin: 5mm 0 1mm; color: #555; }
.contents ol { list-style: none; padding: 0; margin: 0; }
.contents li { display: flex; gap: 3mm; margin: 1mm 0; }
.contents li .title { flex: 1; border-bottom: 1px dotted #aaa; }
.contents li .number { min-width: 9mm; text-align: right; }
.note { color: #555; font-size: 9.5pt; }
"""


def front_matter_html(printed: list[PrintedPage], cite: project.Citation) -> str:
    """The title page (title, authors, version, how to cite, licences) and the contents with page numbers."""
    esc = html_text.escape
    lines = [f"<html><head><meta charset='utf-8'><style>{_FRONT_CSS}</style></head><body>"]
    lines.append(f"<h1>{esc(cite.title)}</h1><p class='authors'>{esc(cite.authors)}</p>")
    lines.append(f"<p class='version'>Version {esc(cite.version)} · {esc(cite.url)}</p>")
    lines.append(f"<h2>How to cite</h2><p class='cite'>{esc(citation_line(cite))}</p>")
    lines.append(
        f"<p class='note'>Code: {project.CODE_LICENSE} licence. Text and figures: {project.CONTENT_LICENSE} "
        f"({project.CONTENT_LICENSE_URL}). The X-ray images are under neither: their sources' own terms "
        "apply (see “The dataset”).</p>"
    )
    if sum(entry.formulas for entry in printed):
        lines.append(
            "<p class='note'>This PDF is printed offline: its few formulas appear as their TeX source, "
            "e.g. <code>1/\\sqrt{n}</code>. The HTML book typesets them.</p>"
        )
    lines.append("<section class='contents'><h2>Contents</h2>")
    part, opened = None, False
    for entry, start in zip(printed, first_sheets(printed)):
        if not opened or entry.part != part:  # a new group under the part's caption (none for the front page)
            lines.append(("</ol>" if opened else "") + (f"<h3>{esc(entry.part)}</h3>" if entry.part else "") + "<ol>")
            part, opened = entry.part, True
        lines.append(f"<li><span class='title'>{esc(entry.title)}</span><span class='number'>{start}</span></li>")
    lines.append("</ol></section></body></html>")
    return "\n".join(lines)


def page_numbers_html(printed: list[PrintedPage]) -> str:
    """One A4 sheet per printed sheet, blank but for its footer: the page's title and the page number."""
    esc = html_text.escape
    sheets = []
    for entry, start in zip(printed, first_sheets(printed)):
        for number in range(start, start + entry.sheets):
            sheets.append(
                f"<div class='sheet'><div class='foot'><span>{esc(entry.title)}</span><span>{number}</span></div></div>"
            )
    css = (
        "@page { size: A4; margin: 0; } body { margin: 0; font-family: sans-serif; font-size: 8pt; color: #666; }"
        ".sheet { height: 296mm; position: relative; break-after: page; overflow: hidden; }"
        f".foot {{ position: absolute; left: {MARGINS['left']}; right: {MARGINS['right']}; bottom: 9mm;"
        " display: flex; justify-content: space-between; gap: 6mm; }"
    )
    return f"<html><head><meta charset='utf-8'><style>{css}</style></head><body>{''.join(sheets)}</body></html>"


def print_html(page, markup: str, target: Path) -> Path:
    """Print ``markup`` (a document with its own ``@page`` rules) to ``target``."""
    page.set_content(markup, wait_until="load")
    page.pdf(path=str(target), prefer_css_page_size=True, print_background=True)
    return target


def merge(front: Path, printed: list[PrintedPage], numbers: Path, output: Path, cite: project.Citation) -> int:
    """Write ``output``: the front matter, then every printed page with its footer and a bookmark; its page count."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(front, import_outline=False)
    first_book_sheet = len(writer.pages)
    for entry in printed:
        start = len(writer.pages)
        writer.append(entry.pdf, import_outline=False)
        writer.add_outline_item(title=entry.title, page_number=start)
    footers = PdfReader(numbers).pages
    if len(footers) != len(writer.pages) - first_book_sheet:
        raise XrayError(
            f"page numbering went wrong: {len(footers)} footers for {len(writer.pages) - first_book_sheet} pages"
        )
    for sheet, footer in zip(writer.pages[first_book_sheet:], footers):
        sheet.merge_page(footer)
        sheet.compress_content_streams()  # merging leaves it uncompressed: 11.8 MB instead of 7.1
    writer.add_metadata({"/Title": cite.title, "/Author": cite.authors, "/Creator": "xray-book pdf"})
    writer.page_mode = "/UseOutlines"  # viewers open with the bookmarks shown
    partial = output.with_name(output.name + ".partial")  # a reader never finds half a PDF
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as handle:
            writer.write(handle)
        partial.replace(output)
    except OSError as exc:
        raise XrayError(f"cannot write the PDF to {output}: {exc.strerror or exc}") from exc
    return len(writer.pages)


def _browser(executable: str | None) -> str:
    """``executable``, else the browser the browser check finds; :class:`XrayError` saying how to get one."""
    if executable:
        return executable
    try:
        found, where = find_browser()
    except FileNotFoundError as exc:  # XRAY_BROWSER names no executable
        raise XrayError(str(exc)) from exc
    if found is None:
        raise XrayError(where)
    return found


def write_pdf(html: Path | None = None, output: Path | None = None, browser: str | None = None) -> dict:
    """Print the book built in ``html`` to ``output`` and into ``<html>/_downloads/``; what was made.

    Returns ``{"output", "download", "pages", "chapters", "bytes", "seconds"}``.
    """
    started = time.perf_counter()
    html = Path(html) if html else default_html()
    output = Path(output) if output else default_output(html)
    if output.is_dir():
        raise XrayError(f"--output {output} is a folder: name the file, e.g. {output / PDF_NAME}")
    pages = toc_pages()
    check_built(html, pages)
    executable = _browser(browser)
    cite = project.citation()
    css = (project_root() / "book" / "_static" / "print.css").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="xray-pdf-") as tmp, printing_page(executable) as page:
        folder = Path(tmp)
        printed = [print_page(page, html, docname, part, folder, css) for docname, part in pages]
        front = print_html(page, front_matter_html(printed, cite), folder / "front.pdf")
        numbers = print_html(page, page_numbers_html(printed), folder / "numbers.pdf")
        count = merge(front, printed, numbers, output, cite)
    download = html / DOWNLOAD_DIR / PDF_NAME
    if download.resolve() != output.resolve():
        download.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(output, download)
    return {
        "output": output,
        "download": download,
        "pages": count,
        "chapters": len(printed),
        "bytes": output.stat().st_size,
        "seconds": time.perf_counter() - started,
    }


def pdf_command(html: Path | None = None, output: Path | None = None) -> int:
    """``xray-book pdf``: write the PDF and print one line saying what was made; the exit status."""
    made = write_pdf(html, output)
    print(
        f"The book as one PDF: {made['output']} ({made['chapters']} pages of the book on {made['pages']} sheets, "
        f"{made['bytes'] / 1e6:.1f} MB, {made['seconds']:.0f} s); its download link serves {made['download']}",
        flush=True,
    )
    return 0


def pdf_after_build(html: Path | None = None) -> int:
    """``xray-book all``'s last step: the PDF when a browser and the tools are here, else one line why not; 0.

    The HTML book is the main product: without a browser it stays built, and its
    "whole book (.pdf)" link waits for ``xray-book pdf`` (the publishing workflow runs it).
    """
    import importlib.util

    missing = [name for name in ("playwright", "pypdf") if importlib.util.find_spec(name) is None]
    try:
        executable, where = (
            (None, f"pip install 'xray-cnn-book[book]' ({', '.join(missing)})") if missing else find_browser()
        )
    except FileNotFoundError as exc:  # XRAY_BROWSER names no executable
        executable, where = None, str(exc)
    if executable is None:
        print(f"No PDF of the book (its download link stays empty until `xray-book pdf` runs): {where}", flush=True)
        return 0
    return pdf_command(html)

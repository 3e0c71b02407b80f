"""The built book is readable at a 1280-px window: no figure shrunk, no output wider than the column.

A figure (a PNG) drawn at under 0.6 of its natural width has text too small to read; an
output (printed text, a table) wider than the content column makes the reader scroll
sideways, scrollbar or not. Every page in the table of contents is measured in the one
walk of the book the browser tests share (the ``book_walk`` fixture), and a page that fails
is photographed (``_build/screenshots/problems/<page>.png``). The measurement is shown to
be right on a small page built here, whose sizes are known in advance.
"""

from pathlib import Path

from book_browser import SHRUNK_RATIO, browser_page, readability, readability_offenders, serve
from helpers import CHAPTERS, write_png


def test_every_page_has_readable_figures_and_no_output_wider_than_the_column(book_walk, built_book):
    for name in ["dataset", "closing", *CHAPTERS]:
        assert any(path.endswith(f"/{name}.html") for path in book_walk["readability"]), f"{name} not measured"
    offenders = {path: readability_offenders(measured) for path, measured in book_walk["readability"].items()}
    offenders = {path: lines for path, lines in offenders.items() if lines}
    report = "\n".join(f"{path}:\n" + "\n".join(f"  {line}" for line in lines) for path, lines in offenders.items())
    screenshots = built_book.parent / "screenshots" / "problems"
    assert not offenders, f"unreadable at a 1280-px window (screenshots in {screenshots}):\n{report}"


def _page(folder: Path, body: str) -> Path:
    """A page shaped like the book's: an article column 600 px wide holding ``body``."""
    write_png(folder / "wide.png", size=(1000, 50))
    write_png(folder / "small.png", size=(300, 50))
    (folder / "index.html").write_text(
        "<html><body style='margin:0'><main><article class='bd-article' style='width:600px;padding:0 20px'>"
        f"{body}</article></main></body></html>"
    )
    return folder


def test_the_measurement_finds_a_shrunk_figure_and_outputs_wider_than_the_column(browser, tmp_path):
    long_line = "x" * 400  # far wider than 600 px in any monospace font
    wide_cells = "".join(f"<td>column_{i}_value</td>" for i in range(30))
    folder = _page(
        tmp_path,
        "<div class='btn__icon-container'><img src='wide.png' style='width:20px'></div>"  # an icon: not a figure
        "<img src='wide.png' style='max-width:100%'>"  # 1000 px into 600 px: 0.6 of its size, kept
        "<img src='wide.png' style='width:400px'>"  # 0.4: shrunk
        "<img src='small.png'>"  # natural size
        "<div class='cell'><div class='cell_input'><pre style='overflow:auto'>" + long_line + "</pre></div>"
        "<div class='cell_output'><div class='output'><pre style='overflow:auto'>" + long_line + "</pre></div></div>"
        "<div class='cell_output'><div style='overflow-x:auto'><table><tr>" + wide_cells + "</tr></table></div></div>"
        "<div class='cell_output'><pre>short line</pre></div></div>"
        "<table><tr>" + wide_cells + "</tr></table>",  # a markdown table, no scroll box at all
    )
    with serve(folder) as base, browser_page() as page:
        measured = readability(page, f"{base}/index.html")
    assert [(f["natural_px"], f["rendered_px"]) for f in measured["figures"]] == [(1000, 600), (1000, 400), (300, 300)]
    assert [f["shrunk"] for f in measured["figures"]] == [False, True, False]
    assert abs(measured["min_ratio"] - 0.4) < 1e-6 and SHRUNK_RATIO == 0.6
    overflows = measured["overflows"]
    # the output pre (scrollbar), the table in its scroll box, the markdown table; not the code input
    assert [o["kind"] for o in overflows] == ["text", "table", "table"], overflows
    assert overflows[0]["text"] == "x" * 40 and overflows[1]["text"].startswith("column_0_value")
    assert all(o["box_px"] == 600 and o["content_px"] > 1200 for o in overflows), overflows
    assert measured["widest_overflow_px"] == max(o["content_px"] for o in overflows)


def test_a_page_that_fits_has_nothing_to_report(browser, tmp_path):
    folder = _page(
        tmp_path,
        "<img src='small.png'><div class='cell_output'><pre>a short line</pre>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
        # a bordered box as wide as the column: its border is not an overflow
        "<div class='admonition' style='border-left:4px solid red;margin:0'><p>a note</p></div></div>",
    )
    with serve(folder) as base, browser_page() as page:
        measured = readability(page, f"{base}/index.html")
    assert measured["overflows"] == [] and measured["widest_overflow_px"] == 0
    assert measured["min_ratio"] == 1.0 and readability_offenders(measured) == []

"""`xray-book pdf` without a browser or without a built book: one line saying what to do, exit 2.

No browser is started here: the machine is made bare (empty PATH, no Playwright
download, no macOS apps), the way tests/browser/test_browser_lookup.py does it.
The PDF itself is tested in a real browser by tests/browser/test_pdf.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from xray_utils.runner import browser, pdf
from xray_utils.runner.cli import main

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_book(tmp_path) -> Path:
    """A folder with a file for every page _toc.yml lists: what `xray-book pdf` checks before it prints."""
    html = tmp_path / "html"
    for docname, _ in pdf.toc_pages():
        page = html / f"{docname}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("<html><body><h1>a page</h1></body></html>")
    return html


def _one_error_line(capsys) -> str:
    """The command's only line on stderr, which must start with "error: "."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def test_without_a_browser_it_says_how_to_install_one_as_the_browser_check_does(bare_machine, fake_book, capsys):
    _, reason = browser.find_browser()
    assert main(["pdf", "--html", str(fake_book)]) == 2
    line = _one_error_line(capsys)
    assert line == f"error: {reason}"
    assert "apt-get install chromium" in line and "XRAY_BROWSER" in line
    assert not (fake_book / pdf.DOWNLOAD_DIR).exists()


def test_a_wrong_xray_browser_is_named(bare_machine, fake_book, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(browser.BROWSER_ENV, str(tmp_path / "no-such-chrome"))
    assert main(["pdf", "--html", str(fake_book)]) == 2
    assert (
        _one_error_line(capsys)
        == f"error: {browser.BROWSER_ENV}={tmp_path / 'no-such-chrome'} is not an executable file"
    )


def test_without_a_built_book_it_says_to_build_it_first(tmp_path, capsys):
    assert main(["pdf", "--html", str(tmp_path / "nothing")]) == 2
    line = _one_error_line(capsys)
    assert f"no built book at {tmp_path / 'nothing'}" in line and "run `xray-book build` first" in line
    assert "book/chapters/index.html" in line and "more missing" in line


def test_a_book_missing_one_page_names_that_page(fake_book, capsys):
    (fake_book / "book" / "glossary.html").unlink()
    assert main(["pdf", "--html", str(fake_book)]) == 2
    line = _one_error_line(capsys)
    assert "(book/glossary.html missing)" in line and "run `xray-book build` first" in line


def test_the_book_is_checked_before_the_browser(bare_machine, tmp_path, capsys):
    assert main(["pdf", "--html", str(tmp_path / "nothing")]) == 2
    assert "run `xray-book build` first" in _one_error_line(capsys)


def test_an_output_that_is_a_folder_is_refused(fake_book, tmp_path, capsys):
    assert main(["pdf", "--html", str(fake_book), "--output", str(tmp_path)]) == 2
    assert (
        _one_error_line(capsys)
        == f"error: --output {tmp_path} is a folder: name the file, e.g. {tmp_path / pdf.PDF_NAME}"
    )


def test_xray_book_all_without_a_browser_keeps_the_html_and_says_why_in_one_line(bare_machine, fake_book, capsys):
    _, reason = browser.find_browser()
    assert pdf.pdf_after_build(fake_book) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"No PDF of the book (its download link stays empty until `xray-book pdf` runs): {reason}"]


def test_a_browser_that_will_not_start_is_one_line(fake_book, monkeypatch, tmp_path, capsys):
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(browser.BROWSER_ENV, str(fake))
    browser.find_browser.cache_clear()
    try:
        assert main(["pdf", "--html", str(fake_book)]) == 2
    finally:
        browser.find_browser.cache_clear()
    assert _one_error_line(capsys).startswith(f"error: cannot start the browser {fake}: ")


def test_the_pages_come_in_the_order_of_toc_yml_with_their_part():
    toc = yaml.safe_load((PROJECT / "_toc.yml").read_text())
    listed = [(toc["root"], None)] + [(c["file"], p["caption"]) for p in toc["parts"] for c in p["chapters"]]
    assert pdf.toc_pages() == listed


def test_the_contents_number_the_pages_from_1_after_the_title_page():
    printed = [
        pdf.PrintedPage(f"d{i}", f"Title {i}", part, Path(f"{i}.pdf"), sheets, 0, 0)
        for i, (part, sheets) in enumerate([(None, 2), ("Part A", 3), ("Part A", 1), ("Part B", 4)])
    ]
    assert pdf.first_sheets(printed) == [1, 3, 6, 7]
    cite = pdf.project.Citation(authors="A. Author", title="A <Book>", version="9.9", year="2031", url="https://x.y/")
    front = pdf.front_matter_html(printed, cite)
    assert "A &lt;Book&gt;" in front and "A. Author (2031). A &lt;Book&gt; (version 9.9). https://x.y/" in front
    assert front.count("<h3>Part A</h3>") == 1 and front.count("<h3>Part B</h3>") == 1
    assert "<span class='title'>Title 2</span><span class='number'>6</span>" in front
    footers = pdf.page_numbers_html(printed)
    assert footers.count("class='sheet'") == 10 and "<span>Title 3</span><span>10</span>" in footers

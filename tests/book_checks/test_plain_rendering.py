"""The executed chapters read right without myst-nb: a plain `nbconvert --to html`, as JupyterLab or Colab shows them.

Every sentence that quotes this run's numbers is Markdown output of `glue.prose`
(xray_utils.page.Glue), which records the numbers it filled in; each of them must
appear in the plain rendering, and no `{glue` markup may be left anywhere.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from helpers import CHAPTERS
from nbconvert import HTMLExporter

EXECUTED = Path(__file__).resolve().parent.parent.parent / "book" / "chapters"


def _plain(text: str) -> str:
    """``text`` with HTML entities decoded and every run of whitespace one space."""
    return " ".join(html.unescape(text).split())


def _glued(notebook) -> dict[str, str]:
    quoted = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            quoted.update(output.get("metadata", {}).get("xray_book", {}).get("glued", {}))
    return quoted


@pytest.fixture(scope="module")
def exporter() -> HTMLExporter:
    return HTMLExporter(template_name="classic")


@pytest.mark.parametrize("name", CHAPTERS)
def test_a_plain_rendering_shows_the_numbers_and_no_glue_markup(name, exporter):
    path = EXECUTED / f"{name}.ipynb"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `xray-book run` first")
    notebook = nbformat.read(path, as_version=4)
    body, _ = exporter.from_notebook_node(notebook)
    assert "{glue" not in body, f"{name}: raw glue markup in the plain rendering"
    glued = _glued(notebook)
    # A glued value may be a sentence with inline Markdown (`code`, *emphasis*): compare words, not markup.
    text = _plain(re.sub(r"<[^>]+>", "", body))
    missing = {ref: shown for ref, shown in glued.items() if _plain(re.sub(r"[`*]", "", shown)) not in text}
    assert not missing, f"{name}: numbers the prose quotes but the plain rendering does not show: {missing}"


def test_the_book_s_chapters_quote_numbers_through_glue_prose():
    quoting = [name for name in CHAPTERS if _glued(nbformat.read(EXECUTED / f"{name}.ipynb", as_version=4))]
    assert len(quoting) == len(CHAPTERS), f"chapters without glued prose: {sorted(set(CHAPTERS) - set(quoting))}"

"""The built book's buttons: Colab and Binder open a chapter's committed twin; repository, issues
and "Suggest edit" open the one home, the edit link at the file a change is made in (a chapter's
reviewed ``notebooks/NN_x.py``, not the generated ``book/chapters`` copy)."""

import os
import re
from pathlib import Path

import pytest

from xray_utils import project

PROJECT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("XRAY_BOOK_HTML", PROJECT / "_build" / "html"))  # another build: set this


def _toc_pages() -> list[str]:
    """Every page of _toc.yml (the root included), as its document name."""
    text = (PROJECT / "_toc.yml").read_text()
    return sorted(set(re.findall(r"(?:root|file): (book/[\w./-]+)", text)))


def _toc_chapters() -> list[str]:
    """The book/chapters/* entries of _toc.yml (the root included)."""
    return [page for page in _toc_pages() if page.startswith("book/chapters/")]


def _page(page: str) -> str:
    html_file = HTML / f"{page}.html"
    if not html_file.is_file():
        pytest.fail(f"no page {html_file}: run `xray-book all` first")
    return html_file.read_text()


def _header_buttons(html: str) -> dict[str, str]:
    """``{button label: href}`` of the page header's link buttons (sphinx-book-theme's ``btn-<label>``)."""
    return dict(
        (label, href.replace("&amp;", "&"))
        for href, label in re.findall(r'<a href="([^"]*)"[^>]*?\s+class="btn btn-sm btn-([\w-]+)', html, re.S)
    )


@pytest.mark.parametrize("page", _toc_chapters())
def test_launch_buttons_open_the_notebook_twin(page):
    home = project.home()
    org_repo = home.owner_repo
    name = page.rsplit("/", 1)[1]
    assert (PROJECT / "notebooks" / f"{name}.ipynb").is_file()
    links = set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]*)"', _page(page)))
    assert links == {
        f"https://colab.research.google.com/github/{org_repo}/blob/{home.branch}/notebooks/{name}.ipynb",
        f"https://mybinder.org/v2/gh/{org_repo}/{home.branch}?urlpath=lab/tree/notebooks/{name}.ipynb",
    }


@pytest.mark.parametrize("page", _toc_pages())
def test_repository_issues_and_edit_buttons_open_the_one_home(page):
    home = project.home()
    buttons = _header_buttons(_page(page))
    assert buttons.get("source-repository-button") == home.repository
    assert buttons.get("source-issues-button", "").startswith(f"{home.repository}/issues/new?title="), buttons
    if page.startswith("book/chapters/"):
        source = f"notebooks/{page.rsplit('/', 1)[1]}.py"  # the reviewed source, not the executed copy
    else:
        source = f"{page}.md"
    assert buttons.get("source-edit-button") == f"{home.repository}/edit/{home.branch}/{source}", buttons
    assert (PROJECT / source).is_file(), f"the edit button of {page} opens {source}, which does not exist"

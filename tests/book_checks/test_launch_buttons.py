"""Every chapter page of the built book has Colab and Binder buttons that open its committed twin."""

import os
import re
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("XRAY_BOOK_HTML", PROJECT / "_build" / "html"))  # another build: set this


def _toc_chapters() -> list[str]:
    """The book/chapters/* entries of _toc.yml (the root included)."""
    text = (PROJECT / "_toc.yml").read_text()
    return sorted(set(re.findall(r"book/chapters/[\w.-]+", text)))


@pytest.mark.parametrize("page", _toc_chapters())
def test_launch_buttons_open_the_notebook_twin(page):
    html_file = HTML / f"{page}.html"
    if not html_file.is_file():
        pytest.fail(f"no page {html_file}: run `xray-book all` first")
    repo = yaml.safe_load((PROJECT / "_config.yml").read_text())["repository"]["url"]
    org_repo = repo.split("github.com/")[1]
    name = page.rsplit("/", 1)[1]
    assert (PROJECT / "notebooks" / f"{name}.ipynb").is_file()
    links = set(
        re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]*)"', html_file.read_text())
    )
    assert links == {
        f"https://colab.research.google.com/github/{org_repo}/blob/main/notebooks/{name}.ipynb",
        f"https://mybinder.org/v2/gh/{org_repo}/main?urlpath=lab/tree/notebooks/{name}.ipynb",
    }

import shutil
from pathlib import Path

import pytest
from book_browser import CHROMIUM

HTML = Path(__file__).resolve().parents[2] / "_build" / "html"


@pytest.fixture(scope="session")
def built_book() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `xray-book all` first")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make browser-check does it)")
    return HTML


@pytest.fixture
def book_copy(built_book, tmp_path) -> Path:
    """A throw-away copy of the built book to break on purpose."""
    return Path(shutil.copytree(built_book, tmp_path / "html"))

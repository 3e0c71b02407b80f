import shutil
from pathlib import Path

import pytest
from book_browser import find_browser

HTML = Path(__file__).resolve().parents[2] / "_build" / "html"


@pytest.fixture(scope="session")
def browser() -> str:
    """The browser the checks drive; without one they are skipped (never installed here, never as root)."""
    executable, where = find_browser()
    if executable is None:
        print(f"\nbrowser check skipped: {where}")
        pytest.skip(where)
    print(f"\nbrowser: {executable} ({where})")
    return executable


@pytest.fixture(scope="session")
def built_book(browser) -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `xray-book all` first")
    return HTML


@pytest.fixture
def book_copy(built_book, tmp_path) -> Path:
    """A throw-away copy of the built book to break on purpose."""
    return Path(shutil.copytree(built_book, tmp_path / "html"))

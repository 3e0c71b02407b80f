import shutil
from pathlib import Path

import pytest
from book_browser import browser_or_skip
from reader_checks import walk_book

HTML = Path(__file__).resolve().parents[2] / "_build" / "html"


@pytest.fixture(scope="session")
def browser() -> str:
    """The browser the checks drive; without one they are skipped, and fail when CI is set (nothing installed here)."""
    return browser_or_skip()


@pytest.fixture(scope="session")
def built_book(browser) -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `xray-book all` first")
    return HTML


@pytest.fixture(scope="session")
def book_walk(built_book) -> dict:
    """Every page of the built book shown once at the wide window, and what each check found there.

    One walk for the tests that read it (reader_checks.walk_book); it also leaves the
    screenshots in ``_build/screenshots/``.
    """
    return walk_book(built_book, built_book.parent / "screenshots")


@pytest.fixture
def book_copy(built_book, tmp_path) -> Path:
    """A throw-away copy of the built book to break on purpose."""
    return Path(shutil.copytree(built_book, tmp_path / "html"))

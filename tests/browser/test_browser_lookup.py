"""The browser check finds a browser without root, and skips (exit 0, reason printed) without one."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import book_browser
import pytest
from book_browser import BROWSER_ENV, find_browser

HERE = Path(__file__).resolve().parent


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No browser anywhere: an empty PATH, no macOS apps, no Playwright download, no XRAY_BROWSER."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-playwright-browsers"))
    monkeypatch.delenv(BROWSER_ENV, raising=False)
    monkeypatch.setattr(book_browser, "MACOS_APPS", ())
    find_browser.cache_clear()
    yield empty
    find_browser.cache_clear()


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_nothing_found_gives_none_and_the_reason(bare_machine):
    executable, reason = find_browser()
    assert executable is None
    assert reason.startswith("no Chromium or Chrome found (chromium, chromium-browser, google-chrome")
    assert "playwright install chromium" in reason and "XRAY_BROWSER" in reason


def test_any_of_the_usual_names_on_path_is_found(bare_machine):
    browser = _executable(bare_machine / "google-chrome")
    assert find_browser() == (str(browser), "google-chrome on PATH")


def test_xray_browser_wins_and_a_wrong_one_is_an_error(bare_machine, monkeypatch, tmp_path):
    _executable(bare_machine / "chromium")
    chosen = _executable(tmp_path / "my-chrome")
    monkeypatch.setenv(BROWSER_ENV, str(chosen))
    assert find_browser() == (str(chosen), BROWSER_ENV)
    find_browser.cache_clear()
    monkeypatch.setenv(BROWSER_ENV, str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="XRAY_BROWSER=.*missing is not an executable file"):
        find_browser()


def test_the_browser_check_skips_with_its_reason_and_exit_0_without_a_browser(tmp_path):
    """What `make browser-check` runs, on a PATH with no browser (and no apt-get, no root needed)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {
        **os.environ,
        "PATH": str(empty),
        "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "none"),
    }
    env.pop(BROWSER_ENV, None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-rs",
            "-p",
            "no:cacheprovider",
            str(HERE / "test_book_in_browser.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "browser check skipped: no Chromium or Chrome found" in out.stdout
    assert "3 skipped" in out.stdout and "SKIPPED" in out.stdout

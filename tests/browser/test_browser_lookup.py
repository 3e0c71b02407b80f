"""The browser check finds a browser without root; without one it skips (exit 0, reason printed), on CI it fails."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from book_browser import BROWSER_ENV, browser_or_skip, find_browser, in_ci

HERE = Path(__file__).resolve().parent


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
    env.pop("CI", None)  # on CI the same run fails instead (test_on_ci_a_missing_browser_fails_the_test)
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
    tests = len(re.findall(r"^def test_", (HERE / "test_book_in_browser.py").read_text(), re.M))
    assert f"{tests} skipped in" in out.stdout and "SKIPPED" in out.stdout  # every one, none failed


def test_without_a_browser_the_check_skips_and_says_how_to_install_one(bare_machine, capsys):
    with pytest.raises(pytest.skip.Exception) as skipped:
        browser_or_skip()
    reason = str(skipped.value)
    assert reason.startswith("no Chromium or Chrome found") and "apt-get install chromium" in reason
    assert f"{BROWSER_ENV}=/path/to/chrome" in reason
    assert f"browser check skipped: {reason}" in capsys.readouterr().out


def test_on_ci_a_missing_browser_fails_the_test(bare_machine, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(BaseException) as stopped:  # a skip here must fail this test, not skip it
        browser_or_skip()
    assert stopped.type is pytest.fail.Exception, stopped
    assert str(stopped.value).startswith("CI is set and the browser check cannot run: no Chromium or Chrome found")


def test_a_browser_found_is_driven_on_ci_or_not(bare_machine, monkeypatch):
    browser = _executable(bare_machine / "chromium")
    assert browser_or_skip() == str(browser)
    monkeypatch.setenv("CI", "true")
    assert browser_or_skip() == str(browser)


@pytest.mark.parametrize(
    "value, expected",
    [("true", True), ("1", True), ("yes", True), ("", False), ("0", False), ("false", False), ("No", False)],
)
def test_ci_is_any_value_but_the_usual_no(value, expected):
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False

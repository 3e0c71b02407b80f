"""Shared fixtures: real images from ../shared/data when present, small synthetic trees otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import make_tree, write_png  # noqa: F401  (write_png: re-exported for older imports)

PROJECT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("XRAY_SHARED_DATA", PROJECT.parent / "shared" / "data"))


@pytest.fixture(autouse=True, scope="session")
def _jax_cache_outside_the_project(tmp_path_factory):
    """Module-scoped fixtures train before the per-test fixtures run: keep JAX's compile cache in tmp."""
    previous = os.environ.get("XRAY_JAX_CACHE_DIR")
    os.environ["XRAY_JAX_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "jax-compilation")
    yield
    if previous is None:
        os.environ.pop("XRAY_JAX_CACHE_DIR", None)
    else:
        os.environ["XRAY_JAX_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def _isolated_paths(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and runs folder, and no XRAY_DATA_DIR from outside."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("XRAY_CACHE_DIR", str(cache))
    monkeypatch.setenv("XRAY_RUNS_DIR", str(tmp_path_factory.getbasetemp() / "runs"))
    monkeypatch.delenv("XRAY_DATA_DIR", raising=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real images (../shared/data); the test is skipped, with the reason, when absent."""
    if not (SHARED_DATA / "COVID-19_Radiography_Dataset").is_dir():
        pytest.skip(f"real images not found at {SHARED_DATA} (set XRAY_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_dataset(shared_data):
    return shared_data / "COVID-19_Radiography_Dataset"


@pytest.fixture
def tree_2021(tmp_path) -> Path:
    return make_tree(tmp_path / "data", "2021")


@pytest.fixture
def tree_2020(tmp_path) -> Path:
    return make_tree(tmp_path / "data", "2020")


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    from xray_utils.data import make_synthetic_dataset

    return make_synthetic_dataset(tmp_path_factory.mktemp("synthetic") / "set", per_class=24, image_size=64)


@pytest.fixture
def bare_machine(monkeypatch, tmp_path):
    """No browser anywhere: an empty PATH, no macOS apps, no Playwright download, no XRAY_BROWSER, no CI."""
    from xray_utils.runner import browser  # here, not at the top: importing the runner takes seconds

    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-playwright-browsers"))
    monkeypatch.delenv(browser.BROWSER_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(browser, "MACOS_APPS", ())
    browser.find_browser.cache_clear()
    yield empty
    browser.find_browser.cache_clear()

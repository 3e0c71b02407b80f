"""Where the project keeps its data, caches and run folders.

Paths never depend on the working directory of a notebook kernel: defaults are
taken relative to the project checkout (the folder holding ``pyproject.toml``
next to this package), falling back to the working directory for a plain
``pip install``. Each default can be moved with an environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "XRAY_DATA_DIR"
RUNS_ENV = "XRAY_RUNS_DIR"
CACHE_ENV = "XRAY_CACHE_DIR"
PROSE_ENV = "XRAY_PROSE"  # "myst" where xray-book executes a chapter for the book (see xray_utils.page.Glue)


def project_root() -> Path:
    """The source checkout this package lives in, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return here
    return Path.cwd()


def _from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else default


def default_data_dir() -> Path:
    """``$XRAY_DATA_DIR`` if set, else ``<project>/data``."""
    return _from_env(DATA_ENV, project_root() / "data")


def default_runs_dir() -> Path:
    """``$XRAY_RUNS_DIR`` if set, else ``<project>/runs``."""
    return _from_env(RUNS_ENV, project_root() / "runs")


def default_cache_dir() -> Path:
    """``$XRAY_CACHE_DIR`` if set, else ``<project>/.cache``."""
    return _from_env(CACHE_ENV, project_root() / ".cache")

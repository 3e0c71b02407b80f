"""Wall-time records: ``book/chapters/timings.json``, written by each run and build.

``xray-bench`` prints them; the scheduler reads the last run's chapter times to
start the longest chapters first.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..files import atomic_write
from . import chapters


def timings_file() -> Path:
    """Wall times of the last ``xray-book`` run (read by ``xray-bench``)."""
    return chapters.executed_dir() / "timings.json"


def previous_timings() -> dict[str, float]:
    """Seconds per chapter of the last run (empty when there is no readable record)."""
    try:
        return json.loads(timings_file().read_text()).get("chapters_s", {})
    except (OSError, ValueError):
        return {}


def record_timings(update: dict, replace: bool = True) -> None:
    """Write ``update`` as the record (``replace``), or merge it into the last one."""
    path = timings_file()
    record = {} if replace or not path.is_file() else json.loads(path.read_text())
    atomic_write(path, json.dumps({**record, **update}, indent=1))

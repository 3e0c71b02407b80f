"""Wall-time records: ``book/chapters/timings.json``, written by each run and build.

``xray-bench`` prints them (``--breakdown``: where each chapter's seconds went);
the scheduler reads the last run's chapter times to start the longest chapters
first. Besides each chapter's seconds, a run records when it started and, per
chapter, its wave, start and end (Unix times) and what its kernel's statement
clock logged (:mod:`.kernel_clock`): when the kernel was ready, when each cell
statement started, and each training run's phases.
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


def chapter_log(output_dir: Path, stem: str) -> Path:
    """Where the statement clock of chapter ``stem``'s kernel writes (hidden, beside its executed copy)."""
    return output_dir / f".{stem}.timings.jsonl"


def read_log(path: Path) -> dict:
    """A chapter's clock log as ``{"kernel": ready time, "statements": [[time, line], ...], "runs": [...]}``.

    Empty lists (and no ``kernel``) where there is no log; a line cut short by a killed kernel is skipped.
    """
    record: dict = {"statements": [], "runs": []}
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if "line" in event:
            record["statements"].append([event["t"], event["line"]])
        elif "run" in event:
            record["runs"].append({**event["run"], "t": event["t"]})
        elif "kernel" in event:
            record["kernel"] = event["t"]
    return record


def take_log(output_dir: Path, stem: str) -> dict:
    """:func:`read_log` of chapter ``stem``'s clock log, which is then removed."""
    path = chapter_log(output_dir, stem)
    record = read_log(path)
    path.unlink(missing_ok=True)
    return record


def record_timings(update: dict, replace: bool = True) -> None:
    """Write ``update`` as the record (``replace``), or merge it into the last one."""
    path = timings_file()
    record = {} if replace or not path.is_file() else json.loads(path.read_text())
    atomic_write(path, json.dumps({**record, **update}, indent=1))

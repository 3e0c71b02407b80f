"""The wall time of each phase of ``make test``, and of ``.ci/run``'s set-up: measured, recorded, printed.

``xray-bench --phases lint unit-tf ...`` (what ``make test`` runs) runs ``make
--no-print-directory TARGET`` for each target in turn, stops at the first one
that fails (returning its exit status), and records in
``.cache/test-phases.json`` the machine (its CPU model as ``lscpu`` names it,
its core count), when, and each phase's seconds; then prints the table.
``xray-bench`` prints the last record again. Phases that ran before the venv
existed (``.ci/run``: creating the venv, installing a browser) come in
``XRAY_SETUP_PHASES`` as ``name=seconds,name=seconds``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .errors import XrayError
from .files import atomic_write

SETUP_ENV = "XRAY_SETUP_PHASES"


def record_path(root: str | Path | None = None) -> Path:
    """Where the last ``make test``'s phases are recorded: ``<root>/.cache/test-phases.json`` (root: cwd)."""
    return Path(root or Path.cwd()) / ".cache" / "test-phases.json"


def cpu_model() -> str:
    """The CPU's model name as ``lscpu`` prints it (from ``/proc/cpuinfo``), else what Python knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def setup_phases(text: str | None) -> list[tuple[str, float]]:
    """``"venv=61,browser-install=8"`` -> ``[("venv", 61.0), ("browser-install", 8.0)]``; XrayError when malformed."""
    phases = []
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, _, seconds = item.partition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if not name.strip() or value < 0:
            raise XrayError(f"{SETUP_ENV}={text!r}: '{item}' is not name=seconds (e.g. venv=61,browser-install=8)")
        phases.append((name.strip(), value))
    return phases


def run_phases(targets: list[str], make: str = "make", root: str | Path | None = None) -> int:
    """Run each make target in turn, timed; record and print the phases. Returns the first failing exit status, or 0."""
    if not targets:
        raise XrayError("--phases needs at least one make target, e.g. --phases lint unit-tf")
    phases = setup_phases(os.environ.get(SETUP_ENV))
    started, status = time.time(), 0
    for target in targets:
        begun = time.perf_counter()
        status = subprocess.run([make, "--no-print-directory", target], cwd=root).returncode
        phases.append((target, time.perf_counter() - begun))
        if status:
            print(f"\nmake {target} failed (exit {status}): the later phases did not run.", file=sys.stderr)
            break
    record = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "complete": status == 0,
        "phases": [[name, round(seconds, 1)] for name, seconds in phases],
    }
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1) + "\n")
    print_phases(record)
    return status


def print_phases(record: dict) -> None:
    """The phases table of one record (see :func:`run_phases`)."""
    state = "" if record.get("complete", True) else ", stopped at a failure"
    print(
        f"\nPhases of `make test` ({record.get('started')}, {record.get('cpu')}, {record.get('cores')} cores{state}):"
    )
    total = 0.0
    for name, seconds in record.get("phases", []):
        total += seconds
        print(f"{name:>24} {seconds:>7.1f} s")
    print(f"{'total':>24} {total:>7.1f} s  ({total / 60:.1f} min)")


def print_last(root: str | Path | None = None) -> None:
    """The last recorded phases, or a line saying there are none."""
    path = record_path(root)
    if not path.is_file():
        print("\nPhases of `make test`: none recorded yet (`make test` records them).")
        return
    try:
        print_phases(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError):
        print(f"\nPhases of `make test`: {path} is not a record this version reads; `make test` writes a new one.")

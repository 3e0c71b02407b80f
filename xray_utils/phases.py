"""The wall time of each phase of ``make test``, and of ``.ci/run``'s set-up: measured, recorded, printed.

``xray-bench --phases lint unit-tf ...`` (what ``make test`` runs) runs ``make
--no-print-directory TARGET`` for each target in turn, stops at the first one
that fails (returning its exit status), and records in
``.cache/test-phases.json`` the machine (its CPU model as ``lscpu`` names it,
its core count), when, and each phase's seconds; then prints the table.
``xray-bench`` prints the last record again. Phases that ran before the venv
existed (``.ci/run``: creating the venv, installing a browser) come in
``XRAY_SETUP_PHASES`` as ``name=seconds,name=seconds``.

``a+b`` runs targets ``a`` and ``b`` at the same time, for phases that leave the
cores idle (the browser check mostly waits on Chromium): each one's output goes to
``.cache/phase-logs/<target>.log`` and is printed whole when both have ended, in
the order given, so the log reads as if they had run one after the other. Each
is recorded with its own seconds and, as ``a+b``, the pair's wall time; the
total counts the pair once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .errors import XrayError
from .files import atomic_write

SETUP_ENV = "XRAY_SETUP_PHASES"
RUNNING_ENV = "XRAY_PHASES_RUNNING"


def record_path(root: str | Path | None = None) -> Path:
    """Where the last ``make test``'s phases are recorded: ``<root>/.cache/test-phases.json`` (root: cwd)."""
    return Path(root or Path.cwd()) / ".cache" / "test-phases.json"


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
    from .spread import cpu_name  # lscpu's model name

    if not targets:
        raise XrayError("--phases needs at least one make target, e.g. --phases lint unit-tf")
    phases = setup_phases(os.environ.get(SETUP_ENV))
    started, status = time.time(), 0
    env = {**os.environ, RUNNING_ENV: "1"}  # xray-bench, run as a phase, leaves the unfinished record alone
    for phase in targets:
        begun, at = time.perf_counter(), len(phases)
        phases.append((phase, 0.0))  # a group first, its members after it
        if "+" in phase:
            statuses = _run_together(phase.split("+"), make, root, env, phases)
        else:
            statuses = [(phase, subprocess.run([make, "--no-print-directory", phase], cwd=root, env=env).returncode)]
        phases[at] = (phase, time.perf_counter() - begun)
        failed = [(target, code) for target, code in statuses if code]
        status = failed[0][1] if failed else 0
        if failed:
            names = ", ".join(f"make {t} failed (exit {code})" for t, code in failed)
            print(f"\n{names}: the later phases did not run.", file=sys.stderr)
            break
    record = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "complete": status == 0,
        "phases": [[name, round(seconds, 1)] for name, seconds in phases],
    }
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1) + "\n")
    print_phases(record)
    return status


def _run_together(
    targets: list[str], make: str, root: str | Path | None, env: dict, phases: list
) -> list[tuple[str, int]]:
    """Run ``targets`` at once, each into its log; print the logs in order; ``[(target, exit status)]``.

    Appends each target's ``(name, seconds)`` to ``phases``.
    """
    if any(not t for t in targets) or len(set(targets)) != len(targets):
        raise XrayError(f"--phases {'+'.join(targets)}: name each make target once, e.g. unit-jax+browser-check")
    logs = record_path(root).parent / "phase-logs"
    logs.mkdir(parents=True, exist_ok=True)
    running, begun = [], time.perf_counter()
    for target in targets:
        out = open(logs / f"{target}.log", "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        command = [make, "--no-print-directory", target]
        running.append(
            (target, out, subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT))
        )
    print(f"\nRunning at once: {', '.join(targets)} (their output follows when all have ended)", flush=True)
    ended: dict[str, tuple[float, int]] = {}
    while len(ended) < len(running):  # each one's own end, whichever ends first
        for target, out, process in running:
            if target not in ended and (code := process.poll()) is not None:
                ended[target] = (time.perf_counter() - begun, code)
                out.close()
        time.sleep(0.2)
    statuses = []
    for target, _, _ in running:
        phases.append((target, ended[target][0]))
        statuses.append((target, ended[target][1]))
    for target, _, _ in running:
        print(f"\n----- make {target} -----", flush=True)
        sys.stdout.write((logs / f"{target}.log").read_text(encoding="utf-8", errors="replace"))
        sys.stdout.flush()
    return statuses


def print_phases(record: dict) -> None:
    """The phases table of one record (see :func:`run_phases`)."""
    state = "" if record.get("complete", True) else ", stopped at a failure"
    print(
        f"\nPhases of `make test` ({record.get('started')}, {record.get('cpu')}, {record.get('cores')} cores{state}):"
    )
    rows = record.get("phases", [])
    together = {t for name, _ in rows if "+" in name for t in name.split("+")}
    width, total = max([24, *(len(name) for name, _ in rows)]), 0.0
    for name, seconds in rows:
        total += 0.0 if name in together else seconds  # targets run together count once, as their wall time
        print(f"{'  ' + name if name in together else name:>{width}} {seconds:>7.1f} s")
    print(f"{'total':>{width}} {total:>7.1f} s  ({total / 60:.1f} min)")


def print_last(root: str | Path | None = None) -> None:
    """The last recorded phases, or a line saying there are none; nothing while ``make test`` is timing them."""
    if os.environ.get(RUNNING_ENV):
        return
    path = record_path(root)
    if not path.is_file():
        print("\nPhases of `make test`: none recorded yet (`make test` records them).")
        return
    try:
        print_phases(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError):
        print(f"\nPhases of `make test`: {path} is not a record this version reads; `make test` writes a new one.")

"""Publish checks and the book build.

``xray-book build`` refuses to publish a book with a missing, failed or stale
chapter: every executed chapter the table of contents (``_toc.yml``) lists must
exist, have no error output, and have run with the same parameters as the
others. Then Jupyter Book 1.x builds ``_build/html`` strictly (warnings are
errors); it executes nothing itself (``execute_notebooks: "off"``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..errors import XrayError
from ..params import CHAPTER_PARAMETERS, ChapterParams, resolve_params
from . import chapters, timings
from .lock import output_lock


def toc_chapters() -> list[str]:
    """The executed chapters ``_toc.yml`` lists (``book/chapters/...``), root first.

    Read with Jupyter Book's own parser (``sphinx_external_toc``), so every entry
    the book will build is seen, however deeply nested.
    """
    from sphinx_external_toc.parsing import MalformedError, parse_toc_yaml

    path = chapters.project_root() / "_toc.yml"
    try:
        site_map = parse_toc_yaml(path)
    except (OSError, MalformedError) as exc:
        raise XrayError(f"cannot read the table of contents {path}: {exc}") from exc
    return [name for name in site_map if name.startswith("book/chapters/")]


def effective_parameters(injected: dict) -> ChapterParams:
    """The parameters a chapter ran with, from what papermill injected (see :func:`xray_utils.params.collect`).

    ``{"profile": ..., "overrides": {...}}`` and names set one by one both resolve
    to every chapter parameter, so chapters are compared value by value however
    they were given.
    """
    named = {k: v for k, v in injected.items() if k in CHAPTER_PARAMETERS and k != "profile"}
    return resolve_params(injected.get("profile", "quick"), {**(injected.get("overrides") or {}), **named})


def check_executed() -> list[str]:
    """Problems that make the executed chapters unfit to publish (empty list: fine)."""
    import nbformat

    problems, seen_params = [], {}
    for entry in toc_chapters():
        path = chapters.project_root() / f"{entry}.ipynb"
        if not path.is_file():
            problems.append(f"{path.name} is missing: run `xray-book run` first")
            continue
        notebook = nbformat.read(path, as_version=4)
        meta = notebook.metadata.get("papermill", {})
        if meta.get("exception"):
            problems.append(f"{path.name} failed when it was executed; fix it and run again")
        elif not meta.get("end_time") or any(
            c.get("metadata", {}).get("papermill", {}).get("status") in ("running", "pending") for c in notebook.cells
        ):
            problems.append(f"{path.name} did not finish (its kernel or xray-book was stopped); run it again")
        for index, cell in enumerate(notebook.cells):
            if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
                problems.append(f"{path.name} has an error output in cell {index}")
        if meta.get("parameters"):
            try:
                seen_params[path.name] = effective_parameters(meta["parameters"])
            except XrayError as exc:
                problems.append(f"{path.name} was executed with parameters that are not valid now ({exc}); run again")
    for name in CHAPTER_PARAMETERS:
        values = {json.dumps(p.to_dict()[name]) for p in seen_params.values()}
        if len(values) > 1:
            problems.append(
                f"chapters were executed with different values of {name} ({', '.join(sorted(values))}): "
                "stale chapters from an earlier run? Run all chapters again."
            )
    return problems


def build(strict: bool = True) -> int:
    """Build the HTML book into ``_build/html`` (``strict``: warnings are errors); the exit status."""
    root = chapters.project_root()
    with output_lock(chapters.executed_dir(), "xray-book build"):
        problems = check_executed()
        if problems:
            print("Not building the book:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--path-output", str(root)]
        if strict:
            command += ["-W", "-n", "--keep-going"]
        started = time.perf_counter()
        status = subprocess.call(command, env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"})
        seconds = time.perf_counter() - started
        print(
            f"Book build {'finished' if status == 0 else 'FAILED'} in {seconds:.0f} s: "
            f"{root / '_build' / 'html' / 'index.html'}",
            flush=True,
        )
        if status == 0:
            timings.record_timings({"book_build_s": seconds}, replace=False)
    return status

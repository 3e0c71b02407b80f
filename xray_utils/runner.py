"""``xray-book``: run the chapters through papermill, then build the Jupyter Book.

    xray-book run   [--profile quick] [--set epochs=3 ...] [--only 02 ...] [--timeout 1800]
    xray-book build
    xray-book all   (run, then build)

Chapters are the jupytext ``notebooks/NN_*.py`` files (the reviewed source), run
in name order with the profile's parameters (plus ``--set`` overrides) and
written, executed, to ``book/chapters/`` where the book reads them. Progress
(which chapter, which cell, each training epoch) streams to the terminal. The
first failing chapter stops the run: its executed copy, traceback included, is
kept, the failing cell is named, and the exit status is 1. ``build`` refuses to
publish a book with a missing, failed or stale chapter.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from .config import CHAPTER_PARAMETERS, available_profiles, chapter_params, load_profile, parse_overrides
from .errors import XrayError
from .paths import CACHE_ENV, DATA_ENV, RUNS_ENV, project_root

DEFAULT_TIMEOUT_S = 1800  # per cell; the full profile's longest cell trains one model for 50 epochs
KERNEL = "python3"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def executed_dir() -> Path:
    return project_root() / "book" / "chapters"


def chapter_sources() -> list[Path]:
    """The chapter scripts ``notebooks/NN_*.py`` in order, then the front page ``index.py``.

    The front page runs last because it shows the results the chapters produced.
    """
    numbered = sorted(notebooks_dir().glob("[0-9][0-9]_*.py"))
    front = notebooks_dir() / "index.py"
    return numbered + ([front] if front.is_file() else [])


def _select(chapters: list[Path], only: list[str] | None) -> list[Path]:
    if not only:
        return chapters
    chosen = [c for c in chapters if any(c.stem.startswith(o) or c.stem == o for o in only)]
    if not chosen:
        names = ", ".join(c.stem for c in chapters)
        raise XrayError(f"--only {' '.join(only)} matches no chapter; chapters: {names}")
    return chosen


def _as_notebook(source: Path):
    """Read a jupytext ``.py`` into a notebook with a kernelspec papermill can use."""
    import jupytext

    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    return notebook


def _declared_parameters(notebook) -> set[str]:
    for cell in notebook.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return {line.split("=")[0].strip() for line in cell.source.splitlines()
                    if "=" in line and not line.lstrip().startswith("#")}
    return set()


def run_chapter(source: Path, params: dict, timeout: int, output_dir: Path) -> Path:
    """Execute one chapter with papermill; return the executed notebook's path."""
    import nbformat
    import papermill

    notebook = _as_notebook(source)
    declared = _declared_parameters(notebook)
    output = output_dir / f"{source.stem}.ipynb"
    staged_input = output_dir / f".{source.stem}.input.ipynb"
    nbformat.write(notebook, staged_input)
    try:
        papermill.execute_notebook(
            str(staged_input), str(output),
            parameters={k: v for k, v in params.items() if k in declared},
            kernel_name=KERNEL, cwd=str(source.parent), log_output=True, progress_bar=False,
            execution_timeout=timeout, report_mode=False,
        )
    finally:
        staged_input.unlink(missing_ok=True)
        _hide_injected_parameters_like_the_original(output)
    return output


def _hide_injected_parameters_like_the_original(path: Path) -> None:
    """papermill's injected-parameters cell inherits the parameters cell's remove-* tags."""
    import nbformat

    if not path.is_file():
        return
    notebook = nbformat.read(path, as_version=4)
    tags_of = [set(c.get("metadata", {}).get("tags", [])) for c in notebook.cells]
    hidden = next((t & {"remove-cell", "remove-input"} for t in tags_of if "parameters" in t), set())
    injected = [c for c, t in zip(notebook.cells, tags_of) if "injected-parameters" in t]
    if hidden and injected:
        for cell in injected:
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | hidden)
        nbformat.write(notebook, path)


def _absolutize_paths(params: dict) -> None:
    """Kernels run in notebooks/: make relative paths from the caller's directory absolute."""
    for name in (DATA_ENV, RUNS_ENV, CACHE_ENV):
        value = os.environ.get(name, "").strip()
        if value and value.lower() != "synthetic":
            os.environ[name] = str(Path(value).expanduser().resolve())
    for name in ("data_dir", "runs_dir"):
        value = params.get(name)
        if value and str(value).lower() != "synthetic":
            params[name] = str(Path(value).expanduser().resolve())


def run(profile: str = "quick", overrides: list[str] | None = None, only: list[str] | None = None,
        timeout: int = DEFAULT_TIMEOUT_S) -> int:
    """Run the chapters; return a process exit status (0 ok, 1 a chapter failed)."""
    import papermill

    params = chapter_params(**{**load_profile(profile), **parse_overrides(overrides or [])})
    _absolutize_paths(params)
    chapters = _select(chapter_sources(), only)
    output_dir = executed_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    print(f"Running {len(chapters)} chapter(s) with profile '{profile}': "
          + ", ".join(f"{k}={v}" for k, v in params.items() if k != "profile"), flush=True)
    timings = {}
    for number, source in enumerate(chapters, start=1):
        print(f"\n=== [{number}/{len(chapters)}] {source.stem} ===", flush=True)
        started = time.perf_counter()
        try:
            output = run_chapter(source, params, timeout, output_dir)
        except papermill.PapermillExecutionError as exc:
            print(f"\nFAILED: chapter {source.stem} ({source}) at cell {exc.cell_index} "
                  f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
                  f"The executed copy, with the traceback, is at "
                  f"{output_dir / (source.stem + '.ipynb')}. The book was not built.", file=sys.stderr)
            return 1
        timings[source.stem] = time.perf_counter() - started
        print(f"=== {source.stem} done in {timings[source.stem]:.0f} s -> {output}", flush=True)
    print("\nChapter wall times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
          + f"; total {sum(timings.values()):.0f} s", flush=True)
    return 0


def _toc_chapters() -> list[str]:
    import yaml

    toc = yaml.safe_load((project_root() / "_toc.yml").read_text())
    found = [toc["root"]]
    for part in toc.get("parts", []) + [toc]:
        for entry in part.get("chapters", []):
            found.append(entry["file"])
    return [f for f in dict.fromkeys(found) if f.startswith("book/chapters/")]


def check_executed() -> list[str]:
    """Problems that make the executed chapters unfit to publish (empty list: fine)."""
    import nbformat

    problems, seen_params = [], {}
    for entry in _toc_chapters():
        path = project_root() / f"{entry}.ipynb"
        if not path.is_file():
            problems.append(f"{path.name} is missing: run `xray-book run` first")
            continue
        notebook = nbformat.read(path, as_version=4)
        meta = notebook.metadata.get("papermill", {})
        if meta.get("exception"):
            problems.append(f"{path.name} failed when it was executed; fix it and run again")
        for index, cell in enumerate(notebook.cells):
            if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
                problems.append(f"{path.name} has an error output in cell {index}")
        seen_params[path.name] = meta.get("parameters", {})
    for name in CHAPTER_PARAMETERS:
        values = {json.dumps(p[name]) for p in seen_params.values() if name in p}
        if len(values) > 1:
            problems.append(f"chapters were executed with different values of {name} ({', '.join(sorted(values))}): "
                            "stale chapters from an earlier run? Run all chapters again.")
    return problems


def build(strict: bool = True) -> int:
    """Build the HTML book into ``_build/html`` (warnings are errors)."""
    problems = check_executed()
    if problems:
        print("Not building the book:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(project_root()), "--path-output",
               str(project_root())]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    started = time.perf_counter()
    status = subprocess.call(command, env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    print(f"Book build {'finished' if status == 0 else 'FAILED'} in {time.perf_counter() - started:.0f} s: "
          f"{project_root() / '_build' / 'html' / 'index.html'}", flush=True)
    return status


def tidy_twins(paths: list[str]) -> None:
    """Drop execution timestamps and number cell ids, so re-running a twin leaves no diff noise."""
    import nbformat

    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for number, cell in enumerate(notebook.cells):
            cell.metadata.pop("execution", None)
            cell["id"] = f"cell-{number:03d}"
        nbformat.write(notebook, path)


class _ProgressFilter(logging.Filter):
    """Keep papermill's progress readable: cell starts, printed text and epochs; not figure reprs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Ending Cell") or message.startswith("<Figure size")
                    or message.startswith("Input notebook:") or message.startswith("Output notebook:"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xray-book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "all"):
        command = sub.add_parser(name, help="execute the chapters" + (" then build the book" if name == "all" else ""))
        command.add_argument("--profile", default="quick", help=f"one of: {', '.join(available_profiles())}")
        command.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                             help=f"override a parameter ({', '.join(CHAPTER_PARAMETERS)})")
        command.add_argument("--only", nargs="+", help="run only these chapters (e.g. 01 06)")
        command.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds per cell")
    sub.add_parser("build", help="build the HTML book from the executed chapters")
    tidy = sub.add_parser("tidy", help="strip execution timestamps from notebooks (used by `make twins`)")
    tidy.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("papermill").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ProgressFilter())
    for noisy in ("traitlets", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "build":
            return build()
        if args.command == "tidy":
            tidy_twins(args.notebooks)
            return 0
        status = run(args.profile, args.overrides, args.only, args.timeout)
        if status == 0 and args.command == "all":
            status = build()
        return status
    except XrayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Finished runs are kept; the chapter in progress is incomplete.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``xray-book``: run the chapters through papermill, then build the Jupyter Book.

    xray-book run   [--profile quick] [--set epochs=3 ...] [--only 02 ...] [--timeout 1800] [--jobs 2]
    xray-book build
    xray-book all   (run, then build)
    xray-book train [--profile full] [--only m1 m4] [--set ...]   (training only: no Jupyter needed)

Chapters are the jupytext ``notebooks/NN_*.py`` files (the reviewed source), run
with the profile's parameters (plus ``--set`` overrides) and written, executed,
to ``book/chapters/`` where the book reads them: first those that train (01-05),
then those that read finished runs (06 on, the front page last), ``--jobs`` at a
time (default 2 on 2 or more cores, each kernel with its share of the cores). Progress
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
            return {
                line.split("=")[0].strip()
                for line in cell.source.splitlines()
                if "=" in line and not line.lstrip().startswith("#")
            }
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
            str(staged_input),
            str(output),
            parameters={k: v for k, v in params.items() if k in declared},
            kernel_name=KERNEL,
            cwd=str(source.parent),
            log_output=True,
            progress_bar=False,
            execution_timeout=timeout,
            report_mode=False,
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


def _reads_runs_only(source: Path) -> bool:
    """Chapters that read the model chapters' runs (evaluation, front page) must run after them."""
    text = source.read_text()
    return "chapter.load_runs(" in text or "chapter.study_results(" in text


def _previous_timings() -> dict[str, float]:
    try:
        return json.loads(timings_file().read_text()).get("chapters_s", {})
    except (OSError, ValueError):
        return {}


def _thread_limits(jobs: int) -> dict[str, str]:
    """Environment for kernels that share the CPU cores ``jobs`` ways (empty for one job).

    Depends on ``jobs`` and the core count only, never on which chapters run, so
    a chapter re-run alone trains exactly as it did in the full run.
    """
    if jobs <= 1:
        return {}
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    return {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads}


def default_jobs() -> int:
    """2 chapters at a time where there are 2 cores or more (measured on 2 cores: ~30 % less wall time)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def run(
    profile: str = "quick",
    overrides: list[str] | None = None,
    only: list[str] | None = None,
    timeout: int = DEFAULT_TIMEOUT_S,
    jobs: int = 1,
) -> int:
    """Run the chapters; return a process exit status (0 ok, 1 a chapter failed).

    Chapters that train (01-05) run first, ``jobs`` at a time, longest first
    (by the last run's times); then those that only read finished runs (06 on).
    With ``jobs`` > 1 each kernel gets an equal share of the cores (see
    :func:`_thread_limits`); the first failure stops the run once the chapters
    already started have finished.
    """
    params = chapter_params(**{**load_profile(profile), **parse_overrides(overrides or [])})
    if not isinstance(jobs, int) or jobs < 1:
        raise XrayError(f"--jobs {jobs} is not allowed: use a whole number >= 1")
    _absolutize_paths(params)
    chapters = _select(chapter_sources(), only)
    output_dir = executed_dir()
    output_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"Running {len(chapters)} chapter(s) with profile '{profile}', {jobs} at a time: "
        + ", ".join(f"{k}={v}" for k, v in params.items() if k != "profile"),
        flush=True,
    )
    limits = _thread_limits(jobs)
    saved_env = {name: os.environ.get(name) for name in limits}
    os.environ.update(limits)  # inherited by every kernel started below
    previous, timings, run_started = _previous_timings(), {}, time.perf_counter()
    try:
        for wave in ([c for c in chapters if not _reads_runs_only(c)], [c for c in chapters if _reads_runs_only(c)]):
            if jobs > 1:  # longest first; without a record, the later (bigger-model) chapters first
                wave = sorted(wave[::-1], key=lambda c: -previous.get(c.stem, 0))
            failure = _run_wave(wave, params, timeout, output_dir, jobs, timings, len(chapters))
            if failure is not None:
                source, exc = failure
                print(
                    f"\nFAILED: chapter {source.stem} ({source}) at cell {exc.cell_index} "
                    f"(execution count {exc.exec_count}): {exc.ename}: {exc.evalue}\n"
                    f"The executed copy, with the traceback, is at "
                    f"{output_dir / (source.stem + '.ipynb')}. The book was not built.",
                    file=sys.stderr,
                )
                return 1
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    timings = {c.stem: timings[c.stem] for c in chapters if c.stem in timings}
    print(
        "\nChapter wall times: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
        + f"; total {sum(timings.values()):.0f} s",
        flush=True,
    )
    _record_timings(
        {
            "profile": profile,
            "overrides": list(overrides or []),
            "jobs": jobs,
            "data": params["data_dir"] or os.environ.get(DATA_ENV) or "(default)",
            "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
            "cpu_count": os.cpu_count(),
            "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
            "chapters_s": timings,
            "wall_s": time.perf_counter() - run_started,
        }
    )
    return 0


def train(
    profile: str = "quick",
    overrides: list[str] | None = None,
    only: list[str] | None = None,
    steps_per_execution: int = 1,
) -> int:
    """Train the runs the model chapters would train (``only``: some models); 0 when all finished."""
    from .train_runs import train_all

    params = chapter_params(**{**load_profile(profile), **parse_overrides(overrides or [])})
    if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
        raise XrayError(f"--steps-per-execution {steps_per_execution} is not allowed: use a whole number >= 1")
    _absolutize_paths(params)
    train_all(params, only, steps_per_execution=steps_per_execution)
    return 0


def _run_wave(wave: list[Path], params: dict, timeout: int, output_dir: Path, jobs: int, timings: dict, total: int):
    """Run ``wave`` with up to ``jobs`` kernels at once; ``(source, error)`` of the first failure, or None."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import papermill

    failures, started_count, done_before = [], [], len(timings)

    def one(source: Path) -> None:
        if failures:
            return
        if threading.current_thread() is not threading.main_thread():  # names the log prefix
            threading.current_thread().name = source.stem.split("_")[0]
        started_count.append(source)
        print(f"\n=== [{len(started_count) + done_before}/{total}] {source.stem} ===", flush=True)
        started = time.perf_counter()
        try:
            output = run_chapter(source, params, timeout, output_dir)
        except papermill.PapermillExecutionError as exc:
            failures.append((source, exc))
            return
        timings[source.stem] = time.perf_counter() - started
        print(f"=== {source.stem} done in {timings[source.stem]:.0f} s -> {output}", flush=True)

    if jobs == 1:
        for source in wave:
            one(source)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, wave))
    return failures[0] if failures else None


def timings_file() -> Path:
    """Wall times of the last ``xray-book`` run (read by ``xray-bench``)."""
    return executed_dir() / "timings.json"


def _record_timings(update: dict, replace: bool = True) -> None:
    path = timings_file()
    record = {} if replace or not path.is_file() else json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**record, **update}, indent=1))


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
            problems.append(
                f"chapters were executed with different values of {name} ({', '.join(sorted(values))}): "
                "stale chapters from an earlier run? Run all chapters again."
            )
    return problems


def build(strict: bool = True) -> int:
    """Build the HTML book into ``_build/html`` (warnings are errors)."""
    problems = check_executed()
    if problems:
        print("Not building the book:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    command = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(project_root()),
        "--path-output",
        str(project_root()),
    ]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    started = time.perf_counter()
    status = subprocess.call(command, env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    seconds = time.perf_counter() - started
    print(
        f"Book build {'finished' if status == 0 else 'FAILED'} in {seconds:.0f} s: "
        f"{project_root() / '_build' / 'html' / 'index.html'}",
        flush=True,
    )
    if status == 0:
        _record_timings({"book_build_s": seconds}, replace=False)
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


class _ChapterFormatter(logging.Formatter):
    """Prefix lines from chapters running side by side with the chapter's number."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.threadName == "MainThread" else f"[{record.threadName}] {text}"


class _ProgressFilter(logging.Filter):
    """Keep papermill's progress readable: cell starts, printed text and epochs; not figure reprs."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("Ending Cell")
            or message.startswith("<Figure size")
            or message.startswith("Input notebook:")
            or message.startswith("Output notebook:")
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xray-book", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "all"):
        command = sub.add_parser(name, help="execute the chapters" + (" then build the book" if name == "all" else ""))
        command.add_argument("--profile", default="quick", help=f"one of: {', '.join(available_profiles())}")
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"override a parameter ({', '.join(CHAPTER_PARAMETERS)})",
        )
        command.add_argument("--only", nargs="+", help="run only these chapters (e.g. 01 06)")
        command.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds per cell")
        command.add_argument(
            "--jobs",
            type=int,
            default=default_jobs(),
            help="chapters run at once, sharing the cores (default: %(default)s here)",
        )
    trainer = sub.add_parser("train", help="train the model chapters' runs only (for GPU machines; no Jupyter)")
    trainer.add_argument("--profile", default="quick", help=f"one of: {', '.join(available_profiles())}")
    trainer.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"override a parameter ({', '.join(CHAPTER_PARAMETERS)})",
    )
    trainer.add_argument("--only", nargs="+", help="train only these models (m1 m2 m3 m4)")
    trainer.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        metavar="N",
        help="batches per compiled call (speed only; fewer host round-trips on a GPU)",
    )
    sub.add_parser("build", help="build the HTML book from the executed chapters")
    tidy = sub.add_parser("tidy", help="strip execution timestamps from notebooks (used by `make twins`)")
    tidy.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_ChapterFormatter("%(message)s"))
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
        if args.command == "train":
            return train(args.profile, args.overrides, args.only, args.steps_per_execution)
        status = run(args.profile, args.overrides, args.only, args.timeout, args.jobs)
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

"""``xray-book``: run the chapters through papermill, then build the Jupyter Book.

    xray-book run   [--profile quick] [--set epochs=3 ...] [--only 02 ...] [--timeout 1800] [--jobs 2]
    xray-book build
    xray-book all   [--pdf never|auto|always]   (run, then build; the PDF too with --pdf auto/always)
    xray-book pdf   [--html DIR] [--output PATH]   (the built book as one PDF: _build/pdf/xray-cnn-book.pdf)
    xray-book train [--profile full] [--only m1 m4] [--set ...]   (training only: no Jupyter needed)
    xray-book evidence [--profile full] [--only m1 m4] [--set ...]   (chapter 8's tests of finished runs, as numbers)
    xray-book tidy  notebooks/*.ipynb   (strip execution timestamps from the twins)
    xray-book download [--data-dir DIR]   (the real dataset from Kaggle: no Jupyter, no account)
    xray-book --version   (this release's version, from pyproject.toml)

Progress (which chapter, which cell, each training epoch) streams to the
terminal. The first failing chapter stops the run: its executed copy, traceback
included, is kept, the failing cell is named, and the exit status is 1. Bad
arguments, or a second ``xray-book`` on the same output folder, exit with 2
before anything runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .. import project
from ..errors import XrayError
from ..params import CHAPTER_PARAMETERS, available_profiles, parse_overrides, resolve_params
from . import chapters
from .book import build
from .lock import output_lock
from .pdf import pdf_after_build, pdf_command
from .schedule import DEFAULT_TIMEOUT_S, default_jobs, run
from .twins import tidy_twins


def train(
    profile: str = "quick",
    overrides: list[str] | None = None,
    only: list[str] | None = None,
    steps_per_execution: int = 1,
) -> int:
    """Train the runs the model chapters would train (``only``: some models); 0 when all finished."""
    from ..plan import train_all

    params = resolve_params(profile, parse_overrides(overrides or []))
    if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
        raise XrayError(f"--steps-per-execution {steps_per_execution} is not allowed: use a whole number >= 1")
    train_all(params, only, steps_per_execution=steps_per_execution)
    return 0


def download_dataset(data_dir: str | None = None) -> int:
    """Fetch the COVID-19 Radiography Database with kagglehub and link it into ``data_dir``; 0 when done."""
    from ..data import download

    target = download(data_dir)
    print(f"The COVID-19 Radiography Database is linked into {target}: the chapters find it there.")
    return 0


def evidence(profile: str = "quick", overrides: list[str] | None = None, only: list[str] | None = None) -> int:
    """Write chapter 8's evidence into every finished run that has its model (``only``: some models); 0 when done."""
    from ..evidence import make_evidence

    make_evidence(resolve_params(profile, parse_overrides(overrides or [])), only)
    return 0


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


def _add_profile_options(command: argparse.ArgumentParser) -> None:
    """``--profile`` and ``--set``: the same for every command that resolves chapter parameters."""
    command.add_argument("--profile", default="quick", help=f"one of: {', '.join(available_profiles())}")
    command.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help=f"override a parameter ({', '.join(CHAPTER_PARAMETERS)})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xray-book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {project.version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "all"):
        command = sub.add_parser(name, help="execute the chapters" + (" then build the book" if name == "all" else ""))
        _add_profile_options(command)
        command.add_argument("--only", nargs="+", help="run only these chapters (e.g. 01 06)")
        command.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds per cell")
        command.add_argument(
            "--jobs",
            type=int,
            default=default_jobs(),
            help="chapters run at once, sharing the cores (default: %(default)s here)",
        )
        if name == "all":
            # Printing takes 20-45 s, so plain `xray-book all` leaves it out; `make book` and `make test` ask (auto).
            command.add_argument(
                "--pdf",
                choices=("never", "auto", "always"),
                default="never",
                help="print the built book as a PDF too: auto when a browser is found, always or fail",
            )
    trainer = sub.add_parser("train", help="train the model chapters' runs only (for GPU machines; no Jupyter)")
    _add_profile_options(trainer)
    trainer.add_argument("--only", nargs="+", help="train only these models (m1 m2 m3 m4)")
    trainer.add_argument(
        "--steps-per-execution",
        type=int,
        default=1,
        metavar="N",
        help="batches per compiled call (speed only; fewer host round-trips on a GPU)",
    )
    prover = sub.add_parser("evidence", help="chapter 8's held-out, occlusion and Grad-CAM numbers of finished runs")
    _add_profile_options(prover)
    prover.add_argument("--only", nargs="+", help="only these models (m1 m2 m3 m4)")
    sub.add_parser("build", help="build the HTML book from the executed chapters")
    printer = sub.add_parser("pdf", help="print the built book as one PDF with the browser the browser check finds")
    printer.add_argument("--html", type=Path, help="the built book to print (default: _build/html)")
    printer.add_argument("--output", type=Path, help="where to write it (default: <html>/../pdf/xray-cnn-book.pdf)")
    downloader = sub.add_parser("download", help="fetch the real dataset from Kaggle with kagglehub (no account)")
    downloader.add_argument("--data-dir", help="where to link it (default: $XRAY_DATA_DIR, else ./data)")
    tidy = sub.add_parser("tidy", help="strip execution timestamps from notebooks (used by `make twins`)")
    tidy.add_argument("notebooks", nargs="+")
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_ChapterFormatter("%(message)s"))
    logging.getLogger("papermill").setLevel(logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_ProgressFilter())
    for noisy in ("traitlets", "asyncio", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# What `run`, `all`, `build` and `tidy` import: the [book] extra (the core package has no Jupyter stack).
BOOK_MODULES = {"run": ("papermill", "nbformat", "jupytext", "ipykernel"), "build": ("jupyter_book", "nbformat")}
BOOK_MODULES.update({"all": BOOK_MODULES["run"] + BOOK_MODULES["build"], "tidy": ("nbformat",)})
BOOK_MODULES["pdf"] = ("sphinx_external_toc", "playwright", "pypdf")  # _toc.yml's order, the browser, the merge


def missing_book_tools(command: str) -> list[str]:
    """The modules of the [book] extra that ``command`` needs and this environment lacks."""
    import importlib.util

    def absent(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is None
        except ImportError:  # an import hook that refuses it
            return True

    return [name for name in BOOK_MODULES.get(command, ()) if absent(name)]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    missing = missing_book_tools(args.command)
    if missing:
        print(
            f"error: `xray-book {args.command}` needs the book's tools, which this environment lacks "
            f"({', '.join(missing)}): pip install 'xray-cnn-book[book]'",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "build":
            return build()
        if args.command == "tidy":
            tidy_twins(args.notebooks)
            return 0
        if args.command == "pdf":
            return pdf_command(args.html, args.output)
        if args.command == "download":
            return download_dataset(args.data_dir)
        if args.command == "evidence":
            return evidence(args.profile, args.overrides, args.only)
        if args.command == "train":
            return train(args.profile, args.overrides, args.only, args.steps_per_execution)
        if args.command == "run":
            return run(args.profile, args.overrides, args.only, args.timeout, args.jobs)
        with output_lock(chapters.executed_dir(), "xray-book all"):  # no other run between this run and its build
            status = run(args.profile, args.overrides, args.only, args.timeout, args.jobs)
            status = build() if status == 0 else status
            if status or args.pdf == "never":
                return status
            return pdf_after_build() if args.pdf == "auto" else pdf_command(None, None)
    except XrayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted. Finished runs are kept; the chapter in progress is incomplete.", file=sys.stderr)
        return 130

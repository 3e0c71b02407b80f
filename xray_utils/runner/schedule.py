"""Run the chapters: in which order, how many at once, with which share of the cores.

Two waves: the chapters that train (01-05) first, then those that only read the
finished runs (``reads_runs`` in their header, see :mod:`.chapters`; 06 on and
the front page). ``jobs`` chapters run at once, longest first by the last run's
times within each wave, each kernel with an equal share of the cores. A reader
starts when a kernel slot is free and every chapter of the first wave has
ended, or earlier, once every run this build plans (:func:`planned_run_prefixes`)
has been published by one of them: each trained run announces itself in its
kernel's clock log (:mod:`.kernel_clock`), so a slot that the first wave no
longer needs is not left idle while its last chapter draws figures. Reused runs
announce nothing: then readers wait for the whole first wave. The first failure
stops the run once the chapters already started have finished; a reader still
waiting never starts.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ..errors import XrayError
from ..files import remove_quietly
from ..params import SYNTHETIC, ChapterParams, parse_overrides, resolve_params
from ..paths import CACHE_ENV, DATA_ENV, PROSE_ENV, RUNS_ENV
from . import chapters, interrupt, timings
from .execute import run_chapter
from .lock import output_lock

DEFAULT_TIMEOUT_S = 1800  # per cell; the full profile's longest cell trains one model for 50 epochs
POLL_S = 0.5  # how often a waiting reader looks at the first wave's clock logs


def default_jobs() -> int:
    """2 chapters at a time where there are 2 cores or more (measured on 2 cores: ~30 % less wall time)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def thread_limits(jobs: int) -> dict[str, str]:
    """Environment for kernels that share the CPU cores ``jobs`` ways (empty for one job).

    Depends on ``jobs`` and the core count only, never on which chapters run, so
    a chapter re-run alone trains exactly as it did in the full run.
    """
    if jobs <= 1:
        return {}
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    return {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads}


def planned_run_prefixes(params: ChapterParams) -> set[str]:
    """``{"m1-study-", ...}``: the start of every run folder name (model, protocol) this build's chapters train."""
    from ..config import STUDY_MODELS

    return {f"{model}-{protocol}-" for model in STUDY_MODELS for protocol in params.protocols_for(model)}


def published_runs(output_dir: Path, clocks: dict, stems: list[str]) -> list[str]:
    """Names of the runs chapters ``stems`` announced: from the finished ones' clocks, the running ones' logs."""
    names = []
    for stem in stems:
        runs = clocks.get(stem, {}).get("runs")
        if runs is None:  # still running (or its log not yet taken): read its live log
            runs = timings.read_log(timings.chapter_log(output_dir, stem))["runs"]
        names += [run.get("run", "") for run in runs]
    return names


def kernel_environment(jobs: int) -> dict[str, str]:
    """What each chapter's kernel adds to this process's environment: thread limits, absolute paths, prose for the book.

    Kernels run in ``notebooks/``: a relative ``XRAY_DATA_DIR`` (or runs, cache)
    is made absolute from this process's working directory first.
    """
    env = {**thread_limits(jobs), PROSE_ENV: "myst"}  # the prose keeps its MyST roles for Jupyter Book
    for name in (DATA_ENV, RUNS_ENV, CACHE_ENV):
        value = os.environ.get(name, "").strip()
        if value and value.lower() != SYNTHETIC:
            env[name] = str(Path(value).expanduser().resolve())
    return env


def run(
    profile: str = "quick",
    overrides: list[str] | None = None,
    only: list[str] | None = None,
    timeout: int = DEFAULT_TIMEOUT_S,
    jobs: int = 1,
) -> int:
    """Run the chapters; return a process exit status (0 ok, 1 a chapter failed).

    Raises :class:`XrayError`, before running anything, for bad arguments, a
    chapter whose header is wrong, or an output folder another ``xray-book`` is using.
    """
    params = resolve_params(profile, parse_overrides(overrides or []))
    if not isinstance(jobs, int) or jobs < 1:
        raise XrayError(f"--jobs {jobs} is not allowed: use a whole number >= 1")
    selected = chapters.select(chapters.chapter_sources(), only)
    reading = [source for source in selected if chapters.reads_runs(source)]
    waves = ([c for c in selected if c not in reading], reading)
    output_dir = chapters.executed_dir()
    with output_lock(output_dir, "xray-book run"):
        _remove_strays(output_dir)
        print(
            f"Running {len(selected)} chapter(s) with profile '{profile}', {jobs} at a time: "
            + ", ".join(f"{k}={v}" for k, v in params.to_dict().items() if k != "profile"),
            flush=True,
        )
        previous, seconds, run_started = timings.previous_timings(), {}, time.perf_counter()
        started_at, clocks = time.time(), {}  # Unix times, comparable with the kernels' (see timings)
        env = kernel_environment(jobs)
        if jobs > 1:  # longest first; without a record, the later (bigger-model) chapters first
            waves = tuple(sorted(wave[::-1], key=lambda c: -previous.get(c.stem, 0)) for wave in waves)
        for index, wave in enumerate(waves):
            clocks.update({c.stem: {"wave": index} for c in wave})
        schedule = _Schedule(waves, planned_run_prefixes(params), output_dir, clocks)
        failure = _run_chapters(schedule, params, timeout, output_dir, jobs, env, seconds, len(selected), clocks)
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
        seconds = {c.stem: seconds[c.stem] for c in selected if c.stem in seconds}
        print(
            "\nChapter wall times: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items())
            + f"; total {sum(seconds.values()):.0f} s",
            flush=True,
        )
        timings.record_timings(
            {
                "profile": profile,
                "overrides": list(overrides or []),
                "jobs": jobs,
                "data": params.data_dir or os.environ.get(DATA_ENV) or "(default)",
                "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
                "cpu_count": os.cpu_count(),
                "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                "chapters_s": seconds,
                "wall_s": time.perf_counter() - run_started,
                "started": started_at,
                "chapters": {stem: clocks[stem] for stem in seconds},
            }
        )
    return 0


def _remove_strays(output_dir: Path) -> None:
    """Staged inputs and unfinished copies of chapters whose run was killed (this process holds the folder's lock)."""
    patterns = (".*.input.ipynb", ".*.ipynb.running-*", ".*.timings.jsonl")  # the last: kernels' clock logs
    for stray in [path for pattern in patterns for path in output_dir.glob(pattern)]:
        print(f"note: removing {stray.name}, left by a run that was stopped", flush=True)
        remove_quietly(stray)


class _Schedule:
    """Which chapter may start: the first wave at once, a reader once the first wave is done or its runs are out."""

    def __init__(self, waves: tuple[list[Path], list[Path]], prefixes: set[str], output_dir: Path, clocks: dict):
        self.trainers, self.readers = waves
        self.prefixes, self.output_dir, self.clocks = prefixes, output_dir, clocks

    def order(self) -> list[Path]:
        return [*self.trainers, *self.readers]

    def readers_may_start(self) -> str | None:
        """Why readers may start now (a note for the log), or None while they must wait."""
        stems = [c.stem for c in self.trainers]
        running = [stem for stem in stems if "end" not in self.clocks[stem]]
        if not running:
            return ""
        names = published_runs(self.output_dir, self.clocks, stems)
        if self.prefixes and all(any(name.startswith(p) for name in names) for p in self.prefixes):
            return f" (every run it reads is published; {', '.join(running)} still running)"
        return None


@interrupt.kernels_killed_on_ctrl_c()
def _run_chapters(
    schedule: _Schedule,
    params: ChapterParams,
    timeout: int,
    output_dir: Path,
    jobs: int,
    env: dict[str, str],
    seconds: dict,
    total: int,
    clocks: dict,
):
    """Run the chapters with up to ``jobs`` kernels at once; ``(source, error)`` of the first failure, or None.

    Fills ``seconds`` (per chapter) and ``clocks`` (per chapter: start, end, its kernel's clock log and,
    for a reader, ``ready``: when it was allowed to start).
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import papermill

    failures, crashed, started_count = [], [], []
    readers = set(schedule.readers)

    def stop() -> bool:
        return bool(failures or crashed) or interrupt.stopping()

    def one(source: Path) -> None:
        if stop():
            return
        if threading.current_thread() is not threading.main_thread():  # names the log prefix
            threading.current_thread().name = source.stem.split("_")[0]
        note = ""
        if source in readers:
            while (note := schedule.readers_may_start()) is None:
                if stop():
                    return
                time.sleep(POLL_S)
            if stop():  # a trainer failed: a reader never starts
                return
            clocks[source.stem]["ready"] = time.time()
        started_count.append(source)
        print(f"\n=== [{len(started_count)}/{total}] {source.stem} ==={note}", flush=True)
        started, began = time.perf_counter(), time.time()
        try:
            output = run_chapter(source, params, timeout, output_dir, env)
        except papermill.PapermillExecutionError as exc:
            failures.append((source, exc))
            clocks[source.stem]["end"] = time.time()  # ended: readers stop waiting on it
            return
        except BaseException:  # anything else propagates, as before; a waiting reader gives up
            crashed.append(source)
            raise
        seconds[source.stem] = time.perf_counter() - started
        log = timings.take_log(output_dir, source.stem)
        clocks[source.stem].update(start=began, **log)
        clocks[source.stem]["end"] = time.time()  # last: a reader reads "runs" once "end" is there
        print(f"=== {source.stem} done in {seconds[source.stem]:.0f} s -> {output}", flush=True)

    if jobs == 1:
        for source in schedule.order():
            one(source)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, schedule.order()))
    return failures[0] if failures else None

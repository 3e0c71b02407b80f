"""``xray-bench`` / ``python -m xray_utils.bench``: speed figures for this machine.

Three tables:

* data path: cold and warm load time and peak memory (RSS) for decoding a
  dataset (``--data``, default ``$XRAY_DATA_DIR``) at each size and channel count;
* models: training and inference throughput (images/s, after a one-step
  warm-up that pays for tracing and compilation, reported as set-up) of each
  model at the quick and full profiles' input sizes under each installed Keras
  backend (TensorFlow, JAX, PyTorch), on the same seeded uint8 batches and
  batch size;
* end to end: each chapter's and the book build's wall time in the quick
  profile, from the last ``xray-book`` run, or measured now with
  ``--end-to-end`` (which rebuilds the book in place, about 5 minutes).

Then the phases of the last ``make test`` (:mod:`xray_utils.phases`: ``--phases
TARGET...`` runs and times them).

``--breakdown`` prints one other table instead: where each chapter's seconds went
in the last ``xray-book`` run (``--executed DIR``: the run that executed into
DIR; with ``--end-to-end``, a quick build measured now). Every figure is
measured during that run, none estimated: papermill times each cell; each
kernel's statement clock (:mod:`xray_utils.runner.kernel_clock`) times each
top-level statement of a cell, so a cell that imports and then loads data is
split where one begins; each trained run reports its phases
(:data:`xray_utils.training.RUN_EVENT`); the runner records when each chapter
started and ended. Per chapter, in seconds:

* start: the runner's staging and the kernel's start, up to the first cell;
* imports: ``import`` statements (the package, Keras and TensorFlow, ...);
* data: statements that open images or read runs and committed results
  (``open_data``, ``images_for``, ``load_full_study``, ...), and what a
  statement that trains or loads runs spent outside the training itself;
* graph: building and compiling each trained run's model, plus its first
  epoch's excess over the median later epoch (tracing and graph preparation);
* train: the rest of each run's fitting, and the copyable cells' own ``fit``;
* eval: each run's test predictions;
* save: each run's writing of its folder (model, predictions, records);
* other: every other statement (figures, tables, prose);
* gaps: between cells and before each cell's first statement (papermill saves
  the notebook as each cell starts and ends, markdown ones too; IPython compiles);
* shutdown: after the last cell (kernel shutdown, writing the executed copy);
* wall: the chapter's wall time, the sum of the ten columns before it;
* blocked: how long after the run's start it was allowed to begin (a reader:
  when every chapter that trains had finished, or every run it reads was published);
* queued: how long it then waited for a free kernel slot (the first ones: for
  the runner's own set-up).

Then the critical path: the chain of chapters, each started when the one
before it ended, whose last chapter ends the run; and the trained runs' phases.

Each data and model figure is the median of ``--repeat``/``--model-repeat``
runs, each in a fresh process (so peak RSS, the cold cache and backend start-up
are honest). ``--fast`` keeps to one repetition, model 1 and the quick input
size (about a minute). Nothing is asserted: these are figures to read, not tests.

``--device`` (alias ``--gpu``) prints one other table instead, for sizing the
full profile on an accelerator: per model, at the full profile's input size and
batch, ``--epochs`` training epochs of ``--steps`` steps (default 92: one study
epoch of the full data set, 80 % of 3,679 images / 32), in a fresh process
each. The first epoch pays tracing and compilation; "compile s" is that epoch
minus the median of the others ("s/epoch"). "50 ep min" = compile + 50 steady
epochs: training only (no validation, no prediction). ``--precision`` and
``--steps-per-execution`` take several values; JAX's persistent compilation
cache (:mod:`xray_utils.accel`) is on unless ``--no-compile-cache``, and
"cache" counts the entries each process wrote (0 on a warm cache). Small
``--steps``/``--model-sizes`` make it run, slowly, on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from .config import PRECISIONS, STUDY_MODELS
from .errors import XrayError

# Each figure is measured in a fresh interpreter (honest peak RSS, cold caches, backend
# start-up): _in_fresh_process runs one of the _CHILDREN there and reads back its result.
_CHILD_MAIN = "import sys; from xray_utils.bench import _child_main; _child_main(sys.argv[1:])"


def _in_fresh_process(child: str, *args, env: dict | None = None) -> dict:
    """``_CHILDREN[child](*args)`` in a new Python process; its result, or ``{"error": last stderr line}``."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD_MAIN, child, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1][:160]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child_main(argv: list[str]) -> None:
    """Entry point inside the fresh process: ``argv`` is ``[child name, JSON list of arguments]``."""
    name, args = argv
    print(json.dumps(_CHILDREN[name](*json.loads(args))), flush=True)


def _load_child(root: str, size: int, channels: int, cache: str) -> dict:
    """Load the dataset at ``root`` once: seconds, images, whether it came from ``cache``, peak RSS, array size."""
    import resource

    from . import data

    index = data.find_dataset(root)
    start = time.perf_counter()
    images = data.load_images(index, size, channels, cache_dir=cache, progress=False)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "images": len(images),
        "from_cache": images.from_cache,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "array_mb": images.images.nbytes / 2**20,
    }


def _measure(root: str, size: int, channels: int, cache: str) -> dict:
    result = _in_fresh_process("load", root, size, channels, cache)
    if "error" in result:
        raise RuntimeError(f"loading {root} failed: {result['error']}")
    return result


def load_figures(root: str, size: int, channels: int, repeat: int) -> dict:
    """Median cold and warm load (seconds) and peak RSS (MB) over ``repeat`` fresh processes."""
    cold, warm = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            cold.append(_measure(root, size, channels, cache))
            warm.append(_measure(root, size, channels, cache))
    return {
        "images": cold[0]["images"],
        "size": size,
        "channels": channels,
        "cold_s": statistics.median(r["seconds"] for r in cold),
        "warm_s": statistics.median(r["seconds"] for r in warm),
        "cold_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in cold),
        "warm_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in warm),
        "array_mb": cold[0]["array_mb"],
        "cold_from_cache": any(r["from_cache"] for r in cold),  # False, or "cold" was not cold
        "warm_from_cache": all(r["from_cache"] for r in warm),
    }


def _train_child(name: str, size: int, channels: int, batch: int, steps: int) -> dict:
    """Set-up seconds (build, first step) and train/inference images per second of one model on seeded uint8 data."""
    import keras
    import numpy as np

    from .models import build_model
    from .pipeline import batches, one_hot
    from .recipe import build_training_state, compile_study

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = batch * steps
    images = rng.integers(0, 256, (n, size, size, channels), dtype=np.uint8)
    targets = one_hot(rng.integers(0, 3, n), 3)
    start = time.perf_counter()
    model = compile_study(build_model(name, (size, size, channels)))
    build_training_state(model, images[:2], targets[:2])
    warm = np.arange(batch)  # one step: tracing and compilation happen here
    model.fit(batches(images, targets, warm, batch), epochs=1, verbose=0, shuffle=False)
    setup = time.perf_counter() - start
    data = batches(images, targets, np.arange(n), batch, shuffle=True)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    train = n / (time.perf_counter() - start)
    model.predict(batches(images, None, warm, batch), verbose=0)
    start = time.perf_counter()
    model.predict(batches(images, None, np.arange(n), batch), verbose=0)
    infer = n / (time.perf_counter() - start)
    return {"setup_s": setup, "train_img_s": train, "infer_img_s": infer}


def _device_child(spec: dict) -> dict:
    """``spec["epochs"]`` timed epochs of one model (see :func:`device_figures`): seconds, device, cache entries."""
    import keras
    import numpy as np

    from .accel import enable_compilation_cache
    from .models import build_model, precision
    from .pipeline import batches, one_hot
    from .recipe import build_training_state, compile_study

    cache = enable_compilation_cache()
    cached_before = len(list(cache.iterdir())) if cache else 0
    size, batch, steps = spec["size"], spec["batch"], spec["steps"]
    n = batch * steps
    rng = np.random.default_rng(0)
    if spec["data"]:
        from .data import find_dataset, load_images

        imageset = load_images(find_dataset(spec["data"]), size, 3, progress=False)
        chosen = np.resize(rng.permutation(len(imageset.labels)), n)  # cycles when the set is small
        images, labels = imageset.images[chosen], imageset.labels[chosen]
    else:
        images, labels = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 3, n)
    targets = one_hot(labels, 3)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    with precision(spec["precision"]):
        model = build_model(spec["model"], (size, size, 3))
    compile_study(model, steps_per_execution=spec["steps_per_execution"])
    build_training_state(model, images[:2], targets[:2])
    build_s = time.perf_counter() - start
    seconds = []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seconds.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - seconds.pop()),
    )
    model.fit(
        batches(images, targets, np.arange(n), batch, shuffle=True),
        epochs=spec["epochs"],
        verbose=0,
        shuffle=False,
        callbacks=[timer],
    )
    return {
        "build_s": build_s,
        "first_s": seconds[0],
        "steady_s": statistics.median(seconds[1:]),
        "device": _device_name(keras.backend.backend()),
        "cache_written": (len(list(cache.iterdir())) - cached_before) if cache else None,
    }


def _device_name(backend: str) -> str:
    if backend == "jax":
        import jax

        return ", ".join(f"{d.platform}:{d.id} {d.device_kind}" for d in jax.devices())
    if backend == "tensorflow":
        import tensorflow as tf

        return ", ".join(d.name for d in tf.config.list_logical_devices("GPU")) or "CPU"
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


_CHILDREN = {"load": _load_child, "train": _train_child, "device": _device_child}


def device_figures(spec: dict, backend: str, compile_cache: bool = True) -> dict:
    """One fresh process timing ``spec["epochs"]`` epochs of one model; seconds, images/s, device.

    ``spec``: model, size (px), batch, steps (per epoch), epochs (>= 2),
    precision, steps_per_execution, data (folder or None: random uint8 images).
    """
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if not compile_cache:
        env["XRAY_JAX_CACHE_DIR"] = "off"
    r = _in_fresh_process("device", spec, env=env)
    if "error" in r:
        return r
    images = spec["batch"] * spec["steps"]
    r["compile_s"] = max(r["first_s"] - r["steady_s"], 0.0)
    r["ms_per_step"] = 1000 * r["steady_s"] / spec["steps"]
    r["img_s"] = images / r["steady_s"]
    r["fifty_epochs_min"] = (r["build_s"] + r["compile_s"] + 50 * r["steady_s"]) / 60
    return r


DEVICE_COLUMNS = (
    "model",
    "input",
    "precision",
    "spe",
    "compile s",
    "s/epoch",
    "ms/step",
    "img/s",
    "50 ep min",
    "cache",
    "device",
)


def _print_device_table(args) -> None:
    """The ``--device`` table: one fresh process per model, size, precision and steps_per_execution."""
    from .accel import cache_dir_setting
    from .params import resolve_params

    backend = (
        args.backends
        or [os.environ.get("KERAS_BACKEND") or ("jax" if "jax" in installed_backends() else installed_backends()[0])]
    )[0]
    steps = args.steps or 92
    data = None if (args.data or "synthetic") == "synthetic" else args.data  # XRAY_DATA_DIR=synthetic: random
    cache = cache_dir_setting() if not args.no_compile_cache else None
    print(
        f"Device mode: backend {backend}, batch {args.batch}, {steps} steps per epoch, {args.epochs} epochs "
        f"(the first pays compilation), {'data from ' + data if data else 'random uint8 images'}, "
        f"compilation cache: {cache if cache and backend == 'jax' else 'off'}; "
        "50 ep min = set-up + compile + 50 steady epochs, training only"
    )
    widths = (6, 10, 15, 4, 10, 8, 8, 8, 10, 6)
    print(" ".join(f"{c:>{w}}" for c, w in zip(DEVICE_COLUMNS, widths)) + "  device")
    for name in args.models or STUDY_MODELS:
        for size in args.model_sizes or [resolve_params("full").image_size]:
            for policy in args.precision:
                for spe in args.steps_per_execution:
                    spec = {
                        "model": name,
                        "size": size,
                        "batch": args.batch,
                        "steps": steps,
                        "epochs": args.epochs,
                        "precision": policy,
                        "steps_per_execution": spe,
                        "data": data,
                    }
                    r = device_figures(spec, backend, not args.no_compile_cache)
                    head = f"{name:>6} {f'{size}x{size}x3':>10} {policy:>15} {spe:>4}"
                    if "error" in r:
                        print(f"{head}  failed: {r['error']}", flush=True)
                        continue
                    cache_col = "off" if r["cache_written"] is None else f"+{r['cache_written']}"
                    print(
                        f"{head} {r['compile_s']:>10.1f} {r['steady_s']:>8.2f} {r['ms_per_step']:>8.1f} "
                        f"{r['img_s']:>8.0f} {r['fifty_epochs_min']:>10.1f} {cache_col:>6}  {r['device']}",
                        flush=True,
                    )


def installed_backends() -> list[str]:
    """Keras backends whose library imports here."""
    import importlib.util

    return [
        b
        for b, module in (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch"))
        if importlib.util.find_spec(module) is not None
    ]


def model_figures(name: str, size: int, channels: int, backend: str, batch: int, steps: int, repeat: int) -> dict:
    """Median set-up time and train/inference throughput over ``repeat`` fresh processes."""
    results = []
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    for _ in range(repeat):
        result = _in_fresh_process("train", name, size, channels, batch, steps, env=env)
        if "error" in result:
            return result
        results.append(result)
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def _profile_sizes() -> list[int]:
    from .params import resolve_params

    return sorted({resolve_params("quick").image_size, resolve_params("full").image_size})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xray-bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XRAY_DATA_DIR"), help="dataset folder")
    parser.add_argument("--size", type=int, nargs="+", default=[192])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each data-path figure")
    parser.add_argument(
        "--model-repeat", type=int, default=1, help="repetitions of each model figure (each costs a backend start-up)"
    )
    parser.add_argument("--fast", action="store_true", help="one repetition, model 1, quick size only")
    parser.add_argument("--models", nargs="+", default=None, help="models to time (default: m1 m2 m3 m4)")
    parser.add_argument(
        "--model-sizes",
        type=int,
        nargs="+",
        default=None,
        help="input sizes (default: the quick and full profiles' sizes)",
    )
    parser.add_argument("--backends", nargs="+", default=None, help="Keras backends (default: all installed)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps timed per repetition (default 6), or per epoch with --device (default 92)",
    )
    parser.add_argument(
        "--large-steps", type=int, default=2, help="timed steps for m4 and for inputs of 128 px or more (slow on a CPU)"
    )
    parser.add_argument("--skip-data", action="store_true")
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="run `xray-book all --profile quick` now (rebuilds the book in place, about 5 min) "
        "and time it; otherwise the last run's recorded times are printed",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="only where each chapter's seconds went in the last `xray-book` run (with --end-to-end: one run now)",
    )
    parser.add_argument(
        "--phases",
        nargs="+",
        metavar="TARGET",
        default=None,
        help="run these make targets in turn (a+b: both at once), timed; record and print their seconds (`make test`)",
    )
    parser.add_argument(
        "--executed",
        default=None,
        help="the folder that run executed into, with its timings.json (default: book/chapters)",
    )
    device = parser.add_argument_group("--device mode (for a GPU: see the module docstring)")
    device.add_argument(
        "--device",
        "--gpu",
        action="store_true",
        help="only the per-model compile/steady-epoch table at the full profile's size",
    )
    device.add_argument("--epochs", type=int, default=3, help="epochs per model; the first pays compilation")
    device.add_argument("--precision", nargs="+", default=["float32"], choices=PRECISIONS)
    device.add_argument("--steps-per-execution", type=int, nargs="+", default=[1])
    device.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not use JAX's persistent compilation cache (XRAY_JAX_CACHE_DIR=off)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.device:
        if args.epochs < 2:
            parser.error("--epochs must be at least 2: the first one pays compilation")
        print(f"xray-bench --device on {platform.node() or 'this machine'}, {time.strftime('%Y-%m-%d %H:%M')}")
        _print_device_table(args)
        return 0
    if args.breakdown:
        return _breakdown_main(args)
    if args.phases:
        from . import phases

        try:
            return phases.run_phases(args.phases)
        except XrayError as problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    args.steps = args.steps or 6
    repeat = 1 if args.fast else args.repeat
    print(
        f"xray-bench on {platform.node() or 'this machine'}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    if args.skip_data:
        print("Data-path table skipped: no real dataset given (--data or XRAY_DATA_DIR).")
    elif not args.data:
        parser.error("no dataset: pass --data, set XRAY_DATA_DIR, or --skip-data")
    else:
        _print_data_table(args, repeat)
    _print_model_table(args)
    _print_end_to_end(args.end_to_end, args.data)
    from . import phases

    phases.print_last()
    return 0


def _breakdown_main(args: argparse.Namespace) -> int:
    """``--breakdown``: the last run's (or, with ``--end-to-end``, a new quick run's) breakdown; 2 without one."""
    from .runner.chapters import executed_dir

    if args.end_to_end:
        if args.executed:
            print("error: --end-to-end runs into book/chapters; leave out --executed", file=sys.stderr)
            return 2
        _print_end_to_end(True, args.data)
    try:
        _print_breakdown(Path(args.executed) if args.executed else executed_dir())
    except XrayError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return 0


def _print_model_table(args: argparse.Namespace) -> None:
    """Set-up time and training/inference throughput per model, input size and backend (fresh processes)."""
    model_repeat = 1 if args.fast else args.model_repeat
    models = args.models or (["m1"] if args.fast else list(STUDY_MODELS))
    sizes = args.model_sizes or (_profile_sizes()[:1] if args.fast else _profile_sizes())
    backends = args.backends or installed_backends()
    print(
        f"\nModels: batch {args.batch}, {args.steps} timed steps ({args.large_steps} for m4 and >= 128 px) after a one-step "
        f"warm-up, median of {model_repeat} fresh process(es); backends: {', '.join(backends)}"
    )
    print(f"{'model':>6} {'input':>10} {'backend':>11} {'set-up s':>9} {'train img/s':>12} {'infer img/s':>12}")
    for name in models:
        for size in sizes:
            for backend in backends:
                steps = args.large_steps if name.startswith("m4") or size >= 128 else args.steps
                r = model_figures(name, size, 3, backend, args.batch, steps, model_repeat)
                shape = f"{size}x{size}x3"
                if "error" in r:
                    print(f"{name:>6} {shape:>10} {backend:>11}  failed: {r['error']}", flush=True)
                    continue
                print(
                    f"{name:>6} {shape:>10} {backend:>11} {r['setup_s']:>9.1f} {r['train_img_s']:>12.1f} "
                    f"{r['infer_img_s']:>12.1f}",
                    flush=True,
                )


def _print_end_to_end(rerun: bool, data_dir: str | None) -> None:
    """Per-chapter and book-build wall times of the quick profile (measured now, or the last run's)."""
    from .runner.timings import timings_file

    if rerun:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if data_dir:
            env["XRAY_DATA_DIR"] = data_dir
        with tempfile.TemporaryDirectory() as runs:  # train afresh: reused runs would time nothing
            env["XRAY_RUNS_DIR"] = runs
            started = time.perf_counter()
            status = subprocess.run(
                [sys.executable, "-m", "xray_utils.runner", "all", "--profile", "quick"],
                env=env,
                capture_output=True,
                text=True,
            ).returncode
            total = time.perf_counter() - started
        if status:
            print(f"\nEnd-to-end: `xray-book all --profile quick` failed (exit {status}); see `make book`.")
            return
        print(f"\nEnd-to-end, measured now: {total:.0f} s for `xray-book all --profile quick` (one run)")
    path = timings_file()
    if not path.is_file():
        print("\nEnd-to-end: no `xray-book` run recorded yet (run `make book`, or pass --end-to-end).")
        return
    record = json.loads(path.read_text())
    chapters = record.get("chapters_s", {})
    print(
        f"\nEnd-to-end, {'this' if rerun else 'the last'} `xray-book` run ({record.get('finished')}, profile "
        f"{record.get('profile')}, data {record.get('data')}, backend {record.get('backend')}, one run):"
    )
    for chapter, seconds in chapters.items():
        print(f"{chapter:>24} {seconds:>7.1f} s")
    build = record.get("book_build_s")
    print(f"{'book build':>24} {build:>7.1f} s" if build is not None else f"{'book build':>24}  not recorded")
    wall = record.get("wall_s", sum(chapters.values()))
    jobs = record.get("jobs", 1)
    print(
        f"{'total wall':>24} {wall + (build or 0):>7.1f} s  (chapters {jobs} at a time: their sum is "
        f"{sum(chapters.values()):.1f} s)",
        flush=True,
    )


# --breakdown: where a run's chapter seconds went (see the module docstring for the columns).
BREAKDOWN_PARTS = ("start", "imports", "data", "graph", "train", "eval", "save", "other", "gaps", "shutdown")
BREAKDOWN_COLUMNS = (*BREAKDOWN_PARTS, "wall", "blocked", "queued")
# What a statement is, from its code (comments removed), first match wins; "runs" statements
# are split by the phases of the runs they trained, the rest of their time is "data".
_STATEMENT_KINDS = (
    ("imports", re.compile(r"^\s*(import|from)\s")),
    ("train", re.compile(r"\.fit\(")),
    ("runs", re.compile(r"\b(train_model|load_runs|study_results|train_all|train)\(")),
    ("data", re.compile(r"\b(open_data|open_external|images_for|load_images|load_full_study)\(")),
)


def statement_kind(code: str) -> str:
    """``imports``, ``train``, ``runs``, ``data`` or ``other``: what a statement's code does."""
    code = "\n".join(line.split("#", 1)[0] for line in code.splitlines())
    return next((kind for kind, pattern in _STATEMENT_KINDS if pattern.search(code)), "other")


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _cell_windows(notebook: dict) -> list[tuple[float, float, list[str]]]:
    """``(start, end, source lines)`` of each code cell papermill ran, in order."""
    cells = []
    for cell in notebook.get("cells", []):
        timed = cell.get("metadata", {}).get("papermill", {})
        if cell.get("cell_type") == "code" and timed.get("start_time") and timed.get("end_time"):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            lines = source.splitlines()
            while lines and not lines[0].strip():  # IPython drops them too: its line 1 is the first non-blank
                lines.pop(0)
            cells.append((_unix(timed["start_time"]), _unix(timed["end_time"]), lines))
    return sorted(cells)


def _statements(cell: tuple, stamps: list) -> list[tuple[float, float, str]]:
    """``(start, end, code)`` of each top-level statement the clock saw in ``cell`` (the whole cell if none).

    A statement's code runs to the next one's line, its time to the next one's start.
    """
    start, end, lines = cell
    inside = sorted((t, line) for t, line in stamps if start <= t <= end)
    if not inside:
        return [(start, end, "\n".join(lines))]
    bounds = [t for t, _ in inside] + [end]
    found = []
    for i, (_, line) in enumerate(inside):
        following = inside[i + 1][1] if i + 1 < len(inside) else len(lines) + 1
        code = "\n".join(lines[line - 1 : max(following, line + 1) - 1])
        found.append((bounds[i], bounds[i + 1], code))
    return found


def _run_parts(run: dict) -> dict[str, float]:
    """One trained run's seconds as graph (build + first epoch's excess), train, eval and save."""
    later = run.get("later_epoch_s")
    excess = max(run["first_epoch_s"] - later, 0.0) if later is not None else 0.0
    computing = run["build_s"] + run["fit_s"] + run["predict_s"]
    return {
        "graph": run["build_s"] + excess,
        "train": run["fit_s"] - excess,
        "eval": run["predict_s"],
        "save": run["total_s"] - computing,
    }


def chapter_breakdown(notebook: dict, clock: dict) -> dict[str, float]:
    """Seconds of each of :data:`BREAKDOWN_PARTS` in one chapter, and its ``wall`` (their sum).

    ``notebook``: the executed copy (papermill's cell times); ``clock``: the chapter's
    record in ``timings.json`` (start, end, statement stamps, trained runs).
    """
    parts = dict.fromkeys(BREAKDOWN_PARTS, 0.0)
    cells = _cell_windows(notebook)
    wall = clock["end"] - clock["start"]
    if not cells:
        return {**parts, "start": wall, "wall": wall}
    parts["start"] = cells[0][0] - clock["start"]
    parts["shutdown"] = clock["end"] - cells[-1][1]
    parts["gaps"] = sum(later[0] - cell[1] for cell, later in zip(cells, cells[1:]))
    for cell in cells:
        statements = _statements(cell, clock.get("statements", []))
        parts["gaps"] += statements[0][0] - cell[0]  # papermill saving the notebook, IPython compiling the cell
        for start, end, code in statements:
            kind = statement_kind(code)
            if kind == "runs":
                trained = [run for run in clock.get("runs", []) if start <= run["t"] <= end]
                for part, seconds in [item for run in trained for item in _run_parts(run).items()]:
                    parts[part] += seconds
                    end -= seconds  # what is left of the statement is reading
                kind = "data"
            parts[kind] += end - start
    return {**parts, "wall": wall}


def schedule_waits(record: dict) -> dict[str, dict[str, float]]:
    """Per chapter: ``blocked`` (waiting on the first wave) and ``queued`` (no free kernel slot).

    A reader is blocked until it was allowed to start (its ``ready`` time: the first wave
    done, or every run it reads published), read as the first wave's end in older records.
    """
    chapters, waits = record["chapters"], {}
    for stem, clock in chapters.items():
        earlier = [c["end"] for c in chapters.values() if c["wave"] < clock["wave"]]
        ready = clock.get("ready", max(earlier, default=record["started"]))
        waits[stem] = {"blocked": ready - record["started"], "queued": clock["start"] - ready}
    return waits


def critical_path(record: dict) -> list[str]:
    """The chapters, in order, each started when the one before it ended, the last one ending the run.

    A chapter starts when a kernel slot is free (and, for a reader, its runs are ready): the
    slot is some chapter's end, so what held it back is the last chapter that ended before it started.
    """
    chapters = record["chapters"]
    path = [max(chapters, key=lambda stem: chapters[stem]["end"])]
    while True:
        began = chapters[path[-1]]["start"]
        before = [stem for stem in chapters if stem not in path and chapters[stem]["end"] <= began]
        if not before:
            return path[::-1]
        path.append(max(before, key=lambda stem: chapters[stem]["end"]))


def breakdown(executed: Path) -> tuple[dict, dict[str, dict[str, float]]]:
    """The last run's ``timings.json`` in ``executed`` and each chapter's :func:`chapter_breakdown` with its waits.

    Raises :class:`XrayError` naming the file when the record or an executed chapter is missing or has no clock.
    """
    path = executed / "timings.json"
    if not path.is_file():
        raise XrayError(f"no `xray-book` run recorded in {executed} (no timings.json): run `make book` first")
    record = json.loads(path.read_text())
    if "chapters" not in record:
        raise XrayError(f"{path} has no per-chapter clock (an older `xray-book`): run the chapters again")
    waits, rows = schedule_waits(record), {}
    for stem, clock in record["chapters"].items():
        notebook = executed / f"{stem}.ipynb"
        if not notebook.is_file():
            raise XrayError(f"{path} names chapter {stem}, but {notebook} is missing")
        rows[stem] = {**chapter_breakdown(json.loads(notebook.read_text()), clock), **waits[stem]}
    return record, rows


def _print_breakdown(executed: Path) -> None:
    """The ``--breakdown`` tables: chapters' seconds by part, the critical path, the trained runs' phases."""
    record, rows = breakdown(executed)
    print(
        f"\nBreakdown of the `xray-book` run of {record.get('finished')} in {executed} (profile "
        f"{record.get('profile')}, data {record.get('data')}, backend {record.get('backend')}, "
        f"{record.get('jobs')} at a time, {record.get('cpu_count')} cores), seconds:"
    )
    totals = {c: sum(row[c] for row in rows.values()) for c in BREAKDOWN_COLUMNS}
    print(f"{'chapter':<22}" + "".join(f"{c:>9}" for c in BREAKDOWN_COLUMNS))
    for stem, row in [*rows.items(), ("all chapters", totals)]:
        print(f"{stem[:22]:<22}" + "".join(f"{row[c]:>9.1f}" for c in BREAKDOWN_COLUMNS))
    print(_critical_path_line(record))
    _print_trained_runs(record["chapters"])


def _critical_path_line(record: dict) -> str:
    chapters, path, started = record["chapters"], critical_path(record), record["started"]
    links = " -> ".join(
        f"{stem} ({chapters[stem]['start'] - started:.1f}-{chapters[stem]['end'] - started:.1f})" for stem in path
    )
    return f"critical path (s after the run started): {links}; run wall {record.get('wall_s', float('nan')):.1f} s"


RUN_COLUMNS = ("build", "epoch 1", "later", "fit", "predict", "writes", "total")


def _print_trained_runs(chapters: dict) -> None:
    """One line per run the chapters trained: its phases' seconds.

    ``later``: the median epoch after the first; ``writes``: everything else of the
    run (its folder's records, predictions and model), the breakdown's ``save``.
    """
    runs = [(stem, run) for stem, clock in chapters.items() for run in clock.get("runs", [])]
    if not runs:
        print("\nNo run was trained in this build (all were reused).")
        return
    print(f"\n{'trained run':<20}{'chapter':<22}" + "".join(f"{c:>9}" for c in RUN_COLUMNS))
    for stem, run in runs:
        later = run.get("later_epoch_s")
        values = (run["build_s"], run["first_epoch_s"], float("nan") if later is None else later, run["fit_s"])
        values += (run["predict_s"], _run_parts(run)["save"], run["total_s"])
        print(f"{run['model'] + '/' + run['protocol']:<20}{stem[:22]:<22}" + "".join(f"{v:>9.1f}" for v in values))


def _print_data_table(args, repeat: int) -> None:
    print(f"Data path on {os.cpu_count()} cores, median of {repeat} fresh process(es) each")
    print(
        f"{'images':>7} {'size':>5} {'ch':>3} {'cold s':>8} {'warm s':>8} {'cold RSS MB':>12} "
        f"{'warm RSS MB':>12} {'array MB':>9}"
    )
    for size in args.size:
        for channels in args.channels:
            r = load_figures(args.data, size, channels, repeat)
            print(
                f"{r['images']:>7} {size:>5} {channels:>3} {r['cold_s']:>8.2f} {r['warm_s']:>8.2f} "
                f"{r['cold_peak_rss_mb']:>12.0f} {r['warm_peak_rss_mb']:>12.0f} {r['array_mb']:>9.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import statistics
import subprocess
import sys
import tempfile
import time

from .config import PRECISIONS, STUDY_MODELS

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

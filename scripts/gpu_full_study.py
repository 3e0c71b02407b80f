"""Retrain the full study's study-protocol models on one GPU, make chapter 8's evidence, and pack the numbers.

The one prepared command for a GPU machine with JAX and no TensorFlow, Jupyter or network
(the device machine: one NVIDIA H200, Python 3.12, JAX 0.11.2), run from the project's root
after ``python3 scripts/make_gpu_inputs.py`` here made the JPEG copies and the wheels::

    python3 scripts/gpu_full_study.py --data .cache/gpu-data --wheels .whl --out "$OUT" --budget-s 540

Steps, each printed with its time:

1. install the carried wheels into a private folder (``pip --no-index``) and put it on the path;
2. set ``KERAS_BACKEND=jax``, ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` (checked in a
   child process first: a flag this XLA does not know is dropped, loudly) and the JAX
   compilation cache; every run records the flags in its ``environment.json``;
3. check that the runs it will train have the keys of ``results/full`` (same profile, same
   file names: the JPEG copies keep the PNGs' stems), before any training;
4. train models 1-4 under the study protocol at the full profile (``plan.train_all``, as
   ``xray-book train`` does; finished runs in ``--runs`` are reused), each followed by its
   evidence (``xray-book evidence``) and a fresh pack of everything so far into ``--out``: a
   command stopped at its time limit still returns what it finished;
5. while the budget allows, model 3's study protocol with ``--extra-seeds`` more seeds;
6. per model: compile time (first epoch minus the median later epoch), seconds per epoch,
   total seconds, test accuracy beside the committed run's and whether they are equal; the
   script's wall time. Into ``summary.json`` and ``summary.txt``.

Packs hold the run folders without ``model.keras`` (weights and optimizer state stay behind),
as ``runs-study.tar.gz`` and ``runs-seeds.tar.gz``, split into parts under 15 MiB if larger.
A model whose expected time (the committed run's, with a margin) no longer fits the budget
is skipped and named, with the command that trains it next.

``--dry-run`` does all of it on a CPU at a tiny size (32 px, one epoch, 20 images per class of
drawn images copied as JPEGs, with a held-out folder), under the backend the environment names.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package from this checkout: nothing to install but the wheels
sys.path.insert(1, str(Path(__file__).resolve().parent))

from make_gpu_inputs import jpeg_copies  # noqa: E402  (after the path is set)

MODELS = ("m1", "m2", "m3", "m4")
DETERMINISTIC = "--xla_gpu_deterministic_ops=true"
EXTRA_SEEDS = (4, 5, 6, 7)  # seeds 2 and 3 are in results/full-seeds already
PART_BYTES = 15 * 2**20  # the device returns files of at most 16 MiB
# The drawn images' file numbers are not the study subset's: the dry run takes every file.
DRY_RUN = {"image_size": 32, "m4_image_size": 32, "epochs": 1, "m4_epochs": 1, "per_class": 20, "data_subset": "all"}
# Beside a model's committed training time: its evidence (Grad-CAM compiles the features model
# anew), loading and packing. Not measured on a GPU yet: a guess that errs long.
MARGIN_S = 60.0


class Tee(io.TextIOBase):
    """Write to the terminal and to a log file, so the log comes back even when the command is stopped."""

    def __init__(self, stream, path: Path):
        self.stream, self.file = stream, open(path, "a", buffering=1)

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.file.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
        self.file.flush()


def step(message: str, started: float) -> None:
    """One progress line with the seconds since the script started."""
    print(f"[{time.monotonic() - started:7.1f} s] {message}", flush=True)


def install_wheels(wheels: Path, site: Path) -> list[str]:
    """The carried wheels into ``site`` (no index, no dependencies: the image has the rest), first on the path."""
    found = sorted(wheels.glob("*.whl"))
    if not found:
        raise SystemExit(f"error: no wheels in '{wheels}' (make them with scripts/make_gpu_inputs.py)")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    command += ["--no-cache-dir", "--upgrade", "--target", str(site), *map(str, found)]
    subprocess.run(command, check=True)
    sys.path.insert(0, str(site))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return [wheel.name for wheel in found]


def flag_works(flags: str) -> str | None:
    """None when JAX starts with ``XLA_FLAGS=flags`` in a child process, else its last error line."""
    probe = "import jax, jax.numpy as jnp; jnp.zeros(1).block_until_ready()"
    done = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, "XLA_FLAGS": flags}, capture_output=True, text=True
    )
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]


def configure(cache: Path, dry_run: bool) -> dict:
    """Backend, deterministic GPU ops and the compilation cache, set before Keras is imported."""
    if not dry_run:
        os.environ["KERAS_BACKEND"] = "jax"
    backend = os.environ.setdefault("KERAS_BACKEND", "jax")
    flags = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_gpu_deterministic"))
    wanted = f"{flags} {DETERMINISTIC}".strip()
    problem = flag_works(wanted) if backend == "jax" else None
    if problem:
        print(f"WARNING: this XLA refuses {DETERMINISTIC} ({problem}); the runs go without it.", flush=True)
        wanted = flags
    os.environ["XLA_FLAGS"] = wanted
    os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["XRAY_JAX_CACHE_DIR"] = str(cache)
    return {"backend": backend, "xla_flags": wanted, "deterministic_ops": DETERMINISTIC in wanted.split()}


def dry_run_data(folder: Path) -> Path:
    """Drawn images that the loader does not flag as synthetic, with a held-out folder, copied as JPEGs."""
    from xray_utils.data import make_synthetic_dataset

    drawn = make_synthetic_dataset(folder / "drawn", per_class=DRY_RUN["per_class"], image_size=64)
    other = make_synthetic_dataset(folder / "drawn-other", per_class=10, image_size=64, seed=1)
    data = folder / "data"
    jpeg_copies(drawn / "COVID-19_Radiography_Dataset", data / "COVID-19_Radiography_Dataset", size=64)
    for name in ("COVID", "Normal"):
        held_out = data / "external" / "COVID-19_Radiography_Dataset" / name
        jpeg_copies(other / "COVID-19_Radiography_Dataset" / name, held_out, size=64)
        for copy in held_out.rglob("*.jpg"):  # other files than the training ones, as a real held-out set has
            prefix, number = copy.stem.rsplit("-", 1)
            copy.rename(copy.with_name(f"{prefix}-{1000 + int(number)}.jpg"))
    return data / "COVID-19_Radiography_Dataset"


def key_check(params, reference: Path, models) -> dict[str, str]:
    """Per model: "same key as results/full" or why not, from the data's fingerprint alone (no decoding)."""
    from xray_utils import data
    from xray_utils.data.loading import data_fingerprint
    from xray_utils.run_folders import run_name

    index = data.resolve_dataset(params.data_dir, subset=params.data_subset).subset(params.per_class, params.seed)
    fingerprint = data_fingerprint(index.relative_files(), index.labels, index.class_names)
    checked = {}
    for model in models:
        config = params.train_config(model, "study")
        name = run_name(config, config.key(fingerprint))
        checked[model] = f"same key as {reference.name}: {name}" if (reference / name).is_dir() else (
            f"no run {name} in {reference} (data fingerprint {fingerprint})")  # fmt: skip
    return checked


def run_timings(run) -> dict:
    """Compile time, seconds per epoch and totals of one run, from its history.csv and metrics.json."""
    seconds = run.history["seconds"].tolist()
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else float("nan")
    return {
        "first_epoch_s": round(seconds[0], 2),
        "seconds_per_epoch": round(steady, 3),
        "compile_s": round(seconds[0] - steady, 2) if len(seconds) > 1 else None,
        "fit_s": round(float(run.metrics.get("seconds_fit", float("nan"))), 1),
        "total_s": round(float(run.metrics.get("seconds_total", float("nan"))), 1),
        "epochs": int(run.metrics.get("epochs_run", len(seconds))),
    }


def against_committed(run, reference: Path) -> dict:
    """The retrained run's test accuracy beside the committed run of the same key (equal or not)."""
    accuracy = float(run.metrics["test_accuracy"])
    committed = reference / run.name / "metrics.json"
    if not committed.is_file():
        return {"test_accuracy": accuracy, "committed": None, "equal": None}
    before = float(json.loads(committed.read_text())["test_accuracy"])
    return {"test_accuracy": accuracy, "committed": before, "equal": accuracy == before}


def expected_seconds(model: str, reference: Path, params) -> float:
    """What ``model`` should take: its committed run's total (measured on an H100) plus a tenth and a margin; 0 if unknown."""
    found = sorted(reference.glob(f"{model}-study-*/metrics.json"))
    if not found:
        return 0.0
    return float(json.loads(found[0].read_text()).get("seconds_total", 0.0)) * 1.1 + MARGIN_S


def pack(folders: list[Path], out: Path, name: str) -> list[str]:
    """``folders`` into ``out/name.tar.gz`` without model weights; split into parts when too large."""
    for old in out.glob(f"{name}.tar.gz*"):
        old.unlink()
    if not folders:
        return []

    def keep(member: tarfile.TarInfo):
        base = Path(member.name).name
        weights = base == "model.keras" or base.endswith(".weights.h5")
        return None if weights or (base.startswith(".") and base != ".") else member

    archive = out / f"{name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for folder in sorted(folders):
            tar.add(folder, arcname=folder.name, filter=keep)
    if archive.stat().st_size <= PART_BYTES:
        return [archive.name]
    parts = []
    with open(archive, "rb") as whole:
        for i, block in enumerate(iter(lambda: whole.read(PART_BYTES), b"")):
            part = out / f"{archive.name}.part{i:02d}"
            part.write_bytes(block)
            parts.append(part.name)
    archive.unlink()
    return parts  # cat NAME.tar.gz.part* > NAME.tar.gz


def write_summary(out: Path, summary: dict) -> None:
    """``summary.json`` and a readable ``summary.txt``, rewritten after every step."""
    (out / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    lines = [f"{key}: {value}" for key, value in summary.items() if not isinstance(value, dict)]
    for model, row in summary.get("models", {}).items():
        lines.append(f"{model}: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    (out / "summary.txt").write_text("\n".join(lines) + "\n")


def train_with_evidence(model: str, params, reference: Path, out: Path, packed: list[Path]) -> dict:
    """Train (or reuse) ``model``'s study run, pack it with ``packed``, make its evidence; timings and accuracy.

    The accuracy is set beside the committed run's of the same key; the pack is
    made before the evidence too, so a command stopped meanwhile still returns the run.
    """
    from xray_utils import evidence, plan
    from xray_utils.run_folders import Run

    started = time.monotonic()
    table = plan.train_all(params, [model])
    trained = time.monotonic()
    pack(sorted(set(packed) | {Path(params.runs_dir) / table["run"].iloc[0]}), out, "runs-study")  # before evidence
    evidence.make_evidence(params, [model])
    run = Run.load(Path(params.runs_dir) / table["run"].iloc[0])
    found = json.loads((run.folder / evidence.EVIDENCE / "evidence.json").read_text())
    normals = evidence.verify_evidence(run).called_covid("Normal")
    return {
        "run": run.name,
        **run_timings(run),
        **against_committed(run, reference),
        "train_call_s": round(trained - started, 1),
        "evidence_s": round(time.monotonic() - trained, 1),
        "grid": found["grid"],
        "adult_normals_called_covid": normals,
        "xla_gpu_deterministic_ops": run.environment.get("xla_gpu_deterministic_ops"),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="the dataset (JPEG copies); the dry run draws its own")
    parser.add_argument("--wheels", type=Path, help="wheels to install first (the device image lacks Keras)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu-out")), help="where packs go")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "gpu-full", help="the runs folder")
    parser.add_argument("--reference", type=Path, default=ROOT / "results" / "full", help="the committed runs")
    parser.add_argument("--only", nargs="+", default=list(MODELS), choices=MODELS, help="models, in this order")
    parser.add_argument("--extra-seeds", type=int, default=len(EXTRA_SEEDS), help="model 3 seeds if time remains")
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting work after this many seconds")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on a CPU: every step, in a minute")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sys.stdout = Tee(sys.stdout, args.out / "log.txt")
    scratch = Path(tempfile.mkdtemp(prefix="gpu-full-study-"))
    try:
        return study(args, scratch, started)
    except Exception as exc:  # the project's errors are one line; say it and keep the log
        if type(exc).__module__.startswith("xray_utils"):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def study(args: argparse.Namespace, scratch: Path, started: float) -> int:
    """Every step of the script (see the module's docstring); 0 when it ran to its end."""
    wheels = install_wheels(args.wheels, scratch / "site") if args.wheels else []
    if wheels:
        step(f"installed {', '.join(wheels)}", started)
    summary = {"dry_run": args.dry_run, "wheels": wheels, **configure(args.runs.parent / "jax-cache", args.dry_run)}
    summary["models"] = {}
    step(f"backend {summary['backend']}, XLA_FLAGS={summary['xla_flags']!r}", started)

    from xray_utils.params import parse_overrides, resolve_params

    data = dry_run_data(scratch) if args.dry_run and args.data is None else args.data
    if data is None:
        raise SystemExit("error: --data is needed (the JPEG copies made by scripts/make_gpu_inputs.py)")
    overrides = {**(DRY_RUN if args.dry_run else {}), **parse_overrides(args.overrides)}
    overrides.update(data_dir=str(data), runs_dir=str(args.runs), protocols=["study"], m4_protocols=["study"])
    params = resolve_params("full", overrides)
    summary["keys"] = key_check(params, args.reference, args.only)
    step("keys: " + "; ".join(f"{m} {v}" for m, v in summary["keys"].items()), started)
    mismatched = [m for m, v in summary["keys"].items() if not v.startswith("same key")]
    if mismatched and not args.dry_run:
        write_summary(args.out, summary)
        raise SystemExit(f"error: {', '.join(mismatched)} would not be the committed runs; nothing trained.")
    deadline = started + args.budget_s
    skipped = []
    for model in args.only:
        expected = expected_seconds(model, args.reference, params) if not args.dry_run else 0.0
        if time.monotonic() + expected > deadline:
            skipped.append(model)
            step(f"{model}: skipped, it needs about {expected:.0f} s and the budget has less", started)
            continue
        finished = [args.runs / row["run"] for row in summary["models"].values()]
        summary["models"][model] = train_with_evidence(model, params, args.reference, args.out, finished)
        finished = [args.runs / row["run"] for row in summary["models"].values()]
        summary["packed_study"] = pack(finished, args.out, "runs-study")
        summary["wall_s"] = round(time.monotonic() - started, 1)
        write_summary(args.out, summary)
        step(f"{model}: done, packed", started)
    summary["seeds"] = extra_seeds(params, args, deadline, started)
    summary["skipped"] = skipped
    summary["wall_s"] = round(time.monotonic() - started, 1)
    write_summary(args.out, summary)
    step(f"finished in {summary['wall_s']} s", started)
    if skipped:
        print(f"Next: python3 scripts/gpu_full_study.py --only {' '.join(skipped)} (same other options)")
    return 0


def extra_seeds(params, args, deadline: float, started: float) -> dict:
    """Model 3's study protocol with more seeds while the budget allows; packed as runs-seeds."""
    from xray_utils import plan

    done: dict[int, float] = {}
    if "m3" not in args.only:
        return done
    cost = expected_seconds("m3", args.reference, params) if not args.dry_run else 0.0
    folders = []
    for seed in EXTRA_SEEDS[: args.extra_seeds]:
        if time.monotonic() + cost > deadline:
            step(f"m3 seed {seed}: not started, the budget is spent", started)
            break
        table = plan.train_all(params.replace(seed=seed), ["m3"])
        done[seed] = float(table["test accuracy"].iloc[0])
        folders.append(Path(params.runs_dir) / table["run"].iloc[0])
        pack(folders, args.out, "runs-seeds")
        step(f"m3 seed {seed}: test accuracy {done[seed]:.4f}", started)
    return done


if __name__ == "__main__":
    sys.exit(main())

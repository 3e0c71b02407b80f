"""``xray-book train``: train exactly the runs the model chapters would, without Jupyter.

Meant for a GPU machine with JAX (or PyTorch) and no TensorFlow, no Jupyter::

    KERAS_BACKEND=jax xray-book train --profile full [--only m1 m4] [--set NAME=VALUE ...]

Each run gets the key its chapter would give it (same parameters, same
images), so the run folders copied back are reused by ``xray-book run``.
Nothing here imports Jupyter, papermill or (under JAX/PyTorch) TensorFlow.
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import Any

import pandas as pd

from .config import load_profile, protocols_for
from .errors import XrayError

CHAPTER_MODELS = ("m1", "m2", "m3", "m4")  # what chapters 02-05 train, in chapter order
_PATH_PARAMETERS = ("data_dir", "runs_dir", "external_dir")


def planned_runs(params: dict[str, Any], only: list[str] | None = None) -> list[tuple[str, str]]:
    """``[(model, protocol), ...]`` the model chapters train with ``params`` (``only``: some models)."""
    unknown = sorted(set(only or []) - set(CHAPTER_MODELS))
    if unknown:
        raise XrayError(f"--only {' '.join(unknown)}: not a model; choose from {', '.join(CHAPTER_MODELS)}")
    models = [m for m in CHAPTER_MODELS if not only or m in only]
    return [(model, protocol) for model in models for protocol in protocols_for(model, params)]


def train_command(params: dict[str, Any], models: list[str] | tuple[str, ...] = ()) -> str:
    """The ``xray-book train`` command line that trains ``models`` with ``params``."""
    profile = load_profile(params["profile"])
    parts = ["xray-book", "train", "--profile", params["profile"]]
    if models:
        parts += ["--only", *models]
    for name, value in params.items():
        if name in ("profile", "retrain") or value == profile.get(name) or (name in _PATH_PARAMETERS and not value):
            continue
        shown = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else value
        parts += ["--set", f"{name}={shown}"]
    return " ".join(shlex.quote(str(p)) for p in parts)


def train_all(
    params: dict[str, Any], only: list[str] | None = None, *, steps_per_execution: int = 1, stream=None
) -> pd.DataFrame:
    """Train (or reuse) every planned run; return one summary row per run.

    Prints one line per epoch while training and the summary table at the end.
    Images are loaded once per input size.
    """
    from . import chapter
    from . import data as xdata
    from .config import train_config
    from .training import train

    stream = stream or sys.stdout
    plan = planned_runs(params, only)
    print(f"Training {len(plan)} run(s): " + ", ".join(f"{m}/{p}" for m, p in plan), file=stream, flush=True)
    images_by_size: dict[int, xdata.ImageSet] = {}
    rows = []
    for model, protocol in plan:
        config = train_config(model, protocol, params)
        if config.image_size not in images_by_size:
            images_by_size[config.image_size] = chapter.open_data(params, config.image_size, banner=False)
            if images_by_size[config.image_size].synthetic:
                print(xdata.SYNTHETIC_BANNER, file=stream, flush=True)
        started = time.perf_counter()
        run = train(
            config,
            images_by_size[config.image_size],
            runs_dir=params["runs_dir"],
            retrain=params["retrain"],
            stream=stream,
            steps_per_execution=steps_per_execution,
        )
        rows.append(_summary_row(model, protocol, run, time.perf_counter() - started))
    table = pd.DataFrame(rows)
    print("\n" + table.to_string(index=False), file=stream, flush=True)
    return table


def _summary_row(model: str, protocol: str, run, seconds: float) -> dict[str, Any]:
    history, metrics = run.history, run.metrics
    steady = history["seconds"].iloc[1:].median() if len(history) > 1 else float("nan")
    return {
        "model": model,
        "protocol": protocol,
        "run": run.name,
        "epochs": int(metrics["epochs_run"]),
        "evaluated epoch": int(metrics["evaluated_epoch"]),
        "test accuracy": round(float(metrics["test_accuracy"]), 4),
        "first epoch s": round(float(history["seconds"].iloc[0]), 1),
        "later epochs s": round(float(steady), 2),
        "wall s (this call)": round(seconds, 1),
        "backend": run.environment.get("backend", "?"),
    }

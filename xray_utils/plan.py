"""The study plan: the data a build opens, the runs it plans, trains and finds again, and its held-out set.

What the chapters and ``xray-book train`` share, so both train exactly the same
runs (same keys, same images)::

    params = plan.collect(globals())   # in a chapter; resolve_params(...) elsewhere
    images = plan.open_data(params)    # real data if found, else the stand-in
    runs = plan.train_model("m1", params, images)      # {protocol: Run}
    runs = plan.load_runs(params, images)              # {(model, protocol): Run}

``xray-book train`` (:func:`train_all`) is meant for a GPU machine with JAX (or
PyTorch) and no TensorFlow, no Jupyter::

    KERAS_BACKEND=jax xray-book train --profile full [--only m1 m4] [--set NAME=VALUE ...]

Nothing here imports Jupyter, papermill, the page helpers or (under
JAX/PyTorch) TensorFlow; Keras is imported only when something is trained.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import replace
from typing import Any

import pandas as pd

from . import data as xdata
from .config import STUDY_MODELS
from .errors import RunError, XrayError
from .params import ChapterParams, collect
from .run_folders import Run, find_run, is_finished, recover

__all__ = [
    "collect",
    "images_for",
    "load_runs",
    "open_data",
    "open_external",
    "planned_runs",
    "study_results",
    "train_all",
    "train_command",
    "train_model",
]


def open_data(params: ChapterParams, image_size: int | None = None) -> xdata.ImageSet:
    """Find the dataset, take the profile's per-class subset, decode it (cached).

    ``image_size`` defaults to the profile's ``image_size``. Prints what was
    loaded, any notes about the folder and any unreadable files skipped.
    """
    index = xdata.resolve_dataset(params.data_dir, subset=params.data_subset)
    index = index.subset(params.per_class, params.seed)
    images = xdata.load_images(index, image_size or params.image_size, params.channels)
    for note in index.notes:
        print(f"note: {note}")
    for skipped in images.skipped:
        print(f"skipped unreadable file {skipped.file}: {skipped.reason}")
    print(images.describe())
    return images


def images_for(model: str, params: ChapterParams, images: xdata.ImageSet) -> xdata.ImageSet:
    """``images`` if already at ``model``'s input size, else the same files at that size."""
    size = params.train_config(model, "study").image_size
    return images if images.image_size == size else open_data(params, size)


def planned_runs(params: ChapterParams, only: list[str] | None = None) -> list[tuple[str, str]]:
    """``[(model, protocol), ...]`` the model chapters train with ``params`` (``only``: some models)."""
    unknown = sorted(set(only or []) - set(STUDY_MODELS))
    if unknown:
        raise XrayError(f"--only {' '.join(unknown)}: not a model; choose from {', '.join(STUDY_MODELS)}")
    models = [m for m in STUDY_MODELS if not only or m in only]
    return [(model, protocol) for model in models for protocol in params.protocols_for(model)]


def train_model(model: str, params: ChapterParams, images: xdata.ImageSet) -> dict[str, Run]:
    """Train (or reuse) ``model`` under each of its protocols: ``{protocol: Run}``."""
    from .training import train  # imports Keras: only when something may be trained

    images = images_for(model, params, images)
    return {
        protocol: train(params.train_config(model, protocol), images, runs_dir=params.runs_dir, retrain=params.retrain)
        for protocol in params.protocols_for(model)
    }


def load_runs(
    params: ChapterParams, images: xdata.ImageSet, models=STUDY_MODELS, train_missing: bool | None = None
) -> dict[tuple[str, str], Run]:
    """Finished runs of ``models`` for these parameters: ``{(model, protocol): Run}``.

    Runs come from the model chapters' run folders. A missing one is trained
    now (with a note saying so) if ``train_missing``, else :class:`RunError`
    naming the command that trains it. By default chapters that read runs never
    train under the ``full`` profile (hours on a CPU); under ``quick`` they do.
    """
    if train_missing is None:
        train_missing = params.profile != "full"
    found, missing = {}, []
    for model in models:
        model_images = images_for(model, params, images)
        for protocol in params.protocols_for(model):
            config = params.train_config(model, protocol)
            folder = find_run(config, model_images, params.runs_dir)
            if is_finished(folder) or recover(folder.parent, folder.name):
                found[(model, protocol)] = Run.load(folder)
            elif not train_missing:
                missing.append((model, protocol, folder))
            else:
                print(f"note: no finished run for {model}/{protocol}; training it now.")
                from .training import train

                found[(model, protocol)] = train(config, model_images, runs_dir=params.runs_dir)
    if missing:
        names = ", ".join(f"{m}/{p} ('{folder.name}')" for m, p, folder in missing)
        raise RunError(
            f"No finished run for {names} in '{missing[0][2].parent}'. Train with: "
            f"{train_command(params, sorted({m for m, _, _ in missing}))}"
        )
    return found


def study_results(params: ChapterParams, images: xdata.ImageSet) -> pd.DataFrame | None:
    """The study-protocol results table of the four models, or None (with a note) if not all ran yet."""
    from . import evaluation

    try:
        runs = load_runs(params, images, train_missing=False)
    except RunError as missing:
        print(f"No results yet ({missing}). Run all chapters first: `make book`.")
        return None
    return evaluation.results_table({key: run for key, run in runs.items() if key[1] == "study"})


def train_command(params: ChapterParams, models: list[str] | tuple[str, ...] = ()) -> str:
    """The ``xray-book train`` command line that trains ``models`` with ``params``."""
    parts = ["xray-book", "train", "--profile", params.profile]
    if models:
        parts += ["--only", *models]
    for name, value in params.overrides().items():
        if name == "retrain":
            continue
        shown = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else value
        parts += ["--set", f"{name}={shown}"]
    return " ".join(shlex.quote(str(p)) for p in parts)


def train_all(
    params: ChapterParams, only: list[str] | None = None, *, steps_per_execution: int = 1, stream=None
) -> pd.DataFrame:
    """Train (or reuse) every planned run; return one summary row per run.

    Prints one line per epoch while training and the summary table at the end.
    Images are loaded once per input size.
    """
    from .training import train

    stream = stream or sys.stdout
    plan = planned_runs(params, only)
    print(f"Training {len(plan)} run(s): " + ", ".join(f"{m}/{p}" for m, p in plan), file=stream, flush=True)
    images_by_size: dict[int, xdata.ImageSet] = {}
    rows = []
    for model, protocol in plan:
        config = params.train_config(model, protocol)
        if config.image_size not in images_by_size:
            images_by_size[config.image_size] = open_data(params, config.image_size)
            if images_by_size[config.image_size].synthetic:
                print(xdata.SYNTHETIC_BANNER, file=stream, flush=True)
        started = time.perf_counter()
        run = train(
            config,
            images_by_size[config.image_size],
            runs_dir=params.runs_dir,
            retrain=params.retrain,
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


def open_external(params: ChapterParams, images: xdata.ImageSet, image_size: int | None = None):
    """The held-out set (other hospitals, adults), or None with a printed note when there is none.

    Taken from ``external_dir`` if given, else from an ``external`` folder beside
    the dataset, else (2021 release, ``data_subset=study``) from the same
    download: adult normals and later-release COVID files that the study
    subset leaves out (:func:`xray_utils.data.shift_set`). Only COVID and
    Normal are required; labels keep the three classes.
    """
    if images.synthetic:
        print("note: the synthetic stand-in has no held-out hospitals; the external-data part is skipped.")
        return None
    index = _external_index(params, images)
    if index is None:
        return None
    held_out = xdata.load_images(index, image_size or params.image_size, params.channels)
    print(f"held-out set: {held_out.describe()}")
    return held_out


def _external_index(params: ChapterParams, images: xdata.ImageSet) -> xdata.DatasetIndex | None:
    if params.external_dir:  # named by the user: a wrong path is an error, not a silent skip
        index = xdata.find_dataset(params.external_dir, required=("COVID", "Normal"))
        return replace(index, data_subset="external", subset_reason=f"every file in external_dir ({index.root.name})")
    beside = images.root.parent / "external"
    if beside.is_dir():
        try:
            index = xdata.find_dataset(beside, required=("COVID", "Normal"))
        except xdata.DataError as missing:
            print(
                f"note: the 'external' folder beside the data is not a held-out set ({missing}); "
                "the external-data part is skipped."
            )
            return None
        return replace(
            index, data_subset="external", subset_reason="every file in the 'external' folder beside the data"
        )
    full = xdata.find_dataset(images.root)
    shifted = xdata.shift_set(full, xdata.select_subset(full, images.data_subset))
    if shifted is None:
        why = (
            "every file of this download is training data under data_subset=all"
            if images.data_subset == "all"
            else f"the {images.release} release has no other hospitals or adults"
        )
        print(
            f"note: no held-out set: {why}, and no `external_dir` or 'external' folder beside the data was found. "
            "Point `external_dir` at a folder of other hospitals' images to run this part."
        )
    return shifted

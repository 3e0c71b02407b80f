"""One training run: a :class:`TrainConfig` and its images in, a finished run folder out.

:func:`train` finds a finished run of the same configuration on the same
images and reuses it, or resolves model 4's weights, trains with the study's
recipe (:mod:`xray_utils.recipe`), scores the test part, and writes everything
into a staging folder that :mod:`xray_utils.run_folders` publishes only when
complete.
"""

from __future__ import annotations

import dataclasses
import errno
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss

from . import run_folders
from .accel import enable_compilation_cache
from .config import DENSENET_MODELS, TrainConfig
from .data import ImageSet, make_split
from .data.sizes import check_split_sizes
from .errors import RunError
from .files import remove_quietly
from .models import build_model, precision
from .paths import default_runs_dir
from .pipeline import batches, one_hot, predict_proba
from .recipe import EpochLogger, build_training_state, compile_study, fit_study, seed_everything, without_tensorflow
from .weights import resolve_weights

# The audit event (PEP 578) each trained run raises with its phases' seconds: xray-book's kernels
# log it (xray_utils.runner.kernel_clock, which names it too); anywhere else it costs nothing.
RUN_EVENT = "xray_utils.training.run"


def resolved_config(config: TrainConfig) -> tuple[TrainConfig, str]:
    """The config with m4's ``weights="auto"`` replaced by what will be used, and why."""
    if config.model not in DENSENET_MODELS:
        return config, "not applicable"
    weights, why = resolve_weights(config.weights)
    return dataclasses.replace(config, weights=weights), why


def train(
    config: TrainConfig,
    imageset: ImageSet,
    *,
    runs_dir: str | Path | None = None,
    retrain: bool = False,
    stream=None,
    steps_per_execution: int = 1,
) -> run_folders.Run:
    """Train ``config`` on ``imageset`` and return its finished run folder.

    A finished run of the same configuration on the same images is reused
    unless ``retrain``. The run is written in a staging folder and published
    only when complete (see :mod:`xray_utils.run_folders`); a trained run then
    raises the :data:`RUN_EVENT` audit event with its phases. ``steps_per_execution``
    (batches per compiled call) changes speed, not results, so it is not part of
    the run's identity; it is recorded in ``metrics.json``.
    """
    called = time.perf_counter()
    enable_compilation_cache()  # JAX only: the next run of the same model skips compilation
    stream = stream or sys.stdout
    if imageset.image_size != config.image_size or imageset.channels != config.channels:
        raise RunError(
            f"Images are {imageset.images.shape[1:]} but the config asks for {config.input_shape}; "
            "load them with the config's image_size and channels."
        )
    check_split_sizes(imageset.labels, imageset.class_names, [config.protocol], config.seed)  # before any folder
    runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
    # The key holds the weights *asked for* (e.g. "auto"), never what they resolve to on this
    # machine, so a run trained online is found again offline (and on another backend).
    key = config.key(imageset.fingerprint)
    name = run_folders.run_name(config, key)
    final = runs_dir / name
    run_folders.recover(runs_dir, name)  # a publish killed between its renames: finish it
    if run_folders.is_finished(final) and not retrain:
        print(f"Reusing finished run {final} (pass retrain=True to train again).", file=stream)
        return run_folders.Run.load(final)
    with run_folders.run_lock(runs_dir, name):
        for attempt in run_folders.stale_attempts(runs_dir, name):
            print(
                f"Found an interrupted attempt ({attempt.name}); discarding it and training from scratch.", file=stream
            )
            remove_quietly(attempt)
        staging = run_folders.staging_folder(runs_dir, name)
        staging.mkdir(parents=True)
        try:
            with without_tensorflow():
                phases = _train_into(staging, config, key, imageset, stream, steps_per_execution)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            written = _folder_bytes(staging)
            remove_quietly(staging)  # nothing of it is usable, and it holds space the disk lacks
            free = shutil.disk_usage(runs_dir).free
            raise RunError(
                f"The runs folder '{runs_dir}' is full: saving run {name} stopped after {written / 2**20:.1f} MiB "
                f"with {free / 2**20:.1f} MiB free. Free at least {2 * written / 2**20:.0f} MiB there, or point "
                "runs_dir elsewhere; the partial folder was removed and any earlier finished run is untouched."
            ) from None
        except BaseException:
            print(
                f"Training of {name} stopped; its partial folder {staging.name} is marked incomplete "
                f"and any earlier finished run is untouched.",
                file=stream,
            )
            raise
        run_folders.publish(staging, final)
    sys.audit(RUN_EVENT, {"run": name, **phases, "total_s": time.perf_counter() - called})
    return run_folders.Run.load(final)


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def _train_into(
    staging: Path, config: TrainConfig, key: str, imageset: ImageSet, stream, steps_per_execution: int
) -> dict:
    """Everything of one run but publishing it: configuration, split, training, scores, model.

    Returns the seconds of its phases: building and compiling the model, fitting (and
    its first and later epochs), predicting the test part, saving predictions and model.
    """
    started = time.perf_counter()
    used, weights_reason = resolved_config(config)
    _write_config(staging, config, key, imageset, used, weights_reason)
    run_folders.write_json(staging / "environment.json", run_folders.environment_record())
    split = make_split(config.protocol, imageset.labels, config.seed)
    split.save(staging / "split.csv", imageset.files, imageset.labels, imageset.class_names)
    if config.model in DENSENET_MODELS:
        print(f"[{config.model}] weights: {weights_reason}", file=stream, flush=True)
    label = f"{config.model}/{config.protocol}"
    logger = EpochLogger(label, config.epochs, stream)
    model, history, fit_seconds, build_seconds = _fit(used, imageset, split, logger, steps_per_execution)
    history.to_csv(staging / "history.csv", index=False)
    eval_started = time.perf_counter()
    probabilities = predict_proba(model, imageset.images, split.test)
    predict_seconds = time.perf_counter() - eval_started
    y_true = imageset.labels[split.test]
    save_started = time.perf_counter()
    np.savez(staging / "predictions.npz", indices=split.test, y_true=y_true, y_prob=probabilities)
    model.save(staging / "model.keras")
    save_seconds = time.perf_counter() - save_started
    accuracy = float(accuracy_score(y_true, probabilities.argmax(1)))
    evaluated_epoch = int(history["epoch"].iloc[-1])  # the last, as the study
    steady_seconds = history["seconds"].iloc[1:].median() if len(history) > 1 else history["seconds"].iloc[0]
    run_folders.write_json(
        staging / "metrics.json",
        {
            "test_loss": float(log_loss(y_true, probabilities, labels=list(range(len(imageset.class_names))))),
            "test_accuracy": accuracy,
            "epochs_run": int(len(history)),
            "evaluated_epoch": evaluated_epoch,
            "train_images": int(len(split.train)),
            "validation_images": int(len(split.val)),
            "test_images": int(len(split.test)),
            "seconds_total": time.perf_counter() - started,
            "seconds_fit": fit_seconds,
            "seconds_per_epoch": float(history["seconds"].median()),
            "train_images_per_second": float(len(split.train) / steady_seconds),
            "test_images_per_second": float(len(split.test) / max(predict_seconds, 1e-9)),
            "parameters": int(model.count_params()),
            "steps_per_execution": int(steps_per_execution),
        },
    )
    print(
        f"[{label}] test accuracy {accuracy:.4f} (epoch {evaluated_epoch} weights) "
        f"in {time.perf_counter() - started:.0f} s",
        file=stream,
        flush=True,
    )
    return {
        "model": config.model,
        "protocol": config.protocol,
        "build_s": build_seconds,
        "fit_s": fit_seconds,
        "first_epoch_s": float(history["seconds"].iloc[0]),
        "later_epoch_s": float(history["seconds"].iloc[1:].median()) if len(history) > 1 else None,
        "predict_s": predict_seconds,
        "save_s": save_seconds,
    }


def _write_config(staging: Path, config: TrainConfig, key: str, imageset: ImageSet, used: TrainConfig, reason: str):
    run_folders.write_json(
        staging / "config.json",
        {
            **config.to_dict(),
            "key": key,
            "data_fingerprint": imageset.fingerprint,
            "synthetic_data": imageset.synthetic,
            # the dataset folder's name only: run folders travel between machines and into the repository
            "data_root": imageset.root.name,
            "data_subset": imageset.data_subset,
            "weights_used": Path(used.weights).name if used.weights.endswith(".h5") else used.weights,
            "weights_reason": reason,
            "class_names": list(imageset.class_names),
        },
    )


def _fit(config: TrainConfig, imageset: ImageSet, split, logger: EpochLogger, steps_per_execution: int = 1):
    """Build, compile and fit ``config``'s model on the split's training part.

    Returns ``(model, history, seconds fitting, seconds building and compiling)``.

    ``config`` has its weights resolved (:func:`resolved_config`).
    """
    seed_everything(config.seed)
    building = time.perf_counter()
    # only DenseNet121 starts from weights; the custom CNNs' "weights" field is meaningless
    weights = config.weights if config.model in DENSENET_MODELS and config.weights != "none" else None
    with precision(config.precision):
        model = build_model(config.model, config.input_shape, weights=weights, num_classes=len(imageset.class_names))
    compile_study(model, config.learning_rate, steps_per_execution)
    targets = one_hot(imageset.labels, len(imageset.class_names))
    build_training_state(model, imageset.images[split.train[:2]], targets[split.train[:2]])
    build_seconds = time.perf_counter() - building
    train_data = batches(imageset.images, targets, split.train, config.batch_size, shuffle=True, seed=config.seed)
    val_data = batches(imageset.images, targets, split.val, config.batch_size)
    started = time.perf_counter()
    fit_study(model, train_data, val_data, config.epochs, logger)
    return model, pd.DataFrame(logger.rows), time.perf_counter() - started, build_seconds

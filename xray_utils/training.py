"""The study's training recipe and :func:`train`, which turns a configuration into a run folder.

One recipe for every protocol, the original's: Adam 1e-3, categorical
cross-entropy, batch 32, ``ReduceLROnPlateau(monitor="val_accuracy", patience=3,
factor=0.1)`` with no floor (the rate decays towards 1e-16), 50 epochs, and the
last epoch's weights. The protocols differ only in the split, that is in which
images train and which steer the schedule (see :mod:`xray_utils.data.splits`).

Keeping the last epoch is not itself a flaw: where the test set steers, picking
the best epoch on it would leak more, and where a validation set steers, the
fixed schedule needs no choice at all (an early-stopping rule that restores the
best validation epoch can hand back epoch-1 weights from a model that learns
late, as model 3 does).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss

from . import runs
from .accel import enable_compilation_cache
from .config import DENSENET_MODELS, TrainConfig
from .data import ImageSet, make_split
from .data.sizes import check_split_sizes
from .errors import RunError
from .models import build_model, precision
from .paths import default_runs_dir
from .pipeline import batches, one_hot, predict_proba
from .runs import resolved_config


class EpochLogger(keras.callbacks.Callback):
    """One line per epoch (no progress bars), and a history with learning rate and time."""

    def __init__(self, label: str, epochs: int, stream=None):
        super().__init__()
        self.label, self.epochs = label, epochs
        self.stream = stream or sys.stdout
        self.rows: list[dict] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        row["learning_rate"], row["seconds"] = learning_rate, seconds
        self.rows.append(row)
        shown = "  ".join(
            f"{k.replace('accuracy', 'acc')} {row[k]:.4f}"
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if k in row
        )
        print(
            f"[{self.label}] epoch {epoch + 1:>3}/{self.epochs}  {shown}  lr {learning_rate:.1e}  {seconds:.1f} s",
            file=self.stream,
            flush=True,
        )


def study_callbacks() -> list[keras.callbacks.Callback]:
    """The original schedule: cut the rate 10x when val accuracy stalls 3 epochs, no floor."""
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", patience=3, factor=0.1, mode="max")]


def fit_study(model: keras.Model, train_data, steering_data, epochs: int, logger=None) -> keras.callbacks.History:
    """The study's ``fit``: ``epochs`` epochs, the rate cut by :func:`study_callbacks`, last weights kept.

    ``steering_data`` is what Keras calls validation data: it never trains the
    weights, but its accuracy decides when the learning rate falls. Under the
    ``study`` protocol it is the test set, as in the original notebook.
    """
    return model.fit(
        train_data,
        validation_data=steering_data,
        epochs=epochs,
        verbose=0,
        shuffle=False,  # the batches are shuffled, seeded, by xray_utils.pipeline.batches
        callbacks=[cb for cb in (logger, *study_callbacks()) if cb is not None],
    )


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; make TensorFlow ops deterministic."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@contextmanager
def without_tensorflow():
    """Under JAX or PyTorch, let Keras act as on a machine without TensorFlow.

    Keras imports TensorFlow whenever it is installed, to seed ``tf.data`` in
    ``set_random_seed`` and to check for ``tf.TensorShape`` when saving; neither
    is used with these backends, and on a GPU machine the import costs seconds
    and GPU memory. Under the TensorFlow backend, or once TensorFlow is
    imported anyway, this does nothing.
    """
    from keras.src.utils import module_utils  # Keras's lazy TensorFlow handle

    lazy = module_utils.tensorflow
    if keras.backend.backend() == "tensorflow" or lazy.module is not None or lazy._available is not None:
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None


def compile_study(model: keras.Model, learning_rate: float = 1e-3, steps_per_execution: int = 1) -> keras.Model:
    """Adam + categorical cross-entropy + accuracy, as the study compiled every model.

    ``steps_per_execution``: batches per call into the compiled step (fewer host
    round-trips on a GPU); the same batches in the same order, so the same math.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def build_training_state(model: keras.Model, images: np.ndarray, targets: np.ndarray) -> None:
    """Create the optimizer's and metrics' variables before ``fit``, from a couple of samples.

    Keras otherwise creates them while TensorFlow traces the first training
    step, and a ``tf.function`` that creates variables is traced twice. For
    DenseNet121 on 2 CPU cores that second trace costs about 45 s (measured:
    first ``fit`` call 80 s without this, 34 s with it). ``images``:
    ``(n, H, W, C)`` uint8, ``targets``: ``(n, K)`` float32, n >= 1. Metric
    state is reset afterwards, so training is unchanged.
    """
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(images, targets, model(images, training=False), sample_weight=None)
    model.reset_metrics()


def train(
    config: TrainConfig,
    imageset: ImageSet,
    *,
    runs_dir: str | Path | None = None,
    retrain: bool = False,
    stream=None,
    steps_per_execution: int = 1,
) -> runs.Run:
    """Train ``config`` on ``imageset`` and return its finished run folder.

    A finished run of the same configuration on the same images is reused
    unless ``retrain``. The run is written in a staging folder and published
    only when complete (see :mod:`xray_utils.runs`). ``steps_per_execution``
    (batches per compiled call) changes speed, not results, so it is not part of
    the run's identity; it is recorded in ``metrics.json``.
    """
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
    name = runs.run_name(config, key)
    final = runs_dir / name
    if runs.is_finished(final) and not retrain:
        print(f"Reusing finished run {final} (pass retrain=True to train again).", file=stream)
        return runs.Run.load(final)
    with runs.run_lock(runs_dir, name):
        for attempt in runs.stale_attempts(runs_dir, name):
            print(
                f"Found an interrupted attempt ({attempt.name}); discarding it and training from scratch.", file=stream
            )
            import shutil

            shutil.rmtree(attempt, ignore_errors=True)
        staging = runs.staging_folder(runs_dir, name)
        staging.mkdir(parents=True)
        try:
            with without_tensorflow():
                _train_into(staging, config, key, imageset, stream, steps_per_execution=steps_per_execution)
        except BaseException:
            print(
                f"Training of {name} stopped; its partial folder {staging.name} is marked incomplete "
                f"and any earlier finished run is untouched.",
                file=stream,
            )
            raise
        runs.publish(staging, final)
    return runs.Run.load(final)


def _train_into(staging: Path, config: TrainConfig, key: str, imageset, stream, *, steps_per_execution: int = 1):
    started = time.perf_counter()
    used, weights_reason = resolved_config(config)
    runs.write_json(
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
            "weights_reason": weights_reason,
            "class_names": list(imageset.class_names),
        },
    )
    runs.write_json(staging / "environment.json", runs.environment_record())
    split = make_split(config.protocol, imageset.labels, config.seed)
    split.save(staging / "split.csv", imageset.files, imageset.labels, imageset.class_names)
    if config.model in DENSENET_MODELS:
        print(f"[{config.model}] weights: {weights_reason}", file=stream, flush=True)
    seed_everything(config.seed)
    weights = None if used.weights == "none" else used.weights
    with precision(config.precision):
        model = (
            build_model(config.model, config.input_shape, weights=weights, num_classes=len(imageset.class_names))
            if config.model in DENSENET_MODELS
            else build_model(config.model, config.input_shape, num_classes=len(imageset.class_names))
        )
    compile_study(model, config.learning_rate, steps_per_execution)
    targets = one_hot(imageset.labels, len(imageset.class_names))
    label = f"{config.model}/{config.protocol}"
    logger = EpochLogger(label, config.epochs, stream)
    build_training_state(model, imageset.images[split.train[:2]], targets[split.train[:2]])
    train_data = batches(imageset.images, targets, split.train, config.batch_size, shuffle=True, seed=config.seed)
    val_data = batches(imageset.images, targets, split.val, config.batch_size)
    fit_started = time.perf_counter()
    fit_study(model, train_data, val_data, config.epochs, logger)
    fit_seconds = time.perf_counter() - fit_started
    history = pd.DataFrame(logger.rows)
    history.to_csv(staging / "history.csv", index=False)
    evaluated_epoch = int(history["epoch"].iloc[-1])  # the last, as the study
    eval_started = time.perf_counter()
    probabilities = predict_proba(model, imageset.images, split.test)
    predict_seconds = time.perf_counter() - eval_started
    y_true = imageset.labels[split.test]
    np.savez(staging / "predictions.npz", indices=split.test, y_true=y_true, y_prob=probabilities)
    model.save(staging / "model.keras")
    runs.write_json(
        staging / "metrics.json",
        {
            "test_loss": float(log_loss(y_true, probabilities, labels=list(range(len(imageset.class_names))))),
            "test_accuracy": float(accuracy_score(y_true, probabilities.argmax(1))),
            "epochs_run": int(len(history)),
            "evaluated_epoch": evaluated_epoch,
            "train_images": int(len(split.train)),
            "validation_images": int(len(split.val)),
            "test_images": int(len(split.test)),
            "seconds_total": time.perf_counter() - started,
            "seconds_fit": fit_seconds,
            "seconds_per_epoch": float(history["seconds"].median()),
            "train_images_per_second": float(len(split.train) / history["seconds"].iloc[1:].median())
            if len(history) > 1
            else float(len(split.train) / history["seconds"].iloc[0]),
            "test_images_per_second": float(len(split.test) / max(predict_seconds, 1e-9)),
            "parameters": int(model.count_params()),
            "steps_per_execution": int(steps_per_execution),
        },
    )
    print(
        f"[{label}] test accuracy {accuracy_score(y_true, probabilities.argmax(1)):.4f} "
        f"(epoch {evaluated_epoch} weights) in {time.perf_counter() - started:.0f} s",
        file=stream,
        flush=True,
    )

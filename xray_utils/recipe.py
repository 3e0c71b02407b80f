"""The study's training recipe, as the chapters show it: compile, schedule, fit, seed.

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

:mod:`xray_utils.training` uses this recipe to turn a configuration into a run folder.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

import keras
import numpy as np


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


def lazy_tensorflow_handle():
    """Keras's lazy TensorFlow import (a private object), or None where this Keras has none.

    ``tests/test_recipe.py`` fails loudly when a Keras release moves or reshapes
    it; until then :func:`without_tensorflow` simply does nothing.
    """
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return None
    lazy = getattr(module_utils, "tensorflow", None)
    return lazy if lazy is not None and hasattr(lazy, "_available") and hasattr(lazy, "module") else None


@contextmanager
def without_tensorflow():
    """Under JAX or PyTorch, let Keras act as on a machine without TensorFlow.

    Keras imports TensorFlow whenever it is installed, to seed ``tf.data`` in
    ``set_random_seed`` and to check for ``tf.TensorShape`` when saving; neither
    is used with these backends, and on a GPU machine the import costs seconds
    and GPU memory. Under the TensorFlow backend, once TensorFlow is imported
    anyway, or where Keras has no lazy handle, this does nothing.
    """
    lazy = lazy_tensorflow_handle()
    if (
        lazy is None
        or keras.backend.backend() == "tensorflow"
        or lazy.module is not None
        or lazy._available is not None
    ):
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

"""Batches for ``fit``/``predict``: the one place that knows about backends.

Measured on 2 CPU cores: TensorFlow fed NumPy arrays stalls for about an
epoch's length at epoch boundaries, while a ``tf.data`` pipeline with autotune
disabled does not (about twice the throughput). So under the TensorFlow
backend batches come from ``tf.data``; under JAX and PyTorch from a
``keras.utils.PyDataset``. Both gather ``uint8`` batches from the one image
array by index: no copy of the dataset is ever made, and scaling to [0, 1]
happens inside the model.
"""

from __future__ import annotations

import logging
import math

import keras
import numpy as np


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(N,)`` int labels -> ``(N, num_classes)`` float32."""
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]


class IndexBatches(keras.utils.PyDataset):
    """Batches ``images[indices]`` (uint8) with one-hot targets; reshuffled each epoch if asked."""

    def __init__(self, images, targets, indices, batch_size, shuffle=False, seed=0):
        super().__init__(workers=1, use_multiprocessing=False)
        self.images, self.targets = images, targets
        self.indices = np.asarray(indices)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.indices) if shuffle else self.indices

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def __getitem__(self, i):
        chosen = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        if self.targets is None:
            return (self.images[chosen],)
        return self.images[chosen], self.targets[chosen]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(self.indices)


class _DropRetracingNotice(logging.Filter):
    """TensorFlow warns when several models each trace their own predict function, as the
    chapters do on purpose (one model per run); the notice is about speed, not results."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


_RETRACING_FILTER = _DropRetracingNotice()


def _tf_dataset(images, targets, indices, batch_size, shuffle, seed):
    import tensorflow as tf

    tf_logger = logging.getLogger("tensorflow")
    if _RETRACING_FILTER not in tf_logger.filters:
        tf_logger.addFilter(_RETRACING_FILTER)

    height, width, channels = images.shape[1:]

    def gather(batch):
        if targets is None:
            return (images[batch],)
        return images[batch], targets[batch]

    out_types = [tf.uint8] if targets is None else [tf.uint8, tf.float32]

    def fetch(batch):
        tensors = tf.numpy_function(gather, [batch], out_types)
        tensors[0].set_shape([None, height, width, channels])
        if targets is None:
            return (tensors[0],)
        tensors[1].set_shape([None, targets.shape[1]])
        return tensors[0], tensors[1]

    dataset = tf.data.Dataset.from_tensor_slices(np.asarray(indices, dtype=np.int64))
    if shuffle:
        dataset = dataset.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size).map(fetch).prefetch(2)
    options = tf.data.Options()
    options.autotune.enabled = False  # the autotuner's thread causes the epoch-boundary stall
    options.deterministic = True
    return dataset.with_options(options)


def batches(images, targets, indices, batch_size: int, *, shuffle: bool = False, seed: int = 0):
    """Something ``model.fit``/``predict`` accept, yielding ``images[indices]`` in batches.

    ``images``: ``(N, S, S, C)`` uint8; ``targets``: ``(N, K)`` float32 or None
    (prediction). The batch order is reshuffled each epoch when ``shuffle``.
    """
    if keras.backend.backend() == "tensorflow":
        return _tf_dataset(images, targets, indices, batch_size, shuffle, seed)
    return IndexBatches(images, targets, indices, batch_size, shuffle, seed)


def pad_to_full_batches(indices, batch_size: int) -> np.ndarray:
    """``indices`` (n,) followed by copies of its last entry up to a multiple of ``batch_size``.

    The padded rows are extra predictions to drop: in inference mode every row
    is computed on its own, so they change nothing in the first n rows.
    """
    indices = np.asarray(indices)
    missing = -len(indices) % batch_size
    if not len(indices) or not missing:
        return indices
    return np.concatenate([indices, np.repeat(indices[-1:], missing)])


def predict_proba(model, images, indices, batch_size: int = 64, *, pad: bool | None = None) -> np.ndarray:
    """Class probabilities ``(len(indices), K)`` for ``images[indices]``, in index order.

    ``pad``: fill the last batch up to ``batch_size`` (and drop the extra rows).
    JAX compiles the predict step once per input shape, so a short last batch
    costs a second compilation (minutes for DenseNet121 on a GPU); padding keeps
    one shape. Default (None): pad under JAX only, where shapes are static.
    """
    indices = np.asarray(indices)
    if pad is None:
        pad = keras.backend.backend() == "jax"
    chosen = pad_to_full_batches(indices, batch_size) if pad else indices
    data = batches(images, None, chosen, batch_size)
    probabilities = np.asarray(model.predict(data, verbose=0), dtype=np.float64)[: len(indices)]
    return probabilities / probabilities.sum(axis=1, keepdims=True)  # undo float32 rounding

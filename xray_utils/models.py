"""The study's four models, built exactly as the original notebook did.

=======  ==============================================================  ==============
name     architecture                                                    parameters (*)
=======  ==============================================================  ==============
m1       4 x [Conv2D(F, 2, same, relu) -> MaxPool 2], F = 128, 64, 32,   512,951
         32 -> Flatten -> Dense 100 -> Dense 50 -> Dense 3 softmax
m2       m1 + BatchNormalization after every pooling layer               513,975
m3       m2 + Dropout(0.8) after BN 1 and Dropout(0.2) after BN 3        513,975
m4       DenseNet121 (no top) -> Dense(14, sigmoid, "predictions") on    7,051,899
         the *un-pooled* feature map -> GlobalAveragePooling -> Dense 3
m4_clean DenseNet121 -> GlobalAveragePooling -> Dense 3 (the usual way)  7,040,579
=======  ==============================================================  ==============

(*) at 192 x 192 x 3. Every model starts with ``Rescaling(1/255)``, so it takes
raw ``uint8`` batches and no float copy of the dataset is ever needed.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import keras
from keras import layers

from .config import DENSENET_MODELS, MODEL_NAMES, validate_image_shape
from .errors import ConfigError, WeightsError
from .weights import CHEXNET_FILE  # noqa: F401  (re-exported)

CONV_FILTERS = (128, 64, 32, 32)
CHEXNET_FINDINGS = 14


def study_cnn(
    name: str,
    input_shape: tuple[int, int, int] = (192, 192, 3),
    *,
    batch_norm: bool = False,
    dropout: dict[int, float] | None = None,
    num_classes: int = 3,
) -> keras.Model:
    """The study's custom CNN: models 1-3 differ only in ``batch_norm`` and ``dropout``.

    Four blocks of Conv2D (2x2 kernel, "same" padding, ReLU) and 2x2 max
    pooling, then Flatten, Dense 100, Dense 50 and a softmax over the classes.
    ``batch_norm`` adds BatchNormalization after each pooling layer; ``dropout``
    maps a block number (1-4) to the rate of a Dropout at the end of that block.
    Input: ``(S, S, C)`` uint8 images; output: ``(num_classes,)`` probabilities.
    """
    dropout = dropout or {}
    inputs = keras.Input(shape=input_shape, name="xray")
    x = layers.Rescaling(1.0 / 255, name="scale_to_unit")(inputs)  # the study divided by 255 beforehand
    for block, filters in enumerate(CONV_FILTERS, start=1):
        x = layers.Conv2D(filters, kernel_size=2, padding="same", activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(pool_size=2, name=f"pool{block}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"bn{block}")(x)
        if block in dropout:
            x = layers.Dropout(dropout[block], name=f"dropout{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(100, activation="relu", name="dense100")(x)
    x = layers.Dense(50, activation="relu", name="dense50")(x)
    # float32 scores even under a mixed-precision policy
    outputs = layers.Dense(num_classes, activation="softmax", name="classes", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_chexnet(input_shape, weights: str | Path | None = None, pooled: bool = False) -> keras.Model:
    """DenseNet121 + ``Dense(14, sigmoid, name="predictions")``: the CheXNet-Keras layout.

    ``pooled=False`` puts the Dense layer on the un-pooled feature map, as the
    study did; ``pooled=True`` is the original CheXNet (global average pooling
    first). Either way the weights are the same shapes, so a CheXNet-Keras
    file loads in layer order. ``weights``: ``None``, ``"imagenet"`` (for the
    DenseNet part; Keras downloads and caches them) or a CheXNet ``.h5`` path.
    Input: floats in [0, 1].
    """
    base_weights = "imagenet" if weights == "imagenet" else None
    try:
        base = keras.applications.DenseNet121(
            include_top=False,
            weights=base_weights,
            input_shape=input_shape,
            pooling="avg" if pooled else None,
        )
    except Exception as exc:  # offline: urllib errors, wrapped in several types
        raise WeightsError(
            f"Could not get the ImageNet weights for DenseNet121 ({type(exc).__name__}: {exc}). "
            "Connect to the internet once (Keras caches them in ~/.keras/models), or use "
            "weights='none' or a CheXNet .h5 file."
        ) from exc
    outputs = layers.Dense(CHEXNET_FINDINGS, activation="sigmoid", name="predictions")(base.output)
    chexnet = keras.Model(base.input, outputs, name="chexnet")
    if weights not in (None, "imagenet"):
        load_chexnet_weights(chexnet, weights)
    return chexnet


def _weight_shapes_in_file(handle) -> list[tuple[str, list[tuple[int, ...]]]]:
    names = [n.decode() if isinstance(n, bytes) else n for n in handle.attrs["layer_names"]]
    found = []
    for name in names:
        group = handle[name]
        weight_names = [w.decode() if isinstance(w, bytes) else w for w in group.attrs.get("weight_names", [])]
        if weight_names:
            found.append((name, [tuple(group[w].shape) for w in weight_names]))
    return found


def load_chexnet_weights(model: keras.Model, path: str | Path) -> None:
    """Load a Keras-2 weights file into ``model`` in layer order, or say which layer does not fit.

    Raises :class:`WeightsError` when the file is missing, not HDF5, corrupt, or
    its layers differ from the model's (naming the first mismatching layer).
    """
    import h5py

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"Weights file '{path}' does not exist.")
    if not h5py.is_hdf5(path):
        raise WeightsError(f"Weights file '{path}' is not an HDF5 (.h5) file.")
    try:
        with h5py.File(path, "r") as handle:
            group = handle["model_weights"] if "model_weights" in handle else handle
            in_file = _weight_shapes_in_file(group)
    except (OSError, KeyError) as exc:
        raise WeightsError(f"Weights file '{path}' is corrupt or not a Keras weights file ({exc}).") from exc
    in_model = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers if layer.weights]
    for position, (expected, saved) in enumerate(zip(in_model, in_file)):
        if expected[1] != saved[1]:
            raise WeightsError(
                f"Weights file '{path}' does not fit model '{model.name}': layer #{position} "
                f"'{saved[0]}' in the file has weight shapes {saved[1]}, but model layer "
                f"'{expected[0]}' expects {expected[1]}."
            )
    if len(in_model) != len(in_file):
        first_extra = (in_model + in_file)[min(len(in_model), len(in_file))][0] if in_file else "(none)"
        raise WeightsError(
            f"Weights file '{path}' has {len(in_file)} layers with weights but model '{model.name}' "
            f"has {len(in_model)}; first unmatched layer: '{first_extra}'."
        )
    try:
        model.load_weights(str(path))
    except (ValueError, OSError) as exc:
        raise WeightsError(f"Weights file '{path}' could not be loaded into '{model.name}': {exc}") from exc


def _densenet_model(name, input_shape, weights, num_classes, pooled_first: bool):
    inputs = keras.Input(shape=input_shape, name="xray")
    x = layers.Rescaling(1.0 / 255, name="scale_to_unit")(inputs)
    if input_shape[-1] == 1:  # pretrained DenseNet expects 3 channels: repeat the gray one
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    chexnet = build_chexnet((*input_shape[:2], 3), weights, pooled=pooled_first)
    if pooled_first:
        # Drop the 14-finding layer; pool the DenseNet features, then a new head.
        features = keras.Model(chexnet.input, chexnet.get_layer("predictions").input, name="densenet121")
        x = features(x)
    else:
        x = chexnet(x)
        x = layers.GlobalAveragePooling2D(name="pool_findings")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="classes", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


@contextmanager
def precision(policy: str = "float32"):
    """Build models under a Keras dtype policy, restoring the previous one afterwards.

    ``"mixed_float16"``/``"mixed_bfloat16"`` compute in 16 bits and keep weights
    in float32; the class scores (layer ``classes``) are always float32, and
    Keras adds loss scaling for float16 at ``compile``.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_model(
    name: str,
    input_shape: tuple[int, int, int] = (192, 192, 3),
    *,
    weights: str | Path | None = None,
    num_classes: int = 3,
) -> keras.Model:
    """One of the study's models (see the module table), uncompiled.

    ``input_shape`` is ``(S, S, C)`` of ``uint8`` images. ``weights`` only
    applies to ``m4``/``m4_clean``: ``None`` (random), ``"imagenet"``, or the
    path of a CheXNet-Keras ``.h5`` file.
    """
    if name not in MODEL_NAMES:
        raise ConfigError(f"model={name!r} is not known; allowed: {', '.join(MODEL_NAMES)}")
    validate_image_shape(input_shape[0], input_shape[-1], name)
    if weights is not None and name not in DENSENET_MODELS:
        raise ConfigError(f"weights={weights!r} only applies to m4 and m4_clean, not {name}")
    if name == "m1":
        return study_cnn("m1_plain", input_shape, num_classes=num_classes)
    if name == "m2":
        return study_cnn("m2_batchnorm", input_shape, batch_norm=True, num_classes=num_classes)
    if name == "m3":
        return study_cnn(
            "m3_batchnorm_dropout", input_shape, batch_norm=True, dropout={1: 0.8, 3: 0.2}, num_classes=num_classes
        )
    return _densenet_model(
        "m4_chexnet" if name == "m4" else "m4_clean",
        input_shape,
        weights,
        num_classes,
        pooled_first=name == "m4_clean",
    )


def parameter_count(name: str, input_shape: tuple[int, int, int] = (192, 192, 3)) -> int:
    """Parameters of model ``name`` at ``input_shape``, leaving no model behind.

    Keras keeps global state for every model built; with two DenseNet121s built
    and dropped, TensorFlow's first trace of the next training step took 43 s
    instead of 32 s (measured), so the session is cleared afterwards. Models
    you still hold keep working.
    """
    count = build_model(name, input_shape).count_params()
    keras.backend.clear_session()
    return count


def layer_table(model: keras.Model):
    """One row per layer: name, type, output shape and parameter count (a tidy ``summary()``)."""
    import pandas as pd

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = tuple(layer.output.shape[1:]) if hasattr(layer, "output") else ()
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output shape": " x ".join(str(d) for d in shape),
                "parameters": layer.count_params(),
            }
        )
    return pd.DataFrame(rows)

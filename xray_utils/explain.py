"""Where does a model look? Grad-CAM, HiResCAM and CAM heatmaps for any of the study's models.

Gradients need the backend, so :func:`_gradients` dispatches to TensorFlow
(``GradientTape``), JAX (``jax.grad``) or PyTorch (``autograd``); everything
else is backend-neutral Keras and NumPy. (Hand-written: no maintained library
offers Grad-CAM for Keras 3 across backends.)

* **Grad-CAM** (Selvaraju et al. 2017, ICCV; references.bib: selvaraju2017): weight
  each feature map of a spatial layer by the *average* gradient of the class score
  (the logit, before softmax) over that map, sum, keep the positive part.
* **HiResCAM** (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful
  explanations of convolutional neural networks", arXiv:2011.08891; draelos2020):
  multiply gradient and feature map *element-wise* before summing. It shows exactly
  the locations the score used; Grad-CAM's averaging can spread credit to places the
  score ignores.
* **CAM** (Zhou et al. 2016, CVPR; zhou2016): for heads that are global average
  pooling followed by one dense layer, the dense weights themselves.

Heatmaps come back at the image's resolution, non-negative, scaled so each
image's maximum is 1 (all zeros when nothing contributes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from .config import STUDY_SEED
from .stats import accuracy_interval

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("gradcam", "hirescam")


def target_layer(model: keras.Model) -> keras.layers.Layer:
    """The last convolution, else the last layer with a spatial (4-D) output."""
    spatial = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and len(layer.output.shape) == 4
        and not isinstance(layer, (keras.layers.Rescaling, keras.layers.Concatenate))
    ]
    convs = [layer for layer in spatial if isinstance(layer, keras.layers.Conv2D)]
    if not spatial:
        raise ValueError(f"model '{model.name}' has no layer with a spatial output to explain")
    return (convs or spatial)[-1]


def _split(model: keras.Model, layer: keras.layers.Layer):
    """``(features, head)``: input -> layer output, and layer output -> class probabilities."""
    features = _features_model(model, layer)
    after = model.layers[model.layers.index(layer) + 1 :]

    def head(tensor):
        """Class *scores* (logits): the final softmax is left out, as Grad-CAM prescribes."""
        for following in after[:-1]:
            tensor = following(tensor, training=False) if _takes_training(following) else following(tensor)
        last = after[-1]
        if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
            scores = keras.ops.matmul(tensor, last.kernel)
            return scores + last.bias if last.use_bias else scores
        return last(tensor)

    return features, head


def _features_model(model: keras.Model, layer) -> keras.Model:
    """input -> ``layer``'s output *in this model*.

    A nested model (model 4's ``chexnet``) reports its own inner graph's output
    as ``layer.output``, which this model's inputs cannot reach. The head after
    ``layer`` is a chain (see :func:`_split`), so the tensor ``layer`` produces
    in this model is the input of the layer that follows it.
    """
    try:
        return keras.Model(model.input, layer.output)
    except ValueError:
        pass
    following = model.layers[model.layers.index(layer) + 1]
    tensor = following.input
    if not isinstance(tensor, list) and tuple(tensor.shape) == tuple(layer.output.shape):
        try:
            return keras.Model(model.input, tensor)
        except ValueError:
            pass
    raise ValueError(f"cannot reach layer '{layer.name}' from the inputs of '{model.name}'")


def _takes_training(layer) -> bool:
    return isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout, keras.Model))


def _gradients(head, feature_maps: np.ndarray, class_index: np.ndarray) -> np.ndarray:
    """d(score of ``class_index``)/d(feature maps), per image, under the active backend."""
    backend = keras.backend.backend()
    one_hot = np.eye(int(keras.ops.shape(head(feature_maps[:1]))[-1]), dtype="float32")[class_index]
    if backend == "tensorflow":
        import tensorflow as tf

        maps = tf.convert_to_tensor(feature_maps)
        with tf.GradientTape() as tape:
            tape.watch(maps)
            score = tf.reduce_sum(head(maps) * one_hot)
        return tape.gradient(score, maps).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        return np.asarray(jax.grad(lambda maps: jnp.sum(head(maps) * one_hot))(jnp.asarray(feature_maps)))
    if backend == "torch":
        import torch

        maps = torch.tensor(feature_maps, requires_grad=True)
        (head(maps) * torch.tensor(one_hot)).sum().backward()
        return maps.grad.detach().cpu().numpy()
    raise NotImplementedError(f"no gradient dispatch for the {backend} backend")


def _normalise(maps: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Positive part of ``maps``, resized bilinearly to ``size`` (None: kept at the feature grid), peak 1 per map."""
    resized = np.maximum(maps, 0)
    if size is not None:
        resized = keras.ops.convert_to_numpy(keras.ops.image.resize(resized[..., None], size, interpolation="bilinear"))
        resized = np.maximum(resized[..., 0], 0)
    peak = resized.reshape(len(resized), -1).max(axis=1)
    return np.divide(resized, peak[:, None, None], out=np.zeros_like(resized), where=peak[:, None, None] > 0)


def heatmaps(
    model: keras.Model,
    images: np.ndarray,
    class_index=None,
    method: str = "gradcam",
    layer: str | None = None,
    resize: bool = True,
) -> np.ndarray:
    """Heatmaps ``(N, S, S)`` in [0, 1] for ``images`` (uint8 ``(N, S, S, C)``).

    ``class_index``: the class to explain per image (default: the predicted one).
    ``method``: ``"gradcam"`` or ``"hirescam"``. ``layer``: a layer name (default:
    :func:`target_layer`). ``resize=False`` keeps each map at the layer's own grid
    ``(N, h, w)`` (e.g. 12x12 for Model 1 at 192 px): what the method computed,
    before any interpolation.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not known; allowed: {', '.join(METHODS)}")
    target = model.get_layer(layer) if layer else target_layer(model)
    features, head = _split(model, target)
    feature_maps = keras.ops.convert_to_numpy(features(images, training=False)).astype("float32")
    if class_index is None:
        class_index = keras.ops.convert_to_numpy(head(feature_maps)).argmax(axis=1)
    class_index = np.broadcast_to(np.asarray(class_index), (len(images),))
    gradients = _gradients(head, feature_maps, class_index)
    if method == "gradcam":
        weights = gradients.mean(axis=(1, 2), keepdims=True)
        maps = (weights * feature_maps).sum(axis=-1)
    else:
        maps = (gradients * feature_maps).sum(axis=-1)
    return _normalise(maps, images.shape[1:3] if resize else None)


# The central chest region as fractions of height and width (top, bottom, left, right):
# it covers both lung fields on a centred frontal radiograph.
CHEST_BOX = (0.15, 0.85, 0.15, 0.85)


def occlude(images: np.ndarray, keep: str = "outside", box=CHEST_BOX) -> np.ndarray:
    """A copy of ``images`` (uint8 ``(N, S, S, C)``) with part of each image set to black.

    ``keep="outside"`` blanks the central chest ``box`` (the lungs are hidden);
    ``keep="inside"`` blanks everything *but* the box. A model that stays far above
    chance with the lungs hidden is using something other than the lungs.
    """
    if keep not in ("outside", "inside"):
        raise ValueError(f"keep={keep!r} is not known; allowed: outside, inside")
    height, width = images.shape[1:3]
    top, bottom = int(round(box[0] * height)), int(round(box[1] * height))
    left, right = int(round(box[2] * width)), int(round(box[3] * width))
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = True
    blank = mask if keep == "outside" else ~mask
    out = images.copy()
    out[:, blank] = 0
    return out


OCCLUSION_VARIANTS = ("as is", "chest hidden", "only chest shown")


def occlusion_predictions(model, images: np.ndarray) -> dict[str, np.ndarray]:
    """The class one model predicts for each of ``images`` as is, with the chest hidden and with only the chest shown."""
    from .pipeline import predict_proba

    versions = {
        "as is": images,
        "chest hidden": occlude(images, "outside"),
        "only chest shown": occlude(images, "inside"),
    }
    return {name: predict_proba(model, shown, np.arange(len(shown))).argmax(1) for name, shown in versions.items()}


def occlusion_scores(model, images: np.ndarray, labels) -> dict[str, float | int]:
    """One model's accuracy on ``images`` as is, with the chest hidden and with only the chest shown."""
    predicted = occlusion_predictions(model, images)
    scores = {name: float((guess == np.asarray(labels)).mean()) for name, guess in predicted.items()}
    return {"images": int(len(labels)), **scores}


def occlusion_sample(run, imageset, seed: int = STUDY_SEED, max_images: int | None = 300) -> np.ndarray:
    """Positions in ``imageset`` of the test images the occlusion test scores for ``run`` (stratified, seeded)."""
    test = run.predictions()["indices"]
    return test[stratified_sample(imageset.labels[test], max_images, seed)]


def stratified_sample(labels, max_images: int | None, seed: int = STUDY_SEED) -> np.ndarray:
    """Sorted positions of at most ``max_images`` of ``labels`` (N,), each class in its share.

    Every class gets ``max_images * n_class / N`` rounded by largest remainder,
    drawn without replacement by a generator seeded with ``seed``. All positions
    when ``max_images`` is None or at least N.
    """
    labels = np.asarray(labels)
    if max_images is not None and max_images < 1:
        raise ValueError(f"max_images={max_images} must be at least 1 (or None for all images)")
    if max_images is None or max_images >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    quotas = max_images * counts / len(labels)
    take = np.floor(quotas).astype(int)
    by_remainder = np.argsort(-(quotas - take), kind="stable")  # ties: the first class first
    take[by_remainder[: max_images - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


def occlusion_table(runs: dict, images_for_model, seed: int = STUDY_SEED, max_images: int | None = 300) -> pd.DataFrame:
    """Test accuracy of each run as is, with the chest hidden, and with only the chest shown.

    ``runs``: ``{(model, protocol): Run}``; ``images_for_model(model)`` returns the
    :class:`ImageSet` the run was trained on (its test indices index into it).
    Each run is scored on a stratified sample of at most ``max_images`` test
    images (seeded by ``seed``; None: all of them), because three passes over a
    full test set at 192 px take most of a chapter's time on a CPU. The column
    ``images`` says how many were scored; "as is" is the accuracy on that sample.
    """
    import pandas as pd

    rows = []
    for (model_name, protocol), run in runs.items():
        imageset = images_for_model(model_name)
        test = occlusion_sample(run, imageset, seed, max_images)
        scores = occlusion_scores(run.load_model(), imageset.images[test], imageset.labels[test])
        rows.append({"model": model_name, "protocol": protocol, **scores})
    return pd.DataFrame(rows)


def per_class_sample(labels, per_class: int, seed: int = STUDY_SEED) -> np.ndarray:
    """Sorted positions of up to ``per_class`` of each class in ``labels``, drawn by a generator seeded with ``seed``."""
    labels = np.asarray(labels)
    if per_class < 1:
        raise ValueError(f"per_class={per_class} must be at least 1")
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(members, min(per_class, len(members)), replace=False)
        for members in (np.flatnonzero(labels == c) for c in np.unique(labels))
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=int)


def recall_rows(predicted, labels, class_names, level: float = 0.95) -> list[dict]:
    """Per class present in ``labels``: images, recall with an exact interval, and how many went to each class."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    rows = []
    for label, name in enumerate(class_names):
        members = labels == label
        if not members.any():
            continue
        hits = int((predicted[members] == label).sum())
        low, high = accuracy_interval(hits, int(members.sum()), level)
        called = np.bincount(predicted[members], minlength=len(class_names))
        rows.append(
            {
                "class": name,
                "images": int(members.sum()),
                "recall": hits / members.sum(),
                "ci95_low": low,
                "ci95_high": high,
                **{f"called {other}": int(n) for other, n in zip(class_names, called)},
            }
        )
    return rows


def held_out_recall(runs: dict, held_out_for_model, level: float = 0.95) -> pd.DataFrame:
    """Per-class recall (with exact binomial intervals) of each run on a held-out image set.

    Also reports where the misses went (e.g. how many adult normals were called COVID).
    ``held_out_for_model(model)`` returns the held-out :class:`ImageSet` at that model's input size.
    """
    import pandas as pd

    from .pipeline import predict_proba

    rows = []
    for (model_name, protocol), run in runs.items():
        held_out = held_out_for_model(model_name)
        predicted = predict_proba(run.load_model(), held_out.images, np.arange(len(held_out))).argmax(1)
        for row in recall_rows(predicted, held_out.labels, held_out.class_names, level):
            rows.append({"model": model_name, "protocol": protocol, **row})
    return pd.DataFrame(rows)


def example_picks(run, per_class: int = 1) -> pd.DataFrame:
    """For each true class, up to ``per_class`` right and ``per_class`` wrong test predictions.

    Columns: ``index`` (into the run's image set), ``true``, ``predicted``, ``correct``.
    """
    import pandas as pd

    predicted = run.predictions()
    names = run.config["class_names"]
    guess = predicted["y_prob"].argmax(1)
    rows = []
    for label, name in enumerate(names):
        for correct in (True, False):
            chosen = np.flatnonzero((predicted["y_true"] == label) & ((guess == label) == correct))[:per_class]
            rows += [
                {"index": int(predicted["indices"][i]), "true": name, "predicted": names[guess[i]], "correct": correct}
                for i in chosen
            ]
    return pd.DataFrame(rows, columns=["index", "true", "predicted", "correct"])

"""CNN basics, shown: small worked examples of what Model 1's layers compute.

Each function returns numbers (NumPy arrays, a table) or a Matplotlib
``Figure`` built from them, so a chapter can show the code and the picture
side by side. The numbers come from the same Keras layers, losses and
optimizers the study's models use, wherever there is one:

* :func:`convolve` is the "valid" cross-correlation a ``Conv2D`` computes (what
  Keras calls convolution), written as two loops; :func:`kernel_figure` shows it
  on a patch of an X-ray;
* :func:`first_conv_maps` and :func:`feature_maps_figure` apply a model's first
  ``Conv2D`` (after its ``Rescaling``) to one image;
* :func:`relu_and_pool` and :func:`relu_pool_figure`: ``ReLU`` then
  ``MaxPooling2D(2)`` on a small grid of numbers;
* :func:`softmax_table`, :func:`cross_entropy` and :func:`softmax_figure`: from
  class scores (logits) to probabilities to the loss;
* :func:`optimizer_paths` (:func:`descend` for each optimizer) and
  :func:`optimizer_figure`: plain gradient descent and Adam, as Keras optimizers on
  Keras variables, on a small elongated bowl.

Figures are sized for a book column about 730 px wide (7.5 inches at most, text
at 10 pt or more, at most two grids side by side).
"""

from __future__ import annotations

import textwrap

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import Normalize
from matplotlib.patches import Rectangle

from .errors import ConfigError, DataError

# A 2x2 kernel like Model 1's: positive on the left column, negative on the right, so it
# answers "how much brighter is the left than the right?": a vertical-edge detector.
EDGE_KERNEL = np.array([[0.5, -0.5], [0.5, -0.5]])
# A hand example for ReLU and pooling: mixed signs, so ReLU visibly changes something.
EXAMPLE_VALUES = np.array(
    [[-3.0, 1.0, 4.0, -1.0], [2.0, -5.0, 0.5, 2.0], [-1.0, -2.0, -4.0, -0.5], [6.0, 1.5, -3.0, -2.0]]
)
# The bowl of optimizer_paths: the loss rises 16 times faster across (weight 2) than along (weight 1).
BOWL_CURVATURE = (1.0, 16.0)
# The same words as plots.SYNTHETIC_NOTE (a higher layer, so not imported; a test keeps them equal).
SYNTHETIC_NOTE = "synthetic stand-in data: not medical results"
FONT = 11  # points: readable when a 7.5-inch figure is shown 730 px wide
MINUS = "\u2212"


def _number(value: float) -> str:
    """A short label for a grid cell: at most two decimals, a real minus sign."""
    text = f"{round(float(value), 2):g}"
    return text.replace("-", MINUS) if text not in ("-0", "0") else "0"


def _mark_synthetic(fig, synthetic: bool) -> None:
    if synthetic:
        fig.text(0.99, 0.005, SYNTHETIC_NOTE, ha="right", va="bottom", fontsize=10, color="#b03a2e")


def _matrix(values, name: str, dims: int = 2) -> np.ndarray:
    """``values`` as a float64 array with ``dims`` axes, or :class:`ConfigError` naming ``name``."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != dims or min(array.shape) == 0:
        raise ConfigError(f"{name} must be a non-empty {dims}-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ConfigError(f"{name} holds NaN or infinite values")
    return array


def _gray_image(image) -> np.ndarray:
    """A 2-D ``uint8`` grayscale X-ray, or :class:`DataError` saying what was passed instead."""
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise DataError(
            f"expected a 2-D uint8 grayscale image (H, W), got {image.dtype} of shape {image.shape}; "
            "for one image of an ImageSet pass images.images[i][..., 0]"
        )
    return image


def convolve(patch, kernel) -> np.ndarray:
    """The "valid" cross-correlation of one channel with one kernel: what ``Conv2D`` computes.

    ``patch``: ``(H, W)`` numbers (pixel values or activations); ``kernel``:
    ``(kh, kw)`` weights with ``kh <= H`` and ``kw <= W``. Output ``(H - kh + 1,
    W - kw + 1)``, float64: each cell is the sum of the kernel times the window of
    ``patch`` under it, the window's top-left corner at that cell (no bias, no
    activation, no padding). Keras, like every deep-learning library, calls this
    a convolution although the kernel is not flipped.
    """
    patch, kernel = _matrix(patch, "patch"), _matrix(kernel, "kernel")
    kh, kw = kernel.shape
    if kh > patch.shape[0] or kw > patch.shape[1]:
        raise ConfigError(f"kernel {kernel.shape} is larger than the patch {patch.shape}")
    out = np.zeros((patch.shape[0] - kh + 1, patch.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = np.sum(patch[r : r + kh, c : c + kw] * kernel)
    return out


def strongest_response(image, kernel, size: int = 5) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where ``kernel`` responds most on the central half of ``image``: ``(top_left, cell)``.

    ``top_left`` is the ``(row, column)`` in pixels of a ``size x size`` patch
    centred on the strongest response (largest absolute value), ``cell`` that
    response's position in the patch's output (``(size - kh + 1)`` square). The
    border quarter is skipped because it holds the image's frame and burnt-in
    markers, not anatomy.
    """
    image, kernel = _gray_image(image), _matrix(kernel, "kernel")
    kh, kw = kernel.shape
    if size < max(kh, kw) or size > min(image.shape):
        raise ConfigError(
            f"size must be between the kernel's size {kernel.shape} and the image's {image.shape}, got {size}"
        )
    response = np.abs(convolve(image, kernel))
    rows, cols = response.shape
    centre = np.zeros_like(response, dtype=bool)
    centre[rows // 4 : max(rows // 4 + 1, 3 * rows // 4), cols // 4 : max(cols // 4 + 1, 3 * cols // 4)] = True
    r, c = np.unravel_index(np.argmax(np.where(centre, response, -1.0)), response.shape)
    top = int(np.clip(r - (size - kh) // 2, 0, image.shape[0] - size))
    left = int(np.clip(c - (size - kw) // 2, 0, image.shape[1] - size))
    return (top, left), (int(r) - top, int(c) - left)


def _draw_grid(ax, values: np.ndarray, cmap: str, norm: Normalize, title: str, frame: int | None = None) -> None:
    """``values`` as coloured cells with their numbers printed, in black or white for contrast.

    ``frame``: show a ``frame x frame`` area with the grid in its middle, so grids of
    different sizes drawn side by side get cells of one size.
    """
    ax.imshow(values, cmap=cmap, norm=norm)
    colours = plt.get_cmap(cmap)(norm(values))
    for (r, c), value in np.ndenumerate(values):
        luminance = colours[r, c, :3] @ np.array([0.299, 0.587, 0.114])
        ax.text(
            c, r, _number(value), ha="center", va="center", fontsize=FONT, color="black" if luminance > 0.5 else "white"
        )
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="#555555", linewidth=0.8))
    rows, cols = values.shape
    frame = max(frame or 0, rows, cols)
    ax.set_xlim(-0.5 - (frame - cols) / 2, cols - 0.5 + (frame - cols) / 2)
    ax.set_ylim(rows - 0.5 + (frame - rows) / 2, -0.5 - (frame - rows) / 2)
    ax.set_axis_off()
    ax.text((cols - 1) / 2, -0.7, title, ha="center", va="bottom", fontsize=FONT)  # just above the grid


def _outline(ax, row: int, col: int, height: int, width: int, colour="#e67e22", inset: float = 0.0) -> None:
    """A thick frame around cells ``[row, row + height) x [col, col + width)``, ``inset`` cells inside them."""
    corner = (col - 0.5 + inset, row - 0.5 + inset)
    ax.add_patch(Rectangle(corner, width - 2 * inset, height - 2 * inset, fill=False, edgecolor=colour, linewidth=3))


def _sum_written_out(window: np.ndarray, kernel: np.ndarray, result: float) -> str:
    """ "0.5·112 + 0.5·118 − 0.5·97 − 0.5·101 = 16", wrapped to lines that fit the figure."""
    terms = [(w, x) for w, x in zip(kernel.ravel(), window.ravel()) if w != 0]
    text = ""
    for i, (w, x) in enumerate(terms):
        sign = (MINUS if w < 0 else "") if i == 0 else (f" {MINUS} " if w < 0 else " + ")
        text += f"{sign}{_number(abs(w))}\u00b7{_number(x)}"
    text = (text or "0") + f" = {_number(result)}"
    return "\n".join(textwrap.wrap(text, width=60, break_on_hyphens=False))


def kernel_figure(
    image,
    kernel=EDGE_KERNEL,
    top_left: tuple[int, int] | None = None,
    size: int = 5,
    cell: tuple[int, int] | None = None,
    synthetic: bool = False,
):
    """One kernel on one patch of an X-ray: the image, the patch, the kernel, the output, one sum.

    ``image``: ``uint8`` grayscale ``(H, W)``, pixel values 0-255 (the model
    divides them by 255 first; raw values keep the sums readable). ``kernel``:
    ``(kh, kw)`` weights. ``top_left``: ``(row, column)`` in pixels of the
    ``size x size`` patch; ``cell``: the output cell whose multiply-and-add is
    written out. Both default to :func:`strongest_response`. Four panels, two per
    row: the X-ray with the patch marked, the patch's pixel values, the kernel,
    and the ``(size - kh + 1, size - kw + 1)`` output of :func:`convolve`.
    """
    image, kernel = _gray_image(image), _matrix(kernel, "kernel")
    if top_left is None:
        top_left, strongest = strongest_response(image, kernel, size)
        cell = strongest if cell is None else cell
    top, left = (int(v) for v in top_left)
    if not (0 <= top <= image.shape[0] - size and 0 <= left <= image.shape[1] - size):
        raise ConfigError(f"a {size}x{size} patch at top_left={top_left} does not fit in the image {image.shape}")
    patch = image[top : top + size, left : left + size].astype(np.float64)
    output = convolve(patch, kernel)
    r, c = (0, 0) if cell is None else (int(v) for v in cell)
    if not (0 <= r < output.shape[0] and 0 <= c < output.shape[1]):
        raise ConfigError(f"cell {cell} is outside the output {output.shape}")
    kh, kw = kernel.shape

    fig, axes = plt.subplots(2, 2, figsize=(7.5, 8.2))
    axes[0, 0].imshow(image, cmap="gray", vmin=0, vmax=255)
    axes[0, 0].add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, edgecolor="#e67e22", linewidth=2))
    axes[0, 0].set_axis_off()
    axes[0, 0].set_title(
        f"X-ray ({image.shape[0]}\u00d7{image.shape[1]} px),\npatch at row {top}, column {left}", fontsize=FONT
    )
    _draw_grid(axes[0, 1], patch, "gray", Normalize(0, 255), f"{size}\u00d7{size} patch: pixel values (0\u2013255)")
    _outline(axes[0, 1], r, c, kh, kw)
    limit = float(np.abs(kernel).max()) or 1.0
    _draw_grid(axes[1, 0], kernel, "RdBu_r", Normalize(-limit, limit), f"kernel: {kh}\u00d7{kw} weights", frame=size)
    limit = float(np.abs(output).max()) or 1.0
    _draw_grid(
        axes[1, 1],
        output,
        "RdBu_r",
        Normalize(-limit, limit),
        f"output {output.shape[0]}\u00d7{output.shape[1]}: red > 0, blue < 0",
        frame=size,
    )
    _outline(axes[1, 1], r, c, 1, 1)
    window = patch[r : r + kh, c : c + kw]
    fig.text(
        0.5, 0.035, f"orange cell: {_sum_written_out(window, kernel, output[r, c])}", ha="center", fontsize=FONT + 1
    )
    fig.suptitle("A kernel slides over the patch: multiply and add", fontsize=FONT + 2)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout(rect=(0, 0.07, 1, 0.98))
    return fig


def _first_layers(model: keras.Model) -> tuple[keras.layers.Layer, float]:
    """``(first Conv2D, the scale its input gets from a Rescaling before it)``, looking inside nested models."""
    scale = 1.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Rescaling):
            scale *= float(layer.scale)
        elif isinstance(layer, keras.layers.Conv2D):
            return layer, scale
        elif isinstance(layer, keras.Model):
            try:
                inner, inner_scale = _first_layers(layer)
            except ConfigError:
                continue
            return inner, scale * inner_scale
    raise ConfigError(f"model '{model.name}' has no Conv2D layer")


def _conv_and_scale(conv_layer_or_model) -> tuple[keras.layers.Layer, float]:
    """The ``Conv2D`` to apply and the factor for its ``uint8`` input: a layer's is 1/255, like the models'."""
    if isinstance(conv_layer_or_model, keras.layers.Conv2D):
        return conv_layer_or_model, 1.0 / 255
    if isinstance(conv_layer_or_model, keras.Model):
        return _first_layers(conv_layer_or_model)
    raise ConfigError(f"expected a keras Model or Conv2D layer, got {type(conv_layer_or_model).__name__}")


def first_conv_maps(image, conv_layer_or_model) -> np.ndarray:
    """The first ``Conv2D``'s output for one image: ``(H, W, filters)`` float32, after its activation.

    ``image``: ``uint8`` ``(H, W)`` or ``(H, W, C)``, pixel values 0-255; a
    grayscale image is repeated into the layer's input channels (as the loader
    does). ``conv_layer_or_model``: a Keras model (its first ``Conv2D`` is used,
    after the scaling of the ``Rescaling`` layers before it, ``1/255`` in the
    study's models) or a ``Conv2D`` layer (the image is divided by 255, like the
    models' ``Rescaling``). A convolution works at any image size, so ``image``
    need not be the model's input size. With ``"same"`` padding ``H`` and ``W``
    are the image's.
    """
    layer, scale = _conv_and_scale(conv_layer_or_model)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise DataError(f"expected a uint8 image (H, W) or (H, W, C), got {image.dtype} of shape {image.shape}")
    pixels = image[..., None] if image.ndim == 2 else image
    channels = int(layer.kernel.shape[-2]) if layer.built else pixels.shape[-1]  # kernel: (kh, kw, in, out)
    if pixels.shape[-1] == 1 and channels > 1:
        pixels = np.repeat(pixels, channels, axis=-1)
    if pixels.shape[-1] != channels:
        raise DataError(f"layer '{layer.name}' takes {channels} channels, the image has {pixels.shape[-1]}")
    batch = pixels[None].astype("float32") * np.float32(scale)
    return keras.ops.convert_to_numpy(layer(batch))[0]


def feature_maps_figure(image, conv_layer_or_model, count: int = 8, synthetic: bool = False):
    """The first ``count`` feature maps of the first convolution for one image, four per row.

    Arguments as :func:`first_conv_maps`. Each map has its own colour scale,
    from 0 (black) to its largest activation (light), written under its title
    (no unit: the image is scaled to [0, 1] first), so the patterns of weak and
    strong filters are equally visible. A map that is 0 everywhere says so: its
    ReLU cut every value.
    """
    maps = first_conv_maps(image, conv_layer_or_model)
    if not 1 <= count <= maps.shape[-1]:
        raise ConfigError(f"count must be between 1 and the layer's {maps.shape[-1]} filters, got {count}")
    columns = min(4, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.5, 2.15 * rows + 0.5), squeeze=False, layout="constrained")
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k < count:
            top = float(maps[..., k].max())
            ax.imshow(maps[..., k], cmap="magma", vmin=0, vmax=top or 1.0)
            ax.set_title(f"filter {k + 1}\n" + (f"0 to {top:.3g}" if top else "0 everywhere"), fontsize=FONT)
    name = _conv_and_scale(conv_layer_or_model)[0].name
    fig.suptitle(
        f"Layer '{name}' after ReLU: {count} of its {maps.shape[-1]} feature maps, {maps.shape[0]}\u00d7{maps.shape[1]} each",
        fontsize=FONT + 1,
    )
    if synthetic:  # constrained layout ignores figure text: keep a strip free for the note
        fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    _mark_synthetic(fig, synthetic)
    return fig


def relu_and_pool(values) -> tuple[np.ndarray, np.ndarray]:
    """``(after ReLU, after 2x2 max pooling)`` of a grid of numbers, by Keras' own layers.

    ``values``: ``(H, W)`` with ``H`` and ``W`` even (one channel of a feature
    map before its activation). Returns ``(H, W)`` with negatives set to 0 and
    ``(H / 2, W / 2)``, each cell the largest of its 2x2 window.
    """
    values = _matrix(values, "values")
    if values.shape[0] % 2 or values.shape[1] % 2:
        raise ConfigError(f"values must have an even number of rows and columns for 2x2 pooling, got {values.shape}")
    relu = keras.layers.ReLU()(values[None, :, :, None].astype("float32"))
    pooled = keras.layers.MaxPooling2D(pool_size=2)(relu)
    return keras.ops.convert_to_numpy(relu)[0, :, :, 0], keras.ops.convert_to_numpy(pooled)[0, :, :, 0]


def relu_pool_figure(values=EXAMPLE_VALUES):
    """ReLU then 2x2 max pooling on a small grid (``(H, W)``, even sides, 4x4 reads best), numbers shown.

    Four panels, two per row: before ReLU, after ReLU with the pooling windows
    outlined, after pooling (each cell outlined in its window's colour), and the
    ``max(...)`` of each window written out.
    """
    values = _matrix(values, "values")
    relu, pooled = relu_and_pool(values)
    limit = float(np.abs(values).max()) or 1.0
    norm = Normalize(-limit, limit)
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 6.8))
    _draw_grid(axes[0, 0], values, "RdBu_r", norm, "before ReLU")
    _draw_grid(axes[0, 1], relu, "RdBu_r", norm, "after ReLU: max(0, x)")
    _draw_grid(axes[1, 0], pooled, "RdBu_r", norm, "after 2\u00d72 max pooling", frame=max(values.shape))
    colours = plt.get_cmap("tab10").colors
    lines = []
    for k, (r, c) in enumerate(np.ndindex(pooled.shape)):
        colour = colours[k % len(colours)]
        _outline(axes[0, 1], 2 * r, 2 * c, 2, 2, colour, inset=0.05)  # inset: neighbouring frames stay apart
        _outline(axes[1, 0], r, c, 1, 1, colour, inset=0.05)
        window = ", ".join(_number(v) for v in relu[2 * r : 2 * r + 2, 2 * c : 2 * c + 2].ravel())
        lines.append((f"max({window}) = {_number(pooled[r, c])}", colour))
    axes[1, 1].set_axis_off()
    for k, (line, colour) in enumerate(lines[:12]):
        axes[1, 1].text(0.0, 0.9 - 0.12 * k, line, color=colour, fontsize=FONT, transform=axes[1, 1].transAxes)
    axes[1, 1].set_title("each window keeps its largest value", fontsize=FONT)
    fig.suptitle("ReLU, then 2\u00d72 max pooling", fontsize=FONT + 2)
    fig.tight_layout()
    return fig


def _logits_and_target(logits, class_names, true_class) -> tuple[np.ndarray, int]:
    logits = _matrix(logits, "logits", dims=1)
    names = list(class_names)
    if len(names) != len(logits):
        raise ConfigError(f"{len(logits)} logits for {len(names)} class names {names}")
    if true_class not in names:
        raise ConfigError(f"true_class {true_class!r} is not one of the class names {names}")
    return logits, names.index(true_class)


def softmax(logits) -> np.ndarray:
    """``exp(z) / sum(exp(z))`` for class scores ``z`` of shape ``(K,)``: probabilities that sum to 1."""
    logits = _matrix(logits, "logits", dims=1)
    exp = np.exp(logits - logits.max())  # the same ratios, without overflow for large scores
    return exp / exp.sum()


def softmax_table(logits, class_names, true_class: str) -> pd.DataFrame:
    """From class scores to probabilities to the loss, one row per class.

    ``logits``: ``(K,)`` class scores (any real numbers: what the last Dense layer
    computes before its softmax); ``class_names``: ``K`` names; ``true_class``:
    one of them. Columns: ``logit`` z, ``exp(logit)``, ``probability``
    (softmax: exp over the column's sum), ``target`` (one-hot: 1 for the true
    class), and ``-target * log p``, whose sum is the cross-entropy loss (natural
    log, in nats).
    """
    logits, true_index = _logits_and_target(logits, class_names, true_class)
    probability = softmax(logits)
    target = np.eye(len(logits))[true_index]
    return pd.DataFrame(
        {
            "class": list(class_names),
            "logit": logits,
            "exp(logit)": np.exp(logits),
            "probability": probability,
            "target": target,
            f"{MINUS}target\u00b7log p": -target * np.log(probability),
        }
    ).set_index("class")


def cross_entropy(logits, class_names, true_class: str) -> dict[str, float]:
    """The loss ``-log p(true class)`` twice: by hand, and by Keras' ``CategoricalCrossentropy``.

    Arguments as :func:`softmax_table`. Keras receives the probabilities, as in
    the study's models (softmax in the last layer, ``from_logits=False``); it
    clips them to ``[1e-7, 1 - 1e-7]``, so the two agree unless a probability is
    below about ``1e-7``. Natural log: the loss is in nats.
    """
    logits, true_index = _logits_and_target(logits, class_names, true_class)
    probability = softmax(logits)
    target = np.eye(len(logits))[true_index]
    by_keras = keras.losses.CategoricalCrossentropy()(
        target[None].astype("float32"), probability[None].astype("float32")
    )
    return {"by hand": float(-np.log(probability[true_index])), "keras": float(keras.ops.convert_to_numpy(by_keras))}


def softmax_figure(logits, class_names, true_class: str):
    """Two bar charts: the logits, and the softmax probabilities with the true class coloured and the loss in the title."""
    logits, true_index = _logits_and_target(logits, class_names, true_class)
    probability = softmax(logits)
    names = [textwrap.fill(str(name), 10) for name in class_names]
    colours = ["#c0392b" if k == true_index else "#95a5a6" for k in range(len(logits))]
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4))
    axes[0].bar(names, logits, color=colours)
    axes[0].bar_label(axes[0].containers[0], labels=[f"{z:.2f}".replace("-", MINUS) for z in logits], fontsize=FONT)
    axes[0].axhline(0, color="black", linewidth=0.8)
    axes[0].margins(y=0.15)
    axes[0].set_title("logits z: any real numbers", fontsize=FONT)
    axes[1].bar(names, probability, color=colours)
    axes[1].bar_label(axes[1].containers[0], fmt="%.2f", fontsize=FONT)
    axes[1].set(ylim=(0, 1.12), ylabel="probability")
    loss = -np.log(probability[true_index])
    axes[1].set_title("softmax probabilities", fontsize=FONT)
    for ax in axes:
        ax.tick_params(labelsize=FONT - 1)
    fig.suptitle(
        f"true class {true_class} (red): loss = {MINUS}log p = {MINUS}log {probability[true_index]:.3f} = {loss:.2f}",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def bowl_loss(weights, curvature=BOWL_CURVATURE) -> np.ndarray:
    """``(a w1^2 + b w2^2) / 2`` for ``weights`` of shape ``(..., 2)``: an elongated bowl, lowest (0) at the origin."""
    weights = np.asarray(weights, dtype=np.float64)
    return 0.5 * (curvature[0] * weights[..., 0] ** 2 + curvature[1] * weights[..., 1] ** 2)


def optimizer_paths(
    learning_rate: float = 0.1, steps: int = 40, start=(-4.0, 2.0), curvature=BOWL_CURVATURE
) -> dict[str, np.ndarray]:
    """Plain gradient descent and Adam on :func:`bowl_loss`, both at ``learning_rate``.

    Each optimizer is the Keras one (``keras.optimizers.SGD``, ``Adam`` with its
    defaults) updating a ``keras.Variable`` of two weights from ``start``; the
    gradient of the bowl is written by hand, ``(a w1, b w2)``. Returns, for
    ``"gradient descent"`` and ``"Adam"``, the weights after each step:
    ``(steps + 1, 2)`` float32, row 0 being ``start``.
    """
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigError(f"learning_rate must be a positive number, got {learning_rate}")
    if int(steps) != steps or steps < 1:
        raise ConfigError(f"steps must be a positive whole number, got {steps}")
    start, curvature = _matrix(start, "start", dims=1), _matrix(curvature, "curvature", dims=1)
    if start.shape != (2,) or curvature.shape != (2,) or (curvature <= 0).any():
        raise ConfigError(f"start and curvature must be 2 numbers (curvature positive), got {start} and {curvature}")
    optimizers = {
        "gradient descent": keras.optimizers.SGD(learning_rate=learning_rate),
        "Adam": keras.optimizers.Adam(learning_rate=learning_rate),
    }
    return {name: descend(optimizer, start, int(steps), curvature) for name, optimizer in optimizers.items()}


def descend(optimizer: keras.optimizers.Optimizer, start, steps: int, curvature=BOWL_CURVATURE) -> np.ndarray:
    """``steps`` updates of two weights by ``optimizer`` on :func:`bowl_loss`: ``(steps + 1, 2)``, row 0 = ``start``."""
    weights = keras.Variable(np.asarray(start, dtype="float32"), name="weights")
    slope = keras.ops.convert_to_tensor(np.asarray(curvature, dtype="float32"))
    path = [keras.ops.convert_to_numpy(weights)]
    for _ in range(steps):
        gradient = slope * weights  # the bowl's gradient, (a w1, b w2), by hand
        optimizer.apply_gradients([(gradient, weights)])
        path.append(keras.ops.convert_to_numpy(weights))
    return np.stack(path)


def optimizer_figure(paths: dict[str, np.ndarray], curvature=BOWL_CURVATURE, learning_rate: float | None = None):
    """Left: the paths of :func:`optimizer_paths` over the bowl's contours; right: the loss per step (log scale).

    The left panel spans 1.25 times the start's distance from the minimum along
    each weight; a path that leaves it (a learning rate too large for that
    optimizer: it diverges) is named so in the legend.
    """
    if not paths:
        raise ConfigError("paths is empty: pass the result of optimizer_paths")
    start = next(iter(paths.values()))[0]
    reach = 1.25 * np.maximum(np.abs(start), 0.1)
    grid = np.stack(np.meshgrid(np.linspace(-reach[0], reach[0], 200), np.linspace(-reach[1], reach[1], 200)), axis=-1)
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 4.0), gridspec_kw={"width_ratios": (1.35, 1)})
    axes[0].contour(grid[..., 0], grid[..., 1], bowl_loss(grid, curvature), levels=12, colors="#bbbbbb", linewidths=0.8)
    styles = {"gradient descent": "#2e86c1", "Adam": "#c0392b"}
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging path may overflow: it is drawn up to there
        for name, path in paths.items():
            outside = np.flatnonzero(~(np.abs(path) <= reach).all(axis=1))
            label = f"{name} (leaves the plot)" if len(outside) else name
            shown = path[: outside[0] + 1] if len(outside) else path  # up to where it leaves, not its way out
            axes[0].plot(
                shown[:, 0], shown[:, 1], marker="o", markersize=3, linewidth=1.2, color=styles.get(name), label=label
            )
            axes[1].semilogy(bowl_loss(path, curvature), color=styles.get(name), label=name)
    axes[0].plot(*start, marker="s", color="black", markersize=6, linestyle="none", label="start")
    axes[0].plot(0, 0, marker="*", color="black", markersize=10, linestyle="none", label="minimum")
    axes[0].set(xlim=(-reach[0], reach[0]), ylim=(-reach[1], reach[1]), xlabel="weight 1", ylabel="weight 2")
    axes[0].set_title("paths over the loss contours", fontsize=FONT)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=FONT - 1, frameon=False)
    axes[1].set(xlabel="step", ylabel="loss (log scale)")
    axes[1].set_title("loss after each step", fontsize=FONT)
    if learning_rate is not None:
        fig.suptitle(f"Gradient descent and Adam, learning rate {learning_rate:g}", fontsize=FONT + 1)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig

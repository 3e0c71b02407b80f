"""The CNN-basics examples compute what Keras computes, on hand-checked numbers, in readable figures.

Every number is checked against something independent: a Keras layer, loss or
optimizer used directly, a closed form, or a small example worked by hand.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xray_utils import basics, plots  # noqa: E402
from xray_utils.errors import ConfigError, DataError  # noqa: E402
from xray_utils.models import build_model  # noqa: E402

CLASSES = ("COVID", "Normal", "Viral Pneumonia")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def model():
    return build_model("m1", (32, 32, 3))


def _edge_image() -> np.ndarray:
    """40 x 40: 100 on the left half, 40 on the right (a vertical edge between columns 19 and 20)."""
    image = np.full((40, 40), 40, dtype=np.uint8)
    image[:, :20] = 100
    return image


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def _check_readable(fig, per_row: int) -> None:
    """Book column: at most 7.5 inches wide, text at 10 pt or more, at most ``per_row`` panels side by side."""
    assert fig.get_size_inches()[0] <= 7.5
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert sizes and min(sizes) >= 10, min(sizes)
    rows: dict[float, int] = {}
    for ax in fig.axes:
        if ax.get_visible() and (ax.has_data() or ax.texts):
            y = round(ax.get_position().y0, 2)
            rows[y] = rows.get(y, 0) + 1
    assert max(rows.values()) <= per_row, rows


# convolution


def test_convolve_is_keras_conv2d_with_those_weights_and_no_bias():
    rng = np.random.default_rng(0)
    patch, kernel = rng.uniform(0, 255, (6, 7)), rng.normal(size=(2, 3))  # not square: a transpose would show
    layer = keras.layers.Conv2D(1, kernel.shape, padding="valid", use_bias=False)
    layer.build((1, 6, 7, 1))
    layer.set_weights([kernel[:, :, None, None]])
    expected = keras.ops.convert_to_numpy(layer(patch[None, :, :, None].astype("float32")))[0, :, :, 0]
    found = basics.convolve(patch, kernel)
    assert found.shape == (5, 5)
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-3)


def test_convolve_on_a_hand_example():
    # d2l.ai's example (section 7.2): the kernel is not flipped
    patch = np.arange(9).reshape(3, 3)
    np.testing.assert_array_equal(basics.convolve(patch, [[0, 1], [2, 3]]), [[19, 25], [37, 43]])


def test_convolve_refuses_a_kernel_larger_than_the_patch_and_non_grids():
    with pytest.raises(ConfigError, match="larger than the patch"):
        basics.convolve(np.zeros((2, 2)), np.ones((3, 3)))
    with pytest.raises(ConfigError, match="kernel must be a non-empty 2-D"):
        basics.convolve(np.zeros((4, 4)), np.ones(3))


def test_strongest_response_finds_the_edge():
    (top, left), (r, c) = basics.strongest_response(_edge_image(), basics.EDGE_KERNEL, size=5)
    # the window of the strongest cell straddles the edge: its left column is 19
    assert left + c == 19 and 0 <= r <= 3 and 0 <= c <= 3
    assert 9 <= top + r < 30  # the strongest cell is in the central half (rows 9-29 of 39), away from the border


def test_kernel_figure_writes_out_the_sum_it_shows():
    fig = basics.kernel_figure(_edge_image(), basics.EDGE_KERNEL, top_left=(10, 17), size=5, cell=(0, 2))
    texts = _texts(fig)
    # window columns 19-20: 0.5*100 + 0.5*100 - 0.5*40 - 0.5*40 = 60
    assert any("0.5\u00b7100 \u2212 0.5\u00b740 + 0.5\u00b7100 \u2212 0.5\u00b740 = 60" in t for t in texts), texts
    assert texts.count("60") >= 4  # the output column over the edge: four cells of 60
    assert "row 10, column 17" in " ".join(texts)
    _check_readable(fig, per_row=2)


def test_kernel_figure_refuses_colour_images_and_patches_off_the_image():
    with pytest.raises(DataError, match=r"images.images\[i\]\[..., 0\]"):
        basics.kernel_figure(np.zeros((40, 40, 3), dtype=np.uint8))
    with pytest.raises(ConfigError, match="does not fit"):
        basics.kernel_figure(_edge_image(), top_left=(38, 0))
    with pytest.raises(ConfigError, match="outside the output"):
        basics.kernel_figure(_edge_image(), top_left=(0, 0), cell=(4, 0))


def test_the_synthetic_note_is_the_books_and_shows():
    assert basics.SYNTHETIC_NOTE == plots.SYNTHETIC_NOTE
    assert basics.SYNTHETIC_NOTE in _texts(basics.kernel_figure(_edge_image(), synthetic=True))
    assert basics.SYNTHETIC_NOTE not in _texts(basics.kernel_figure(_edge_image()))


# feature maps


def test_first_conv_maps_are_the_models_conv1_output(model):
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    conv1 = keras.Model(model.input, model.get_layer("conv1").output)
    expected = keras.ops.convert_to_numpy(conv1(image[None]))[0]
    found = basics.first_conv_maps(image, model)
    assert found.shape == (32, 32, 128)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)
    # a grayscale image is the same picture in three equal channels; a layer gets the model's 1/255
    gray = image[..., 0]
    np.testing.assert_allclose(
        basics.first_conv_maps(gray, model), basics.first_conv_maps(np.repeat(gray[..., None], 3, -1), model), atol=1e-6
    )
    np.testing.assert_allclose(basics.first_conv_maps(image, model.get_layer("conv1")), expected, rtol=1e-5, atol=1e-6)


def test_first_conv_maps_work_at_any_size_and_refuse_what_is_not_a_cnn(model):
    assert basics.first_conv_maps(np.zeros((48, 40), dtype=np.uint8), model).shape == (48, 40, 128)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigError, match="has no Conv2D"):
        basics.first_conv_maps(np.zeros((8, 8), dtype=np.uint8), dense)
    with pytest.raises(ConfigError, match="Model or Conv2D"):
        basics.first_conv_maps(np.zeros((8, 8), dtype=np.uint8), "conv1")
    with pytest.raises(DataError, match="takes 3 channels"):
        basics.first_conv_maps(np.zeros((8, 8, 2), dtype=np.uint8), model)
    with pytest.raises(DataError, match="uint8"):
        basics.first_conv_maps(np.zeros((8, 8)), model)


def test_a_conv2d_layer_alone_gets_the_models_scaling_and_computes_convolve():
    image = np.random.default_rng(3).integers(0, 256, (9, 8), dtype=np.uint8)
    layer = keras.layers.Conv2D(1, 2, padding="valid", use_bias=False)
    layer.build((None, 9, 8, 1))
    layer.set_weights([basics.EDGE_KERNEL[:, :, None, None]])
    found = basics.first_conv_maps(image, layer)[..., 0]
    np.testing.assert_allclose(found, basics.convolve(image / 255, basics.EDGE_KERNEL), atol=1e-6)
    assert basics.first_conv_maps(image, keras.layers.Conv2D(4, 3)).shape == (7, 6, 4)  # an unbuilt layer builds


def test_feature_maps_figure_shows_count_maps_four_wide(model):
    image = np.random.default_rng(2).integers(0, 256, (64, 64), dtype=np.uint8)
    fig = basics.feature_maps_figure(image, model, count=6)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert [ax.get_title().splitlines()[0] for ax in shown] == [f"filter {k}" for k in range(1, 7)]
    # each panel's note is its own map's range
    maps = basics.first_conv_maps(image, model)
    assert shown[0].get_title().splitlines()[1] in (f"0 to {maps[..., 0].max():.3g}", "0 everywhere")
    _check_readable(fig, per_row=4)
    with pytest.raises(ConfigError, match="count must be between 1 and the layer's 128"):
        basics.feature_maps_figure(image, model, count=129)


# ReLU and pooling


def test_relu_and_pool_on_a_hand_example():
    values = [[-1, 2, 0, -3], [4, -5, 1, 1], [-2, -2, -1, -1], [-3, -4, 7, -8]]
    relu, pooled = basics.relu_and_pool(values)
    np.testing.assert_array_equal(relu, [[0, 2, 0, 0], [4, 0, 1, 1], [0, 0, 0, 0], [0, 0, 7, 0]])
    np.testing.assert_array_equal(pooled, [[4, 1], [0, 7]])


def test_relu_and_pool_wants_even_sides():
    with pytest.raises(ConfigError, match="even number"):
        basics.relu_and_pool(np.zeros((3, 4)))


def test_relu_pool_figure_writes_each_windows_max():
    fig = basics.relu_pool_figure(basics.EXAMPLE_VALUES)
    texts = _texts(fig)
    assert "max(0, 1, 2, 0) = 2" in texts and "max(0, 0, 0, 0) = 0" in texts
    assert "\u22125" in texts  # the negative before ReLU, with a real minus sign
    _check_readable(fig, per_row=2)


# softmax and cross-entropy


def test_softmax_table_is_softmax_and_its_loss_column_sums_to_minus_log_p():
    logits = np.array([2.0, 0.5, -1.0])
    table = basics.softmax_table(logits, CLASSES, "Normal")
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(table["probability"], expected)
    np.testing.assert_allclose(table["exp(logit)"], np.exp(logits))
    assert table["target"].tolist() == [0, 1, 0]
    assert table.iloc[:, -1].sum() == pytest.approx(-np.log(expected[1]))
    np.testing.assert_allclose(basics.softmax([1000.0, 1000.0]), [0.5, 0.5])  # no overflow


def test_cross_entropy_by_hand_agrees_with_keras():
    assert basics.cross_entropy([0.0, 0.0, 0.0], CLASSES, "COVID")["by hand"] == pytest.approx(np.log(3))
    logits = [1.5, -0.3, 0.8]
    found = basics.cross_entropy(logits, CLASSES, "Viral Pneumonia")
    from_logits = keras.losses.CategoricalCrossentropy(from_logits=True)([[0.0, 0.0, 1.0]], [logits])
    assert found["by hand"] == pytest.approx(found["keras"], rel=1e-5)
    assert found["by hand"] == pytest.approx(float(from_logits), rel=1e-5)


def test_softmax_refuses_unknown_classes_and_wrong_lengths():
    with pytest.raises(ConfigError, match="not one of the class names"):
        basics.softmax_table([1.0, 2.0, 3.0], CLASSES, "covid")
    with pytest.raises(ConfigError, match="2 logits for 3 class names"):
        basics.cross_entropy([1.0, 2.0], CLASSES, "COVID")


def test_softmax_figure_states_the_loss():
    fig = basics.softmax_figure([2.0, 0.5, -1.0], CLASSES, "Normal")
    loss = -np.log(np.exp(0.5) / np.exp([2.0, 0.5, -1.0]).sum())
    assert any(t.endswith(f"= {loss:.2f}") for t in _texts(fig))
    _check_readable(fig, per_row=2)


# optimizers


def test_gradient_descent_follows_its_closed_form():
    lr, start = 0.05, (-4.0, 2.0)
    a, b = basics.BOWL_CURVATURE
    path = basics.optimizer_paths(learning_rate=lr, steps=30, start=start)["gradient descent"]
    steps = np.arange(31)
    expected = np.stack([start[0] * (1 - lr * a) ** steps, start[1] * (1 - lr * b) ** steps], axis=1)
    np.testing.assert_allclose(path, expected, rtol=1e-4, atol=1e-5)


def test_adam_is_the_published_update_and_ends_nearer_the_minimum():
    lr, start, steps = 0.1, np.array([-4.0, 2.0]), 40
    path = basics.optimizer_paths(learning_rate=lr, steps=steps, start=start)["Adam"]
    assert path.shape == (steps + 1, 2) and np.array_equal(path[0], start)
    # Kingma & Ba's Adam with Keras' defaults (beta 0.9 / 0.999, epsilon 1e-7), written out here
    w, m, v = start.copy(), np.zeros(2), np.zeros(2)
    for t in range(1, steps + 1):
        g = np.array(basics.BOWL_CURVATURE) * w
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
        w = w - lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
        np.testing.assert_allclose(path[t], w, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.abs(path[1] - path[0]), [lr, lr], rtol=1e-4)  # first step: lr in each weight
    assert np.linalg.norm(path[-1]) < 0.5 * np.linalg.norm(path[0])


def test_a_rate_too_large_for_gradient_descent_is_not_for_adam():
    paths = basics.optimizer_paths(learning_rate=0.2, steps=30)  # 0.2 x curvature 16 > 2: unstable
    assert np.abs(paths["gradient descent"][-1]).max() > 1e3
    assert np.linalg.norm(paths["Adam"][-1]) < np.linalg.norm(paths["Adam"][0])
    fig = basics.optimizer_figure(paths, learning_rate=0.2)
    assert "gradient descent (leaves the plot)" in _texts(fig) and "Adam" in _texts(fig)
    _check_readable(fig, per_row=2)


def test_optimizer_paths_refuse_bad_settings():
    with pytest.raises(ConfigError, match="learning_rate must be a positive"):
        basics.optimizer_paths(learning_rate=0)
    with pytest.raises(ConfigError, match="steps must be a positive whole"):
        basics.optimizer_paths(steps=2.5)
    with pytest.raises(ConfigError, match="start and curvature"):
        basics.optimizer_paths(start=(1.0, 2.0, 3.0))

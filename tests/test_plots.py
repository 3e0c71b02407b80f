"""The chapters' figures show the numbers they are given: data, labels, titles, the synthetic note.

Small synthetic inputs and a stand-in for a finished run (no training, no Keras).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from xray_utils import plots  # noqa: E402
from xray_utils.plots import SYNTHETIC_NOTE  # noqa: E402

CLASSES = ["COVID", "Normal", "Viral Pneumonia"]


@dataclass
class StandInRun:
    """What the plots read from a finished run: its config and its test predictions."""

    y_true: np.ndarray
    y_prob: np.ndarray
    model: str = "m1"
    name: str = "m1-study-000000000000"
    config: dict = field(init=False)

    def __post_init__(self):
        self.config = {"model": self.model, "class_names": CLASSES}

    def predictions(self):
        return {"indices": np.arange(len(self.y_true)), "y_true": self.y_true, "y_prob": self.y_prob}


def _run(guesses, truth, confidence=0.8, **kwargs) -> StandInRun:
    """A run that gives ``confidence`` to each guessed class and splits the rest evenly."""
    guesses, truth = np.asarray(guesses), np.asarray(truth)
    prob = np.full((len(truth), 3), (1 - confidence) / 2)
    prob[np.arange(len(truth)), guesses] = confidence
    return StandInRun(truth, prob, **kwargs)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _notes(fig) -> list[str]:
    """The figure-level texts other than the title."""
    return [t.get_text() for t in fig.texts if t is not fig._suptitle]


def test_class_counts_bars_labels_colours_and_note():
    fig = plots.class_counts({"COVID": 3, "Normal": 5, "Viral Pneumonia": 2}, synthetic=True)
    (ax,) = fig.axes
    assert [p.get_height() for p in ax.patches] == [3, 5, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    assert [to_hex(p.get_facecolor()) for p in ax.patches] == ["#c0392b", "#2e86c1", "#d68910"]
    assert [t.get_text() for t in ax.texts] == ["3", "5", "2"]  # bar labels
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Images per class", "class", "images (count)")
    assert _notes(fig) == [SYNTHETIC_NOTE]
    assert _notes(plots.class_counts({"COVID": 1})) == []  # real data: no note


def _labelled_images(per_class=(4, 4, 4), size=8):
    """Image i of class c is filled with the value 60*c + i, so a shown image names its class."""
    images, labels = [], []
    for c, count in enumerate(per_class):
        for i in range(count):
            images.append(np.full((size, size, 1), 60 * c + i, np.uint8))
            labels.append(c)
    return np.stack(images), np.array(labels)


def test_sample_grid_shows_each_class_in_its_row_with_file_names():
    images, labels = _labelled_images()
    files = [f"data/{CLASSES[c]}/img-{i}.png" for i, c in enumerate(labels)]
    fig = plots.sample_grid(images, labels, CLASSES, per_class=2, files=files, synthetic=True)
    assert len(fig.axes) == 6
    for index, ax in enumerate(fig.axes):
        row, col = divmod(index, 2)
        (shown,) = ax.get_images()
        value = int(shown.get_array()[0, 0])
        assert value // 60 == row, f"row {row} shows an image of class {value // 60}"
        assert ax.get_title() == f"img-{row * 4 + value % 60}.png"
        assert ax.get_ylabel() == (CLASSES[row] if col == 0 else "")
    assert fig._suptitle.get_text() == "Random examples of each class" and _notes(fig) == [SYNTHETIC_NOTE]


def test_sample_grid_leaves_cells_empty_when_a_class_has_fewer_images():
    images, labels = _labelled_images(per_class=(4, 1, 4))
    fig = plots.sample_grid(images, labels, CLASSES, per_class=3)
    shown = [len(ax.get_images()) for ax in fig.axes]
    assert shown == [1, 1, 1, 1, 0, 0, 1, 1, 1]


def test_intensity_histograms_one_density_per_class():
    images, labels = _labelled_images(size=4)
    fig = plots.intensity_histograms(images, labels, CLASSES, bins=4)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == CLASSES
    assert len(ax.patches) == 3  # one step outline per class
    # class 0 (values 0-3) and class 1 (60-63) fall in the first of four 64-wide bins, class 2 (120-123) in the second
    for patch, expected_bin in zip(ax.patches, (0, 0, 1)):
        xy = patch.get_xy()
        top = xy[:, 1].max()
        assert top == pytest.approx(1 / 63.75)  # density: all mass in one bin of width 255/4
        peak_x = xy[xy[:, 1] == top][:, 0].min()
        assert peak_x == pytest.approx(expected_bin * 63.75)


def test_mean_images_are_the_class_means():
    images, labels = _labelled_images()
    fig = plots.mean_images(images, labels, CLASSES)
    assert [ax.get_title() for ax in fig.axes] == [f"mean {c}" for c in CLASSES]
    for c, ax in enumerate(fig.axes):
        np.testing.assert_allclose(ax.get_images()[0].get_array(), np.full((8, 8), 60 * c + 1.5))


def test_learning_curves_plot_the_history():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [1.1, 0.8, 0.6],
            "val_loss": [1.2, 0.9, 0.95],
            "accuracy": [0.4, 0.6, 0.7],
            "val_accuracy": [0.35, 0.55, 0.5],
            "learning_rate": [1e-3, 1e-3, 1e-4],
        }
    )
    fig = plots.learning_curves(history, "Model 1")
    loss, accuracy, rate = fig.axes
    assert [line.get_label() for line in loss.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(loss.get_lines()[1].get_ydata(), [1.2, 0.9, 0.95])
    np.testing.assert_allclose(accuracy.get_lines()[0].get_ydata(), [0.4, 0.6, 0.7])
    assert rate.get_yscale() == "log" and list(rate.get_lines()[0].get_ydata()) == [1e-3, 1e-3, 1e-4]
    assert fig._suptitle.get_text() == "Model 1"
    without_validation = plots.learning_curves(history.drop(columns=["val_loss", "val_accuracy"]), "t")
    assert [len(ax.get_lines()) for ax in without_validation.axes] == [1, 1, 2]  # the rate: steps and points


def test_confusion_matrix_annotates_counts_and_colours_shares():
    #                true:  C  C  C  C  N  N  V
    run = _run(guesses=[0, 0, 0, 1, 1, 1, 0], truth=[0, 0, 0, 0, 1, 1, 2], model="m2")
    fig = plots.confusion_matrix(run, synthetic=True)
    ax = fig.axes[0]
    counts = [int(t.get_text()) for t in ax.texts]
    assert counts == [3, 1, 0, 0, 2, 0, 1, 0, 0]
    shares = np.asarray(ax.collections[0].get_array()).reshape(3, 3)
    np.testing.assert_allclose(shares, [[0.75, 0.25, 0], [0, 1, 0], [1, 0, 0]])
    assert ax.get_title() == "Model 2: + batch norm"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.get_yticklabels()] == [c.replace(" ", "\n") for c in CLASSES]  # wrapped
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "share of the true class"  # the colour bar
    assert _notes(fig) == [SYNTHETIC_NOTE]


def test_confusion_grid_one_panel_per_run_without_colour_bars():
    runs = {"m1 / study": _run([0, 1, 2], [0, 1, 2]), "m1 / corrected": _run([1, 1, 2], [0, 1, 2])}
    fig = plots.confusion_grid(runs)
    assert [ax.get_title() for ax in fig.axes] == list(runs)
    assert [int(t.get_text()) for t in fig.axes[1].texts][:3] == [0, 1, 0]


def test_roc_grid_labels_each_class_with_its_auc():
    truth = np.array([0, 0, 1, 1, 2, 2, 0, 1])
    rng = np.random.default_rng(1)
    prob = rng.dirichlet(np.ones(3), size=len(truth))
    run = StandInRun(truth, prob)
    fig = plots.roc_grid({"noisy": run, "perfect": _run(truth, truth, confidence=0.9)})
    noisy, perfect = fig.axes
    labels = [line.get_label() for line in noisy.get_lines()[:3]]
    expected = [f"{c} (AUC {roc_auc_score(truth == k, prob[:, k]):.3f})" for k, c in enumerate(CLASSES)]
    assert labels == expected
    assert [line.get_label() for line in perfect.get_lines()[:3]] == [f"{c} (AUC 1.000)" for c in CLASSES]
    assert len(noisy.get_lines()) == 4  # three classes and the chance diagonal


def test_accuracy_comparison_shows_intervals_published_values_and_chance():
    table = pd.DataFrame(
        {
            "model": ["m1", "m2"],
            "protocol": ["study", "corrected"],
            "test_accuracy": [0.9, 0.6],
            "ci95_low": [0.85, 0.5],
            "ci95_high": [0.94, 0.7],
            "published_test_accuracy": [0.95, 0.93],
        }
    )
    fig = plots.accuracy_comparison(table)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["m1\nstudy", "m2\ncorrected"]
    points, caps, (bars,) = ax.containers[0]
    np.testing.assert_allclose(points.get_ydata(), [0.9, 0.6])
    np.testing.assert_allclose([segment[:, 1] for segment in bars.get_segments()], [[0.85, 0.94], [0.5, 0.7]])
    np.testing.assert_allclose(ax.collections[-1].get_offsets()[:, 1], [0.95, 0.93])  # the study's crosses
    chance = [line for line in ax.get_lines() if line.get_label() == "chance (1/3)"]
    assert chance and chance[0].get_ydata()[0] == pytest.approx(1 / 3)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "chance (1/3)",
        "original study",
        "this build (95 % interval)",
    ]
    assert ax.get_ylim() == (0, 1.02)


def test_reliability_diagram_one_panel_per_run_with_bin_counts():
    truth = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    runs = {
        "always right": _run(truth, truth, confidence=0.9),
        "half right": _run([0, 1, 2, 0, 0, 0, 1, 2], truth, confidence=0.7),
    }
    fig = plots.reliability_diagram(runs, bins=5, synthetic=True)
    right, half = fig.axes
    assert right.get_title() == "always right\nECE 0.100" and half.get_title() == "half right\nECE 0.200"
    for ax, (x, y) in zip(fig.axes, (([0.9], [1.0]), ([0.7], [0.5]))):
        diagonal, observed = ax.get_lines()
        np.testing.assert_allclose(diagonal.get_xydata(), [[0, 0], [1, 1]])
        np.testing.assert_allclose(observed.get_xdata(), x)  # every prediction states 90 % (70 %)
        np.testing.assert_allclose(observed.get_ydata(), y)  # and all (half) of them are right
        assert [t.get_text() for t in ax.texts] == ["8"]  # the bin's count is written on the point
    assert half.get_xlabel() == "stated confidence" and right.get_ylabel() == "observed accuracy (fraction)"
    assert _notes(fig) == [SYNTHETIC_NOTE]


def test_reliability_diagram_counts_every_non_empty_bin_and_hides_spare_panels():
    truth = np.zeros(10, int)
    prob = np.full((10, 3), 0.0)
    prob[:, 0] = [0.35, 0.35, 0.35, 0.55, 0.55, 0.95, 0.95, 0.95, 0.95, 0.95]
    prob[:, 1] = 1 - prob[:, 0]  # the first three are called Normal (0.65), the rest COVID
    runs = {f"run {i}": StandInRun(truth, prob) for i in range(5)}
    fig = plots.reliability_diagram(runs, bins=10, columns=3)
    assert len(fig.axes) == 6 and [ax.axison for ax in fig.axes] == [True] * 5 + [False]
    ax = fig.axes[0]
    observed = ax.get_lines()[1]
    np.testing.assert_allclose(observed.get_xdata(), [0.55, 0.65, 0.95])
    np.testing.assert_allclose(observed.get_ydata(), [1.0, 0.0, 1.0])
    assert [t.get_text() for t in ax.texts] == ["2", "3", "5"]
    assert fig.axes[2].get_xlabel() == "stated confidence"  # above the hidden panel: it carries the x axis


def test_mistakes_gallery_titles_say_what_was_called_what():
    images, _ = _labelled_images()
    mistakes = pd.DataFrame(
        {
            "index": [5, 9],
            "true": ["Normal", "Viral Pneumonia"],
            "predicted": ["COVID", "Normal"],
            "confidence": [0.9, 0.655],
        }
    )
    fig = plots.mistakes_gallery(images, mistakes, "Confident mistakes")
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in shown] == [
        "true Normal\ncalled COVID\n(90% sure)",
        "true Viral Pneumonia\ncalled Normal\n(66% sure)",
    ]
    assert [int(ax.get_images()[0].get_array()[0, 0]) for ax in shown] == [61, 121]  # images 5 and 9
    empty = plots.mistakes_gallery(images, mistakes.iloc[:0], "none")
    assert len(empty.axes) == 1 and not empty.axes[0].get_images()


def test_heatmap_gallery_overlays_each_map_on_its_image():
    images, _ = _labelled_images(per_class=(1, 1, 0))
    maps = np.stack([np.eye(8), np.ones((8, 8)) * 0.5])
    picks = pd.DataFrame({"true": ["COVID", "Normal"], "predicted": ["COVID", "COVID"], "correct": [True, False]})
    fig = plots.heatmap_gallery(images, maps, picks, "Where the model looked", synthetic=True)
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in shown] == ["COVID\n(right)", "Normal\n(wrong: called COVID)"]
    for ax, heat in zip(shown, maps):
        image, overlay = ax.get_images()
        assert overlay.get_alpha() == 0.35
        np.testing.assert_allclose(overlay.get_array(), heat)
    assert _notes(fig) == [SYNTHETIC_NOTE]


def test_heatmap_gallery_upsamples_coarse_maps_to_the_image_shown():
    """A 2x2 Grad-CAM map over a 16-px image is drawn at 16 px, smoothly (bilinear), values kept in [0, 1]."""
    images = np.zeros((1, 16, 16, 3), dtype=np.uint8)
    maps = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    picks = pd.DataFrame({"true": ["COVID"], "predicted": ["COVID"], "correct": [True]})
    fig = plots.heatmap_gallery(images, maps, picks, "upsampled")
    overlay = np.asarray([ax for ax in fig.axes if ax.get_images()][0].get_images()[1].get_array())
    assert overlay.shape == (16, 16)
    assert overlay.min() >= 0 and overlay.max() <= 1
    assert overlay[:, 0].max() < 0.2 and overlay[:, -1].min() > 0.8  # left cold, right hot
    assert 0.2 < overlay[8, 8] < 0.8  # and a gradient between, not blocks


def test_figures_fit_the_page_and_grids_are_two_wide():
    runs = {f"run {i}": _run([0, 1, 2], [0, 1, 2]) for i in range(4)}
    for fig in (plots.confusion_grid(runs), plots.roc_grid(runs), plots.reliability_diagram(runs)):
        assert fig.get_figwidth() <= plots.PAGE_WIDTH
        columns = {round(ax.get_position().x0, 2) for ax in fig.axes if ax.axison and ax.get_title()}
        assert len(columns) <= plots.GRID_COLUMNS, columns

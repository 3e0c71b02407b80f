"""Figures for the chapters. Each function returns a Matplotlib ``Figure``.

Figures are kept small (they are embedded as PNG in every executed notebook)
and always carry a title, axis labels with units, and a note when the data is
the synthetic stand-in.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import evaluation

SYNTHETIC_NOTE = "synthetic stand-in data: not medical results"
_PALETTE = {"COVID": "#c0392b", "Normal": "#2e86c1", "Viral Pneumonia": "#d68910"}


# The book's content column is about 730 px wide and figures render at 100 dpi:
# at most this many inches wide, a figure is shown at (nearly) its natural size,
# so its text stays at the size set here. Grids are at most two panels wide.
PAGE_WIDTH = 7.4
GRID_COLUMNS = 2


def _mark_synthetic(fig, synthetic: bool) -> None:
    if synthetic:
        fig.text(0.99, 0.01, SYNTHETIC_NOTE, ha="right", va="bottom", fontsize=9, color="#b03a2e")


def _wrapped(names) -> list[str]:
    """Class names broken at spaces ("Viral Pneumonia" -> two lines) so tick labels never overlap."""
    return [str(name).replace(" ", "\n") for name in names]


def _grid(count: int, panel_height: float, columns: int = GRID_COLUMNS, **kwargs):
    """A figure of ``count`` panels, ``columns`` to a row, the page's width; unused panels hidden."""
    columns = max(1, min(columns, count))
    rows = max(1, -(-count // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(PAGE_WIDTH, panel_height * rows + 0.5), squeeze=False, **kwargs)
    for ax in axes.flat[count:]:
        ax.set_axis_off()
    return fig, axes


def class_counts(counts: dict[str, int], synthetic: bool = False, title="Images per class"):
    """Bar chart of images per class."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    names = list(counts)
    bars = ax.bar(names, [counts[n] for n in names], color=[_PALETTE.get(n, "grey") for n in names])
    ax.bar_label(bars)
    ax.set(title=title, xlabel="class", ylabel="images (count)")
    ax.margins(y=0.15)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def sample_grid(
    images,
    labels,
    class_names,
    per_class: int = 4,
    seed: int = 0,
    synthetic=False,
    title="Random examples of each class",
    files=None,
):
    """A ``classes x per_class`` grid of images (uint8 ``(N, S, S, C)``), one row per class."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(
        len(class_names), per_class, figsize=(min(PAGE_WIDTH, 1.85 * per_class), 2.0 * len(class_names)), squeeze=False
    )
    for row, name in enumerate(class_names):
        members = np.flatnonzero(np.asarray(labels) == row)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([]), ax.set_yticks([])
            if col < len(chosen):
                ax.imshow(images[chosen[col]][..., 0], cmap="gray", vmin=0, vmax=255)
                if files is not None:
                    ax.set_title(str(files[chosen[col]]).split("/")[-1], fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def intensity_histograms(images, labels, class_names, synthetic=False, bins=64):
    """Per-class distribution of pixel values (density over 0-255), first channel."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for label, name in enumerate(class_names):
        pixels = images[np.asarray(labels) == label][..., 0].ravel()
        ax.hist(
            pixels,
            bins=bins,
            range=(0, 255),
            density=True,
            histtype="step",
            linewidth=1.6,
            label=name,
            color=_PALETTE.get(name),
        )
    ax.set(
        title="Pixel intensity by class",
        xlabel="pixel value (0 = black, 255 = white)",
        ylabel="density (fraction per unit)",
    )
    ax.legend()
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def mean_images(images, labels, class_names, synthetic=False):
    """The average image of each class: what every X-ray of a class has in common."""
    fig, axes = plt.subplots(1, len(class_names), figsize=(2.6 * len(class_names), 2.9))
    for label, (ax, name) in enumerate(zip(np.atleast_1d(axes), class_names)):
        mean = images[np.asarray(labels) == label][..., 0].mean(axis=0)
        ax.imshow(mean, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"mean {name}")
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("Average image per class")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def learning_curves(history: pd.DataFrame, title: str, synthetic=False, steering: str = "validation"):
    """Loss and accuracy per epoch (training vs the ``steering`` set), and the learning rate below.

    ``history``: a run's ``history.csv`` (columns epoch, loss, accuracy, val_loss,
    val_accuracy, learning_rate). ``steering`` names what Keras calls the
    validation data in the legend (under the study protocol: the test set).
    """
    fig = plt.figure(figsize=(PAGE_WIDTH, 5.6))
    grid = fig.add_gridspec(2, 2, height_ratios=(3, 2))
    epochs = history["epoch"]
    for column, (metric, label) in enumerate((("loss", "cross-entropy loss"), ("accuracy", "accuracy (fraction)"))):
        ax = fig.add_subplot(grid[0, column])
        ax.plot(epochs, history[metric], marker="o", ms=3, label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", ms=3, label=steering)
        ax.set(xlabel="epoch", ylabel=label, title=metric)
        ax.legend(fontsize=9)
    rate = fig.add_subplot(grid[1, :])
    rate.step(epochs, history["learning_rate"], where="post", color="black")
    rate.plot(epochs, history["learning_rate"], "o", ms=3, color="black")
    rate.set(yscale="log", xlabel="epoch", ylabel="learning rate (log)", title="learning rate per epoch")
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def confusion_matrix(run, title: str | None = None, ax=None, synthetic=False):
    """Heat map of a run's test confusion matrix (counts, with row-normalised colour)."""
    counts = evaluation.confusion(run)
    shares = evaluation.confusion(run, normalize="true")
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4.8, 3.9))
    sns.heatmap(
        shares,
        annot=counts.values,
        fmt="d",
        cmap="Blues",
        vmin=0,
        vmax=1,
        cbar=own,
        ax=ax,
        cbar_kws={"label": "share of the true class"} if own else None,
        annot_kws={"fontsize": 11},
        xticklabels=_wrapped(shares.columns),
        yticklabels=_wrapped(shares.index),
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.tick_params(axis="x", labelrotation=0)
    ax.set(
        title=title or evaluation.MODEL_TITLES.get(run.config["model"], run.name),
        xlabel="predicted class",
        ylabel="true class",
    )
    if own:
        _mark_synthetic(ax.figure, synthetic)
        ax.figure.tight_layout()
        return ax.figure
    return ax


def confusion_grid(runs: dict, synthetic=False):
    """Confusion matrices of several runs, two to a row (``runs``: ``{label: Run}``); each panel titled."""
    fig, axes = _grid(len(runs), 3.3)
    for ax, (label, run) in zip(axes.flat, runs.items()):
        confusion_matrix(run, title=label, ax=ax)
    fig.suptitle("Test confusion matrices (numbers: images; colour: share of the true class)")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def roc_grid(runs: dict, synthetic=False):
    """One-vs-rest ROC curves per class, one panel per run, two to a row (``runs``: ``{label: Run}``)."""
    fig, axes = _grid(len(runs), 3.4)
    for ax, (label, run) in zip(axes.flat, runs.items()):
        for name, (fpr, tpr, auc) in evaluation.roc_curves(run).items():
            ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", color=_PALETTE.get(name))
        ax.plot([0, 1], [0, 1], ls=":", color="grey")
        ax.set(title=label, xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(fontsize=8.5, loc="lower right")
    fig.suptitle("One-vs-rest ROC curves on the test set")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def accuracy_comparison(table: pd.DataFrame, synthetic=False, full: dict | None = None):
    """Test accuracy with 95 % intervals per run, next to the published accuracy.

    ``table``: :func:`xray_utils.evaluation.results_table` of this build's runs;
    ``full``: the full study's runs (``{(model, protocol): Run}``), drawn beside
    this build's with their intervals when given.
    """
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 3.8))
    labels = [f"{m}\n{p}" for m, p in zip(table["model"], table["protocol"])]
    x = np.arange(len(table), dtype=float)
    y = table["test_accuracy"].to_numpy()
    err = np.vstack([y - table["ci95_low"], table["ci95_high"] - y])
    shift = 0.15 if full else 0.0
    ax.errorbar(x - shift, y, yerr=err, fmt="o", capsize=4, label="this build (95 % interval)")
    if full:
        scored = evaluation.results_table(full, with_published=False).set_index(["model", "protocol"])
        keys = [(m, p) for m, p in zip(table["model"], table["protocol"]) if (m, p) in scored.index]
        at = np.array([x[i] for i, key in enumerate(zip(table["model"], table["protocol"])) if key in keys])
        rows = scored.loc[keys]
        full_y = rows["test_accuracy"].to_numpy()
        full_err = np.vstack([full_y - rows["ci95_low"], rows["ci95_high"] - full_y])
        ax.errorbar(at + shift, full_y, yerr=full_err, fmt="s", capsize=4, color="#117a65", label="full study (95 %)")
    if "published_test_accuracy" in table:
        ax.scatter(
            x + shift, table["published_test_accuracy"], marker="x", color="#c0392b", zorder=3, label="original study"
        )
    ax.axhline(1 / 3, ls=":", color="grey", label="chance (1/3)")
    ax.set_xticks(x, labels)
    ax.set(title="Test accuracy", xlabel="model / protocol", ylabel="accuracy (fraction)", ylim=(0, 1.02))
    ax.legend(fontsize=9, loc="lower left")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def reliability_diagram(runs: dict, bins: int = 10, synthetic=False, columns: int = GRID_COLUMNS):
    """Observed accuracy against stated confidence (top class), one panel per run (``runs``: ``{label: Run}``).

    Each panel shows the run's non-empty confidence bins
    (:func:`xray_utils.evaluation.calibration_bins`) as points at (mean stated
    confidence, share right), each labelled with how many predictions it holds,
    the diagonal of perfect calibration, and the run's ECE in its title. Panels
    share their axes, ``columns`` to a row.
    """
    columns = max(1, min(columns, len(runs)))
    fig, axes = _grid(len(runs), 3.3, columns, sharex=True, sharey=True)
    for ax, (label, run) in zip(axes.flat, runs.items()):
        predicted = run.predictions()
        table = evaluation.calibration_bins(predicted["y_true"], predicted["y_prob"], bins)
        ece = evaluation.expected_calibration_error(predicted["y_true"], predicted["y_prob"], bins)
        ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfectly calibrated")
        ax.plot(table["confidence"], table["accuracy"], marker="o", ms=4, color="#1f4e79", label="observed")
        for row in table.itertuples():
            ax.annotate(
                f"{row.count}",
                (row.confidence, row.accuracy),
                textcoords="offset points",
                xytext=(0, 5 if row.confidence <= row.accuracy < 0.9 else -11),  # away from the diagonal
                ha="center",
                fontsize=9,
                color="#1f4e79",
            )
        ax.set_title(f"{label}\nECE {ece:.3f}", fontsize=10)
        ax.set(xlim=(0, 1.06), ylim=(0, 1.06))
    for ax in axes[:, 0]:
        ax.set_ylabel("observed accuracy (fraction)")
    for column in range(columns):  # the lowest panel of each column carries the x axis
        used = [ax for ax in axes[:, column] if ax.axison]
        used[-1].set_xlabel("stated confidence")
        used[-1].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle("Reliability on the test set\n(numbers: predictions per confidence bin; dotted: perfect)", fontsize=11)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


GALLERY_COLUMNS = 4  # images per row: about 180 px each at the page's width


def _gallery(count: int, row_height: float = 2.4):
    fig, axes = _grid(max(count, 1), row_height, GALLERY_COLUMNS)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    return fig, axes


def mistakes_gallery(images, mistakes: pd.DataFrame, title: str, synthetic=False):
    """The images listed in ``mistakes`` (from ``evaluation.confident_mistakes``) with their labels, four to a row."""
    fig, axes = _gallery(len(mistakes), 2.5)
    for ax, row in zip(axes.flat, mistakes.itertuples()):
        ax.imshow(images[row.index][..., 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {row.true}\ncalled {row.predicted}\n({row.confidence:.0%} sure)", fontsize=9.5)
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """Heatmaps ``(N, s, s)`` resized bilinearly to ``(N, size, size)`` (values stay in [0, 1])."""
    from scipy.ndimage import zoom

    maps = np.asarray(maps, dtype="float32")
    factors = (1, size / maps.shape[1], size / maps.shape[2])
    return np.clip(zoom(maps, factors, order=1, grid_mode=True, mode="nearest"), 0, 1)


def heatmap_gallery(images, maps, picks: pd.DataFrame, title: str, synthetic=False):
    """Each image with its heatmap overlaid, labelled right/wrong, four to a row.

    ``images``: uint8 ``(N, S, S, C)`` at the size to *show* (128 px or more reads
    well, whatever size the model saw); ``maps``: ``(N, s, s)`` in [0, 1] at any
    size, upsampled bilinearly to ``S``.
    """
    maps = upsample(maps, images.shape[1]) if len(maps) else maps
    fig, axes = _gallery(len(picks), 2.6)
    for ax, image, heat, row in zip(axes.flat, images, maps, picks.itertuples()):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        ax.imshow(heat, cmap="jet", alpha=0.35, vmin=0, vmax=1)
        verdict = "right" if row.correct else f"wrong: called {row.predicted}"
        ax.set_title(f"{row.true}\n({verdict})", fontsize=9.5)
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def occlusion_example(versions: dict, title: str, synthetic=False):
    """One image as the model saw it in each occlusion test (``versions``: ``{caption: uint8 (S, S, C)}``)."""
    fig, axes = _grid(len(versions), 2.9, len(versions))
    for ax, (caption, image) in zip(axes.flat, versions.items()):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(caption, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


_PART_COLOURS = {"train": "#5d6d7e", "validation": "#27ae60", "unused": "#d5d8dc", "test": "#c0392b"}


def split_diagram(splits: dict, synthetic: bool = False):
    """One bar per protocol: its train / validation / unused / test images, and which part steers.

    ``splits``: ``{protocol: xray_utils.data.Split}``, all on the same images.
    The steering part (what Keras calls validation data) is hatched.
    """
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH, 0.9 + 0.8 * len(splits)))
    total = max(len(s.train) + len(s.unused) + len(np.setdiff1d(s.val, s.test)) + len(s.test) for s in splits.values())
    for row, split in enumerate(reversed(list(splits.values()))):
        own_val = np.setdiff1d(split.val, split.test)
        parts = [("train", len(split.train)), ("validation", len(own_val)), ("unused", len(split.unused))]
        parts.append(("test", len(split.test)))
        left = 0
        for part, count in parts:
            if not count:
                continue
            steers = (part == "test" and split.val_is_test) or (part == "validation" and not split.val_is_test)
            ax.barh(row, count, left=left, color=_PART_COLOURS[part], edgecolor="black", hatch="//" if steers else "")
            label = f"{part}\n{count:,}" + ("\nsteers" if steers else "")
            ax.text(
                left + count / 2,
                row,
                label,
                ha="center",
                va="center",
                fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.85, "linewidth": 0, "pad": 1.5},
            )
            left += count
    ax.set_yticks(range(len(splits)), list(reversed(list(splits))))
    ax.set(xlim=(0, total), xlabel="images (count); hatched: the part that steers the learning rate")
    ax.set_title("Which images train, steer and score under each protocol")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def rate_schedules(runs: dict, title: str, synthetic: bool = False):
    """Learning rate per epoch of several runs (``{label: Run}``), log scale: where their schedules part."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for (label, run), style in zip(runs.items(), ("-", "--", ":", "-.")):
        ax.step(run.history["epoch"], run.history["learning_rate"], style, where="post", label=label)
    ax.set(yscale="log", xlabel="epoch", ylabel="learning rate", title=title)
    ax.legend(fontsize=9)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig

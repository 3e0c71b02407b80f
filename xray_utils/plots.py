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


def _mark_synthetic(fig, synthetic: bool) -> None:
    if synthetic:
        fig.text(0.99, 0.01, SYNTHETIC_NOTE, ha="right", va="bottom", fontsize=8, color="#b03a2e")


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
        len(class_names), per_class, figsize=(1.8 * per_class, 1.9 * len(class_names)), squeeze=False
    )
    for row, name in enumerate(class_names):
        members = np.flatnonzero(np.asarray(labels) == row)
        chosen = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([]), ax.set_yticks([])
            if col < len(chosen):
                ax.imshow(images[chosen[col]][..., 0], cmap="gray", vmin=0, vmax=255)
                if files is not None:
                    ax.set_title(str(files[chosen[col]]).split("/")[-1], fontsize=7)
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


def learning_curves(history: pd.DataFrame, title: str, synthetic=False):
    """Loss, accuracy and learning rate per epoch (train vs validation)."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    epochs = history["epoch"]
    for ax, metric, label in ((axes[0], "loss", "cross-entropy loss"), (axes[1], "accuracy", "accuracy (fraction)")):
        ax.plot(epochs, history[metric], marker="o", ms=3, label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=label, title=metric)
        ax.legend()
    axes[2].semilogy(epochs, history["learning_rate"], marker="o", ms=3, color="black")
    axes[2].set(xlabel="epoch", ylabel="learning rate (log scale)", title="learning rate")
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
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
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
    )
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
    """Confusion matrices of several runs side by side (``runs``: ``{label: Run}``)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.4), squeeze=False)
    for ax, (label, run) in zip(axes[0], runs.items()):
        confusion_matrix(run, title=label, ax=ax)
    fig.suptitle("Test confusion matrices (colour: share of the true class)")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def roc_grid(runs: dict, synthetic=False):
    """One-vs-rest ROC curves per class, one panel per run (``runs``: ``{label: Run}``)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.5), squeeze=False)
    for ax, (label, run) in zip(axes[0], runs.items()):
        for name, (fpr, tpr, auc) in evaluation.roc_curves(run).items():
            ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})", color=_PALETTE.get(name))
        ax.plot([0, 1], [0, 1], ls=":", color="grey")
        ax.set(title=label, xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("One-vs-rest ROC curves on the test set")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def accuracy_comparison(table: pd.DataFrame, synthetic=False):
    """Test accuracy with 95% intervals per run, next to the published accuracy."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    labels = [f"{m}\n{p}" for m, p in zip(table["model"], table["protocol"])]
    y = table["test_accuracy"].to_numpy()
    err = np.vstack([y - table["ci95_low"], table["ci95_high"] - y])
    ax.errorbar(range(len(y)), y, yerr=err, fmt="o", capsize=4, label="this book (95% CI)")
    if "published_test_accuracy" in table:
        ax.scatter(
            range(len(y)),
            table["published_test_accuracy"],
            marker="x",
            color="#c0392b",
            zorder=3,
            label="original study",
        )
    ax.axhline(1 / 3, ls=":", color="grey", label="chance (1/3)")
    ax.set_xticks(range(len(y)), labels)
    ax.set(title="Test accuracy", xlabel="model / protocol", ylabel="accuracy (fraction)", ylim=(0, 1.02))
    ax.legend(fontsize=8, loc="lower left")
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def reliability_diagram(runs: dict, bins: int = 10, synthetic=False, columns: int = 4):
    """Observed accuracy against stated confidence (top class), one panel per run (``runs``: ``{label: Run}``).

    Each panel shows the run's non-empty confidence bins
    (:func:`xray_utils.evaluation.calibration_bins`) as points at (mean stated
    confidence, share right), each labelled with how many predictions it holds,
    the diagonal of perfect calibration, and the run's ECE in its title. Panels
    share their axes, ``columns`` to a row.
    """
    columns = max(1, min(columns, len(runs)))
    rows = max(1, -(-len(runs) // columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(3.1 * columns, 3.1 * rows + 0.4), squeeze=False, sharex=True, sharey=True
    )
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
                fontsize=7,
                color="#1f4e79",
            )
        ax.set_title(f"{label}\nECE {ece:.3f}", fontsize=9)
        ax.set(xlim=(0, 1.06), ylim=(0, 1.06))
    for ax in axes.flat[len(runs) :]:
        ax.set_axis_off()
    for ax in axes[:, 0]:
        ax.set_ylabel("observed accuracy (fraction)")
    for column in range(columns):  # the lowest panel of each column carries the x axis
        used = [ax for ax in axes[:, column] if ax.axison]
        used[-1].set_xlabel("stated confidence")
        used[-1].xaxis.set_tick_params(labelbottom=True)
    fig.suptitle("Reliability on the test set (numbers: predictions per confidence bin; dotted: perfect)", fontsize=10)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def mistakes_gallery(images, mistakes: pd.DataFrame, title: str, synthetic=False):
    """The images listed in ``mistakes`` (from ``evaluation.confident_mistakes``) with their labels."""
    count = max(len(mistakes), 1)
    fig, axes = plt.subplots(1, count, figsize=(2.1 * count, 2.6), squeeze=False)
    for ax, row in zip(axes[0], mistakes.itertuples()):
        ax.imshow(images[row.index][..., 0], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {row.true}\ncalled {row.predicted} ({row.confidence:.0%})", fontsize=7)
    for ax in axes[0]:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


def heatmap_gallery(images, maps, picks: pd.DataFrame, title: str, synthetic=False):
    """Each image with its heatmap overlaid (``maps``: ``(N, S, S)`` in [0, 1]), labelled right/wrong."""
    count = max(len(picks), 1)
    fig, axes = plt.subplots(1, count, figsize=(1.9 * count, 2.5), squeeze=False)
    for ax, image, heat, row in zip(axes[0], images, maps, picks.itertuples()):
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        ax.imshow(heat, cmap="jet", alpha=0.4, vmin=0, vmax=1)
        verdict = "right" if row.correct else f"wrong: {row.predicted}"
        ax.set_title(f"{row.true}\n({verdict})", fontsize=7)
    for ax in axes[0]:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig


_PART_COLOURS = {"train": "#5d6d7e", "validation": "#27ae60", "unused": "#d5d8dc", "test": "#c0392b"}


def split_diagram(splits: dict, synthetic: bool = False):
    """One bar per protocol: its train / validation / unused / test images, and which part steers.

    ``splits``: ``{protocol: xray_utils.data.Split}``, all on the same images.
    The steering part (what Keras calls validation data) is hatched.
    """
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.7 * len(splits)))
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
                fontsize=7,
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
    fig, ax = plt.subplots(figsize=(6, 3))
    for (label, run), style in zip(runs.items(), ("-", "--", ":", "-.")):
        ax.step(run.history["epoch"], run.history["learning_rate"], style, where="post", label=label)
    ax.set(yscale="log", xlabel="epoch", ylabel="learning rate", title=title)
    ax.legend(fontsize=8)
    _mark_synthetic(fig, synthetic)
    fig.tight_layout()
    return fig

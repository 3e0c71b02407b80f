"""Scores of finished runs: tables, reports, confusion matrices, ROC/AUC.

Everything here works from a run's saved test predictions, so evaluating
never retrains and never needs the images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from .runs import Run

MODEL_TITLES = {
    "m1": "Model 1: plain CNN",
    "m2": "Model 2: + batch norm",
    "m3": "Model 3: + batch norm + dropout",
    "m4": "Model 4: CheXNet (DenseNet121)",
    "m4_clean": "Model 4 (pool-first head)",
}

# The original notebook's printed results (test set = validation set, epoch 50),
# 192x192x3, 3,886 images of the 2020 release, 778 test images.
PUBLISHED = pd.DataFrame(
    {
        "model": ["m1", "m2", "m3", "m4"],
        "published_test_loss": [0.071186, 0.092738, 2.376859, 0.067038],
        "published_test_accuracy": [0.978149, 0.971722, 0.717224, 0.987147],
    }
).set_index("model")


def accuracy_interval(correct: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval for an accuracy of ``correct / total``."""
    interval = binomtest(int(correct), int(total)).proportion_ci(confidence_level=level, method="exact")
    return float(interval.low), float(interval.high)


def run_scores(run: Run) -> dict:
    """Test loss, accuracy with its 95% interval, and test size of one run."""
    predicted = run.predictions()
    y_true, y_prob = predicted["y_true"], predicted["y_prob"]
    correct = int((y_prob.argmax(1) == y_true).sum())
    low, high = accuracy_interval(correct, len(y_true))
    return {
        "model": run.config["model"],
        "protocol": run.config["protocol"],
        "test_loss": float(log_loss(y_true, y_prob, labels=list(range(y_prob.shape[1])))),
        "test_accuracy": float(accuracy_score(y_true, y_prob.argmax(1))),
        "ci95_low": low,
        "ci95_high": high,
        "test_images": int(len(y_true)),
        "evaluated_epoch": run.metrics.get("evaluated_epoch"),
        "epochs_run": run.metrics.get("epochs_run"),
    }


def results_table(runs: dict, with_published: bool = True) -> pd.DataFrame:
    """One row per run (``runs``: ``{(model, protocol): Run}``), next to the published numbers."""
    table = pd.DataFrame([run_scores(run) for run in runs.values()])
    table.insert(0, "title", table["model"].map(MODEL_TITLES))
    if with_published:
        table = table.join(PUBLISHED, on="model")
    return table


def headline_table(table: pd.DataFrame) -> pd.DataFrame:
    """The front page's table: model, accuracy with its 95 % interval, the original's accuracy."""
    return pd.DataFrame({
        "model": table["title"],
        "test accuracy": table["test_accuracy"].round(3),
        "95 % interval": [f"{low:.3f} to {high:.3f}" for low, high in zip(table["ci95_low"], table["ci95_high"])],
        "original study": table["published_test_accuracy"].round(3),
        "test images": table["test_images"],
    })


def report_frame(run: Run) -> pd.DataFrame:
    """scikit-learn's classification report as a table (precision, recall, f1, support)."""
    predicted = run.predictions()
    names = run.config["class_names"]
    report = classification_report(
        predicted["y_true"], predicted["y_prob"].argmax(1), labels=list(range(len(names))),
        target_names=names, output_dict=True, zero_division=0,
    )
    frame = pd.DataFrame(report).T
    frame["support"] = frame["support"].astype(int)
    return frame.round(3)


def confusion(run: Run, normalize: str | None = None) -> pd.DataFrame:
    """Confusion matrix (rows: true class, columns: predicted), as a labelled table."""
    predicted = run.predictions()
    names = run.config["class_names"]
    matrix = confusion_matrix(
        predicted["y_true"], predicted["y_prob"].argmax(1), labels=list(range(len(names))), normalize=normalize
    )
    return pd.DataFrame(matrix, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def roc_curves(run: Run) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """One-vs-rest ROC per class: ``{class: (false_positive_rate, true_positive_rate, auc)}``."""
    predicted = run.predictions()
    y_true, y_prob = predicted["y_true"], predicted["y_prob"]
    curves = {}
    for label, name in enumerate(run.config["class_names"]):
        positive = (y_true == label).astype(int)
        if positive.min() == positive.max():
            continue  # AUC is undefined with one class only
        fpr, tpr, _ = roc_curve(positive, y_prob[:, label])
        curves[name] = (fpr, tpr, float(roc_auc_score(positive, y_prob[:, label])))
    return curves


def auc_table(runs: dict) -> pd.DataFrame:
    """Per-class one-vs-rest AUC, one row per run."""
    rows = []
    for (model, protocol), run in runs.items():
        rows.append({"model": model, "protocol": protocol,
                     **{name: auc for name, (_, _, auc) in roc_curves(run).items()}})
    return pd.DataFrame(rows).round(4)


def protocol_comparison(runs: dict) -> pd.DataFrame:
    """Study vs corrected protocol for every model that has both, on the same test images."""
    table = results_table(runs, with_published=False)
    wide = table.pivot(index="model", columns="protocol", values="test_accuracy")
    if not {"study", "corrected"} <= set(wide.columns):
        return pd.DataFrame(columns=["study", "corrected", "difference"])
    wide = wide[["study", "corrected"]].dropna()
    wide["difference"] = wide["study"] - wide["corrected"]
    return wide.round(4)


def thumbnail_baseline(images: np.ndarray, labels: np.ndarray, size: int = 8, seed: int = 1987) -> float:
    """5-fold accuracy of a logistic regression that sees only ``size x size`` blurred thumbnails.

    A high score means the classes differ in coarse, global appearance (body
    size, exposure, borders), which is exactly what a shortcut looks like.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n, height = images.shape[:2]
    factor = height // size
    gray = images[..., 0].astype(np.float32)[:, : factor * size, : factor * size]
    thumbs = gray.reshape(n, size, factor, size, factor).mean(axis=(2, 4)).reshape(n, -1)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(classifier, thumbs, labels, cv=folds).mean())

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

from .config import STUDY_MODELS, STUDY_SEED
from .run_folders import Run
from .stats import accuracy_interval

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
        "model": list(STUDY_MODELS),
        "published_test_loss": [0.071186, 0.092738, 2.376859, 0.067038],
        "published_test_accuracy": [0.978149, 0.971722, 0.717224, 0.987147],
    }
).set_index("model")


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


def report_frame(run: Run) -> pd.DataFrame:
    """scikit-learn's classification report as a table (precision, recall, f1, support).

    One row per class, then ``accuracy``, ``macro avg`` and ``weighted avg``.
    scikit-learn gives accuracy as a bare number (a table would show it in every
    column, with support 0); here its row is the micro average, which for one
    label per image is the accuracy in all three columns, with every test image
    as support (the study's printed report called this row "micro avg").
    """
    predicted = run.predictions()
    names = run.config["class_names"]
    report = classification_report(
        predicted["y_true"],
        predicted["y_prob"].argmax(1),
        labels=list(range(len(names))),
        target_names=names,
        output_dict=True,
        zero_division=0,
    )
    accuracy = report.pop("accuracy", None)
    frame = pd.DataFrame(report).T
    if accuracy is not None:
        row = {"precision": accuracy, "recall": accuracy, "f1-score": accuracy, "support": len(predicted["y_true"])}
        frame = pd.concat([frame.loc[names], pd.DataFrame([row], index=["accuracy"]), frame.drop(index=names)])
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
        rows.append(
            {"model": model, "protocol": protocol, **{name: auc for name, (_, _, auc) in roc_curves(run).items()}}
        )
    return pd.DataFrame(rows).round(4)


def _outcomes(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, was each image classified right?), sorted by index."""
    predicted = run.predictions()
    order = np.argsort(predicted["indices"])
    right = predicted["y_prob"].argmax(1) == predicted["y_true"]
    return predicted["indices"][order], right[order]


def rate_cuts(run: Run) -> list[int]:
    """Epochs that trained at a lower learning rate than the epoch before (from ``history.csv``)."""
    rate, epoch = run.history["learning_rate"].to_numpy(), run.history["epoch"].to_numpy()
    return [int(e) for e in epoch[1:][np.diff(rate) < 0]]


def leak_test(steered: Run, corrected: Run) -> dict:
    """The leak, isolated: test accuracy of ``test_steered`` minus ``corrected``, with McNemar's p.

    The two runs train on the same images with the same recipe and seed and are
    scored on the same test images; only the images that steer the learning
    rate differ. Raises ``ValueError`` if they were scored on different images.
    """
    (ia, right_a), (ib, right_b) = _outcomes(steered), _outcomes(corrected)
    if not np.array_equal(ia, ib):
        raise ValueError(f"{steered.name} and {corrected.name} were scored on different test images")
    return {
        "test_steered": float(right_a.mean()),
        "corrected": float(right_b.mean()),
        "leak": float(right_a.mean() - right_b.mean()),
        "images_changed": int((right_a != right_b).sum()),
        "leak_p": mcnemar_exact(right_a, right_b)["p_value"],
        "same_schedule": rate_cuts(steered) == rate_cuts(corrected),
    }


PROTOCOL_COLUMNS = [
    "study",
    "test_steered",
    "corrected",
    "leak",
    "images_changed",
    "leak_p",
    "same_schedule",
    "more_data",
]


def protocol_comparison(runs: dict) -> pd.DataFrame:
    """Per model with both a ``test_steered`` and a ``corrected`` run: the two differences that each isolate one change.

    * ``leak`` = test_steered - corrected (only the steering images differ), with
      ``images_changed`` (test images whose verdict differs), ``leak_p``
      (exact McNemar p-value) and ``same_schedule`` (did the rate fall in the
      same epochs? if so the two runs trained identically);
    * ``more_data`` = study - test_steered (both steered by the test set; 80 %
      versus 70 % of the images train), NaN without a study run.

    Empty (with these columns) when no model has both runs.
    """
    rows = []
    for model in dict.fromkeys(m for m, _ in runs):
        if (model, "test_steered") not in runs or (model, "corrected") not in runs:
            continue
        row = {"model": model, "study": np.nan, **leak_test(runs[(model, "test_steered")], runs[(model, "corrected")])}
        if (model, "study") in runs:
            row["study"] = run_scores(runs[(model, "study")])["test_accuracy"]
        row["more_data"] = row["study"] - row["test_steered"]
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", *PROTOCOL_COLUMNS]).set_index("model").round(4)


def leak_by_seed(runs: dict) -> pd.DataFrame:
    """``runs``: ``{(model, protocol, seed): Run}`` -> one row per model and seed with :func:`leak_test`'s numbers."""
    rows = []
    for model, protocol, seed in sorted(runs, key=lambda k: (k[0], k[2])):
        if protocol != "test_steered" or (model, "corrected", seed) not in runs:
            continue
        rows.append(
            {"model": model, "seed": seed, **leak_test(runs[(model, protocol, seed)], runs[(model, "corrected", seed)])}
        )
    return pd.DataFrame(rows, columns=["model", "seed", *PROTOCOL_COLUMNS[1:-1]])


def thumbnail_baseline(images: np.ndarray, labels: np.ndarray, size: int = 8, seed: int = STUDY_SEED) -> float:
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


def _rates_from_counts(counts: np.ndarray, class_names) -> dict[str, np.ndarray]:
    """Accuracy, macro F1 and per-class sensitivity/specificity from confusion counts.

    ``counts``: ``(R, K, K)`` (true x predicted) for R resamples; every value
    returned is an ``(R,)`` array (NaN where a rate is undefined).
    """
    counts = counts.astype(float)
    total = counts.sum(axis=(1, 2))
    tp = np.diagonal(counts, axis1=1, axis2=2)
    fn = counts.sum(axis=2) - tp
    fp = counts.sum(axis=1) - tp
    tn = total[:, None] - tp - fn - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)  # sklearn's zero_division=0
        sensitivity = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
    values = {"accuracy": tp.sum(axis=1) / total, "macro F1": f1.mean(axis=1)}
    for k, name in enumerate(class_names):
        values[f"sensitivity {name}"] = sensitivity[:, k]
        values[f"specificity {name}"] = specificity[:, k]
    return values


def bootstrap_intervals(
    y_true, y_prob, class_names, resamples: int = 1000, seed: int = STUDY_SEED, level: float = 0.95
) -> pd.DataFrame:
    """Stratified bootstrap intervals for accuracy, macro F1 and per-class sensitivity/specificity.

    Each resample draws, within every true class, as many images as that class
    has, with replacement (so class balance is kept). Returns one row per
    metric: point estimate, lower and upper percentile bounds. All resamples are
    counted at once as ``(resamples, K, K)`` confusion matrices (1,000 resamples
    of 240 images: a few milliseconds). (Hand-written: scikit-learn and SciPy
    have no stratified bootstrap for classification reports.)
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_prob).argmax(1)
    k = len(class_names)
    point = confusion_matrix(y_true, y_pred, labels=list(range(k)))[None]
    rng = np.random.default_rng(seed)
    counts = np.zeros((resamples, k, k), dtype=np.int64)
    rows = np.arange(resamples)
    for label in range(k):
        predicted = y_pred[y_true == label]
        if not len(predicted):
            continue
        drawn = predicted[rng.integers(0, len(predicted), size=(resamples, len(predicted)))]
        flat = (rows[:, None] * k + drawn).ravel()
        counts[:, label, :] = np.bincount(flat, minlength=resamples * k).reshape(resamples, k)
    estimates = {name: float(v[0]) for name, v in _rates_from_counts(point, class_names).items()}
    samples = _rates_from_counts(counts, class_names)
    tail = (1 - level) / 2
    return pd.DataFrame(
        {
            "estimate": pd.Series(estimates),
            "ci_low": pd.Series(
                {name: np.nanquantile(v, tail) if np.isfinite(v).any() else np.nan for name, v in samples.items()}
            ),
            "ci_high": pd.Series(
                {name: np.nanquantile(v, 1 - tail) if np.isfinite(v).any() else np.nan for name, v in samples.items()}
            ),
        }
    )


def mcnemar_exact(correct_a, correct_b) -> dict:
    """Exact McNemar test of two classifiers on the same images.

    ``correct_a``/``correct_b``: boolean arrays (was each image classified
    right?). Only discordant images count: ``b`` = right by A only, ``c`` = right
    by B only; under the null both are equally likely, so the two-sided p-value
    is a binomial test of ``b`` out of ``b + c`` at 1/2 (SciPy).
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a = int((correct_a & ~correct_b).sum())
    only_b = int((~correct_a & correct_b).sum())
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": p_value}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values`` for testing them all at once.

    Sort ascending; the i-th smallest (from 0) is multiplied by ``m - i``, and
    each adjusted value is at least the one before it (capped at 1). Rejecting
    where the adjusted p is below alpha keeps the chance of *any* false
    positive among the m tests below alpha (Holm 1979); it never rejects less
    than Bonferroni (every p times m). (Hand-written: five lines, and SciPy has
    only the false-discovery-rate adjustment.)
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def mcnemar_table(runs: dict, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar between every pair of runs scored on the same test images, with a plain reading.

    ``p_value`` is each pair's own exact p; ``p_holm`` adjusts it for all the
    pairs in the table being tested at once (:func:`holm`), and the reading
    uses ``p_holm``: with 21 pairs, about one would be "significant" at 5 % by
    chance alone if none truly differed.
    """
    names = list(runs)
    outcomes = {}
    for key, run in runs.items():
        predicted = run.predictions()
        outcomes[key] = (predicted["indices"], predicted["y_prob"].argmax(1) == predicted["y_true"])
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if not np.array_equal(outcomes[a][0], outcomes[b][0]):
                continue  # different test images: McNemar does not apply
            rows.append({"pair": f"{'/'.join(a)} vs {'/'.join(b)}", **mcnemar_exact(outcomes[a][1], outcomes[b][1])})
    table = pd.DataFrame(rows, columns=["pair", "only_a_right", "only_b_right", "p_value"])
    table["p_holm"] = holm(table["p_value"])
    table["reading"] = [
        f"difference {'significant' if p < alpha else 'not significant'} at {alpha:.0%} (Holm)" for p in table["p_holm"]
    ]
    return table


def calibration_bins(y_true, y_prob, bins: int = 10) -> pd.DataFrame:
    """The reliability diagram's numbers: top-class confidence in ``bins`` equal-width bins.

    One row per non-empty bin: ``low``/``high`` (the bin's edges; a bin holds
    confidences above ``low`` up to ``high``), ``count`` (predictions in it),
    ``confidence`` (their mean stated confidence) and ``accuracy`` (the share
    of them that is right).
    """
    y_prob = np.asarray(y_prob)
    confidence = y_prob.max(1)
    correct = y_prob.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    rows = [
        {
            "low": edges[b],
            "high": edges[b + 1],
            "count": int((which == b).sum()),
            "confidence": float(confidence[which == b].mean()),
            "accuracy": float(correct[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]
    return pd.DataFrame(rows, columns=["low", "high", "count", "confidence", "accuracy"])


def expected_calibration_error(y_true, y_prob, bins: int = 10) -> float:
    """ECE of the top-class confidence: the bin-weighted mean |accuracy - confidence|."""
    table = calibration_bins(y_true, y_prob, bins)
    weights = table["count"] / table["count"].sum()
    return float((weights * (table["accuracy"] - table["confidence"]).abs()).sum())


def calibration_table(runs: dict, bins: int = 10) -> pd.DataFrame:
    """Expected calibration error and mean top-class confidence vs accuracy, one row per run."""
    rows = []
    for (model, protocol), run in runs.items():
        predicted = run.predictions()
        y_true, y_prob = predicted["y_true"], predicted["y_prob"]
        rows.append(
            {
                "model": model,
                "protocol": protocol,
                "mean confidence": float(y_prob.max(1).mean()),
                "accuracy": float((y_prob.argmax(1) == y_true).mean()),
                "ECE": expected_calibration_error(y_true, y_prob, bins),
            }
        )
    return pd.DataFrame(rows)


def confident_mistakes(run: Run, count: int = 8) -> pd.DataFrame:
    """The test images a run got wrong with the highest confidence.

    Columns: ``index`` (into the run's image set), ``true``, ``predicted``,
    ``confidence`` (probability given to the wrong class).
    """
    predicted = run.predictions()
    names = run.config["class_names"]
    guess = predicted["y_prob"].argmax(1)
    wrong = np.flatnonzero(guess != predicted["y_true"])
    confidence = predicted["y_prob"][wrong, guess[wrong]]
    order = wrong[np.argsort(-confidence)][:count]
    return pd.DataFrame(
        {
            "index": predicted["indices"][order],
            "true": [names[i] for i in predicted["y_true"][order]],
            "predicted": [names[i] for i in guess[order]],
            "confidence": predicted["y_prob"][order, guess[order]].round(3),
        }
    )


def bootstrap_table(runs: dict, resamples: int = 1000, seed: int = STUDY_SEED) -> pd.DataFrame:
    """:func:`bootstrap_intervals` for several runs, stacked: index (run, metric)."""
    frames = {}
    for (model, protocol), run in runs.items():
        predicted = run.predictions()
        frames[f"{model}/{protocol}"] = bootstrap_intervals(
            predicted["y_true"], predicted["y_prob"], run.config["class_names"], resamples, seed
        )
    return pd.concat(frames, names=["run", "metric"])

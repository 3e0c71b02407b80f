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

from .config import STUDY_SEED
from .published import PUBLISHED  # re-exported: the study's numbers live in published.py
from .run_folders import Run
from .stats import (
    accuracy_interval,
    detectable_difference,
    paired_interval_from_counts,
    paired_table,
    smallest_testable_discordance,
)

MODEL_TITLES = {
    "m1": "Model 1: plain CNN",
    "m2": "Model 2: + batch norm",
    "m3": "Model 3: + batch norm + dropout",
    "m4": "Model 4: DenseNet121",  # which weights it started from: full_study.model_label(run)
    "m4_clean": "Model 4 (pool-first head)",
}


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


def results_summary(runs: dict) -> pd.DataFrame:
    """The few numbers a reader needs per run, narrow enough for the page (``runs``: ``{key: Run}``).

    Index: the key (e.g. the protocol); columns: test accuracy, its exact 95 %
    interval as text, test loss, test images, epochs run.
    """
    rows = {}
    for key, run in runs.items():
        scores = run_scores(run)
        rows[key] = {
            "accuracy": scores["test_accuracy"],
            "95 % interval": f"{scores['ci95_low']:.3f} to {scores['ci95_high']:.3f}",
            "loss": scores["test_loss"],
            "test images": scores["test_images"],
            "epochs": scores["epochs_run"],
        }
    frame = pd.DataFrame.from_dict(rows, orient="index").round(4)
    frame.index.name = "run"
    return frame


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


def _detectable_leak(test_images: int, discordant: int) -> float:
    """:func:`~xray_utils.stats.detectable_difference` at 5 % and 80 % power, with the discordance floored.

    Fewer than 6 discordant images can never give p < 0.05 (5:0 gives 0.0625),
    so at the observed count the detectable leak would be infinite (a floor of
    1 would not help: 1:0 is never significant). A leak must move images, so
    the discordance is floored at the smallest count a test can use (6): the
    answer reads "the smallest leak this test set could show", still finite
    for two runs that trained identically. Infinite when the test set has
    fewer than 6 images.
    """
    floored = max(discordant, smallest_testable_discordance(0.05))
    return np.inf if floored > test_images else detectable_difference(test_images, floored)


def leak_test(steered: Run, corrected: Run) -> dict:
    """The leak, isolated: test accuracy of ``test_steered`` minus ``corrected``, with McNemar's p.

    The two runs train on the same images with the same recipe and seed and are
    scored on the same test images; only the images that steer the learning
    rate differ. Raises ``ValueError`` if they were scored on different images.

    ``leak_low``/``leak_high``: 95 % paired interval of the leak (Newcombe's
    method 10, :func:`~xray_utils.stats.paired_interval_from_counts`);
    ``detectable_leak``: the smallest true leak an exact McNemar test at 5 %
    would find with 80 % power, the discordance held at ``images_changed``
    (floored at 6, see :func:`_detectable_leak`). All as fractions of the test
    images. The cell counts (``test_images``, ``steered_only_right``,
    ``corrected_only_right``, ``both_right``) let :func:`leak_summary` pool pairs.
    """
    (ia, right_a), (ib, right_b) = _outcomes(steered), _outcomes(corrected)
    if not np.array_equal(ia, ib):
        raise ValueError(f"{steered.name} and {corrected.name} were scored on different test images")
    both, only_a, only_b, neither = paired_table(right_a, right_b)
    leak, low, high = paired_interval_from_counts(both, only_a, only_b, neither)
    return {
        "test_steered": float(right_a.mean()),
        "corrected": float(right_b.mean()),
        "leak": leak,
        "leak_low": low,
        "leak_high": high,
        "images_changed": only_a + only_b,
        "leak_p": mcnemar_exact(right_a, right_b)["p_value"],
        "detectable_leak": _detectable_leak(len(right_a), only_a + only_b),
        "same_schedule": rate_cuts(steered) == rate_cuts(corrected),
        "test_images": len(right_a),
        "steered_only_right": only_a,
        "corrected_only_right": only_b,
        "both_right": both,
    }


# The table's columns; leak_by_seed shows all but the two that need a study run.
PROTOCOL_COLUMNS = [
    "study",
    "test_steered",
    "corrected",
    "leak",
    "leak_low",
    "leak_high",
    "images_changed",
    "leak_p",
    "detectable_leak",
    "same_schedule",
    "more_data",
]


def protocol_comparison(runs: dict) -> pd.DataFrame:
    """Per model with both a ``test_steered`` and a ``corrected`` run: the two differences that each isolate one change.

    * ``leak`` = test_steered - corrected (only the steering images differ), with
      its 95 % paired interval ``leak_low``..``leak_high``, ``images_changed``
      (test images whose verdict differs), ``leak_p`` (exact McNemar p-value),
      ``detectable_leak`` (the leak the test would find with 80 % power) and
      ``same_schedule`` (did the rate fall in the same epochs? if so the two
      runs trained identically); see :func:`leak_test`;
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


def leak_pairs(runs: dict) -> dict[tuple[str, int], dict]:
    """``runs``: ``{(model, protocol, seed): Run}`` -> ``{(model, seed): leak_test dict}`` for every complete pair.

    Sorted by model, then seed; the input of :func:`leak_summary`.
    """
    pairs = {}
    for model, protocol, seed in sorted(runs, key=lambda k: (k[0], k[2])):
        if protocol == "test_steered" and (model, "corrected", seed) in runs:
            pairs[(model, seed)] = leak_test(runs[(model, protocol, seed)], runs[(model, "corrected", seed)])
    return pairs


def leak_by_seed(runs: dict) -> pd.DataFrame:
    """``runs``: ``{(model, protocol, seed): Run}`` -> one row per model and seed with :func:`leak_test`'s numbers."""
    rows = [{"model": model, "seed": seed, **row} for (model, seed), row in leak_pairs(runs).items()]
    return pd.DataFrame(
        rows, columns=["model", "seed", *[c for c in PROTOCOL_COLUMNS if c not in ("study", "more_data")]]
    )


def leak_summary(pairs: dict) -> dict:
    """The leak pooled over pairs: ``pairs`` is :func:`leak_pairs`' ``{(model, seed): leak_test dict}``.

    A pair with ``same_schedule`` and no image changed trained identically by
    construction: it carries no information about the leak and is left out
    (counted in ``pairs_identical``). Over the others, ``leak`` =
    sum(steered_only_right - corrected_only_right) / sum(test_images) (the
    mean leak when every pair has the same test images), with a 95 % paired
    interval (Newcombe's method 10) and exact McNemar p from the pooled 2x2
    counts, and ``detectable_leak`` at the pooled size and discordance (5 %,
    80 % power). Approximate: pairs from different models and seeds are scored
    on the same test images, so they are not independent samples of images;
    the pooled interval and p treat them as if they were, and so are likely
    too narrow and too small. Leak values are NaN when no pair is left.
    """
    identical = [key for key, row in pairs.items() if row["same_schedule"] and row["images_changed"] == 0]
    kept = [row for key, row in pairs.items() if key not in identical]
    cells = ("both_right", "steered_only_right", "corrected_only_right")
    totals = {cell: sum(row[cell] for row in kept) for cell in (*cells, "test_images")}
    only_a, only_b, n = totals["steered_only_right"], totals["corrected_only_right"], totals["test_images"]
    summary = {
        "pairs": len(pairs),
        "pairs_identical": len(identical),
        "pairs_pooled": len(kept),
        **totals,
        "images_changed": only_a + only_b,
    }
    if not kept:
        return {**summary, **dict.fromkeys(("leak", "leak_low", "leak_high", "leak_p", "detectable_leak"), np.nan)}
    neither = n - totals["both_right"] - only_a - only_b
    leak, low, high = paired_interval_from_counts(totals["both_right"], only_a, only_b, neither)
    p_value = 1.0 if only_a + only_b == 0 else float(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return {
        **summary,
        "leak": leak,
        "leak_low": low,
        "leak_high": high,
        "leak_p": p_value,
        "detectable_leak": _detectable_leak(n, only_a + only_b),
    }


def leak_view(frame: pd.DataFrame) -> pd.DataFrame:
    """A page-width view of :func:`protocol_comparison` or :func:`leak_by_seed`: the leak in points, with its interval.

    Columns: ``leak`` and its paired 95 % interval in accuracy points, the test
    images that changed verdict, McNemar's p, the smallest leak this test set
    would detect (80 % power), and whether the two runs were identical by
    construction (same schedule, no image changed: no information about the leak).
    """
    identical = frame["same_schedule"].astype(bool) & (frame["images_changed"] == 0)
    view = pd.DataFrame(
        {
            "leak (points)": (frame["leak"] * 100).round(2),
            "95 % interval": [
                f"{lo * 100:+.2f} to {hi * 100:+.2f}" for lo, hi in zip(frame["leak_low"], frame["leak_high"])
            ],
            "changed": frame["images_changed"],
            "p": frame["leak_p"].round(3),
            "detectable": ["-" if same else f"{d * 100:.2f}" for same, d in zip(identical, frame["detectable_leak"])],
            "identical runs": ["yes" if same else "no" for same in identical],
        },
        index=frame.index,
    )
    if "seed" in frame:
        view.insert(0, "seed", frame["seed"])
        view.insert(0, "model", frame["model"])
        view = view.set_index(["model", "seed"])
    return view


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

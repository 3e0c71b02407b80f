import numpy as np
import pytest
from helpers import write_scored_run

from xray_utils import evaluation


def _fake_run(folder, model, protocol, y_true, y_prob, rates=(1e-3, 1e-3, 1e-4)):
    return write_scored_run(folder, model, protocol, y_true, y_prob, rates)


@pytest.fixture
def runs(tmp_path):
    y = np.repeat([0, 1, 2], 10)
    perfect = np.eye(3)[y] * 0.9 + 0.1 / 3
    wrong_normals = perfect.copy()
    wrong_normals[10:15] = [0.1, 0.1, 0.8]  # five normals called pneumonia
    return {
        ("m1", "study"): _fake_run(tmp_path / "a", "m1", "study", y, perfect),
        ("m1", "corrected"): _fake_run(tmp_path / "b", "m1", "corrected", y, wrong_normals),
    }


def test_results_table_accuracy_interval_and_published_numbers(runs):
    table = evaluation.results_table(runs)
    study = table[table.protocol == "study"].iloc[0]
    assert study.test_accuracy == 1.0 and study.ci95_high == 1.0
    assert study.ci95_low == pytest.approx(0.025 ** (1 / 30), abs=1e-6)  # exact bound for 30/30: about 0.884
    assert study.published_test_accuracy == pytest.approx(0.978149)
    corrected = table[table.protocol == "corrected"].iloc[0]
    assert corrected.test_accuracy == pytest.approx(25 / 30)
    assert corrected.ci95_low < 25 / 30 < corrected.ci95_high


def test_accuracy_interval_matches_clopper_pearson():
    low, high = evaluation.accuracy_interval(761, 778)
    assert low == pytest.approx(0.9648, abs=5e-4) and high == pytest.approx(0.9869, abs=5e-4)


def test_report_confusion_and_protocol_comparison(runs):
    report = evaluation.report_frame(runs[("m1", "corrected")])
    assert report.loc["Normal", "recall"] == pytest.approx(0.5)
    assert list(report.index) == ["COVID", "Normal", "Viral Pneumonia", "accuracy", "macro avg", "weighted avg"]
    assert report.loc["accuracy"].tolist() == pytest.approx([0.833, 0.833, 0.833, 30])  # 25 of 30, every image
    assert report["support"].tolist() == [10, 10, 10, 30, 30, 30]
    matrix = evaluation.confusion(runs[("m1", "corrected")])
    assert matrix.loc["Normal", "Viral Pneumonia"] == 5 and matrix.values.sum() == 30
    assert evaluation.protocol_comparison(runs).empty  # no test_steered run: nothing isolates the leak


def test_protocol_comparison_isolates_the_leak(runs, tmp_path):
    y = np.repeat([0, 1, 2], 10)
    probs = runs[("m1", "study")].predictions()["y_prob"].copy()
    probs[:3] = [0.1, 0.8, 0.1]  # three COVID images called Normal
    runs[("m1", "test_steered")] = _fake_run(tmp_path / "c", "m1", "test_steered", y, probs, rates=(1e-3, 1e-4, 1e-5))
    row = evaluation.protocol_comparison(runs).loc["m1"]
    assert row["study"] == 1.0 and row["test_steered"] == pytest.approx(27 / 30, abs=1e-4)
    assert row["corrected"] == pytest.approx(25 / 30, abs=1e-4)
    assert row["leak"] == pytest.approx(2 / 30, abs=1e-4) and row["more_data"] == pytest.approx(3 / 30, abs=1e-4)
    assert row["images_changed"] == 8  # 3 COVID wrong only when steered, 5 normals wrong only when corrected
    assert row["leak_p"] == pytest.approx(0.7265625, abs=1e-4)  # two-sided binomial 3 of 8 at 1/2
    assert not row["same_schedule"]
    assert evaluation.rate_cuts(runs[("m1", "test_steered")]) == [2, 3]
    seeds = evaluation.leak_by_seed({("m1", p, 7): r for (_, p), r in runs.items()})
    assert seeds[["model", "seed"]].values.tolist() == [["m1", 7]] and seeds["leak"].iloc[0] == pytest.approx(2 / 30)


def test_roc_auc_per_class(runs):
    curves = evaluation.roc_curves(runs[("m1", "study")])
    assert set(curves) == {"COVID", "Normal", "Viral Pneumonia"}
    assert all(auc == 1.0 for _, _, auc in curves.values())
    assert evaluation.auc_table(runs).shape == (2, 5)


def test_thumbnail_baseline_separates_brightness_not_noise():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (60, 32, 32, 1), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], 20)
    assert evaluation.thumbnail_baseline(images, labels, size=4) < 0.6
    images[labels == 1] //= 4
    images[labels == 2] = 255 - images[labels == 2] // 4
    assert evaluation.thumbnail_baseline(images, labels, size=4) > 0.95


def test_mcnemar_on_a_hand_made_table():
    # 2x2 table: both right 50, only A right 10, only B right 2, both wrong 8.
    a = np.array([1] * 50 + [1] * 10 + [0] * 2 + [0] * 8, bool)
    b = np.array([1] * 50 + [0] * 10 + [1] * 2 + [0] * 8, bool)
    result = evaluation.mcnemar_exact(a, b)
    assert (result["only_a_right"], result["only_b_right"]) == (10, 2)
    assert result["p_value"] == pytest.approx(0.0386, abs=1e-4)  # 2 * P(X <= 2), X ~ Bin(12, 1/2)
    assert evaluation.mcnemar_exact(a, a)["p_value"] == 1.0


def test_mcnemar_table_reads_plainly(runs):
    table = evaluation.mcnemar_table(runs)
    assert table.loc[0, "pair"] == "m1/study vs m1/corrected"
    assert (table.loc[0, "only_a_right"], table.loc[0, "only_b_right"]) == (5, 0)
    assert table.loc[0, "p_value"] == table.loc[0, "p_holm"] == pytest.approx(0.0625)  # one pair: nothing to adjust
    assert table.loc[0, "reading"] == "difference not significant at 5% (Holm)"


def test_holm_adjustment_by_hand():
    # sorted: 0.01*4 = 0.04, 0.02*3 = 0.06, 0.03*2 = 0.06, 0.04*1 -> max(0.04, 0.06) = 0.06
    adjusted = evaluation.holm([0.03, 0.01, 0.04, 0.02])
    np.testing.assert_allclose(adjusted, [0.06, 0.04, 0.06, 0.06])
    np.testing.assert_allclose(evaluation.holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    assert evaluation.holm([]).size == 0


def test_mcnemar_table_adjusts_for_every_pair(tmp_path, runs):
    y = np.repeat([0, 1, 2], 10)
    probs = np.eye(3)[y] * 0.9 + 0.1 / 3
    probs[:8] = [0.1, 0.8, 0.1]  # eight COVID images called Normal
    runs[("m2", "study")] = _fake_run(tmp_path / "c", "m2", "study", y, probs)
    table = evaluation.mcnemar_table(runs).set_index("pair")
    assert len(table) == 3
    raw = table["p_value"]
    assert raw["m1/study vs m2/study"] == pytest.approx(2 * 0.5**8)  # 8 of 8 discordant one way
    np.testing.assert_allclose(table["p_holm"], evaluation.holm(raw))
    assert table.loc["m1/study vs m2/study", "p_holm"] == pytest.approx(3 * 2 * 0.5**8)
    assert table.loc["m1/study vs m2/study", "reading"] == "difference significant at 5% (Holm)"


def test_bootstrap_interval_contains_estimate_and_shrinks_with_n():
    rng = np.random.default_rng(0)

    def interval_width(n):
        y = np.repeat([0, 1, 2], n)
        pred = np.where(rng.random(3 * n) < 0.8, y, (y + 1) % 3)
        frame = evaluation.bootstrap_intervals(y, np.eye(3)[pred], ["A", "B", "C"], resamples=300, seed=1)
        row = frame.loc["accuracy"]
        assert row.ci_low <= row.estimate <= row.ci_high
        assert {"macro F1", "sensitivity A", "specificity C"} <= set(frame.index)
        return row.ci_high - row.ci_low

    assert interval_width(400) < interval_width(25)


def test_bootstrap_point_estimates_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 3, 200))
    pred[pred == 2] = 1  # class C is never predicted: F1 of C is 0 (zero_division=0)
    frame = evaluation.bootstrap_intervals(y, np.eye(3)[pred], ["A", "B", "C"], resamples=50, seed=1)
    assert frame.loc["accuracy", "estimate"] == pytest.approx(accuracy_score(y, pred))
    assert frame.loc["macro F1", "estimate"] == pytest.approx(
        f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0)
    )
    recalls = recall_score(y, pred, labels=[0, 1, 2], average=None, zero_division=0)
    for name, recall in zip("ABC", recalls):
        assert frame.loc[f"sensitivity {name}", "estimate"] == pytest.approx(recall)
    negatives_right = ((y != 0) & (pred != 0)).sum() / (y != 0).sum()
    assert frame.loc["specificity A", "estimate"] == pytest.approx(negatives_right)


def test_bootstrap_resamples_keep_class_sizes():
    y = np.repeat([0, 1, 2], [5, 10, 20])
    perfect = evaluation.bootstrap_intervals(y, np.eye(3)[y], ["A", "B", "C"], resamples=200, seed=2)
    assert (perfect[["ci_low", "ci_high"]] == 1.0).all().all()  # no resample can change a perfect score
    always_c = evaluation.bootstrap_intervals(y, np.eye(3)[np.full(35, 2)], ["A", "B", "C"], resamples=200)
    # stratified: every resample has exactly 20 of 35 images from class C, so accuracy is fixed
    assert always_c.loc["accuracy", "ci_low"] == always_c.loc["accuracy", "ci_high"] == pytest.approx(20 / 35)


def test_calibration_bins_count_and_average_each_bin():
    y = np.zeros(6, int)
    prob = np.zeros((6, 3))
    prob[:, 0] = [0.95, 0.95, 0.95, 0.6, 0.6, 0.4]
    prob[:, 1] = 1 - prob[:, 0]  # the last one is called Normal at 0.6: wrong
    table = evaluation.calibration_bins(y, prob, bins=5)
    assert table["count"].tolist() == [3, 3] and table["low"].tolist() == pytest.approx([0.4, 0.8])
    assert table["confidence"].tolist() == pytest.approx([0.6, 0.95])
    assert table["accuracy"].tolist() == pytest.approx([2 / 3, 1.0])
    # ECE: half the predictions are off by |2/3 - 0.6|, half by |1 - 0.95|
    assert evaluation.expected_calibration_error(y, prob, bins=5) == pytest.approx(0.5 * (2 / 3 - 0.6) + 0.5 * 0.05)


def test_expected_calibration_error_known_values():
    y = np.array([0, 0, 1, 1])
    confident_right = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 1.0, 0]])
    assert evaluation.expected_calibration_error(y, confident_right) == pytest.approx(0.0)
    confident_wrong = confident_right[::-1]
    assert evaluation.expected_calibration_error(y, confident_wrong) == pytest.approx(1.0)
    half = np.full((4, 3), [0.6, 0.4, 0.0])  # says 60 %, right half the time
    assert evaluation.expected_calibration_error(y, half) == pytest.approx(0.1)

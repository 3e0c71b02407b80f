"""Paired statistics for the leak experiment: Newcombe's interval, McNemar's power, the pooled leak."""

import math

import numpy as np
import pytest
from helpers import write_scored_run
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, multinomial, norm

from xray_utils import evaluation, full_study, stats
from xray_utils.errors import ConfigError

# Newcombe (1998), Stat Med 17:2635-50, worked examples: (a, b, c, d) = (both, first only,
# second only, neither) and the 95 % limits of method 10, published to 4 decimals.
NEWCOMBE_METHOD_10 = [
    ((36, 12, 2, 0), 0.0569, 0.3404),
    ((20, 12, 2, 16), 0.0562, 0.3292),
    ((18, 12, 2, 18), 0.0562, 0.3290),
    ((36, 14, 0, 0), 0.1528, 0.4167),
    ((35, 14, 0, 1), 0.1461, 0.4175),
    ((18, 14, 0, 18), 0.1441, 0.3963),
    ((2, 97, 1, 0), 0.8721, 0.9854),
    ((1, 97, 1, 1), 0.8736, 0.9850),
    ((0, 29, 1, 0), 0.6666, 0.9882),
    ((2, 98, 0, 0), 0.9178, 0.9945),
    ((1, 98, 0, 1), 0.9171, 0.9916),
    ((0, 30, 0, 0), 0.8395, 1.0),
    ((54, 0, 0, 0), -0.0664, 0.0664),
    ((53, 0, 0, 1), -0.0729, 0.0729),
    ((30, 0, 0, 24), -0.0358, 0.0358),
    ((29, 0, 0, 25), -0.0354, 0.0354),
    ((28, 0, 0, 26), -0.0352, 0.0352),
    ((27, 0, 0, 27), -0.0351, 0.0351),
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017), ch. 8:
    # Cavo et al. (2012), Newcombe square-and-add interval.
    ((59, 6, 16, 80), -0.1186, -0.0046),
]


@pytest.mark.parametrize(("table", "low", "high"), NEWCOMBE_METHOD_10)
def test_paired_interval_reproduces_published_limits(table, low, high):
    a, b, c, d = table
    difference, got_low, got_high = stats.paired_interval_from_counts(a, b, c, d)
    assert difference == pytest.approx((b - c) / (a + b + c + d))
    # one unit in the 4th decimal: published limits are rounded (one, 0.87367, reads 0.8736)
    assert got_low == pytest.approx(low, abs=1e-4) and got_high == pytest.approx(high, abs=1e-4)


def _score_limits(successes, total, z):
    """Wilson limits as roots of the score equation (p_hat - p)^2 = z^2 p (1 - p) / n (not the closed form)."""
    p_hat = successes / total

    def gap(p):
        return (p_hat - p) ** 2 - z * z * p * (1 - p) / total

    # at p_hat = 0 or 1 the equation also has the root p_hat itself: bracket just past it
    low = 0.0 if successes == 0 else brentq(gap, 0.0, min(p_hat, 1 - 1e-9), xtol=1e-14)
    high = 1.0 if successes == total else brentq(gap, max(p_hat, 1e-9), 1.0, xtol=1e-14)
    return low, high


def _newcombe_by_hand(right_a, right_b, level):
    """Method 10 written from the paper again, from outcome arrays, with its phi correction."""
    n = len(right_a)
    z = norm.ppf(1 - (1 - level) / 2)
    p1, p2 = right_a.mean(), right_b.mean()
    l1, u1 = _score_limits(right_a.sum(), n, z)
    l2, u2 = _score_limits(right_b.sum(), n, z)
    e, f = np.sum(right_a & right_b), np.sum(right_a & ~right_b)
    g, h = np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)
    numerator = float(e * h - f * g)
    if 0 <= numerator <= n / 2:
        numerator = 0.0
    elif numerator > n / 2:
        numerator -= n / 2
    denominator = float((e + f) * (g + h) * (e + g) * (f + h))
    phi = numerator / math.sqrt(denominator) if denominator > 0 else 0.0
    delta = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    epsilon = math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return p1 - p2, p1 - p2 - delta, p1 - p2 + epsilon


@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_paired_interval_matches_a_second_derivation(level):
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 40, 736):
        for _ in range(8):
            right_a = rng.random(n) < rng.uniform(0.3, 1.0)
            flip = rng.random(n) < rng.uniform(0.0, 0.2)
            right_b = np.where(flip, ~right_a, right_a)
            got = stats.paired_difference_interval(right_a, right_b, level=level)
            assert got == pytest.approx(_newcombe_by_hand(right_a, right_b, level), abs=1e-9)


def test_identical_outcomes_get_a_narrow_interval_around_zero():
    right = np.r_[np.ones(30, bool), np.zeros(24, bool)]
    difference, low, high = stats.paired_difference_interval(right, right.copy())
    assert difference == 0.0 and low == pytest.approx(-high) and 0.03 < high < 0.04  # Newcombe: +-0.0358
    # a wider interval at a higher level, narrower with more images
    assert stats.paired_difference_interval(right, right, level=0.99)[2] > high
    assert stats.paired_difference_interval(np.tile(right, 4), np.tile(right, 4))[2] < high


def test_paired_interval_refuses_bad_outcomes():
    good = np.array([True, False, True])
    with pytest.raises(ValueError, match="same images"):
        stats.paired_difference_interval(good, good[:2])
    with pytest.raises(ValueError, match="at least one image"):
        stats.paired_difference_interval(np.array([], bool), np.array([], bool))
    with pytest.raises(ConfigError, match="boolean"):
        stats.paired_difference_interval(np.array([1, 0, 1]), good)
    with pytest.raises(ConfigError, match="1-D"):
        stats.paired_difference_interval(good[None, :], good[None, :])
    with pytest.raises(ConfigError, match="level"):
        stats.paired_difference_interval(good, good, level=95)
    with pytest.raises(ConfigError, match="non-negative"):
        stats.paired_interval_from_counts(3, -1, 0, 2)


def test_exact_coverage_is_near_nominal_on_a_grid():
    """Coverage summed over every 2x2 table of 30 images, weighted by its multinomial probability (no simulation noise)."""
    n = 30
    tables = np.array(
        [(a, b, c, n - a - b - c) for a in range(n + 1) for b in range(n + 1 - a) for c in range(n + 1 - a - b)]
    )
    limits = np.array([stats.paired_interval_from_counts(*t)[1:] for t in tables])
    grid = [
        (0.7, 0.1, 0.1, 0.1),
        (0.5, 0.2, 0.1, 0.2),
        (0.4, 0.1, 0.1, 0.4),
        (0.6, 0.25, 0.05, 0.1),
        (0.3, 0.3, 0.1, 0.3),
        (0.8, 0.1, 0.05, 0.05),
    ]
    coverage = []
    for cells in grid:
        truth = cells[1] - cells[2]
        inside = (limits[:, 0] <= truth) & (truth <= limits[:, 1])
        coverage.append(multinomial.pmf(tables, n, cells)[inside].sum())
    assert min(coverage) > 0.94 and 0.945 < np.mean(coverage) < 0.985, coverage


def test_simulated_coverage_at_the_leak_experiments_size():
    """736 test images, ~97 % accuracy, a handful of discordant images, with and without a true difference."""
    rng = np.random.default_rng(11)
    for cells in [(0.96, 0.01, 0.01, 0.02), (0.955, 0.012, 0.004, 0.029)]:
        tables = rng.multinomial(736, cells, size=1500)
        limits = np.array([stats.paired_interval_from_counts(*t)[1:] for t in tables])
        truth = cells[1] - cells[2]
        covered = np.mean((limits[:, 0] <= truth) & (truth <= limits[:, 1]))
        assert 0.93 < covered < 0.995, (cells, covered)  # method 10 errs on the safe side with few discordant


def _hand_p(b, discordant):
    """Two-sided exact McNemar p, summed by hand: twice the smaller tail of Binomial(discordant, 1/2)."""
    tail = sum(math.comb(discordant, k) for k in range(min(b, discordant - b) + 1)) / 2**discordant
    return min(1.0, 2 * tail)


def test_minimum_significant_split_hand_cases():
    assert _hand_p(7, 7) == pytest.approx(0.015625) and _hand_p(6, 7) == pytest.approx(0.125)
    assert stats.minimum_significant_split(7) == 7  # only 7:0
    assert _hand_p(9, 10) < 0.05 < _hand_p(8, 10) and stats.minimum_significant_split(10) == 9
    assert _hand_p(15, 20) < 0.05 < _hand_p(14, 20) and stats.minimum_significant_split(20) == 15
    assert stats.minimum_significant_split(6) == 6  # 6:0 gives p = 1/32
    with pytest.raises(ConfigError, match="5:0"):
        stats.minimum_significant_split(5)  # 5:0 gives p = 1/16
    assert stats.smallest_testable_discordance(0.05) == 6 and stats.smallest_testable_discordance(0.01) == 8


def test_minimum_significant_split_agrees_with_scipy():
    for discordant in range(6, 60):
        for alpha in (0.05, 0.01):
            if 2 * 0.5**discordant >= alpha:
                continue
            significant = [
                b for b in range(discordant + 1) if 2 * b >= discordant and binomtest(b, discordant).pvalue < alpha
            ]
            assert stats.minimum_significant_split(discordant, alpha) == significant[0]


def test_detectable_difference_for_seven_discordant_images():
    # Only 7:0 (or 0:7) rejects: power = q^7 + (1 - q)^7 with q = (1 + delta n / 7) / 2.
    q = 0.8 ** (1 / 7)  # the (1 - q)^7 term is 3e-11
    expected = (2 * q - 1) * 7 / 700
    assert stats.detectable_difference(700, 7) == pytest.approx(expected, rel=1e-6)
    assert stats.detectable_difference(700, 7) == pytest.approx(0.00937, abs=1e-5)  # about 0.94 points


@pytest.mark.parametrize(
    ("n", "discordant", "alpha", "power"), [(736, 7, 0.05, 0.8), (736, 27, 0.05, 0.9), (200, 40, 0.01, 0.8)]
)
def test_detectable_difference_has_the_asked_power(n, discordant, alpha, power):
    delta = stats.detectable_difference(n, discordant, alpha, power)
    favour = (1 + delta * n / discordant) / 2
    rejects = [b for b in range(discordant + 1) if binomtest(b, discordant).pvalue < alpha]
    assert binom.pmf(rejects, discordant, favour).sum() == pytest.approx(power, abs=1e-6)
    rng = np.random.default_rng(5)
    draws = rng.binomial(discordant, favour, size=4000)
    assert np.isin(draws, rejects).mean() == pytest.approx(power, abs=0.03)  # simulated power
    assert 0 < delta <= discordant / n


def test_detectable_difference_grows_with_discordance_and_refuses_bad_input():
    values = [stats.detectable_difference(736, d) for d in (6, 10, 20, 40)]
    assert values == sorted(values) and stats.detectable_difference(1472, 20) == pytest.approx(values[2] / 2)
    assert stats.detectable_difference(736, 5) == math.inf  # no split of 5 is significant
    for bad in ({"n": 0, "discordant": 0}, {"n": 10, "discordant": 11}, {"n": 10, "discordant": 0}):
        with pytest.raises(ConfigError):
            stats.detectable_difference(**bad)
    with pytest.raises(ConfigError, match="power"):
        stats.detectable_difference(736, 10, power=1.0)


def _run(folder, protocol, right, rates):
    """A finished run whose saved predictions are right exactly where ``right`` is True."""
    y = np.arange(len(right)) % 3
    guess = np.where(right, y, (y + 1) % 3)
    return write_scored_run(folder, "m1", protocol, y, np.eye(3)[guess], rates, class_names=["a", "b", "c"])


@pytest.fixture
def seed_runs(tmp_path):
    """Seed 1: identical runs (same schedule); seed 2: 8 images better and 2 worse when steered; 100 test images."""
    base = np.arange(100) >= 10  # 90 right
    better = base.copy()
    better[:8] = True
    better[50:52] = False
    flat, cut = (1e-3, 1e-3, 1e-3), (1e-3, 1e-4, 1e-4)
    return {
        ("m1", "test_steered", 1): _run(tmp_path / "s1", "test_steered", base, flat),
        ("m1", "corrected", 1): _run(tmp_path / "c1", "corrected", base, flat),
        ("m1", "test_steered", 2): _run(tmp_path / "s2", "test_steered", better, cut),
        ("m1", "corrected", 2): _run(tmp_path / "c2", "corrected", base, flat),
    }


def test_leak_test_reports_interval_and_detectable_leak(seed_runs):
    row = evaluation.leak_test(seed_runs[("m1", "test_steered", 2)], seed_runs[("m1", "corrected", 2)])
    assert row["leak"] == pytest.approx(0.06) and row["images_changed"] == 10
    assert (row["steered_only_right"], row["corrected_only_right"], row["test_images"]) == (8, 2, 100)
    assert row["leak_p"] == pytest.approx(_hand_p(8, 10))
    assert row["leak_low"] < 0 < row["leak"] < row["leak_high"]  # p = 0.109: the interval holds 0
    assert row["detectable_leak"] == pytest.approx(stats.detectable_difference(100, 10))
    same = evaluation.leak_test(seed_runs[("m1", "test_steered", 1)], seed_runs[("m1", "corrected", 1)])
    assert same["same_schedule"] and same["images_changed"] == 0 and same["leak_low"] < 0 < same["leak_high"]
    # no discordant image: the discordance is floored at 6, the fewest a 5 % test can use
    assert same["detectable_leak"] == pytest.approx(stats.detectable_difference(100, 6))


def test_leak_tables_carry_the_new_columns(seed_runs):
    table = evaluation.leak_by_seed(seed_runs)
    assert list(table.columns) == ["model", "seed", *evaluation.PROTOCOL_COLUMNS[1:-1]]
    assert {"leak_low", "leak_high", "detectable_leak"} <= set(table.columns)
    assert table["seed"].tolist() == [1, 2] and table["leak"].tolist() == pytest.approx([0.0, 0.06])
    runs = {(m, p): r for (m, p, s), r in seed_runs.items() if s == 2}
    comparison = evaluation.protocol_comparison(runs)
    assert list(comparison.columns) == evaluation.PROTOCOL_COLUMNS
    assert comparison.loc["m1", "leak_high"] == pytest.approx(table["leak_high"].iloc[1], abs=1e-4)


def test_leak_summary_leaves_out_identical_pairs_and_pools_the_rest(seed_runs):
    pairs = evaluation.leak_pairs(seed_runs)
    summary = evaluation.leak_summary(pairs)
    assert (summary["pairs"], summary["pairs_identical"], summary["pairs_pooled"]) == (2, 1, 1)
    only = pairs[("m1", 2)]
    for key in ("leak", "leak_low", "leak_high", "leak_p", "detectable_leak"):
        assert summary[key] == pytest.approx(only[key])  # one pair left: the pooled numbers are its own
    # two pairs of the same counts: same estimate, a narrower interval, a smaller p
    doubled = evaluation.leak_summary({("m1", 2): only, ("m1", 3): dict(only)})
    assert doubled["test_images"] == 200 and doubled["images_changed"] == 20
    assert doubled["leak"] == pytest.approx(0.06) and doubled["leak_p"] == pytest.approx(_hand_p(16, 20))
    assert doubled["leak_high"] - doubled["leak_low"] < only["leak_high"] - only["leak_low"]
    empty = evaluation.leak_summary({("m1", 1): pairs[("m1", 1)]})
    assert empty["pairs_pooled"] == 0 and math.isnan(empty["leak"])


def test_committed_leak_experiment_pooled():
    runs = full_study.load_seed_runs(full_study.load_full_study())
    pairs, table = evaluation.leak_pairs(runs), evaluation.leak_by_seed(runs)
    identical = table["same_schedule"] & (table["images_changed"] == 0)
    summary = evaluation.leak_summary(pairs)
    assert (summary["pairs"], summary["pairs_identical"]) == (7, 3) and identical.sum() == 3
    assert summary["images_changed"] == table.loc[~identical, "images_changed"].sum()
    assert summary["leak"] == pytest.approx(table.loc[~identical, "leak"].mean())  # same 736 images each
    assert summary["leak_low"] < summary["leak"] < summary["leak_high"]
    m1 = table.set_index(["model", "seed"]).loc[("m1", 1987)]
    assert m1["images_changed"] == 7 and m1["leak_p"] == pytest.approx(_hand_p(6, 7))
    assert m1["leak_low"] < 0 < m1["leak_high"]

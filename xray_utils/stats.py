"""Small statistics shared by the scoring modules: binomial and paired-binary intervals, McNemar's power.

One definition of each, used for test accuracy and the leak experiment
(:mod:`xray_utils.evaluation`) and held-out recall (:mod:`xray_utils.explain`).
Proportions are fractions of the images (0.01 = one point of accuracy).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import binom, binomtest, norm

from .errors import ConfigError


def accuracy_interval(correct: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval for a proportion of ``correct / total`` (``total`` >= 1)."""
    interval = binomtest(int(correct), int(total)).proportion_ci(confidence_level=level, method="exact")
    return float(interval.low), float(interval.high)


def _check_level(name: str, value: float) -> float:
    if not 0 < value < 1:
        raise ConfigError(f"{name}={value!r} is not allowed: it must lie strictly between 0 and 1")
    return float(value)


def _wilson(successes: int, total: int, z: float) -> tuple[float, float]:
    """Wilson score interval (no continuity correction) of ``successes / total`` at normal quantile ``z``."""
    centre = (successes + z * z / 2) / (total + z * z)
    half = z * math.sqrt(successes * (total - successes) / total + z * z / 4) / (total + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def paired_table(correct_a, correct_b) -> tuple[int, int, int, int]:
    """The paired 2x2 table of two classifiers scored on the same images.

    ``correct_a``/``correct_b``: boolean arrays of shape (n,), n >= 1, one entry
    per image in the same order. Returns ``(both, only_a, only_b, neither)``:
    images right by both, by A only, by B only, by neither.
    """
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    for name, array in (("correct_a", a), ("correct_b", b)):
        if array.dtype != bool or array.ndim != 1:
            raise ConfigError(
                f"{name} must be a 1-D boolean array (was each image right?), got {array.dtype}{list(array.shape)}"
            )
    if len(a) != len(b):
        raise ConfigError(f"correct_a has {len(a)} images and correct_b {len(b)}: paired outcomes need the same images")
    if len(a) == 0:
        raise ConfigError("correct_a and correct_b are empty: a paired interval needs at least one image")
    return int((a & b).sum()), int((a & ~b).sum()), int((~a & b).sum()), int((~a & ~b).sum())


def paired_interval_from_counts(
    both: int, only_a: int, only_b: int, neither: int, level: float = 0.95
) -> tuple[float, float, float]:
    """(difference a - b, low, high) of two paired proportions from their 2x2 table (image counts, total >= 1).

    Newcombe's (1998) method 10, the hybrid score interval: the Wilson
    intervals ``(l1, u1)`` of A's proportion ``p1`` and ``(l2, u2)`` of B's
    ``p2`` are combined as ``low = d - sqrt((p1-l1)^2 - 2 phi (p1-l1)(u2-p2) + (u2-p2)^2)``
    and ``high = d + sqrt((u1-p1)^2 - 2 phi (u1-p1)(p2-l2) + (p2-l2)^2)``,
    where ``phi`` is the correlation of the two outcomes. Newcombe corrects
    ``phi`` for continuity: ``ad - bc`` is lowered by ``n/2`` when above it,
    set to 0 when between 0 and ``n/2``, and ``phi`` is 0 when a margin is
    empty. Without that correction two identical classifiers (``phi`` = 1)
    would get a zero-width interval; with it they get a narrow interval around
    0, as the method gives (e.g. 30/0/0/24 -> +-0.0358). Reference: Newcombe
    RG, Stat Med 1998;17:2635-50 (Table II/III examples reproduced in the tests).
    """
    counts = (both, only_a, only_b, neither)
    if any(int(c) != c or c < 0 for c in counts):
        raise ConfigError(f"the paired table {counts} must hold whole, non-negative image counts")
    if sum(counts) == 0:
        raise ConfigError("the paired table is empty: a paired interval needs at least one image")
    level = _check_level("level", level)
    a, b, c, d = (int(x) for x in counts)
    n = a + b + c + d
    z = float(norm.ppf((1 + level) / 2))
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = _wilson(a + b, n, z)
    l2, u2 = _wilson(a + c, n, z)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    corrected = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
    phi = 0.0 if margins == 0 else corrected / math.sqrt(margins)
    # phi <= 1 keeps each radicand >= (x - y)^2 >= 0; max() only guards rounding
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    difference = (b - c) / n
    return difference, max(-1.0, difference - below), min(1.0, difference + above)


def paired_difference_interval(correct_a, correct_b, level: float = 0.95) -> tuple[float, float, float]:
    """(accuracy of A - accuracy of B, low, high) for two classifiers scored on the same images.

    ``correct_a``/``correct_b``: boolean arrays of shape (n,) in the same image
    order. The interval is Newcombe's method 10 (see
    :func:`paired_interval_from_counts`); it stays valid when the outcomes are
    identical (no discordant image): then it is a narrow interval around 0.
    """
    return paired_interval_from_counts(*paired_table(correct_a, correct_b), level=level)


def _check_count(name: str, value: int, minimum: int) -> int:
    if int(value) != value or value < minimum:
        raise ConfigError(f"{name}={value!r} is not allowed: it must be a whole number >= {minimum}")
    return int(value)


def _split_p_values(discordant: int) -> np.ndarray:
    """Two-sided exact McNemar p of each split b : (discordant - b), b = 0..discordant (binomial at 1/2)."""
    b = np.arange(discordant + 1)
    return np.minimum(1.0, 2 * binom.cdf(np.minimum(b, discordant - b), discordant, 0.5))


def minimum_significant_split(discordant: int, alpha: float = 0.05) -> int:
    """The smallest majority ``b`` (``b >= discordant - b``) for which the split b : (discordant - b) is significant.

    Significant means the two-sided exact McNemar p is below ``alpha`` (7
    discordant: only 7:0, p = 0.0156; 6:1 gives p = 0.125). Raises
    :class:`~xray_utils.errors.ConfigError` when no split of so few images can
    be significant (at 5 %: fewer than 6 discordant images, since 5:0 gives
    p = 0.0625).
    """
    discordant = _check_count("discordant", discordant, 1)
    alpha = _check_level("alpha", alpha)
    p_values = _split_p_values(discordant)
    majority = np.arange(discordant + 1) * 2 >= discordant
    hits = np.flatnonzero(majority & (p_values < alpha))
    if len(hits) == 0:
        raise ConfigError(
            f"no split of {discordant} discordant images is significant at alpha={alpha}: "
            f"even {discordant}:0 gives p = {p_values[-1]:.4g}"
        )
    return int(hits[0])


def smallest_testable_discordance(alpha: float = 0.05) -> int:
    """The fewest discordant images whose most lopsided split (all one way) is significant at ``alpha`` (6 at 5 %)."""
    alpha = _check_level("alpha", alpha)
    # all-one-way p is 2 * 0.5**D: solve 2**(1 - D) < alpha, then step past float ties
    count = max(1, math.floor(1 - math.log2(alpha)))
    while 2.0 ** (1 - count) >= alpha:
        count += 1
    return count


def mcnemar_power(discordant: int, favour_a: float, alpha: float = 0.05) -> float:
    """Probability that an exact two-sided McNemar test at ``alpha`` rejects, given the discordant count.

    ``favour_a``: probability that a discordant image is one A got right (1/2
    under the null). Both tails count as a rejection.
    """
    discordant = _check_count("discordant", discordant, 1)
    rejects = np.flatnonzero(_split_p_values(discordant) < alpha)
    return float(binom.pmf(rejects, discordant, favour_a).sum())


def detectable_difference(n: int, discordant: int, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest true accuracy difference (a fraction of the ``n`` images) an exact McNemar test detects with ``power``.

    Assumption: the number of discordant images is held at ``discordant``
    (the count observed), so the test is the exact conditional binomial one.
    A true difference ``delta`` then means a discordant image favours A with
    probability ``(1 + delta * n / discordant) / 2``, and ``delta`` can be at
    most ``discordant / n`` (every discordant image favouring A). The answer
    solves "power to reject at ``alpha``, two-sided, equals ``power``" for
    ``delta``. It is ``math.inf`` when no split of ``discordant`` images can be
    significant (see :func:`smallest_testable_discordance`): such a test set
    cannot show any difference at that discordance.
    """
    n = _check_count("n", n, 1)
    discordant = _check_count("discordant", discordant, 1)
    if discordant > n:
        raise ConfigError(f"discordant={discordant} is more than the n={n} images")
    alpha, power = _check_level("alpha", alpha), _check_level("power", power)
    if mcnemar_power(discordant, 1.0, alpha) < power:
        return math.inf
    if mcnemar_power(discordant, 0.5, alpha) >= power:
        return 0.0
    # power rises with favour_a on [1/2, 1] (the rejection region is symmetric), so the root is unique
    favour = brentq(lambda q: mcnemar_power(discordant, q, alpha) - power, 0.5, 1.0, xtol=1e-12)
    return (2 * favour - 1) * discordant / n

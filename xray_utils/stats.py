"""Small statistics shared by the scoring modules: the exact binomial interval.

One definition, used for test accuracy (:mod:`xray_utils.evaluation`) and
held-out recall (:mod:`xray_utils.explain`).
"""

from __future__ import annotations

from scipy.stats import binomtest


def accuracy_interval(correct: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval for a proportion of ``correct / total`` (``total`` >= 1)."""
    interval = binomtest(int(correct), int(total)).proportion_ci(confidence_level=level, method="exact")
    return float(interval.low), float(interval.high)

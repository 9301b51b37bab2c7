"""Summaries with t confidence intervals, paired Wilcoxon tests, and Holm's correction."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

PAIRED_TEST = "Wilcoxon signed-rank, two-sided, paired by seed (zero differences dropped)"
CI_METHOD = "Student t interval on the mean over replicates"


def summarize(values: ArrayLike, confidence: float = 0.95) -> dict[str, float | None]:
    """Return mean, sample std and the t confidence interval of the mean (None when n = 1)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("summarize() needs at least one value")
    mean = float(data.mean())
    if data.size == 1:
        return {"mean": mean, "std": None, "ci_low": None, "ci_high": None}
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, data.size - 1)) * std / np.sqrt(data.size)
    return {"mean": mean, "std": std, "ci_low": mean - half, "ci_high": mean + half}


def wilcoxon_p(differences: ArrayLike) -> float | None:
    """Return the two-sided Wilcoxon signed-rank p-value; 1.0 when every difference is 0."""
    data = np.asarray(differences, dtype=np.float64)
    if data.size < 2:
        return None
    if not np.any(data != 0):
        return 1.0
    return float(stats.wilcoxon(data, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_comparison(
    variant: ArrayLike,
    baseline: ArrayLike,
    confidence: float = 0.95,
) -> dict[str, object]:
    """Return the paired difference (variant - baseline) summary and its Wilcoxon p-value."""
    a, b = np.asarray(variant, np.float64), np.asarray(baseline, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in size: {a.size} vs {b.size}")
    differences = a - b
    return {
        "diff": summarize(differences, confidence),
        "p_value": wilcoxon_p(differences),
        "test": PAIRED_TEST,
    }


def holm(p_values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Return Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    present = sorted((p, name) for name, p in p_values.items() if p is not None)
    adjusted: dict[str, float | None] = {name: None for name, p in p_values.items() if p is None}
    running = 0.0
    for rank, (p, name) in enumerate(present):
        running = max(running, min(1.0, (len(present) - rank) * p))
        adjusted[name] = running
    return adjusted


def verdict(diff: Mapping[str, float | None], p_holm: float | None, alpha: float = 0.05) -> str:
    """Return 'helped', 'hurt' or 'no detectable difference' from a paired comparison."""
    if p_holm is None or p_holm >= alpha:
        return "no detectable difference"
    mean = diff["mean"] or 0.0
    return "helped" if mean > 0 else "hurt"

"""Summaries over seeds: bootstrap intervals, exact paired tests, Holm, equivalence verdicts.

Accuracies are counts: k correct of n points. Every function that summarizes accuracy takes
the integer counts and divides once at the end, so equal results are equal numbers (k/70
stored as a float rounds differently depending on how it was computed, which breaks ties in
ranks and comparisons).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

if TYPE_CHECKING:
    from noisereg.params import ReportParams

PAIRED_TEST = (
    "Wilcoxon signed-rank on the paired differences in correct counts, two-sided, zero "
    "differences dropped; exact without ties, otherwise with scipy's tie handling"
)
CI_METHOD = "BCa bootstrap over seeds (percentile where BCa is undefined)"
VERDICT_RULE = (
    "helped / hurt: the multiplicity-adjusted interval of the paired difference lies entirely "
    "beyond +margin / -margin; no practical difference: entirely inside (-margin, +margin); "
    "inconclusive: otherwise"
)
VERDICTS = ("helped", "hurt", "no practical difference", "inconclusive")


def summarize(
    values: ArrayLike,
    confidence: float,
    seed: int,
    resamples: int,
    scale: float = 1.0,
) -> dict[str, Any]:
    """Return mean, sample std and a bootstrap interval of the mean of `values / scale`.

    `values` are the raw per-seed numbers (integer counts for accuracies, with `scale` the
    number of points). The percentile-based interval lies inside the range of the data, so an
    accuracy interval never leaves [0, 1]. When every seed gave the same value there is no
    spread to resample: the interval is the value itself and `identical` says so.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("summarize() needs at least one value")
    mean = float(data.sum() / (data.size * scale))
    if data.size == 1:
        return {"mean": mean, "std": None, "ci_low": None, "ci_high": None, "identical": True}
    std = float(data.std(ddof=1) / scale)
    if np.all(data == data[0]):
        return {"mean": mean, "std": 0.0, "ci_low": mean, "ci_high": mean, "identical": True}
    low, high = bootstrap_interval(data, confidence, seed, resamples)
    return {
        "mean": mean,
        "std": std,
        "ci_low": float(low / scale),
        "ci_high": float(high / scale),
        "identical": False,
    }


def summarize_with(report: ReportParams, values: ArrayLike, scale: float = 1.0) -> dict[str, Any]:
    """Return `summarize` of `values / scale` at the report section's level and bootstrap."""
    return summarize(
        values, report.confidence, report.bootstrap_seed, report.bootstrap_resamples, scale
    )


def bootstrap_interval(
    data: np.ndarray, confidence: float, seed: int, resamples: int
) -> tuple[float, float]:
    """Return the BCa bootstrap interval of the mean; percentile where BCa is undefined.

    BCa needs a spread of jackknife means; with two distinct values it can return NaN, and
    the percentile interval is then the honest fallback.
    """
    for method in ("BCa", "percentile"):
        result = stats.bootstrap(
            (data,),
            np.mean,
            confidence_level=confidence,
            n_resamples=resamples,
            method=method,
            rng=np.random.default_rng(seed),
        )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            # BCa can place an end a rounding error beyond the data; clip to the data's range.
            return max(float(low), float(data.min())), min(float(high), float(data.max()))
    raise ValueError("bootstrap interval undefined")  # percentile is always finite


def wilcoxon_p(differences: ArrayLike) -> float | None:
    """Return the two-sided Wilcoxon signed-rank p of integer paired differences.

    Tied magnitudes share ranks because the differences are exact integers (scipy then
    corrects the variance, or enumerates the null for small samples). 1.0 when every
    difference is 0.
    """
    data = np.asarray(differences)
    if data.size < 2:
        return None
    if not np.any(data != 0):
        return 1.0
    result = stats.wilcoxon(data.astype(np.int64), zero_method="wilcox", alternative="two-sided")
    return float(result.pvalue)


def paired_comparison(
    variant_correct: ArrayLike,
    reference_correct: ArrayLike,
    n_points: int,
    confidence: float,
    seed: int,
    resamples: int,
) -> dict[str, Any]:
    """Return the paired accuracy difference (variant - reference) and its Wilcoxon p.

    Inputs are correct counts per seed on the same `n_points` test points.
    """
    a, b = np.asarray(variant_correct), np.asarray(reference_correct)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in size: {a.size} vs {b.size}")
    differences = a.astype(np.int64) - b.astype(np.int64)
    return {
        "diff": summarize(differences, confidence, seed, resamples, scale=n_points),
        "p_value": wilcoxon_p(differences),
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


def adjusted_confidence(confidence: float, comparisons: int) -> float:
    """Return the Bonferroni-adjusted level for `comparisons` simultaneous intervals."""
    return 1.0 - (1.0 - confidence) / max(comparisons, 1)


def verdict(low: float | None, high: float | None, margin: float) -> str:
    """Return the practical-equivalence verdict of an interval on a paired difference.

    One rule decides both direction and certainty (Kruschke's ROPE, as in Benavoli et al.
    2017): the interval must clear the margin to count as an effect, and must sit inside it
    to count as no practical difference.
    """
    if low is None or high is None:
        return "inconclusive"
    if low > margin:
        return "helped"
    if high < -margin:
        return "hurt"
    if -margin < low and high < margin:
        return "no practical difference"
    return "inconclusive"


def column_interval(row: Any, column: str) -> str:
    """Return a row's `column` with its `<column>_low`/`_high` as '+0.012 [+0.003, +0.020]'.

    `row` is a mapping (a records dict) or has attribute access (a pandas row, an
    itertuples tuple); without an interval the value stands alone.
    """
    names = [column + suffix for suffix in ("", "_low", "_high")]
    if isinstance(row, Mapping):
        mean, low, high = (row[name] for name in names)
    else:
        mean, low, high = (getattr(row, name) for name in names)
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return f"{mean:+.3f}"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"

"""Statistics on inputs with known answers: exact ties, bounded intervals, one verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from noisereg.stats import (
    adjusted_confidence,
    holm,
    paired_comparison,
    summarize,
    verdict,
    wilcoxon_p,
)

SEED, RESAMPLES = 11, 2000


def test_mean_is_computed_from_counts_exactly() -> None:
    counts = np.array([41, 43, 43, 47])
    result = summarize(counts, 0.95, SEED, RESAMPLES, scale=70)
    assert result["mean"] == 174 / 280  # one division, no accumulated rounding
    assert result["std"] == pytest.approx(counts.std(ddof=1) / 70)
    assert result["ci_low"] <= result["mean"] <= result["ci_high"]


def test_single_run_has_no_interval() -> None:
    result = summarize([49], 0.95, SEED, RESAMPLES, scale=70)
    assert result == {
        "mean": 0.7,
        "std": None,
        "ci_low": None,
        "ci_high": None,
        "identical": True,
    }


def test_accuracy_interval_never_leaves_zero_one() -> None:
    # 19 seeds fit all 30 training points, one misses one: a t interval reaches past 1.
    counts = np.array([30] * 19 + [29])
    values = counts / 30
    t_high = values.mean() + scipy_stats.t.ppf(0.975, 19) * values.std(ddof=1) / np.sqrt(20)
    assert t_high > 1.0  # the defect the bootstrap interval fixes
    result = summarize(counts, 0.95, SEED, RESAMPLES, scale=30)
    assert 0.0 <= result["ci_low"] <= result["ci_high"] <= 1.0
    assert result["ci_high"] == 1.0


def test_identical_seeds_are_reported_as_identical_not_as_an_interval() -> None:
    result = summarize([32] * 20, 0.95, SEED, RESAMPLES, scale=70)
    assert result["identical"] is True and result["std"] == 0.0
    assert result["ci_low"] == result["ci_high"] == result["mean"] == 32 / 70


def test_ties_in_paired_differences_are_exact() -> None:
    # Accuracies as k/70 floats: equal integer differences become distinct floats.
    rng = np.random.default_rng(3)
    reference = rng.integers(35, 55, 20)
    variant = reference + np.array([2, 2, 3, 3, 3, 5, 5, 1, 1, 4, 4, 2, 6, 6, 3, 2, 0, -1, 7, 2])
    float_diffs = variant / 70 - reference / 70
    integer_diffs = variant - reference
    assert len(np.unique(np.abs(float_diffs))) > len(np.unique(np.abs(integer_diffs)))
    result = paired_comparison(variant, reference, 70, 0.95, SEED, RESAMPLES)
    expected = scipy_stats.wilcoxon(integer_diffs, zero_method="wilcox").pvalue
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)
    float_p = scipy_stats.wilcoxon(float_diffs, zero_method="wilcox").pvalue
    assert result["p_value"] != pytest.approx(float_p, rel=1e-6)  # the float path was wrong
    assert result["diff"]["mean"] == integer_diffs.sum() / (20 * 70)


def test_identical_samples_give_zero_difference_and_p_one() -> None:
    a = np.array([42, 49, 45, 43])
    result = paired_comparison(a, a.copy(), 70, 0.95, SEED, RESAMPLES)
    assert result["diff"]["mean"] == 0.0 and result["diff"]["std"] == 0.0
    assert result["p_value"] == 1.0


def test_constant_positive_difference_is_detected() -> None:
    baseline = np.arange(40, 52)
    result = paired_comparison(baseline + 3, baseline, 70, 0.95, SEED, RESAMPLES)
    assert result["diff"]["mean"] == 3 / 70
    # exact two-sided signed-rank p with all 12 differences positive and tied: scipy's
    # tie handling, not the no-ties exact 2 / 2**12
    assert result["p_value"] == pytest.approx(
        scipy_stats.wilcoxon(np.full(12, 3)).pvalue, rel=1e-12
    )


def test_wilcoxon_needs_two_values() -> None:
    assert wilcoxon_p([1]) is None


def test_holm_step_down() -> None:
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert adjusted["a"] == pytest.approx(0.03)  # 3 x 0.01: the correction is applied
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)  # monotone: never below the previous step
    assert adjusted["d"] is None


def test_adjusted_confidence_is_bonferroni() -> None:
    assert adjusted_confidence(0.95, 10) == pytest.approx(0.995)
    assert adjusted_confidence(0.95, 0) == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.02, 0.08, "helped"),
        (-0.08, -0.02, "hurt"),
        (-0.005, 0.004, "no practical difference"),
        (-0.003, 0.03, "inconclusive"),
        (-0.03, 0.03, "inconclusive"),
        (None, None, "inconclusive"),
    ],
)
def test_verdict_cases(low: float | None, high: float | None, expected: str) -> None:
    assert verdict(low, high, margin=0.01) == expected


def test_eighteen_worse_two_much_better_is_not_helped() -> None:
    # 18 seeds lose one test point, 2 gain 30: the mean is positive and the signed-rank
    # test is significant, yet most seeds got worse. One interval decides the verdict.
    reference = np.full(20, 40)
    variant = reference + np.array([-1] * 18 + [30, 30])
    result = paired_comparison(variant, reference, 70, 0.95, SEED, RESAMPLES)
    assert result["diff"]["mean"] > 0 and result["p_value"] < 0.05
    low, high = result["diff"]["ci_low"], result["diff"]["ci_high"]
    assert verdict(low, high, margin=0.01) == "inconclusive"


def test_small_significant_effect_is_no_practical_difference() -> None:
    # -0.002 with a tight interval (the large-data case): significant, but negligible.
    rng = np.random.default_rng(0)
    reference = rng.integers(570, 590, 20)
    variant = reference - np.array([1, 2, 1, 1, 2, 1, 1, 2, 1, 1] * 2)
    result = paired_comparison(variant, reference, 700, 0.95, SEED, RESAMPLES)
    assert result["p_value"] < 0.01
    low, high = result["diff"]["ci_low"], result["diff"]["ci_high"]
    assert verdict(low, high, margin=0.01) == "no practical difference"

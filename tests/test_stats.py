"""Statistics on inputs with known answers: exact counts, bounded intervals, one verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from noisereg.stats import (
    VERDICT_CODES,
    Family,
    judge,
    minimum_detectable_effect,
    pigeonhole_interval,
    pigeonhole_means,
    points_matrix,
    t_interval,
    verdict,
)

SEED, RESAMPLES = 11, 2000


def test_t_interval_is_students_and_the_mean_comes_from_counts_exactly() -> None:
    counts = np.array([41, 43, 43, 47])
    result = t_interval(counts, 0.95, scale=70)
    assert result["mean"] == 174 / 280  # one division, no accumulated rounding
    expected = scipy_stats.t.interval(
        0.95, 3, loc=counts.mean() / 70, scale=scipy_stats.sem(counts / 70)
    )
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(expected, rel=1e-12)
    assert result["df"] == 3 and result["se"] == pytest.approx(scipy_stats.sem(counts / 70))


def test_single_value_has_no_interval() -> None:
    result = t_interval([49], 0.95, scale=70)
    assert result["mean"] == 0.7 and result["ci_low"] is None and result["identical"] is True


def test_accuracy_interval_is_clipped_to_zero_one() -> None:
    # 19 seeds fit all 30 training points, one misses one: a t interval reaches past 1.
    counts = np.array([30] * 19 + [29])
    assert t_interval(counts, 0.95, scale=30)["ci_high"] > 1.0
    result = t_interval(counts, 0.95, scale=30, bounds=(0.0, 1.0))
    assert 0.0 <= result["ci_low"] <= result["ci_high"] == 1.0


def test_identical_values_are_reported_as_identical_not_as_an_interval() -> None:
    result = t_interval([32] * 20, 0.95, scale=70)
    assert result["identical"] is True and result["std"] == 0.0
    assert result["ci_low"] == result["ci_high"] == result["mean"] == 32 / 70


def test_points_matrix_reads_records_and_refuses_bad_ones() -> None:
    assert points_matrix(["0110", "1111"]).tolist() == [[0, 1, 1, 0], [1, 1, 1, 1]]
    with pytest.raises(ValueError, match="length"):
        points_matrix(["011", "1111"])
    with pytest.raises(ValueError, match="0 and 1"):
        points_matrix(["0120"])


def test_pigeonhole_means_are_exact_and_resample_rows_and_columns() -> None:
    matrix = np.arange(12, dtype=np.int64).reshape(3, 4)
    means = pigeonhole_means(matrix, SEED, 500)
    # Every resample's mean is a weighted mean of the entries with integer weights.
    assert np.all(np.isclose(means * 12, np.round(means * 12)))
    # Row effects (+4 per row) and column effects (+1 per column) both move the resamples:
    # a matrix constant along rows (columns) keeps only the column (row) spread.
    rows_only = pigeonhole_means(np.repeat(np.arange(3)[:, None], 4, axis=1), SEED, 500)
    columns_only = pigeonhole_means(np.repeat(np.arange(4)[None, :], 3, axis=0), SEED, 500)
    assert rows_only.std() > 0 and columns_only.std() > 0
    assert np.array_equal(means, pigeonhole_means(matrix, SEED, 500))  # seeded: same bytes


def test_pigeonhole_interval_covers_the_test_points_a_seed_interval_misses() -> None:
    # 20 seeds that agree on every point: no seed spread at all, yet 70 test points are a
    # sample, and the interval must say how much the accuracy would move with other points.
    rng = np.random.default_rng(0)
    matrix = np.tile(rng.integers(0, 2, 70), (20, 1))
    result = pigeonhole_interval(matrix, 0.95, SEED, RESAMPLES)
    assert result["std"] == 0.0 and not result["identical"]
    p = matrix[0].mean()
    binomial_half = 1.96 * np.sqrt(p * (1 - p) / 70)
    assert result["ci_high"] - result["ci_low"] == pytest.approx(2 * binomial_half, rel=0.15)
    assert result["mean"] == matrix.sum() / matrix.size


def test_a_constant_matrix_is_identical() -> None:
    result = pigeonhole_interval(np.ones((5, 7), dtype=np.int64), 0.95, SEED, RESAMPLES)
    assert result["identical"] and result["ci_low"] == result["ci_high"] == 1.0


def test_family_level_is_bonferroni() -> None:
    assert Family("ten", 10, 0.95, 0.01).level == pytest.approx(0.995)
    assert Family("none", 0, 0.95, 0.01).level == pytest.approx(0.95)


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


def test_judge_decides_on_the_family_interval_not_the_shown_one() -> None:
    family = Family("seven", 7, 0.95, 0.01)
    shown = {"mean": 0.05, "ci_low": 0.02, "ci_high": 0.08, "se": 0.015, "df": None}
    decision = {"mean": 0.05, "ci_low": 0.005, "ci_high": 0.095}
    judged = judge(decision, shown, family)
    assert judged["verdict"] == "inconclusive"  # the shown 95% interval alone says helped
    assert judged["verdict_code"] == VERDICT_CODES["inconclusive"]
    assert (judged["decision_low"], judged["decision_high"]) == (0.005, 0.095)


def test_minimum_detectable_effect_known_answer() -> None:
    family = Family("seven", 7, 0.95, 0.01)
    # normal quantiles: 1 - 0.05 / 14 -> 2.690, power 0.8 -> 0.842
    mde = minimum_detectable_effect({"se": 0.03, "df": None}, family)
    assert mde == pytest.approx(0.01 + (2.6901 + 0.8416) * 0.03, abs=1e-4)
    # with few draws the t quantiles are wider
    assert minimum_detectable_effect({"se": 0.03, "df": 9}, family) > mde
    assert minimum_detectable_effect({"se": None}, family) is None


def test_eighteen_worse_two_much_better_is_not_helped() -> None:
    # 18 seeds lose one test point, 2 gain 30: the mean is positive, yet most seeds got
    # worse. One interval decides the verdict.
    differences = np.array([-1] * 18 + [30, 30])
    result = t_interval(differences, 0.95, scale=70)
    assert result["mean"] > 0
    assert verdict(result["ci_low"], result["ci_high"], margin=0.01) == "inconclusive"


def test_small_tight_effect_is_no_practical_difference() -> None:
    # -0.002 with a tight interval (the large-data case): negligible.
    differences = -np.array([1, 2, 1, 1, 2, 1, 1, 2, 1, 1] * 2)
    result = t_interval(differences, 0.95, scale=700)
    assert verdict(result["ci_low"], result["ci_high"], margin=0.01) == "no practical difference"

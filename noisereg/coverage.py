"""How often the study's intervals cover the truth, on simulated studies made of its own data.

The population of a simulation is what the study observed, so its true mean is known:

- fixed split: a comparison's seeds x test points matrix of paired differences; a simulated
  study draws as many seeds (rows) and test points (columns) from it with replacement;
- fresh draws: a cell's per-draw paired differences; a simulated study draws as many
  draws from them with replacement.

The populations come from tests/data/study_draws.json (`benchmarks/coverage.py --extract`
writes it from a built workspace). Each simulated study picks one population (a comparison,
a cell) at random, so the coverage is the study's: an average over its comparisons, as its
verdicts are. Used by tests/test_coverage.py (which asserts it) and benchmarks/coverage.py
(which prints it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from noisereg.stats import pigeonhole_intervals, points_matrix, t_interval

# An interval method: (sample, levels) -> its summaries (ci_low / ci_high), one per level.
Method = Callable[[np.ndarray, Sequence[float]], list[dict[str, Any]]]


def pigeonhole(resamples: int) -> Method:
    """Return the fixed split's method (stats.pigeonhole_intervals) with `resamples`."""

    def method(sample: np.ndarray, levels: Sequence[float]) -> list[dict[str, Any]]:
        # The bootstrap's seed is a function of the sample, as the study's is fixed.
        seed = int(np.abs(sample).sum()) + sample.size
        return pigeonhole_intervals(sample, levels, seed, resamples)

    return method


def students_t(sample: np.ndarray, levels: Sequence[float]) -> list[dict[str, Any]]:
    """Return the fresh draws' method (stats.t_interval)."""
    return [t_interval(sample, level) for level in levels]


def covered(summary: dict[str, Any], truth: float) -> bool:
    """Return whether an interval holds the truth (a degenerate one must equal it)."""
    low, high = summary["ci_low"], summary["ci_high"]
    return bool(low is not None and low - 1e-12 <= truth <= high + 1e-12)


def fixed_split_coverage(
    populations: Sequence[np.ndarray],
    levels: Sequence[float],
    studies: int,
    seed: int,
    method: Method,
) -> dict[float, float]:
    """Return level -> share of simulated fixed-split studies whose interval holds the truth."""
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(levels, 0)
    for _ in range(studies):
        population = populations[int(rng.integers(len(populations)))]
        rows, columns = population.shape
        sample = population[rng.integers(rows, size=rows)][:, rng.integers(columns, size=columns)]
        truth = float(population.mean())
        for level, summary in zip(levels, method(sample, levels), strict=True):
            hits[level] += covered(summary, truth)
    return {level: hits[level] / studies for level in levels}


def fresh_draws_coverage(
    populations: Sequence[np.ndarray],
    draws: int,
    levels: Sequence[float],
    studies: int,
    seed: int,
    method: Method = students_t,
) -> dict[float, float]:
    """Return level -> share of simulated `draws`-draw studies whose interval holds the truth."""
    rng = np.random.default_rng(seed)
    hits = dict.fromkeys(levels, 0)
    for _ in range(studies):
        population = populations[int(rng.integers(len(populations)))]
        sample = population[rng.integers(len(population), size=draws)]
        truth = float(population.mean())
        for level, summary in zip(levels, method(sample, levels), strict=True):
            hits[level] += covered(summary, truth)
    return {level: hits[level] / studies for level in levels}


def fixed_split_populations(fixture: dict[str, Any]) -> list[np.ndarray]:
    """Return each fixed-split comparison's seeds x points paired differences."""
    return [
        points_matrix(variant) - points_matrix(reference)
        for variant, reference in fixture["fixed_split"]["records"].values()
    ]


def fresh_populations(fixture: dict[str, Any], study: str) -> list[np.ndarray]:
    """Return a fresh-draw study's cells (per-draw differences), without constant ones.

    A constant cell has no spread to resample: every simulated study equals its truth.
    """
    cells = [np.asarray(c, dtype=np.float64) for c in fixture[study]["cells"].values()]
    return [c for c in cells if np.ptp(c) > 0]


def levels(confidence: float, family_size: int) -> list[float]:
    """Return the levels the report uses: the shown one and the family-wise one."""
    return [confidence, 1.0 - (1.0 - confidence) / family_size]

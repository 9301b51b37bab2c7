"""Intervals for the study's two designs and the one verdict rule every section uses.

Accuracies are counts: k correct of n points. Every function that summarizes accuracy takes
the integer counts (or 0/1 per point) and divides once at the end, so equal results are
equal numbers and the numbers are the same on any machine.

Two designs, two interval methods (coverage checked on the study's own data by
tests/test_coverage.py):

- Fixed split (the reference's 30/70 split): every model is scored on the same 70 test
  points, so a result depends on the seed and on which 70 points were drawn. The pigeonhole
  bootstrap (Owen 2007) resamples seeds (rows) and test points (columns) of the per-point
  correctness together; a paired difference resamples the difference matrix, so both arms
  see the same seeds and the same points.
- Fresh draws (benefit map, regularizers on generated data): every draw trains on its own
  training set and is scored on a 10,000-point test set, so the draws are independent
  replicates: Student's t over the draws.

A verdict belongs to a section's primary comparisons only (its `Family`): the interval at
the family-wise level decides helped / hurt / no practical difference / inconclusive on the
margin, through `verdict` and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

FIXED_SPLIT_CI = (
    "pigeonhole bootstrap over seeds x test points of the per-point correctness (Owen 2007), "
    "percentile"
)
FRESH_DRAWS_CI = "Student t over the independent draws"
SEEDS_CI = "Student t over seeds (the training points are fixed: no point resampling)"
VERDICT_RULE = (
    "helped / hurt: the family-wise interval of the paired difference lies entirely beyond "
    "+margin / -margin; no practical difference: entirely inside (-margin, +margin); "
    "inconclusive: otherwise"
)
VERDICTS = ("helped", "hurt", "no practical difference", "inconclusive")
# Metrics stay numbers: a verdict is written as its code.
VERDICT_CODES = {"helped": 1, "no practical difference": 0, "hurt": -1, "inconclusive": 2}
# The power at which the minimum detectable effect is stated.
POWER = 0.8
# Batches of bootstrap resamples that estimate an interval end's Monte Carlo error, and how
# many of those errors from the margin a verdict must be to count as settled.
MC_BATCHES = 10
MC_ERRORS = 2.0


@dataclass(frozen=True)
class Family:
    """A section's primary comparisons: the only ones that get verdicts.

    Verdicts use intervals at the Bonferroni level over the whole family, so the chance
    that any verdict of the section rests on an interval that misses is at most
    1 - confidence.
    """

    description: str  # what the family holds, as the report states it
    size: int
    confidence: float
    margin: float

    @property
    def level(self) -> float:
        """Return the level of each decision interval (Bonferroni over the family)."""
        return 1.0 - (1.0 - self.confidence) / max(self.size, 1)


def t_interval(
    values: ArrayLike,
    confidence: float,
    scale: float = 1.0,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Return mean, sample std, standard error and Student's t interval of `values / scale`.

    `values` are the raw per-draw numbers (integer counts for accuracies, with `scale` the
    number of points). `bounds` clip the interval to what the quantity can be (an accuracy
    never leaves [0, 1]). When every value is the same there is no spread to estimate: the
    interval is the value itself and `identical` says so.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("t_interval() needs at least one value")
    mean = float(data.sum() / (data.size * scale))
    if data.size == 1:
        return {"mean": mean, "std": None, "se": None, "df": None, "ci_low": None,
                "ci_high": None, "identical": True}  # fmt: skip
    std = float(data.std(ddof=1) / scale)
    se, df = std / np.sqrt(data.size), data.size - 1
    if np.all(data == data[0]):
        return {"mean": mean, "std": 0.0, "se": 0.0, "df": df, "ci_low": mean,
                "ci_high": mean, "identical": True}  # fmt: skip
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "std": std, "se": se, "df": df, "ci_low": low, "ci_high": high,
            "identical": False}  # fmt: skip


def points_matrix(records: Iterable[str]) -> np.ndarray:
    """Return per-point correctness strings ('0110...', one per seed) as a seeds x points array."""
    rows = [np.frombuffer(str(r).encode("ascii"), dtype=np.uint8) - ord("0") for r in records]
    if len({len(r) for r in rows}) != 1:
        raise ValueError("per-point records differ in length")
    matrix = np.stack(rows).astype(np.int64)
    if matrix.size and (matrix.min() < 0 or matrix.max() > 1):
        raise ValueError("a per-point record holds something other than 0 and 1")
    return matrix


def pigeonhole_means(matrix: np.ndarray, seed: int, resamples: int) -> np.ndarray:
    """Return `resamples` means of the matrix with rows and columns resampled independently.

    A resample's mean is (row counts) . matrix . (column counts) / (rows x columns), with the
    counts those of `size` draws with replacement. The products are integers far below
    2**53, so the float64 matrix product (fast BLAS) is exact and the same on every machine.
    """
    rows, columns = matrix.shape
    rng = np.random.default_rng(seed)
    row_counts = _resample_counts(rng, rows, resamples)
    column_counts = _resample_counts(rng, columns, resamples)
    weighted = row_counts @ np.asarray(matrix, dtype=np.float64)
    totals = np.einsum("bc,bc->b", weighted, column_counts)
    return totals / (rows * columns)


def _resample_counts(rng: np.random.Generator, size: int, resamples: int) -> np.ndarray:
    """Return how often each of `size` items is drawn, per resample of `size` with replacement.

    Counted from drawn indices (one bincount over all resamples), several times faster than
    Generator.multinomial with hundreds of categories.
    """
    drawn = rng.integers(size, size=(resamples, size))
    offsets = np.arange(resamples)[:, None] * size
    counts = np.bincount((drawn + offsets).ravel(), minlength=resamples * size)
    return counts.reshape(resamples, size).astype(np.float64)


def pigeonhole_intervals(
    matrix: np.ndarray,
    levels: Sequence[float],
    seed: int,
    resamples: int,
    scale: float = 1.0,
) -> list[dict[str, Any]]:
    """Return mean, spread over seeds, standard error and pigeonhole interval of `matrix / scale`.

    One summary per level, all from the same resamples. `matrix` holds integers, seeds x
    test points (0/1 correctness, or a paired difference of two such matrices). `std` is the
    spread of the per-seed means (0: every seed gave the same result); `se` is the
    bootstrap standard error, which includes the test points.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.size == 0:
        raise ValueError("pigeonhole_intervals() needs a non-empty seeds x points matrix")
    rows, columns = matrix.shape
    mean = float(matrix.sum() / (matrix.size * scale))
    # The spread of the per-seed totals, divided once: equal seeds give exactly 0.
    totals = matrix.sum(axis=1).astype(np.float64)
    std = float(totals.std(ddof=1) / (columns * scale)) if rows > 1 else None
    if np.all(matrix == matrix.flat[0]):
        return [{"mean": mean, "std": std, "se": 0.0, "ci_low": mean, "ci_high": mean,
                 "identical": True} for _ in levels]  # fmt: skip
    means = pigeonhole_means(matrix, seed, resamples) / scale
    se = float(means.std(ddof=1))
    # The ends' Monte Carlo error: the spread of the same quantile over MC_BATCHES batches
    # of the resamples, / sqrt(MC_BATCHES). A verdict this close to the margin is not
    # settled by the resampling (`judge` flags it).
    batches = means[: resamples - resamples % MC_BATCHES].reshape(MC_BATCHES, -1)
    summaries = []
    for level in levels:
        ends = [0.5 - level / 2, 0.5 + level / 2]
        low, high = np.quantile(means, ends)
        low_mc, high_mc = np.quantile(batches, ends, axis=1).std(axis=1, ddof=1)
        summaries.append({"mean": mean, "std": std, "se": se, "ci_low": float(low),
                          "ci_high": float(high), "identical": False,
                          "ci_low_mc": float(low_mc / np.sqrt(MC_BATCHES)),
                          "ci_high_mc": float(high_mc / np.sqrt(MC_BATCHES))})  # fmt: skip
    return summaries


def pigeonhole_interval(
    matrix: np.ndarray, confidence: float, seed: int, resamples: int, scale: float = 1.0
) -> dict[str, Any]:
    """Return `pigeonhole_intervals` at one level."""
    return pigeonhole_intervals(matrix, [confidence], seed, resamples, scale)[0]


def verdict(low: float | None, high: float | None, margin: float) -> str:
    """Return the practical-equivalence verdict of an interval on a paired difference.

    The study's one rule (Kruschke's ROPE, as in Benavoli et al. 2017): the interval must
    clear the margin to count as an effect, and must sit inside it to count as no practical
    difference. Every section's verdicts come from here (tests/test_verdicts.py).
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


def minimum_detectable_effect(spread: Mapping[str, Any], family: Family) -> float | None:
    """Return the smallest true difference the family-wise interval would call helped at POWER.

    margin + (q(1 - alpha/2) + q(POWER)) x standard error, at the family's level; q is
    Student's t with the draws' degrees of freedom, or the normal for the bootstrap.
    """
    se = spread.get("se")
    if se is None:
        return None
    df = spread.get("df")
    quantile = stats.norm.ppf if df is None else (lambda p: stats.t.ppf(p, df))
    return float(family.margin + (quantile(0.5 + family.level / 2) + quantile(POWER)) * se)


def judge(decision: Mapping[str, Any], shown: Mapping[str, Any], family: Family) -> dict[str, Any]:
    """Return a primary comparison's record: the shown interval, the decision and its verdict.

    `shown` is the difference's summary at the family's confidence, `decision` the same
    difference at the family's level. The verdict is `verdict` of the decision interval;
    `borderline` says the bootstrap's own Monte Carlo error could flip it.
    """
    low, high = decision["ci_low"], decision["ci_high"]
    outcome = verdict(low, high, family.margin)
    return {
        "diff": dict(shown),
        "decision_low": low,
        "decision_high": high,
        "verdict": outcome,
        "verdict_code": VERDICT_CODES[outcome],
        "borderline": _borderline(decision, outcome, family.margin),
        "mde": minimum_detectable_effect(shown, family),
    }


def _borderline(decision: Mapping[str, Any], outcome: str, margin: float) -> bool:
    """Return whether moving the decision interval's ends by MC_ERRORS Monte Carlo errors
    (a bootstrap's; 0 for Student t) could change the verdict."""
    low, high = decision["ci_low"], decision["ci_high"]
    if low is None or high is None:
        return False
    low_shift = MC_ERRORS * decision.get("ci_low_mc", 0.0)
    high_shift = MC_ERRORS * decision.get("ci_high_mc", 0.0)
    return any(
        verdict(low + a * low_shift, high + b * high_shift, margin) != outcome
        for a in (-1, 1)
        for b in (-1, 1)
    )


def column_interval(row: Any, column: str, signed: bool = True) -> str:
    """Return a row's `column` with its `<column>_low`/`_high` as '+0.012 [+0.003, +0.020]'.

    `row` is a mapping (a records dict) or has attribute access (a pandas row, an
    itertuples tuple); without an interval the value stands alone. `signed` is for
    differences; an accuracy is written without signs.
    """
    names = [column + suffix for suffix in ("", "_low", "_high")]
    if isinstance(row, Mapping):
        mean, low, high = (row[name] for name in names)
    else:
        mean, low, high = (getattr(row, name) for name in names)
    number = "+.3f" if signed else ".3f"
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return f"{mean:{number}}"
    return f"{mean:{number}} [{low:{number}}, {high:{number}}]"

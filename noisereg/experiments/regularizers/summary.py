"""The regularizer comparison's numbers: paired differences, verdicts, Friedman ranks, CD.

Per dataset, every method's refit is compared with no regularization and with the best
non-noise method (the one CV ranked first among weight decay, dropout and early stopping),
paired by replicate. The primary comparisons are, per dataset, CV's pick among the noise
methods and hidden noise on top of the best non-noise method, each against that method:
only they get verdicts, at the Bonferroni level over all of them. On the reference split
the intervals resample seeds and test points (its per-point records); on fresh draws they
are Student's t over the draws. Across datasets, methods are ranked by mean test accuracy
and compared with the Friedman test and the Nemenyi critical difference (Demsar, JMLR 2006).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from noisereg.params import COMBINED, NOISE_METHODS, NONE, ReportParams
from noisereg.stats import (
    Family,
    judge,
    pigeonhole_interval,
    points_matrix,
    t_interval,
)

FIXED_SPLIT = "reference"  # the dataset whose test points are fixed (and recorded per point)


def primary_family(size: int, report: ReportParams) -> Family:
    """Return the section's family of `size` primary comparisons (`primary_methods` per dataset)."""
    return Family(
        f"the {size} comparisons with the best non-noise method (per dataset: CV's pick among "
        "the noise methods, and hidden noise on top of the best non-noise method)",
        size,
        report.confidence,
        report.equivalence_margin,
    )


def primary_methods(chosen: pd.DataFrame) -> set[str]:
    """Return one dataset's primary methods: CV's noise pick and the combination, if run."""
    pick = noise_pick(chosen)
    methods = {pick} if pick is not None else set()
    return methods | ({COMBINED} & set(chosen["method"]))


def noise_pick(chosen: pd.DataFrame) -> str | None:
    """Return CV's pick among the noise methods: most pooled correct, then least log-loss."""
    noise = chosen[chosen["method"].isin(NOISE_METHODS)]
    ranked = noise.sort_values(["cv_correct", "cv_loss"], ascending=[False, True], kind="stable")
    return None if ranked.empty else str(ranked["method"].iloc[0])


@dataclass(frozen=True)
class Pairing:
    """One dataset's runs, paired by replicate: per test point on the fixed split, per draw
    on fresh draws (whose 10,000-point test set adds next to nothing to the spread)."""

    runs: dict[str, pd.DataFrame]  # method -> its refit rows in replicate order
    points: dict[str, np.ndarray] | None  # method -> seeds x test points (fixed split only)
    report: ReportParams

    def accuracy(self, method: str, level: float) -> dict[str, Any]:
        """Return a method's test accuracy at `level`."""
        run = self.runs[method]
        if self.points is not None:
            return self._over_points(self.points[method], level)
        return t_interval(run["test_correct"], level, int(run["n_test"].iloc[0]), (0.0, 1.0))

    def difference(self, method: str, reference: str, level: float) -> dict[str, Any]:
        """Return method - reference in test accuracy at `level`, paired by replicate."""
        a, b = self.runs[method], self.runs[reference]
        if list(a["replicate"]) != list(b["replicate"]):
            raise ValueError("replicates do not pair")
        if self.points is not None:
            return self._over_points(self.points[method] - self.points[reference], level)
        differences = a["test_correct"].to_numpy() - b["test_correct"].to_numpy()
        return t_interval(differences, level, int(b["n_test"].iloc[0]))

    def _over_points(self, matrix: np.ndarray, level: float) -> dict[str, Any]:
        return pigeonhole_interval(
            matrix, level, self.report.bootstrap_seed, self.report.bootstrap_resamples
        )


def _pairing(per_seed: pd.DataFrame, test_points: pd.DataFrame, report: ReportParams) -> Pairing:
    runs = {str(m): f.sort_values("replicate") for m, f in per_seed.groupby("method", sort=False)}
    points = None
    if not test_points.empty:
        points = {
            str(m): points_matrix(f.sort_values("replicate")["test_points"])
            for m, f in test_points.groupby("method", sort=False)
        }
    return Pairing(runs, points, report)


def dataset_rows(
    name: str,
    per_seed: pd.DataFrame,
    chosen: pd.DataFrame,
    test_points: pd.DataFrame,
    family: Family,
    report: ReportParams,
) -> list[dict[str, Any]]:
    """Return one row per method of one dataset: chosen strength, test scores, differences.

    The primary rows (CV's noise pick, the combination) carry a verdict code, their
    decision interval and MDE; the other rows' intervals carry none.
    """
    pairing = _pairing(per_seed, test_points, report)
    best = str(chosen.loc[chosen["best_non_noise"].astype(bool), "method"].iloc[0])
    primary = primary_methods(chosen)
    rows = []
    for record in cast(Any, chosen).itertuples():
        run = pairing.runs[record.method]
        accuracy = pairing.accuracy(record.method, family.confidence)
        versus_none = pairing.difference(record.method, NONE, family.confidence)
        versus_best = pairing.difference(record.method, best, family.confidence)
        row: dict[str, Any] = {
            "dataset": name,
            "method": record.method,
            "value": record.value,
            "epochs": record.epochs,
            "best_non_noise": record.method == best,
            "noise": record.method in NOISE_METHODS or record.method == COMBINED,
            "primary": record.method in primary,
            "cv_correct": record.cv_correct,
            "cv_loss": record.cv_loss,
            "test_acc": accuracy["mean"],
            "test_acc_low": accuracy["ci_low"],
            "test_acc_high": accuracy["ci_high"],
        }
        for measure in ("test_loss", "test_ece"):
            spread = t_interval(run[measure], family.confidence)
            row[measure] = spread["mean"]
            row[f"{measure}_low"] = spread["ci_low"]
            row[f"{measure}_high"] = spread["ci_high"]
        for key, diff in (("vs_none", versus_none), ("vs_best", versus_best)):
            row[f"diff_{key}"] = diff["mean"]
            row[f"diff_{key}_low"] = diff["ci_low"]
            row[f"diff_{key}_high"] = diff["ci_high"]
        row.update(decision_low=None, decision_high=None, verdict=None, mde=None, borderline=False)
        if row["primary"]:
            judged = judge(
                pairing.difference(record.method, best, family.level), versus_best, family
            )
            row.update(
                decision_low=judged["decision_low"],
                decision_high=judged["decision_high"],
                verdict=judged["verdict_code"],
                mde=judged["mde"],
                borderline=judged["borderline"],
            )
        rows.append(row)
    return rows


def table(
    per_seed: pd.DataFrame, chosen: pd.DataFrame, test_points: pd.DataFrame, report: ReportParams
) -> pd.DataFrame:
    """Return plots/regularizers.csv: every dataset's method rows, plus each method's rank."""
    names = list(dict.fromkeys(per_seed["dataset"]))
    size = sum(len(primary_methods(chosen[chosen["dataset"] == name])) for name in names)
    family = primary_family(size, report)
    rows = []
    for name in names:
        rows += dataset_rows(
            str(name),
            per_seed[per_seed["dataset"] == name],
            chosen[chosen["dataset"] == name],
            test_points[test_points["dataset"] == name],
            family,
            report,
        )
    frame = pd.DataFrame(rows)
    frame["rank"] = frame.groupby("dataset")["test_acc"].rank(ascending=False, method="average")
    return frame


def friedman(frame: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Return mean ranks, the Friedman test and the Nemenyi critical difference at 1 - confidence.

    Needs >= 2 datasets and >= 3 methods; with fewer, the test fields are None.
    """
    ranks = frame.pivot_table(index="dataset", columns="method", values="rank", sort=False)
    n_datasets, k = ranks.shape
    mean_ranks = {str(m): float(r) for m, r in ranks.mean().sort_values().items()}
    result: dict[str, Any] = {
        "datasets": n_datasets,
        "methods": k,
        "mean_ranks": mean_ranks,
        "statistic": None,
        "p_value": None,
        "critical_difference": None,
    }
    if n_datasets < 2 or k < 3:
        return result
    accuracy = frame.pivot_table(index="dataset", columns="method", values="test_acc", sort=False)
    if np.all(accuracy.to_numpy() == accuracy.to_numpy()[:, :1]):
        return {**result, "statistic": 0.0, "p_value": 1.0}
    statistic, p_value = scipy_stats.friedmanchisquare(*(accuracy[m] for m in accuracy.columns))
    q = scipy_stats.studentized_range.ppf(confidence, k, np.inf) / np.sqrt(2)
    return {
        **result,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "critical_difference": float(q * np.sqrt(k * (k + 1) / (6 * n_datasets))),
    }


def headline(frame: pd.DataFrame) -> dict[str, Any]:
    """Return metrics/regularizers.json: per dataset, each primary row's paired difference
    from the best non-noise method and its verdict code.

    Two dozen numbers for `dvc metrics show/diff`; every method's accuracy and interval is
    in plots/regularizers.csv, the ranks in plots/regularizers_ranking.json.
    """
    result: dict[str, Any] = {}
    for row in cast(Any, frame[frame["primary"]]).itertuples():
        entry = {"diff_vs_best": row.diff_vs_best, "verdict": int(row.verdict)}
        result.setdefault(str(row.dataset), {})[str(row.method)] = entry
    return result

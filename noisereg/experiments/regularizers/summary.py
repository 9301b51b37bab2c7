"""The regularizer comparison's numbers: paired differences, Holm, Friedman ranks, CD.

Per dataset, every method's refit is compared with no regularization and with the best
non-noise method (the one CV ranked first among weight decay, dropout and early stopping),
paired by replicate; Wilcoxon p-values are Holm-adjusted across the methods of a dataset.
Across datasets, methods are ranked by mean test accuracy and compared with the Friedman
test and the Nemenyi critical difference (Demsar, JMLR 2006).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from noisereg.params import COMBINED, NOISE_METHODS, NONE, ReportParams
from noisereg.stats import holm, paired_comparison, summarize_with


def _paired(report: ReportParams, a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    if list(a["replicate"]) != list(b["replicate"]):
        raise ValueError("replicates do not pair")
    return paired_comparison(
        a["test_correct"],
        b["test_correct"],
        int(b["n_test"].iloc[0]),
        report.confidence,
        report.bootstrap_seed,
        report.bootstrap_resamples,
    )


def dataset_rows(
    name: str, per_seed: pd.DataFrame, chosen: pd.DataFrame, report: ReportParams
) -> list[dict[str, Any]]:
    """Return one row per method of one dataset: chosen strength, test scores, differences."""
    runs = {str(m): f.sort_values("replicate") for m, f in per_seed.groupby("method", sort=False)}
    best = str(chosen.loc[chosen["best_non_noise"].astype(bool), "method"].iloc[0])
    rows, p_values = [], {}
    for record in cast(Any, chosen).itertuples():
        run = runs[record.method]
        n_test = int(run["n_test"].iloc[0])
        accuracy = summarize_with(report, run["test_correct"], n_test)
        versus_none = _paired(report, run, runs[NONE])["diff"]
        versus_best = _paired(report, run, runs[best])
        p_values[record.method] = None if record.method == best else versus_best["p_value"]
        row: dict[str, Any] = {
            "dataset": name,
            "method": record.method,
            "value": record.value,
            "epochs": record.epochs,
            "best_non_noise": record.method == best,
            "noise": record.method in NOISE_METHODS or record.method == COMBINED,
            "cv_correct": record.cv_correct,
            "cv_loss": record.cv_loss,
            "test_acc": accuracy["mean"],
            "test_acc_low": accuracy["ci_low"],
            "test_acc_high": accuracy["ci_high"],
        }
        for measure in ("test_loss", "test_ece"):
            spread = summarize_with(report, run[measure])
            row[measure] = spread["mean"]
            row[f"{measure}_low"] = spread["ci_low"]
            row[f"{measure}_high"] = spread["ci_high"]
        for key, diff in (("vs_none", versus_none), ("vs_best", versus_best["diff"])):
            row[f"diff_{key}"] = diff["mean"]
            row[f"diff_{key}_low"] = diff["ci_low"]
            row[f"diff_{key}_high"] = diff["ci_high"]
        rows.append(row)
    adjusted = holm(p_values)
    for row in rows:
        row["p_holm_vs_best"] = adjusted[row["method"]]
    return rows


def table(per_seed: pd.DataFrame, chosen: pd.DataFrame, report: ReportParams) -> pd.DataFrame:
    """Return plots/regularizers.csv: every dataset's method rows, plus each method's rank."""
    rows = []
    for name in dict.fromkeys(per_seed["dataset"]):
        rows += dataset_rows(
            str(name),
            per_seed[per_seed["dataset"] == name],
            chosen[chosen["dataset"] == name],
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


def headline(
    frame: pd.DataFrame, ranking: dict[str, Any], candidates: Mapping[Any, Sequence[float]]
) -> dict[str, Any]:
    """Return metrics/regularizers.json: per dataset and method the candidates, the chosen
    value, test accuracy, log-loss and ECE with intervals, and the paired differences (the
    one against the best non-noise method with its Holm-adjusted p), then the ranks."""
    result: dict[str, Any] = {}
    for row in cast(Any, frame).itertuples():
        entry = {
            "candidates": list(candidates.get(row.method, [])),
            "value": row.value,
            **{
                f"{measure}{end}": getattr(row, f"{measure}{end}")
                for measure in ("test_acc", "test_loss", "test_ece")
                for end in ("", "_low", "_high")
            },
            **{
                f"diff_{key}{end}": getattr(row, f"diff_{key}{end}")
                for key in ("vs_none", "vs_best")
                for end in ("", "_low", "_high")
            },
            "p_holm_vs_best": row.p_holm_vs_best,
        }
        result.setdefault(str(row.dataset), {})[str(row.method)] = entry
    result["friedman"] = ranking
    return result

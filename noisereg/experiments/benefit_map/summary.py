"""The benefit map's numbers: paired differences per cell, n_star, and the learning curves.

Read by the summarize stage from the benefit_map@<dataset> outputs. Every difference is
noise minus no noise on the same replicate (training draw, initial weights, noise stream):
accuracy above 0 is a gain, log-loss and ECE below 0 are gains. Intervals are per cell at
`report.confidence`, not adjusted across cells (the map is for reading patterns; the
report says so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from noisereg.io import InputError
from noisereg.params import NONE, Params, ReportParams
from noisereg.stats import summarize_with

MEASURES = {  # column in the map -> (per-replicate column, scale: count -> rate)
    "acc": "test_correct",
    "loss": "test_loss",
    "ece": "test_ece",
}


def _aligned(cell: pd.DataFrame, reference: pd.DataFrame, where: str) -> None:
    if list(cell["replicate"]) != list(reference["replicate"]):
        raise InputError(f"{where}: replicates do not pair with the no-noise cell; rerun it")


def cv_choice(cv: pd.DataFrame) -> pd.DataFrame:
    """Return the CV-chosen stddev per (n_train, replicate): most correct, then least noise."""
    pooled = (
        cv.groupby(["n_train", "replicate", "stddev"], sort=True)["correct"].sum().reset_index()
    )
    ranked = pooled.sort_values(
        ["n_train", "replicate", "correct", "stddev"], ascending=[True, True, False, True]
    )
    return ranked.groupby(["n_train", "replicate"], sort=True).head(1).reset_index(drop=True)


def map_cells(name: str, replicates: pd.DataFrame, report: ReportParams) -> pd.DataFrame:
    """Return one row per (n_train, placement, stddev) with each paired difference's interval."""
    records = []
    for _, size in replicates.groupby("n_train", sort=True):
        reference = size[size["placement"] == NONE].sort_values("replicate")
        noisy = size[size["placement"] != NONE]
        for _, cell in noisy.groupby(["placement", "stddev"], sort=True):
            cell = cell.sort_values("replicate")
            placement, stddev = str(cell["placement"].iloc[0]), float(cell["stddev"].iloc[0])
            _aligned(cell, reference, f"plots/benefit/{name}/replicates.csv")
            n_test = int(reference["n_test"].iloc[0])
            record: dict[str, Any] = {
                "dataset": name,
                "n_train": int(size["n_train"].iloc[0]),
                "placement": placement,
                "stddev": stddev,
                "replicates": len(cell),
            }
            for measure, column in MEASURES.items():
                difference = cell[column].to_numpy() - reference[column].to_numpy()
                scale = n_test if measure == "acc" else 1.0
                summary = summarize_with(report, difference, scale)
                record[f"{measure}_diff"] = summary["mean"]
                record[f"{measure}_diff_low"] = summary["ci_low"]
                record[f"{measure}_diff_high"] = summary["ci_high"]
            records.append(record)
    return pd.DataFrame(records)


def n_star(cells: pd.DataFrame) -> int | None:
    """Return the smallest size from which no stddev's accuracy-benefit CI lies above 0.

    None when some stddev still helps at the largest size (noise never stops helping in
    the range); the smallest size when no stddev helps anywhere.
    """
    helps = cells.groupby("n_train", sort=True)["acc_diff_low"].max() > 0
    sizes = list(helps.index)
    if helps.iloc[-1]:
        return None
    stopped = len(sizes) - 1
    while stopped > 0 and not helps.iloc[stopped - 1]:
        stopped -= 1
    return int(sizes[stopped])


def best_stddevs(cells: pd.DataFrame) -> pd.DataFrame:
    """Return the stddev with the largest mean accuracy benefit at each size (ties: less noise)."""
    ranked = cells.sort_values(["n_train", "acc_diff", "stddev"], ascending=[True, False, True])
    return ranked.groupby("n_train", sort=True).head(1).reset_index(drop=True)


def learning_curves(
    name: str, replicates: pd.DataFrame, cv: pd.DataFrame, params: Params
) -> pd.DataFrame:
    """Return test accuracy per size without noise and with the CV-chosen stddev, and the gain.

    The chosen stddev comes from CV on each replicate's own training draw; its test score is
    the map's model of that stddev on the full draw (no noise when CV chose 0).
    """
    report, placement = params.report, params.benefit_map.cv_placement
    chosen = cv_choice(cv)
    records = []
    for _, size in replicates.groupby("n_train", sort=True):
        n_train = int(size["n_train"].iloc[0])
        reference = size[size["placement"] == NONE].sort_values("replicate")
        picks = chosen[chosen["n_train"] == n_train].sort_values("replicate")
        scores = {
            (int(r["replicate"]), float(r["stddev"])): int(r["test_correct"])
            for r in size[size["placement"] == placement].to_dict("records")
        }
        no_noise = dict(zip(reference["replicate"], reference["test_correct"], strict=True))
        picked = np.array(
            [
                no_noise[r["replicate"]]
                if r["stddev"] == 0
                else scores[(int(r["replicate"]), float(r["stddev"]))]
                for r in picks.to_dict("records")
            ]
        )
        n_test = int(reference["n_test"].iloc[0])
        plain = reference["test_correct"].to_numpy()
        record: dict[str, Any] = {"dataset": name, "n_train": n_train}
        for key, values in (("none", plain), ("cv", picked), ("gain", picked - plain)):
            summary = summarize_with(report, values, n_test)
            record[f"{key}_acc"] = summary["mean"]
            record[f"{key}_acc_low"] = summary["ci_low"]
            record[f"{key}_acc_high"] = summary["ci_high"]
        record["cv_noisy_share"] = float(np.mean(picks["stddev"].to_numpy() > 0))
        record["cv_median_stddev"] = float(np.median(picks["stddev"].to_numpy()))
        records.append(record)
    return pd.DataFrame(records)


def headline(cells: pd.DataFrame, curves: pd.DataFrame) -> dict[str, Any]:
    """Return metrics/benefit_map.json: per dataset and placement n_star and the best stddevs."""
    result: dict[str, Any] = {}
    for name, frame in cells.groupby("dataset", sort=False):
        entry: dict[str, Any] = {}
        for placement, cell in frame.groupby("placement", sort=True):
            best = best_stddevs(cell)
            entry[str(placement)] = {
                "n_star": n_star(cell),
                "best_stddev": {str(r.n_train): r.stddev for r in best.itertuples()},
                "best_acc_diff": {str(r.n_train): r.acc_diff for r in best.itertuples()},
            }
        gains = curves[curves["dataset"] == name]
        entry["cv_gain"] = {str(r.n_train): r.gain_acc for r in gains.itertuples()}
        result[str(name)] = entry
    return result

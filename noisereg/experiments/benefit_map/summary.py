"""The benefit map's numbers: paired differences per cell, n_star, and the learning curves.

Read by the summarize stage from the benefit_map@<dataset> outputs. Every difference is
noise minus no noise on the same replicate (training draw, initial weights, noise stream):
accuracy above 0 is a gain, log-loss and ECE below 0 are gains. Draws are independent, so
intervals are Student's t over them. The map's primary comparisons are the accuracy gains
of all its cells (every dataset, size, placement and stddev): each gets a verdict at the
Bonferroni level over all of them, which also covers picking the best stddev of a size.
The shown intervals (at `report.confidence`) and the log-loss, ECE and learning-curve
intervals carry no verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from noisereg.io import InputError
from noisereg.params import NONE, Params
from noisereg.stats import VERDICT_CODES, Family, judge, t_interval

MEASURES = {  # column in the map -> per-replicate column
    "acc": "test_correct",
    "loss": "test_loss",
    "ece": "test_ece",
}
# n_star's codes where no size is the answer (metrics stay numbers; the report writes words).
NEVER_HELPED = 0  # no stddev was called helped at any size (not: shown never to help)
NOT_REACHED = -1  # at the largest size some stddev may still help by more than the margin


def map_family(params: Params) -> Family:
    """Return the map's primary comparisons: every cell's accuracy gain, over all datasets."""
    bm = params.benefit_map
    cells = len(bm.datasets) * len(bm.sizes) * len(bm.placements) * len(bm.stddevs)
    return Family(
        f"all {cells} cells of the map (dataset x size x placement x stddev)",
        cells,
        params.report.confidence,
        params.report.equivalence_margin,
    )


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


def full_length(replicates: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of models scored at the end of their run (the longest `steps`),
    without the `steps` column: the map's cells, verdicts and learning curves."""
    final = replicates[replicates["steps"] == replicates["steps"].max()]
    return final.drop(columns="steps").reset_index(drop=True)


def _paired(
    name: str, replicates: pd.DataFrame, keys: list[str]
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Yield (noisy cell, its no-noise reference) per group of `keys`, placement and stddev,
    both in replicate order, so their columns subtract as paired differences."""
    for _, group in replicates.groupby(keys, sort=True):
        reference = group[group["placement"] == NONE].sort_values("replicate")
        noisy = group[group["placement"] != NONE]
        for _, cell in noisy.groupby(["placement", "stddev"], sort=True):
            cell = cell.sort_values("replicate")
            _aligned(cell, reference, f"plots/benefit/{name}/replicates.csv")
            yield cell, reference


def _cell_key(name: str, cell: pd.DataFrame) -> dict[str, Any]:
    return {
        "dataset": name,
        "n_train": int(cell["n_train"].iloc[0]),
        "placement": str(cell["placement"].iloc[0]),
        "stddev": float(cell["stddev"].iloc[0]),
    }


def map_cells(name: str, replicates: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Return one row per (n_train, placement, stddev) with each paired difference's interval.

    Cells are scored at the full training length (`full_length`). The accuracy gain also
    gets its decision interval at the family's level, its verdict (as a code:
    stats.VERDICT_CODES) and its minimum detectable effect.
    """
    report, family = params.report, map_family(params)
    records = []
    for cell, reference in _paired(name, full_length(replicates), ["n_train"]):
        n_test = int(reference["n_test"].iloc[0])
        record: dict[str, Any] = {**_cell_key(name, cell), "replicates": len(cell)}
        for measure, column in MEASURES.items():
            difference = cell[column].to_numpy() - reference[column].to_numpy()
            scale = n_test if measure == "acc" else 1.0
            summary = t_interval(difference, report.confidence, scale)
            record[f"{measure}_diff"] = summary["mean"]
            record[f"{measure}_diff_low"] = summary["ci_low"]
            record[f"{measure}_diff_high"] = summary["ci_high"]
            if measure == "acc":
                judged = judge(t_interval(difference, family.level, scale), summary, family)
                record["acc_decision_low"] = judged["decision_low"]
                record["acc_decision_high"] = judged["decision_high"]
                record["acc_verdict"] = judged["verdict_code"]
                record["acc_mde"] = judged["mde"]
        records.append(record)
    return pd.DataFrame(records)


def length_cells(name: str, replicates: pd.DataFrame, params: Params) -> pd.DataFrame:
    """Return one row per (n_train, placement, stddev, steps): the accuracy gain over the
    noiseless net trained as long, with its interval over draws at `report.confidence`,
    and the noiseless net's test accuracy and both nets' training accuracy at that length.

    Shown, not judged: the map's verdicts are made at the full length (`map_cells`).
    """
    records = []
    for cell, reference in _paired(name, replicates, ["n_train", "steps"]):
        n_test, n_train = int(reference["n_test"].iloc[0]), int(cell["n_train"].iloc[0])
        difference = cell["test_correct"].to_numpy() - reference["test_correct"].to_numpy()
        gain = t_interval(difference, params.report.confidence, n_test)
        records.append(
            {
                **_cell_key(name, cell),
                "steps": int(cell["steps"].iloc[0]),
                "replicates": len(cell),
                "acc_diff": gain["mean"],
                "acc_diff_low": gain["ci_low"],
                "acc_diff_high": gain["ci_high"],
                "none_test_acc": float(reference["test_correct"].mean()) / n_test,
                "none_train_acc": float(reference["train_correct"].mean()) / n_train,
                "train_acc": float(cell["train_correct"].mean()) / n_train,
            }
        )
    frame = pd.DataFrame(records)
    order = ["n_train", "placement", "stddev", "steps"]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)


def n_star(cells: pd.DataFrame, margin: float) -> int:
    """Return the smallest size from which no stddev helps by more than the margin.

    From that size on, at every size, the best stddev's family-wise upper bound lies below
    +margin: evidence that noise stopped helping, not absence of evidence of help. NOT_REACHED
    when some stddev's upper bound still reaches the margin at the largest size; NEVER_HELPED
    when no cell was called helped at any size (a threshold would read as a change).
    """
    if not (cells["acc_verdict"] == VERDICT_CODES["helped"]).any():
        return NEVER_HELPED
    bounded = cells.groupby("n_train", sort=True)["acc_decision_high"].max() < margin
    sizes = list(bounded.index)
    if not bounded.iloc[-1]:
        return NOT_REACHED
    first = len(sizes) - 1
    while first > 0 and bounded.iloc[first - 1]:
        first -= 1
    return int(sizes[first])


def learning_curves(
    name: str, replicates: pd.DataFrame, cv: pd.DataFrame, params: Params
) -> pd.DataFrame:
    """Return test accuracy per size without noise and with the CV-chosen stddev, and the gain.

    The chosen stddev comes from CV on each replicate's own training draw; its test score is
    the map's model of that stddev on the full draw (no noise when CV chose 0), trained to
    the full length (`full_length`).
    """
    report, placement = params.report, params.benefit_map.cv_placement
    chosen = cv_choice(cv)
    records = []
    for _, size in full_length(replicates).groupby("n_train", sort=True):
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
            bounds = None if key == "gain" else (0.0, 1.0)
            summary = t_interval(values, report.confidence, n_test, bounds)
            record[f"{key}_acc"] = summary["mean"]
            record[f"{key}_acc_low"] = summary["ci_low"]
            record[f"{key}_acc_high"] = summary["ci_high"]
        record["cv_noisy_share"] = float(np.mean(picks["stddev"].to_numpy() > 0))
        record["cv_median_stddev"] = float(np.median(picks["stddev"].to_numpy()))
        records.append(record)
    return pd.DataFrame(records)


def headline(cells: pd.DataFrame, margin: float, placement: str) -> dict[str, Any]:
    """Return metrics/benefit_map.json: how many cells noise helped and hurt, and per dataset
    n_star at the CV placement (a size, NEVER_HELPED 0 or NOT_REACHED -1).

    A few numbers for `dvc metrics show/diff`; every cell, with its interval and verdict, is
    in plots/benefit_map.csv.
    """
    result: dict[str, Any] = {
        f"{word}_cells": int((cells["acc_verdict"] == VERDICT_CODES[word]).sum())
        for word in ("helped", "hurt")
    }
    at_placement = cells[cells["placement"] == placement].groupby("dataset", sort=False)
    result["n_star"] = {str(name): n_star(frame, margin) for name, frame in at_placement}
    return result

"""The summarize stage's work: intervals and verdicts from the per-seed, per-point results.

Training stages write per-seed results only; everything that depends on `report.confidence`,
`report.equivalence_margin` or the bootstrap is computed here, so changing those reruns this
stage and the report, never a training stage.

Every test-accuracy interval on the fixed split resamples the test points as well as the
seeds (`stats.pigeonhole_interval`): with 70 test points, which points were drawn moves the
accuracy far more than the seed does. The section's primary comparisons are the variants
against their noiseless references; only they get verdicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from noisereg.experiments.reference.outputs import replicates_path
from noisereg.io import InputError
from noisereg.net import PLACEMENT_FACTORS, placement_net
from noisereg.params import Params, ReportParams
from noisereg.stats import (
    FIXED_SPLIT_CI,
    SEEDS_CI,
    VERDICT_RULE,
    Family,
    judge,
    pigeonhole_interval,
    pigeonhole_intervals,
    points_matrix,
    t_interval,
)

GRID_SE_METHOD = (
    "corrected resampled standard error (Nadeau & Bengio 2003): std of the fold accuracies "
    "x sqrt(1/J + n_validation/n_training), J = folds x repeats"
)


def seed_set(per_seed: pd.DataFrame, which: int) -> pd.DataFrame:
    """Return the rows of one seed set: 0 the primary seeds, 1 the replication's."""
    return per_seed[per_seed["seed_set"] == which].reset_index(drop=True)


def points(per_seed: pd.DataFrame) -> np.ndarray:
    """Return the seeds x test points correctness of a seed-ordered frame."""
    return points_matrix(per_seed["test_points"])


def over_points(
    report: ReportParams, matrix: np.ndarray, level: float, scale: float = 1.0
) -> dict[str, Any]:
    """Return the pigeonhole summary of a seeds x points matrix at `level`."""
    return pigeonhole_interval(
        matrix, level, report.bootstrap_seed, report.bootstrap_resamples, scale
    )


def seed_summaries(per_seed: pd.DataFrame, report: ReportParams) -> dict[str, Any]:
    """Return train/test accuracy, test loss and the gap over the primary seeds.

    Test accuracy and the gap resample seeds and test points; train accuracy and the test
    loss (recorded per seed only) are over seeds, the training points being fixed.
    """
    per_seed = seed_set(per_seed, 0)
    n_train = int(per_seed["n_train"].iloc[0])
    train = per_seed["train_correct"].to_numpy()
    correct = points(per_seed)
    n_test = correct.shape[1]
    # The gap of seed s is the mean over test points j of n_test * (train_s - n_train * c_sj)
    # in units of 1 / (n_train * n_test): exact integers, resampled like the test accuracy.
    gap = n_test * (train[:, None] - n_train * correct)
    return {
        "replicates": len(per_seed),
        "n_train": n_train,
        "n_test": n_test,
        "train_acc": t_interval(train, report.confidence, n_train, bounds=(0.0, 1.0)),
        "test_acc": over_points(report, correct, report.confidence),
        "test_loss": t_interval(per_seed["test_loss"].to_numpy(), report.confidence),
        "gap": over_points(report, gap, report.confidence, n_train * n_test),
    }


def primary_family(params: Params) -> Family:
    """Return the section's primary comparisons: each variant against its `compare_to`."""
    pairs = sum(v.compare_to is not None for v in params.variants.values())
    return Family(
        f"the {pairs} noise variants, each against its noiseless reference",
        pairs,
        params.report.confidence,
        params.report.equivalence_margin,
    )


def comparisons(per_seed: dict[str, pd.DataFrame], params: Params) -> dict[str, Any]:
    """Return each variant's paired test-accuracy comparison with its `compare_to`.

    The shown interval is at `report.confidence`; the verdict uses the interval at the
    family's Bonferroni level over all comparisons.
    """
    family = primary_family(params)
    pairs = {n: v.compare_to for n, v in params.variants.items() if v.compare_to is not None}
    result: dict[str, Any] = {}
    for name, reference in pairs.items():
        variant, base = seed_set(per_seed[name], 0), seed_set(per_seed[reference], 0)
        _check_paired(name, variant, reference, base)
        result[name] = {
            "compare_to": reference,
            **paired_judgement(variant, base, family, params.report),
            "replication": replication(per_seed[name], per_seed[reference], family, params),
        }
    return result


def _check_paired(name: str, variant: pd.DataFrame, reference: str, base: pd.DataFrame) -> None:
    if len(variant) != len(base):
        raise InputError(
            f"{replicates_path(name)}: {len(variant)} replicates, but "
            f"{replicates_path(reference)} has {len(base)}; rerun 'train@{name}' and "
            f"'train@{reference}'"
        )


def paired_difference(variant: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Return variant - reference per seed and test point (-1, 0 or 1), paired by seed."""
    if list(variant["replicate"]) != list(reference["replicate"]):
        raise InputError("per-seed results do not pair by replicate; rerun their stages")
    return points(variant) - points(reference)


def paired_judgement(
    variant: pd.DataFrame, reference: pd.DataFrame, family: Family, report: ReportParams
) -> dict[str, Any]:
    """Return the paired difference at the shown level and its verdict at the family's."""
    shown, decision = pigeonhole_intervals(
        paired_difference(variant, reference),
        [family.confidence, family.level],
        report.bootstrap_seed,
        report.bootstrap_resamples,
    )
    return judge(decision, shown, family)


def replication(
    variant: pd.DataFrame, reference: pd.DataFrame, family: Family, params: Params
) -> dict[str, Any] | None:
    """Return the comparison on the second seed set (train.replication_seed), if both have one.

    The same family, level and margin as the primary verdict, on independent seeds and the
    same test points: a verdict that is a seed-set accident does not come out the same twice.
    """
    variant, reference = seed_set(variant, 1), seed_set(reference, 1)
    if variant.empty or reference.empty:
        return None
    judged = paired_judgement(variant, reference, family, params.report)
    return {"mean": judged["diff"]["mean"], "verdict": judged["verdict"]}


def sweep_points(
    sweep_per_seed: pd.DataFrame, per_seed: dict[str, pd.DataFrame], params: Params
) -> pd.DataFrame:
    """Return the sweep's per-seed rows plus every variant that is a point of the sweep.

    A variant whose net is the sweep net at some (placement, stddev), on the reference data
    with the same seeds, is that point: the baseline is stddev 0 of every placement, and
    `input_noise` is input 0.1 in the defaults. Declared once, found here, not duplicated.
    """
    width = params.sweep.hidden_units
    swept = set(zip(sweep_per_seed["placement"], sweep_per_seed["stddev"], strict=True))
    frames = [sweep_per_seed]
    for name, variant in params.variants.items():
        if variant.dataset != "reference" or variant.net.hidden_units != (width,):
            continue
        for placement in params.sweep.placements:
            uses_input = PLACEMENT_FACTORS[placement][0] > 0
            stddev = variant.net.input_stddev if uses_input else variant.net.hidden_stddev[0]
            point = (placement, stddev)
            if point not in swept and placement_net(width, placement, stddev) == variant.net:
                swept.add(point)
                frames.append(
                    seed_set(per_seed[name], 0).assign(placement=placement, stddev=stddev)
                )
    return pd.concat(frames, ignore_index=True)


def sweep_summary(sweep_points: pd.DataFrame, report: ReportParams) -> pd.DataFrame:
    """Return one row per (placement, stddev): test accuracy mean and CI, train accuracy mean.

    The sweep is secondary: intervals over seeds and test points, no verdicts.
    """
    rows = []
    for (placement, stddev), frame in sweep_points.groupby(["placement", "stddev"], sort=True):
        test = over_points(report, points(frame.sort_values("replicate")), report.confidence)
        rows.append(
            {
                "placement": placement,
                "stddev": stddev,
                "test_acc_mean": test["mean"],
                "test_acc_std": test["std"],
                "test_acc_ci_low": test["ci_low"],
                "test_acc_ci_high": test["ci_high"],
                "train_acc_mean": float((frame["train_correct"] / frame["n_train"]).mean()),
                "replicates": len(frame),
            }
        )
    return pd.DataFrame(rows)


def variant_table(variants: dict[str, Any]) -> pd.DataFrame:
    """Return one row per variant (test accuracy mean and CI) for the plot comparing them."""
    return pd.DataFrame(
        [
            {
                "variant": name,
                "test_acc_mean": v["test_acc"]["mean"],
                "test_acc_ci_low": v["test_acc"]["ci_low"],
                "test_acc_ci_high": v["test_acc"]["ci_high"],
            }
            for name, v in variants.items()
        ]
    )


def grid_refits(refits: pd.DataFrame, report: ReportParams) -> dict[str, Any]:
    """Return the test and train summaries of each chosen grid cell's refit."""
    return {
        str(choice): seed_summaries(frame, report)
        for choice, frame in refits.groupby("choice", sort=True)
    }


def methods(params: Params, family: Family) -> dict[str, Any]:
    """Return the words and levels the report prints beside the numbers."""
    return {
        "ci": FIXED_SPLIT_CI,
        "seeds_ci": SEEDS_CI,
        "confidence": params.report.confidence,
        "family": family.description,
        "family_size": family.size,
        "decision_confidence": family.level,
        "equivalence_margin": params.report.equivalence_margin,
        "verdict_rule": VERDICT_RULE,
        "grid_se": GRID_SE_METHOD,
        "bootstrap_resamples": params.report.bootstrap_resamples,
    }


def findings(
    per_seed: dict[str, pd.DataFrame],
    refits: pd.DataFrame,
    sweep_per_seed: pd.DataFrame,
    params: Params,
) -> dict[str, Any]:
    """Return the setting with the highest mean test accuracy and how it compares.

    Every setting trained on the reference data with the replicate seeds (the variants
    compared with baseline, the sweep's points, the grid's refits) is paired with the
    baseline by seed and test point. The best is picked on the test set, so its lead is
    optimistic: these differences are shown as intervals and carry no verdict.
    """
    report = params.report
    base = seed_set(per_seed["baseline"], 0)
    candidates = {
        f"variant:{name}": seed_set(per_seed[name], 0)
        for name, variant in params.variants.items()
        if variant.compare_to == "baseline"
    }
    for (placement, stddev), frame in sweep_per_seed.groupby(["placement", "stddev"], sort=False):
        candidates[f"sweep:{placement}:{stddev:g}"] = seed_set(frame, 0)
    for choice, frame in refits.groupby("choice", sort=True):
        candidates[f"grid:{choice}"] = seed_set(frame, 0)
    if len(candidates) < 2:
        return {}
    ranked = sorted(candidates, key=lambda key: -candidates[key]["test_correct"].mean())
    best, runner_up = ranked[:2]

    def versus(variant: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
        return over_points(report, paired_difference(variant, reference), report.confidence)

    return {
        "best": best,
        "best_test_acc": over_points(report, points(candidates[best]), report.confidence),
        "best_vs_baseline": versus(candidates[best], base),
        "runner_up": runner_up,
        "best_vs_runner_up": versus(candidates[best], candidates[runner_up]),
    }


def headline_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """Return per comparison its mean paired difference and verdict code, for `dvc metrics show`.

    Intervals stay in metrics/summary.json: two numbers per comparison keep `dvc metrics
    show` and `dvc exp show` readable (verdict codes: stats.VERDICT_CODES).
    """
    return {
        name: {"diff": c["diff"]["mean"], "verdict": c["verdict_code"]}
        for name, c in summary["comparisons"].items()
    }


def variant_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """Return per variant its mean train and test accuracy, for `dvc metrics show`."""
    return {
        name: {key: variant[key]["mean"] for key in ("train_acc", "test_acc")}
        for name, variant in summary["variants"].items()
    }


def grid_metrics(choices: dict[str, Any]) -> dict[str, Any]:
    """Return the grid's best and one-SE cells (width and noise), for `dvc metrics show`."""
    return {
        key: {"hidden_units": int(cell["hidden_units"]), "noise": cell["noise"]}
        for key, cell in choices.items()
        if key in ("best", "one_se")
    }


def build(
    params: Params,
    per_seed: dict[str, pd.DataFrame],
    refits: pd.DataFrame,
    sweep_per_seed: pd.DataFrame,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Return the full summary (metrics/summary.json) and the sweep table (plots/sweep.csv)."""
    compared = comparisons(per_seed, params)
    variants = {
        name: {
            **seed_summaries(per_seed[name], params.report),
            "noise": variant.net.describe(),
            "hidden_units": list(variant.net.hidden_units),
            "dataset": variant.dataset,
            "compare_to": variant.compare_to,
        }
        for name, variant in params.variants.items()
    }
    result = {
        "variants": variants,
        "variant_order": list(params.variants),  # JSON keys are written sorted
        "comparisons": compared,
        "grid_refits": grid_refits(refits, params.report),
        "findings": findings(per_seed, refits, sweep_per_seed, params),
        "methods": methods(params, primary_family(params)),
    }
    points = sweep_points(sweep_per_seed, per_seed, params)
    return result, sweep_summary(points, params.report)

"""The summarize stage's work: intervals, paired tests and verdicts from the per-seed counts.

Training stages write per-seed results only; everything that depends on `report.confidence`,
`report.equivalence_margin` or the bootstrap is computed here, so changing those reruns this
stage and the report, never a training stage.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from noisereg.experiments.reference.outputs import replicates_path
from noisereg.io import InputError
from noisereg.net import PLACEMENT_FACTORS, placement_net
from noisereg.params import Params, ReportParams
from noisereg.stats import (
    CI_METHOD,
    PAIRED_TEST,
    VERDICT_RULE,
    adjusted_confidence,
    holm,
    paired_comparison,
    summarize_with,
    verdict,
)

GRID_SE_METHOD = (
    "corrected resampled standard error (Nadeau & Bengio 2003): std of the fold accuracies "
    "x sqrt(1/J + n_validation/n_training), J = folds x repeats"
)


def seed_set(per_seed: pd.DataFrame, which: int) -> pd.DataFrame:
    """Return the rows of one seed set: 0 the primary seeds, 1 the replication's."""
    return per_seed[per_seed["seed_set"] == which].reset_index(drop=True)


def seed_summaries(per_seed: pd.DataFrame, report: ReportParams) -> dict[str, Any]:
    """Return summaries of train/test accuracy, test loss and the gap over the primary seeds."""
    per_seed = seed_set(per_seed, 0)
    n_train, n_test = int(per_seed["n_train"].iloc[0]), int(per_seed["n_test"].iloc[0])
    train, test = per_seed["train_correct"].to_numpy(), per_seed["test_correct"].to_numpy()
    # The gap in units of 1 / (n_train * n_test) keeps it an exact integer per seed.
    gap = train * n_test - test * n_train
    return {
        "replicates": len(per_seed),
        "train_acc": summarize_with(report, train, n_train),
        "test_acc": summarize_with(report, test, n_test),
        "test_loss": summarize_with(report, per_seed["test_loss"].to_numpy()),
        "gap": summarize_with(report, gap, n_train * n_test),
    }


def comparisons(per_seed: dict[str, pd.DataFrame], params: Params) -> dict[str, Any]:
    """Return each variant's paired test-accuracy comparison with its `compare_to`.

    The shown interval is at `report.confidence`; the verdict uses an interval at the
    Bonferroni-adjusted level over all comparisons, and Holm adjusts the p-values.
    """
    report = params.report
    pairs = {n: v.compare_to for n, v in params.variants.items() if v.compare_to is not None}
    level = adjusted_confidence(report.confidence, len(pairs))
    result: dict[str, Any] = {}
    for name, reference in pairs.items():
        variant, base = seed_set(per_seed[name], 0), seed_set(per_seed[reference], 0)
        _check_paired(name, variant, reference, base)
        shown = _paired(variant, base, report.confidence, report)
        decision = _decision(variant, base, level, report)
        del decision["mean"]  # the shown `diff` carries it
        result[name] = {
            "compare_to": reference,
            "diff": shown["diff"],
            "p_value": shown["p_value"],
            **decision,
            "replication": replication(per_seed[name], per_seed[reference], level, report),
        }
    adjusted = holm({name: c["p_value"] for name, c in result.items()})
    for name, comparison in result.items():
        comparison["p_holm"] = adjusted[name]
    return result


def _check_paired(name: str, variant: pd.DataFrame, reference: str, base: pd.DataFrame) -> None:
    if len(variant) != len(base):
        raise InputError(
            f"{replicates_path(name)}: {len(variant)} replicates, but "
            f"{replicates_path(reference)} has {len(base)}; rerun 'train@{name}' and "
            f"'train@{reference}'"
        )


def replication(
    variant: pd.DataFrame, reference: pd.DataFrame, level: float, report: ReportParams
) -> dict[str, Any] | None:
    """Return the comparison on the second seed set (train.replication_seed), if both have one.

    The same decision level and margin as the primary verdict, on independent seeds: a
    verdict that is a seed-set accident does not come out the same twice.
    """
    variant, reference = seed_set(variant, 1), seed_set(reference, 1)
    if variant.empty or reference.empty:
        return None
    return _decision(variant, reference, level, report)


def _paired(
    variant: pd.DataFrame, reference: pd.DataFrame, level: float, report: ReportParams
) -> dict[str, Any]:
    """Return the paired test-accuracy comparison of two seed-aligned frames at `level`."""
    return paired_comparison(
        variant["test_correct"],
        reference["test_correct"],
        int(reference["n_test"].iloc[0]),
        level,
        report.bootstrap_seed,
        report.bootstrap_resamples,
    )


def _decision(
    variant: pd.DataFrame, reference: pd.DataFrame, level: float, report: ReportParams
) -> dict[str, Any]:
    """Return the paired difference's mean, its interval at `level`, and the verdict on it."""
    diff = _paired(variant, reference, level, report)["diff"]
    return {
        "mean": diff["mean"],
        "decision_low": diff["ci_low"],
        "decision_high": diff["ci_high"],
        "verdict": verdict(diff["ci_low"], diff["ci_high"], report.equivalence_margin),
    }


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


def sweep_summary(points: pd.DataFrame, report: ReportParams) -> pd.DataFrame:
    """Return one row per (placement, stddev): test accuracy mean and CI, train accuracy mean."""
    rows = []
    for (placement, stddev), frame in points.groupby(["placement", "stddev"], sort=True):
        test = summarize_with(
            report, frame["test_correct"].to_numpy(), int(frame["n_test"].iloc[0])
        )
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


def methods(params: Params, comparison_count: int) -> dict[str, Any]:
    """Return the words and levels the report prints beside the numbers."""
    return {
        "ci": CI_METHOD,
        "confidence": params.report.confidence,
        "decision_confidence": adjusted_confidence(params.report.confidence, comparison_count),
        "equivalence_margin": params.report.equivalence_margin,
        "paired_test": PAIRED_TEST,
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
    """Return what the report's summary states: the best setting and where noise hurts.

    Every setting trained on the reference data with the replicate seeds (the variants
    compared with baseline, the sweep's points, the grid's refits) is paired with the
    baseline by seed. The best is ranked against the runner-up only through their own
    paired difference. Picking the best on the test set makes its estimate optimistic; the
    report says so.
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
        shown = _paired(variant, reference, report.confidence, report)["diff"]
        return {
            **shown,
            "verdict": verdict(shown["ci_low"], shown["ci_high"], report.equivalence_margin),
        }

    return {
        "best": best,
        "best_test_acc": summarize_with(
            report, candidates[best]["test_correct"].to_numpy(), int(base["n_test"].iloc[0])
        ),
        "best_vs_baseline": versus(candidates[best], base),
        "runner_up": runner_up,
        "best_vs_runner_up": versus(candidates[best], candidates[runner_up]),
        "sweep_hurts_from": _sweep_hurts_from(sweep_per_seed, base, report),
    }


def _sweep_hurts_from(
    sweep_per_seed: pd.DataFrame, base: pd.DataFrame, report: ReportParams
) -> dict[str, float | None]:
    """Return, per placement, the smallest swept stddev whose verdict against baseline is hurt.

    Verdicts use an interval Bonferroni-adjusted over the sweep's points.
    """
    points = list(sweep_per_seed.groupby(["placement", "stddev"], sort=True))
    level = adjusted_confidence(report.confidence, len(points))
    hurts: dict[str, float | None] = {}
    for _, frame in points:
        placement, stddev = str(frame["placement"].iloc[0]), float(frame["stddev"].iloc[0])
        hurts.setdefault(placement, None)
        if hurts[placement] is None and (
            _decision(seed_set(frame, 0), base, level, report)["verdict"] == "hurt"
        ):
            hurts[placement] = stddev
    return hurts


def headline_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """Return one number per comparison (its mean paired difference) for `dvc metrics show`.

    Intervals, p-values and verdicts stay in metrics/summary.json: one column per comparison
    keeps `dvc metrics show` and `dvc exp show` readable.
    """
    return {name: c["diff"]["mean"] for name, c in summary["comparisons"].items()}


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
        "methods": methods(params, len(compared)),
    }
    points = sweep_points(sweep_per_seed, per_seed, params)
    return result, sweep_summary(points, params.report)

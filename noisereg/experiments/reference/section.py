"""The reference study's section of the report: results, comparisons, grid, sweep, figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from noisereg.data.reference import Split
from noisereg.experiments.reference import figures as plots
from noisereg.experiments.reference.surface import axes_for, decision_surface
from noisereg.net import MLPWeights
from noisereg.report.document import FigureSpec, Section
from noisereg.report.text import interval, signed_interval

# The reference study's published single-run numbers: (train accuracy, test accuracy).
REFERENCE_RESULTS = {
    "baseline": (1.000, 0.586),
    "input_noise": (0.967, 0.643),
    "hidden_noise": (0.967, 0.671),
    "both_noise": (0.900, 0.686),
}
REFERENCE_GRID = {"hidden_units": 300, "noise": 0.001, "cv_acc": 0.833}

DIFFERENCES_FROM_REFERENCE = [
    "The reference's \"both\" model applied ReLU twice (Dense(activation='relu') -> "
    "GaussianNoise -> ReLU), so its hidden noise landed after the activation. Here hidden "
    "noise is always on the pre-activation and ReLU is applied once.",
    "The reference's decision-boundary heat-map was transposed (Z filled as Z[ix, iy] but "
    "drawn with pcolormesh(x, y, Z)) and predicted its 40,000 grid points one call at a time. "
    "Here the grid is predicted in one batched call and drawn in meshgrid order (a test checks "
    "the orientation).",
    "Every conclusion of the reference rests on one training run; with 70 test points, "
    "run-to-run spread is several points of accuracy. Here every variant is trained from "
    "several seeds, with paired comparisons and confidence intervals.",
    "The reference's README lists more noisy layers, deeper nets, a setting without "
    "overfitting and noise on activations, weights and outputs as future work; here they are "
    "variants of the study, compared with their noiseless references.",
    "The reference picked its grid winner by 5-fold CV and never scored it on the held-out "
    "test set. Here CV is repeated and stratified, the best and one-standard-error cells are "
    "refit on all training points over the replicate seeds, and their test accuracy is reported.",
    "The reference's 30/70 split is not stratified (its training set holds 18 and 12 points of "
    "the two classes); it is kept as is to reproduce the reference, while every split this "
    "study makes itself (the CV folds) is stratified.",
]


@dataclass(frozen=True)
class ReferenceResults:
    """What the reference study's section shows, read from the pipeline's tracked files."""

    splits: dict[str, Split]  # dataset name -> split
    summary: dict[str, Any]  # metrics/summary.json: variants, comparisons, grid refits, methods
    histories: dict[str, pd.DataFrame]
    weights: dict[str, list[MLPWeights]]
    grid: dict[str, Any]  # plots/grid_choices.json
    grid_cells: pd.DataFrame
    sweep: pd.DataFrame | None
    heatmap_resolution: int = 200

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        """Return variant name -> its summaries and labels, in params order."""
        variants = self.summary["variants"]
        return {name: variants[name] for name in self.summary["variant_order"]}

    @property
    def comparisons(self) -> dict[str, dict[str, Any]]:
        """Return variant name -> its paired comparison with its reference."""
        return dict(self.summary["comparisons"])

    @property
    def methods(self) -> dict[str, Any]:
        """Return the interval, test and verdict methods and their levels."""
        return dict(self.summary["methods"])

    @property
    def confidence(self) -> float:
        """Return the level of the intervals shown."""
        return float(self.methods["confidence"])


def _comparison_rows(results: ReferenceResults) -> list[dict[str, Any]]:
    rows = []
    # In params order (the JSON file's keys are sorted).
    ordered = [n for n in results.variants if n in results.comparisons]
    ordered += [n for n in results.comparisons if n not in ordered]
    for name in ordered:
        c = results.comparisons[name]
        diff = c["diff"]
        outcome = c["verdict"]
        reference = c.get("compare_to", "baseline")
        rows.append(
            {
                "variant": name,
                "compare_to": reference,
                "noise": results.variants.get(name, {}).get("noise", "n/a"),
                "diff_text": signed_interval(diff),
                "diff": diff["mean"],
                "ci_low": diff.get("ci_low"),
                "ci_high": diff.get("ci_high"),
                "mde": "n/a" if c.get("mde") is None else f"{c['mde']:.3f}",
                "verdict": outcome,
                "verdict_text": outcome + (" (on the margin)" if c.get("borderline") else ""),
                "replication": _replication_text(c.get("replication"), outcome),
                "decision_text": (
                    f"[{c['decision_low']:+.3f}, {c['decision_high']:+.3f}]"
                    if c.get("decision_low") is not None
                    else "n/a"
                ),
            }
        )
    return rows


def _replication_text(replication: Mapping[str, Any] | None, primary: str) -> str:
    """Return the verdict on the second seed set, and whether it agrees with the first."""
    if replication is None:
        return "off"
    agrees = "holds" if replication["verdict"] == primary else "differs"
    return f"{agrees}: {replication['verdict']} ({replication['mean']:+.3f})"


def _result_rows(results: ReferenceResults) -> list[dict[str, Any]]:
    rows = []
    for name, m in results.variants.items():
        reference = REFERENCE_RESULTS.get(name)
        rows.append(
            {
                "variant": name,
                "noise": m.get("noise", "n/a"),
                "hidden_units": " x ".join(map(str, m.get("hidden_units", []))),
                "data": m.get("dataset", "reference"),
                "train": interval(m["train_acc"]),
                "test": interval(m["test_acc"]),
                "gap": interval(m["gap"]),
                "test_loss": interval(m["test_loss"]),
                "reference_train": f"{reference[0]:.3f}" if reference else "-",
                "reference_test": f"{reference[1]:.3f}" if reference else "-",
            }
        )
    return rows


# How the summary names a setting found by `summary.findings`.
PLACEMENT_WORDS = {
    "input": "input noise",
    "hidden": "pre-activation noise",
    "both": "input + pre-activation noise",
}
VERDICT_PHRASES = {
    "helped": "helped",
    "hurt": "hurt",
    "no practical difference": "made no practical difference",
    "inconclusive": "was inconclusive",
}


def _setting(results: ReferenceResults, key: str) -> str:
    """Return words for a findings key: 'variant:<name>', 'sweep:<placement>:<s>', 'grid:<c>'."""
    kind, _, rest = key.partition(":")
    if kind == "variant":
        return f"{rest} ({results.variants[rest]['noise']})"
    if kind == "sweep":
        placement, stddev = rest.split(":")
        return f"{PLACEMENT_WORDS.get(placement, placement)} {stddev} (noise sweep)"
    cell = results.grid[rest]
    label = "best CV cell" if rest == "best" else "one-standard-error cell"
    return (
        f"the grid's {label} ({cell['hidden_units']} units, pre-activation noise {cell['noise']:g})"
    )


def _summary(results: ReferenceResults, comparisons: list[dict[str, Any]]) -> list[str]:
    """Return three to five sentences that answer the study's question from the numbers."""
    sentences = []
    margin = results.methods["equivalence_margin"]
    base = results.variants.get("baseline")
    against_base = [r for r in comparisons if r["compare_to"] == "baseline"]
    if base:
        helped = sum(r["verdict"] == "helped" for r in against_base)
        sentences.append(
            f"Without noise the net fits its training points (train accuracy "
            f"{base['train_acc']['mean']:.3f}) but scores {interval(base['test_acc'])} on the "
            f"test points (mean [{results.confidence:.0%} CI] over {base['replicates']} seeds "
            f"and the test points); {helped} of {len(against_base)} noise variants on the same "
            f"data and seeds were shown to raise test accuracy by more than the margin of "
            f"{margin:g} ({_verdict_counts(against_base)}; figure below)."
            + _borderline_text(against_base)
        )
        sentences.append(
            f"These verdicts are about this one split of {base['n_train']} training and "
            f"{base['n_test']} test points: the intervals resample its seeds and its test "
            f"points, at {results.methods['decision_confidence']:.2%} over "
            f"{results.methods['family']}. With so few test points a gain is called helped "
            f"with 80% probability only if it is at least the comparison's minimum detectable "
            f"effect ({_mde_range(against_base)} here)."
        )
    found = results.summary.get("findings") or {}
    if found:
        refit = results.summary.get("grid_refits", {}).get("best")
        cv_choice = (
            f"; the grid's cross-validated choice scored {interval(refit['test_acc'])}"
            if refit and found["best"] != "grid:best"
            else ""
        )
        runner = _setting(results, found["runner_up"])
        sentences.append(
            f"The highest mean test accuracy anywhere in the study is "
            f"{_setting(results, found['best'])}: {interval(found['best_test_acc'])}, "
            f"{signed_interval(found['best_vs_baseline'])} against the same seeds without "
            f"noise and {signed_interval(found['best_vs_runner_up'])} against the runner-up, "
            f"{runner}. It was picked on the test set, so these differences are optimistic "
            f"and carry no verdict{cv_choice}."
        )
    limits = []  # one clause per noiseless reference other than baseline
    for reference in dict.fromkeys(r["compare_to"] for r in comparisons):
        if reference == "baseline":
            continue
        group = [r for r in comparisons if r["compare_to"] == reference]
        effects = ", ".join(
            f"{r['variant']} {VERDICT_PHRASES[r['verdict']]} (decision interval "
            f"{r['decision_text']})"
            for r in group
        )
        limits.append(
            f"against {reference} ({_setting_of_reference(results, reference)}) {effects}"
        )
    if limits:
        sentences.append("Against the other noiseless references: " + "; ".join(limits) + ".")
    return sentences


def _borderline_text(rows: list[dict[str, Any]]) -> str:
    """Return a sentence naming the verdicts the bootstrap's Monte Carlo error could flip."""
    close = [r for r in rows if r["verdict_text"] != r["verdict"]]
    if not close:
        return ""
    names = ", ".join(f"{r['variant']} (decision interval {r['decision_text']})" for r in close)
    return (
        f" On the margin: {names}: the verdict is within two Monte Carlo errors of the "
        "resampling, so another bootstrap seed may give another."
    )


def _verdict_counts(rows: list[dict[str, Any]]) -> str:
    """Return how many rows got each verdict, e.g. 'helped 1, inconclusive 6'."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICT_PHRASES}
    return ", ".join(f"{v} {n}" for v, n in counts.items() if n)


def _mde_range(rows: list[dict[str, Any]]) -> str:
    """Return the range of the rows' minimum detectable effects, e.g. '+0.115 to +0.190'."""
    values = sorted(float(r["mde"]) for r in rows if r["mde"] != "n/a")
    if not values:
        return "n/a"
    if values[0] == values[-1]:
        return f"{values[0]:+.3f}"
    return f"{values[0]:+.3f} to {values[-1]:+.3f}"


def _setting_of_reference(results: ReferenceResults, name: str) -> str:
    """Return what a noiseless reference varies: its dataset or its hidden layers."""
    metrics = results.variants.get(name, {})
    if metrics.get("dataset", "reference") != "reference":
        return f"the {metrics['dataset']} dataset"
    return "hidden layers " + " x ".join(map(str, metrics.get("hidden_units", [])))


# Shown right after the report's summary, not with the section's other figures.
SUMMARY_FIGURE = "paired_differences.png"


def _figures(results: ReferenceResults) -> list[FigureSpec]:
    """Return the study's figures: the paired differences go with the report's summary."""
    reference = results.splits["reference"]
    xs, ys = axes_for(reference, results.heatmap_resolution)
    surfaces = {name: decision_surface(w, xs, ys) for name, w in results.weights.items()}
    variant_splits = {
        name: results.splits[m.get("dataset", "reference")] for name, m in results.variants.items()
    }
    specs = [
        (
            "curves.png",
            plots.training_curves(results.histories),
            "Training and test loss and accuracy versus epoch for every variant",
            "Training curves. Top: binary cross-entropy (log scale); bottom: accuracy. Blue: "
            "training set as the noisy forward pass sees it; orange: test set. Lines are means "
            "over replicates, bands +-1 std. Axes are shared across variants.",
        ),
        (
            "decision_maps.png",
            plots.decision_maps(surfaces, xs, ys, variant_splits),
            "Decision-boundary heat-maps, one panel per variant",
            "Mean predicted probability of class 1 over replicates (shared colour scale; black "
            "line: p = 0.5). Circles: training points; triangles: test points; colour: true class.",
        ),
        (
            "grid.png",
            plots.grid_heatmap(results.grid_cells, results.grid["best"], results.grid["one_se"]),
            "Grid-search heat-map of mean CV accuracy by width and noise",
            "Mean CV accuracy (+- corrected standard error) for each width x hidden-noise cell. "
            "Solid box: best cell; dashed box: one-standard-error choice.",
        ),
    ]
    comparison_rows = _comparison_rows(results)
    if comparison_rows:
        specs.append(
            (
                "paired_differences.png",
                plots.paired_differences(comparison_rows, results.methods["equivalence_margin"]),
                "Paired test-accuracy differences of each noise variant against its reference",
                "Every comparison, grouped by the noiseless reference it is paired with: mean "
                "paired difference in test accuracy (variant - reference, same seeds and test "
                f"points) with its {results.confidence:.0%} interval over seeds and test points; "
                "grey band: the margin of practical equivalence. The verdicts (table below) use "
                "the wider family-wise intervals.",
            )
        )
    if results.sweep is not None and not results.sweep.empty:
        specs.append(
            (
                "sweep.png",
                plots.noise_sweep(results.sweep),
                "Test accuracy versus noise stddev for input, hidden and both placements",
                "Noise sweep at the reference width: mean test accuracy with "
                f"{results.confidence:.0%} "
                "CI per placement and stddev, from stddev 0 (the baseline) up; symmetric-log "
                "x axis.",
            )
        )
    return [FigureSpec(*spec, in_summary=spec[0] == SUMMARY_FIGURE) for spec in specs]


def section(results: ReferenceResults) -> Section:
    """Return the reference study's section: its partials' context, figures and summary."""
    comparisons = _comparison_rows(results)
    best, one_se = results.grid["best"], results.grid["one_se"]
    context = {
        "confidence": f"{results.confidence:.0%}",
        "results": _result_rows(results),
        "seeds": " or ".join(sorted({str(m["replicates"]) for m in results.variants.values()})),
        "comparisons": comparisons,
        "replication_on": any(c["replication"] != "off" for c in comparisons),
        "ci_method": results.methods["ci"],
        "seeds_ci": results.methods["seeds_ci"],
        "family": results.methods["family"],
        "verdict_rule": results.methods["verdict_rule"],
        "margin": f"{results.methods['equivalence_margin']:g}",
        "decision_confidence": f"{results.methods['decision_confidence']:.2%}",
        "grid_se": results.methods["grid_se"],
        "grid_rows": [
            {
                "label": label,
                "hidden_units": cell["hidden_units"],
                "noise": f"{cell['noise']:g}",
                "cv": f"{cell['cv_mean']:.3f} +- {cell['cv_se']:.3f}",
                "test": interval(results.summary["grid_refits"][key]["test_acc"]),
            }
            for key, label, cell in (
                ("best", "best CV cell", best),
                ("one_se", "one-SE choice", one_se),
            )
        ],
        "reference_grid": REFERENCE_GRID,
        "grid_folds": results.grid.get("cv_scores_per_cell"),
        "sweep_rows": []
        if results.sweep is None
        else [
            {
                "placement": r.placement,
                "stddev": f"{r.stddev:g}",
                "test": interval(
                    {
                        "mean": r.test_acc_mean,
                        "std": r.test_acc_std,
                        "ci_low": r.test_acc_ci_low,
                        "ci_high": r.test_acc_ci_high,
                    }
                ),
                "train": f"{r.train_acc_mean:.3f}",
            }
            for r in results.sweep.itertuples()
        ],
        "differences": DIFFERENCES_FROM_REFERENCE,
    }
    return Section(
        name="reference",
        context=context,
        figures=_figures(results),
        summary=_summary(results, comparisons),
        appendix=True,
    )

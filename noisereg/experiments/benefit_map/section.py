"""The report's "When does noise help?" section: sentences and rows from the map's numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from noisereg.experiments.benefit_map import figures as benefit_plots
from noisereg.experiments.benefit_map.summary import NEVER_HELPED, NOT_REACHED, n_star
from noisereg.report.document import FigureSpec, Section
from noisereg.stats import VERDICT_CODES, column_interval


@dataclass(frozen=True)
class BenefitMap:
    """The benefit map's tables (plots/benefit_map.csv, plots/benefit_curves.csv), samples."""

    cells: pd.DataFrame
    curves: pd.DataFrame
    lengths: pd.DataFrame  # plots/benefit_lengths.csv: the gain per training length
    samples: dict[str, pd.DataFrame]  # dataset -> sample of its test points
    cv_placement: str
    protocol: str  # how the map's nets train, in words
    family: str  # the map's primary comparisons, in words
    decision_confidence: float  # the family-wise level of the verdicts
    margin: float


MODE = (
    "resampled mode: every replicate draws its own training set from the generator and every "
    "model is scored on one large test set per dataset, so the intervals cover the draw of "
    "the data as well as initial weights and noise"
)


def _sizes(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def helped(cells: pd.DataFrame) -> pd.DataFrame:
    """Return the cells whose verdict (summarize's, family-wise) is helped."""
    return cells[cells["acc_verdict"] == VERDICT_CODES["helped"]]


def hurt(cells: pd.DataFrame) -> pd.DataFrame:
    """Return the cells whose verdict (summarize's, family-wise) is hurt."""
    return cells[cells["acc_verdict"] == VERDICT_CODES["hurt"]]


def n_star_text(cells: pd.DataFrame, margin: float) -> str:
    """Return n_star as the report writes it: a size, 'never' or 'not reached'."""
    value = n_star(cells, margin)
    return {NEVER_HELPED: "never", NOT_REACHED: "not reached"}.get(value, str(value))


def placement_sentence(name: str, placement: str, cells: pd.DataFrame, margin: float) -> str:
    """Return where one placement helped, where it stopped and where it hurt on one dataset."""
    gains, losses = helped(cells), hurt(cells)
    lead = f"{name}, {placement} noise: "
    stop = n_star(cells, margin)
    if gains.empty:
        text = lead + "no cell was called helped at any size (n* = never)"
    else:
        best: Any = gains.sort_values(["acc_diff", "stddev"], ascending=[False, True]).iloc[0]
        sizes = sorted(int(n) for n in gains["n_train"].unique())
        text = (
            lead + f"helped at n = {_sizes(sizes)}, most at n = {int(best.n_train)} with stddev "
            f"{best.stddev:g} ({column_interval(best, 'acc_diff')})"
            + (
                "; at the largest size a gain beyond the margin is not ruled out (n* not reached)"
                if stop == NOT_REACHED
                else f"; from n = {stop} on every stddev's gain is shown to stay below the "
                f"margin (n* = {stop})"
            )
        )
    if not losses.empty:
        worst: Any = losses.sort_values("acc_diff").iloc[0]
        text += (
            f". It hurt in {len(losses)} of {len(cells)} cells, most at n = "
            f"{int(worst.n_train)} with stddev {worst.stddev:g} "
            f"({column_interval(worst, 'acc_diff')})"
        )
    return text + "."


def cv_sentence(name: str, placement: str, curves: pd.DataFrame) -> str:
    """Return what the CV-chosen noise level did to test accuracy on one dataset, per size."""
    parts = [
        f"n = {int(r['n_train'])}: {column_interval(r, 'gain_acc')} "
        f"(noise chosen for {r['cv_noisy_share']:.0%} of draws)"
        for r in curves.sort_values("n_train").to_dict("records")
    ]
    return (
        f"{name}, {placement} noise at the stddev CV chose on each training draw, against no "
        f"noise: {'; '.join(parts)}."
    )


def _where(cells: pd.DataFrame) -> str:
    """Return where cells lie, by dataset: 'blobs at n = 30, 90; xor at n = 10'."""
    places = []
    for name, frame in cells.groupby("dataset", sort=False):
        sizes = sorted(int(n) for n in frame["n_train"].unique())
        places.append(f"{name} at n = {_sizes(sizes)}")
    return "; ".join(places)


def overview(cells: pd.DataFrame) -> list[str]:
    """Return the section's opening sentences: where each placement helped and hurt.

    Every count is of the cells' family-wise verdicts (summarize's): a helped cell's gain
    cleared the margin.
    """
    sentences = []
    for placement, frame in cells.groupby("placement", sort=True):
        gains, losses = helped(frame), hurt(frame)
        counts = ", ".join(
            f"{word} {int((frame['acc_verdict'] == VERDICT_CODES[word]).sum())}"
            for word in ("no practical difference", "inconclusive")
        )
        sentences.append(
            f"{str(placement).capitalize()} noise helped in {len(gains)} of {len(frame)} "
            f"cells (dataset x size x stddev){f' ({_where(gains)})' if len(gains) else ''}, "
            f"hurt in {len(losses)}{f' ({_where(losses)})' if len(losses) else ''}; {counts}."
        )
    return sentences


def context(
    cells: pd.DataFrame, curves: pd.DataFrame, placement: str, margin: float
) -> dict[str, Any]:
    """Return the section's context: overview, one sentence per dataset and placement, rows."""
    datasets: list[dict[str, Any]] = []
    for name in dict.fromkeys(cells["dataset"]):
        frame = cells[cells["dataset"] == name]
        sentences = [
            placement_sentence(name, p, frame[frame["placement"] == p], margin)
            for p in dict.fromkeys(frame["placement"])
        ]
        sentences.append(cv_sentence(name, placement, curves[curves["dataset"] == name]))
        datasets.append({"name": name, "sentences": sentences})
    rows = []
    for (name, p), frame in cells.groupby(["dataset", "placement"], sort=False):
        stop = n_star_text(frame, margin)
        for _, size in frame.groupby("n_train", sort=True):
            best: Any = size.sort_values(["acc_diff", "stddev"], ascending=[False, True]).iloc[0]
            rows.append(
                {
                    "dataset": name,
                    "placement": p,
                    "n_train": int(best.n_train),
                    "stddev": f"{best.stddev:g}",
                    "acc": column_interval(best, "acc_diff"),
                    "loss": column_interval(best, "loss_diff"),
                    "ece": column_interval(best, "ece_diff"),
                    "mde": f"{best.acc_mde:.3f}",
                    "n_star": stop,
                }
            )
    return {"mode": MODE, "overview": overview(cells), "datasets": datasets, "rows": rows}


def length_sentences(lengths: pd.DataFrame, placement: str) -> list[str]:
    """Return how the gain of `placement` noise moves with training length, and how well the
    noiseless nets fit their training draws: shown, not judged (no verdict)."""
    steps = sorted(int(s) for s in lengths["steps"].unique())
    if len(steps) < 2:
        return []
    shown = lengths[lengths["placement"] == placement]
    means = shown.groupby("steps")["acc_diff"].mean()
    gains = ", ".join(f"{means[s]:+.3f} at {s}" for s in steps)
    longest = lengths[lengths["steps"] == steps[-1]]
    fits = []
    for n in sorted(int(n) for n in longest["n_train"].unique()):
        fit = longest[longest["n_train"] == n].groupby("dataset")["none_train_acc"].first()
        fits.append(f"{fit.min():.2f}-{fit.max():.2f} at n = {n}")
    return [
        f"Training length (one run per model, scored at {_sizes(steps)} steps; no verdict): "
        f"{placement} noise's mean gain over the noiseless net trained as long, over every "
        f"dataset, size and stddev, is {gains} steps.",
        f"The noiseless nets' mean training accuracy at {steps[-1]} steps ranges over the "
        f"datasets {'; '.join(fits)} (1 is a net that fits every point of its draw).",
    ]


def _figures(benefit: BenefitMap, confidence: float) -> list[FigureSpec]:
    return [
        FigureSpec(
            "benefit_datasets.png",
            benefit_plots.dataset_scatters(benefit.samples),
            "A sample of each benefit-map dataset, coloured by class",
            "The benefit map's datasets: 300 points of each test draw, coloured by class.",
        ),
        FigureSpec(
            "benefit_map.png",
            benefit_plots.benefit_heatmaps(benefit.cells),
            "Heat-maps of the test-accuracy gain from noise by training size and stddev",
            "Mean paired test-accuracy gain of each noise level over the same seeds without "
            "noise, per dataset (rows) and placement (columns); blue: a gain, red: a loss. "
            "Outlined: the cell's verdict is helped or hurt (its family-wise interval clears the "
            "margin); colour alone is no verdict.",
        ),
        FigureSpec(
            "benefit_curves.png",
            benefit_plots.learning_curves(benefit.curves),
            "Learning curves with and without the CV-chosen noise level",
            f"Test accuracy versus training size (log scale): no noise, and "
            f"{benefit.cv_placement} noise at the stddev chosen by CV on each training draw; "
            f"bands: {confidence:.0%} intervals over draws.",
        ),
        FigureSpec(
            "benefit_lengths.png",
            benefit_plots.length_curves(benefit.lengths, benefit.cv_placement),
            "The accuracy gain from noise against training length, per dataset and size",
            f"Mean paired test-accuracy gain of {benefit.cv_placement} noise over the "
            f"noiseless net trained as long, at each scored length of the same runs, per "
            f"dataset (rows) and training size (columns); bands: {confidence:.0%} intervals "
            f"over draws, no verdict. Titles: the noiseless net's training accuracy at the "
            f"longest length.",
        ),
    ]


def section(benefit: BenefitMap, confidence: float) -> Section:
    """Return the map's section: its partials' context, figures and summary sentences."""
    return Section(
        name="benefit_map",
        context={
            "benefit": {
                **context(benefit.cells, benefit.curves, benefit.cv_placement, benefit.margin),
                "protocol": benefit.protocol,
                "confidence": f"{confidence:.0%}",
                "family": benefit.family,
                "decision_confidence": f"{benefit.decision_confidence:.3%}",
                "margin": f"{benefit.margin:g}",
                "lengths": length_sentences(benefit.lengths, benefit.cv_placement),
            }
        },
        figures=_figures(benefit, confidence),
        summary=[
            f"Beyond the fixed draw (benefit map, fresh data per seed): {sentence}"
            for sentence in overview(benefit.cells)
        ],
    )

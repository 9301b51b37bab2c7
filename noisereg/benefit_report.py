"""The report's "When does noise help?" section: sentences and rows from the map's numbers."""

from __future__ import annotations

from typing import Any

import pandas as pd

from noisereg.benefit_summary import n_star
from noisereg.stats import column_interval

MODE = (
    "resampled mode: every replicate draws its own training set from the generator and every "
    "model is scored on one large test set per dataset, so the intervals cover the draw of "
    "the data as well as initial weights and noise"
)


def _sizes(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def placement_sentence(name: str, placement: str, cells: pd.DataFrame) -> str:
    """Return where one placement helped, where it stopped and where it hurt on one dataset."""
    helped = cells[cells["acc_diff_low"] > 0]
    hurt = cells[cells["acc_diff_high"] < 0]
    lead = f"{name}, {placement} noise: "
    if helped.empty:
        text = lead + "no stddev raised test accuracy at any size (no interval above 0)"
    else:
        best: Any = helped.sort_values(["acc_diff", "stddev"], ascending=[False, True]).iloc[0]
        sizes = sorted(int(n) for n in helped["n_train"].unique())
        stop = n_star(cells)
        text = (
            lead + f"helped at n = {_sizes(sizes)}, most at n = {int(best.n_train)} with stddev "
            f"{best.stddev:g} ({column_interval(best, 'acc_diff')})"
            + (
                "; it still helps at the largest size"
                if stop is None
                else f"; from n = {stop} on no stddev helped (n* = {stop})"
            )
        )
    if not hurt.empty:
        worst: Any = hurt.sort_values("acc_diff").iloc[0]
        text += (
            f". It hurt in {len(hurt)} of {len(cells)} cells, most at n = {int(worst.n_train)} "
            f"with stddev {worst.stddev:g} "
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


def overview(cells: pd.DataFrame) -> list[str]:
    """Return the section's opening sentences: on how many datasets each placement helped."""
    sentences = []
    smallest, largest = int(cells["n_train"].min()), int(cells["n_train"].max())
    names = list(dict.fromkeys(cells["dataset"]))
    for placement, frame in cells.groupby("placement", sort=True):
        at = {
            size: sorted(
                str(d)
                for d in frame[(frame["n_train"] == size) & (frame["acc_diff_low"] > 0)][
                    "dataset"
                ].unique()
            )
            for size in (smallest, largest)
        }
        sentences.append(
            f"{str(placement).capitalize()} noise helped at some stddev on {len(at[smallest])} of "
            f"{len(names)} datasets at n = {smallest} ({', '.join(at[smallest]) or 'none'}) and "
            f"on {len(at[largest])} of {len(names)} at n = {largest} "
            f"({', '.join(at[largest]) or 'none'})."
        )
    return sentences


def section(cells: pd.DataFrame, curves: pd.DataFrame, placement: str) -> dict[str, Any]:
    """Return the section's context: overview, one sentence per dataset and placement, rows."""
    datasets: list[dict[str, Any]] = []
    for name in dict.fromkeys(cells["dataset"]):
        frame = cells[cells["dataset"] == name]
        sentences = [
            placement_sentence(name, p, frame[frame["placement"] == p])
            for p in dict.fromkeys(frame["placement"])
        ]
        sentences.append(cv_sentence(name, placement, curves[curves["dataset"] == name]))
        datasets.append({"name": name, "sentences": sentences})
    rows = []
    for (name, p), frame in cells.groupby(["dataset", "placement"], sort=False):
        stop = n_star(frame)
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
                    "n_star": "-" if stop is None else str(stop),
                }
            )
    return {"mode": MODE, "overview": overview(cells), "datasets": datasets, "rows": rows}

"""Figures of the regularizer comparison: a forest plot per dataset and the CD diagram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from noisereg.report.style import TRAIN_COLOUR, VAL_COLOUR, plt


def forest(frame: pd.DataFrame, margin: float) -> Figure:
    """Return each method's paired test-accuracy difference, one panel per dataset.

    Circles: against no regularization; squares: against the best non-noise method (CV's
    pick among weight decay, dropout and early stopping); bars: intervals; grey band: the
    margin of practical equivalence.
    """
    datasets = list(dict.fromkeys(frame["dataset"]))
    methods = list(dict.fromkeys(frame["method"]))
    figure, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(2.3 * len(datasets) + 1.6, 0.32 * len(methods) + 1.2),
        sharey=True,
        squeeze=False,
    )
    y = np.arange(len(methods))[::-1]
    for ax, name in zip(axes[0], datasets, strict=True):
        rows = frame[frame["dataset"] == name].set_index("method").reindex(methods)
        ax.axvspan(-margin, margin, color="0.9")
        ax.axvline(0, color="0.5", lw=0.8)
        for key, offset, marker, colour in (
            ("vs_none", 0.15, "o", TRAIN_COLOUR),
            ("vs_best", -0.15, "s", VAL_COLOUR),
        ):
            mean = rows[f"diff_{key}"].to_numpy(float)
            low = rows[f"diff_{key}_low"].fillna(rows[f"diff_{key}"]).to_numpy(float)
            high = rows[f"diff_{key}_high"].fillna(rows[f"diff_{key}"]).to_numpy(float)
            ax.errorbar(
                mean,
                y + offset,
                xerr=[mean - low, high - mean],
                fmt=marker,
                ms=3,
                color=colour,
                capsize=2,
                lw=0.8,
            )
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("accuracy difference", fontsize=8)
    axes[0][0].set_yticks(y, methods, fontsize=7)
    axes[0][0].plot([], [], "o", color=TRAIN_COLOUR, label="vs no regularization")
    axes[0][0].plot([], [], "s", color=VAL_COLOUR, label="vs best non-noise method")
    axes[0][0].legend(fontsize=7, loc="lower left")
    return figure


def critical_difference(ranking: Mapping[str, Any]) -> Figure:
    """Return the critical-difference diagram: mean ranks on one axis, the CD as a bar.

    Methods whose mean ranks differ by less than the CD are joined by a thick line (not
    significantly different at the level of the Nemenyi test).
    """
    ranks = dict(sorted(ranking["mean_ranks"].items(), key=lambda item: item[1]))
    k = int(ranking["methods"])
    figure, ax = plt.subplots(figsize=(7.0, 0.3 * len(ranks) + 1.4))
    ax.set_xlim(1, k)
    ax.set_ylim(-len(ranks) - 1, 2)
    ax.hlines(0, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, -0.1, 0.1, color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=7)
    for i, (method, rank) in enumerate(ranks.items()):
        level = -(i + 1)
        ax.plot([rank, rank], [0, level], color="0.4", lw=0.6)
        ax.text(rank + 0.05, level, f"{method} ({rank:.2f})", va="center", fontsize=7)
    cd = ranking.get("critical_difference")
    if cd:
        ax.plot([1, 1 + cd], [1.2, 1.2], color=VAL_COLOUR, lw=2)
        ax.text(1 + cd / 2, 1.45, f"CD = {cd:.2f}", ha="center", fontsize=7)
        values = list(ranks.values())
        for i, start in enumerate(values):
            reach = max(j for j in range(i, len(values)) if values[j] - start < cd)
            if reach > i:
                ax.plot([start, values[reach]], [-0.4 - 0.15 * (i % 3)] * 2, color="black", lw=2.5)
    ax.axis("off")
    ax.set_title("Mean rank by test accuracy across datasets (1 = best)", fontsize=9)
    return figure

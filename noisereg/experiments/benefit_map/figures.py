"""Figures of the benefit map: the datasets, the size x stddev heat-maps, the learning curves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from noisereg.report.style import TRAIN_COLOUR, VAL_COLOUR, plt

BENEFIT_CMAP = "RdBu"  # diverging, centred on 0: blue where noise helps, red where it hurts
CLASS_COLOURS = ("#0072B2", "#D55E00")


def dataset_scatters(samples: Mapping[str, pd.DataFrame]) -> Figure:
    """Return one small scatter per dataset of a sample of its test points, coloured by class."""
    figure, axes = plt.subplots(1, len(samples), figsize=(2.2 * len(samples), 2.4), squeeze=False)
    for ax, (name, sample) in zip(axes[0], samples.items(), strict=True):
        for label, colour in enumerate(CLASS_COLOURS):
            points = sample[sample["label"] == label]
            ax.scatter(points["x1"], points["x2"], s=5, color=colour, label=f"class {label}")
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize=7, loc="lower left", markerscale=2)
    return figure


def benefit_heatmaps(cells: pd.DataFrame) -> Figure:
    """Return one size x stddev heat-map per dataset (rows) and placement (columns).

    Colour: mean paired accuracy gain over no noise, on one diverging scale centred at 0
    for every panel; a cell called helped or hurt (its family-wise verdict) is outlined in black.
    """
    datasets = list(dict.fromkeys(cells["dataset"]))
    placements = list(dict.fromkeys(cells["placement"]))
    sizes = sorted(cells["n_train"].unique())
    stddevs = sorted(cells["stddev"].unique())
    limit = max(float(cells["acc_diff"].abs().max()), 1e-6)
    norm = colors.TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    figure, axes = plt.subplots(
        len(datasets),
        len(placements),
        figsize=(
            0.75 * len(stddevs) * len(placements) + 2.2,
            0.42 * len(sizes) * len(datasets) + 1.2,
        ),
        squeeze=False,
    )
    image = None
    for row, name in enumerate(datasets):
        for column, placement in enumerate(placements):
            ax = axes[row][column]
            table = cells[(cells["dataset"] == name) & (cells["placement"] == placement)]
            table = table.set_index(["n_train", "stddev"])
            means = np.array([[table.loc[(n, s), "acc_diff"] for s in stddevs] for n in sizes])
            image = ax.imshow(means, cmap=BENEFIT_CMAP, norm=norm, aspect="auto", origin="lower")
            for i, n in enumerate(sizes):
                for j, s in enumerate(stddevs):
                    # The verdict is summarize's (stats.verdict, family-wise): 1 helped, -1 hurt.
                    decided = table.loc[(n, s), "acc_verdict"] in (1, -1)
                    ax.text(j, i, f"{means[i, j]:+.2f}", ha="center", va="center", fontsize=6)
                    if decided:
                        ax.add_patch(
                            Rectangle((j - 0.46, i - 0.46), 0.92, 0.92, fill=False, lw=1.2)
                        )
            ax.set_xticks(range(len(stddevs)), [f"{s:g}" for s in stddevs], fontsize=7)
            ax.set_yticks(range(len(sizes)), [str(int(n)) for n in sizes], fontsize=7)
            if row == 0:
                ax.set_title(f"{placement} noise", fontsize=9)
            if row == len(datasets) - 1:
                ax.set_xlabel("noise stddev", fontsize=8)
            if column == 0:
                ax.set_ylabel(f"{name}\ntraining points", fontsize=8)
    assert image is not None  # every panel drew one
    figure.colorbar(image, ax=axes, label="test-accuracy gain over no noise (mean)", shrink=0.6)
    return figure


def learning_curves(curves: pd.DataFrame) -> Figure:
    """Return test accuracy vs training size per dataset: no noise and CV-chosen noise, bands."""
    datasets = list(dict.fromkeys(curves["dataset"]))
    figure, axes = plt.subplots(
        1, len(datasets), figsize=(2.6 * len(datasets) + 0.6, 2.8), squeeze=False, sharey=True
    )
    for ax, name in zip(axes[0], datasets, strict=True):
        frame = curves[curves["dataset"] == name].sort_values("n_train")
        for key, colour, label in (
            ("none", TRAIN_COLOUR, "no noise"),
            ("cv", VAL_COLOUR, "CV-chosen noise"),
        ):
            mean = frame[f"{key}_acc"]
            ax.plot(frame["n_train"], mean, marker="o", ms=3, color=colour, label=label)
            ax.fill_between(
                frame["n_train"],
                frame[f"{key}_acc_low"].fillna(mean),
                frame[f"{key}_acc_high"].fillna(mean),
                color=colour,
                alpha=0.2,
            )
        ax.set_xscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training points (log)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy", fontsize=8)
    axes[0][0].legend(fontsize=7)
    return figure


def length_curves(lengths: pd.DataFrame, placement: str) -> Figure:
    """Return the accuracy gain vs training length per dataset (rows) and size (columns):
    one line per stddev of `placement`, bands its intervals; titles give the noiseless net's
    training accuracy at the longest length."""
    datasets = list(dict.fromkeys(lengths["dataset"]))
    sizes = sorted(lengths["n_train"].unique())
    figure, axes = plt.subplots(
        len(datasets),
        len(sizes),
        figsize=(2.2 * len(sizes) + 0.6, 1.9 * len(datasets) + 0.6),
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    shown = lengths[lengths["placement"] == placement]
    stddevs = sorted(shown["stddev"].unique())
    steps = sorted(int(s) for s in lengths["steps"].unique())
    palette = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(stddevs)))
    for row, name in enumerate(datasets):
        for column, n in enumerate(sizes):
            ax = axes[row][column]
            panel = shown[(shown["dataset"] == name) & (shown["n_train"] == n)]
            for stddev, colour in zip(stddevs, palette, strict=True):
                line = panel[panel["stddev"] == stddev].sort_values("steps")
                ax.plot(line["steps"], line["acc_diff"], marker="o", ms=2.5, color=colour,
                        label=f"stddev {stddev:g}")  # fmt: skip
                ax.fill_between(line["steps"], line["acc_diff_low"], line["acc_diff_high"],
                                color=colour, alpha=0.15)  # fmt: skip
            ax.axhline(0.0, color="black", lw=0.6)
            ax.set_xscale("log")
            # The scored lengths as plain ticks: log-scale minor labels collide.
            ax.minorticks_off()
            ax.set_xticks(steps, [str(s) for s in steps], fontsize=6)
            ax.grid(alpha=0.3)
            fit = panel.sort_values("steps")["none_train_acc"].iloc[-1]
            ax.set_title(f"{name}, n = {int(n)} (fit {fit:.2f})", fontsize=7)
            if row == len(datasets) - 1:
                ax.set_xlabel("training steps (log)", fontsize=7)
            if column == 0:
                ax.set_ylabel("gain over no noise", fontsize=7)
    axes[0][0].legend(fontsize=6)
    return figure

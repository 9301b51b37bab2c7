"""Figures of the reference study: curves, decision maps, grid heat-map, sweep, differences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from noisereg.data.reference import Split
from noisereg.report.style import (
    PLACEMENT_COLOURS,
    PROBABILITY_CMAP,
    SCORE_CMAP,
    TRAIN_COLOUR,
    VAL_COLOUR,
    Figure,
    plt,
)

PANELS_PER_ROW = 4


def _panel_grid(count: int, rows_per_panel: int, size: tuple[float, float]) -> tuple[Figure, Any]:
    """Return a figure with `count` panels (each `rows_per_panel` axes tall), 4 to a row."""
    columns = min(PANELS_PER_ROW, count)
    groups = -(-count // columns)
    figure, axes = plt.subplots(
        groups * rows_per_panel,
        columns,
        figsize=(size[0] * columns + 0.8, size[1] * groups * rows_per_panel),
        squeeze=False,
    )
    for index in range(count, groups * columns):
        for row in range(rows_per_panel):
            axes[(index // columns) * rows_per_panel + row][index % columns].set_visible(False)
    return figure, axes


def training_curves(histories: Mapping[str, pd.DataFrame]) -> Figure:
    """Return loss and accuracy vs epoch per variant: mean, +-1 std band, same axes."""
    names = list(histories)
    figure, axes = _panel_grid(len(names), 2, (3.2, 2.6))
    columns = axes.shape[1]
    loss_axes: list[Any] = []
    acc_axes: list[Any] = []
    for index, name in enumerate(names):
        frame = histories[name]
        top = (index // columns) * 2
        for row, metric in enumerate(("loss", "acc")):
            ax = axes[top + row][index % columns]
            (loss_axes if metric == "loss" else acc_axes).append(ax)
            for split, colour, label in (
                ("train", TRAIN_COLOUR, "train (with noise)"),
                ("val", VAL_COLOUR, "test"),
            ):
                mean = frame[f"{split}_{metric}"].to_numpy()
                ax.plot(frame["epoch"], mean, color=colour, lw=1.2, label=label)
                std_column = f"{split}_{metric}_std"
                if std_column in frame:
                    std = frame[std_column].to_numpy()
                    ax.fill_between(
                        frame["epoch"], mean - std, mean + std, color=colour, alpha=0.2, lw=0
                    )
            ax.grid(alpha=0.3)
            if metric == "loss":
                ax.set_title(name)
                ax.set_yscale("log")
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel("epoch")
            if index % columns == 0:
                ax.set_ylabel(
                    "binary cross-entropy" if metric == "loss" else "accuracy (fraction correct)"
                )
    # Same axes across variants, so curves compare at a glance.
    last_epoch = max(float(f["epoch"].max()) for f in histories.values())
    for group in (loss_axes, acc_axes):
        lows, highs = zip(*(ax.get_ylim() for ax in group), strict=True)
        for ax in group:
            ax.set_ylim(min(lows), max(highs))
            ax.set_xlim(0, last_epoch)
    loss_axes[0].legend(loc="best", fontsize=8)
    figure.suptitle("Training curves: mean over replicates, band = +-1 std")
    # tight_layout ignores the suptitle; keep the panels below it.
    figure.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / figure.get_figheight()))
    return figure


def decision_maps(
    surfaces: Mapping[str, np.ndarray],
    xs: np.ndarray,
    ys: np.ndarray,
    splits: Mapping[str, Split],
) -> Figure:
    """Return one panel per variant: shared 0..1 colour scale, train and test points marked.

    `splits` gives each variant the dataset it was trained on; its points are drawn.
    """
    names = list(surfaces)
    figure, axes = _panel_grid(len(names), 1, (3.4, 3.5))
    columns = axes.shape[1]
    mesh: Any = None
    for index, name in enumerate(names):
        ax = axes[index // columns][index % columns]
        mesh = ax.pcolormesh(
            xs, ys, surfaces[name], cmap=PROBABILITY_CMAP, vmin=0.0, vmax=1.0, shading="auto"
        )
        ax.contour(xs, ys, surfaces[name], levels=[0.5], colors="k", linewidths=0.8)
        split = splits[name]
        # Large datasets would bury the map under markers: draw them smaller.
        scale = 1.0 if len(split.y_train) <= 100 else 0.25
        for x, y, marker, label in (
            (split.x_train, split.y_train, "o", "train"),
            (split.x_test, split.y_test, "^", "test"),
        ):
            ax.scatter(
                x[:, 0],
                x[:, 1],
                c=y,
                cmap=PROBABILITY_CMAP,
                vmin=-0.3,
                vmax=1.3,
                marker=marker,
                s=(26 if marker == "o" else 18) * scale,
                edgecolors="k",
                linewidths=0.6 * scale,
                label=label,
            )
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(ys[0], ys[-1])
        ax.set_title(name)
        ax.set_xlabel("x1")
        ax.set_aspect("equal")
        if index % columns == 0:
            ax.set_ylabel("x2")
    axes[0][0].legend(loc="lower left", fontsize=7, framealpha=0.8)
    visible = [ax for ax in axes.ravel() if ax.get_visible()]
    figure.colorbar(mesh, ax=visible, label="mean P(class 1) over replicates", shrink=0.85)
    return figure


def grid_heatmap(
    cells: pd.DataFrame, best: Mapping[str, float], one_se: Mapping[str, float]
) -> Figure:
    """Return the width x noise heat-map of mean CV accuracy +- its SE, chosen cells boxed."""
    widths = sorted(cells["hidden_units"].unique())
    noises = sorted(cells["noise"].unique())
    table = cells.set_index(["hidden_units", "noise"])
    means = np.array([[table.loc[(w, n), "cv_mean"] for n in noises] for w in widths])
    figure, ax = plt.subplots(figsize=(1.2 * len(noises) + 2.5, 0.8 * len(widths) + 1.8))
    image = ax.imshow(means, cmap=SCORE_CMAP, aspect="auto", origin="lower")
    for i, w in enumerate(widths):
        for j, n in enumerate(noises):
            mean, se = table.loc[(w, n), "cv_mean"], table.loc[(w, n), "cv_se"]
            colour = "white" if mean < means.min() + 0.6 * (means.max() - means.min()) else "black"
            ax.text(
                j, i, f"{mean:.3f}\n+-{se:.3f}", ha="center", va="center", fontsize=7, color=colour
            )
    for cell, style, label in ((best, "-", "best"), (one_se, "--", "one-SE choice")):
        i, j = widths.index(cell["hidden_units"]), noises.index(cell["noise"])
        ax.add_patch(
            Rectangle(
                (j - 0.48, i - 0.48), 0.96, 0.96, fill=False, ec="red", lw=2, ls=style, label=label
            )
        )
    ax.set_xticks(range(len(noises)), [f"{n:g}" for n in noises])
    ax.set_yticks(range(len(widths)), [str(int(w)) for w in widths])
    ax.set_xlabel("hidden-noise stddev (GaussianNoise on the pre-activation)")
    ax.set_ylabel("hidden units")
    ax.legend(loc="upper left", bbox_to_anchor=(1.25, 1.0), fontsize=8)
    figure.colorbar(image, ax=ax, label="mean CV accuracy")
    ax.set_title("Grid search: CV accuracy (mean +- corrected SE)")
    return figure


def noise_sweep(points: pd.DataFrame) -> Figure:
    """Return test accuracy vs noise stddev per placement with CI bars, from stddev 0 up."""
    figure, ax = plt.subplots(figsize=(6.4, 4.0))
    for placement, frame in points.groupby("placement", sort=False):
        frame = frame.sort_values("stddev")
        low = frame["test_acc_mean"] - frame["test_acc_ci_low"].fillna(frame["test_acc_mean"])
        high = frame["test_acc_ci_high"].fillna(frame["test_acc_mean"]) - frame["test_acc_mean"]
        ax.errorbar(
            frame["stddev"],
            frame["test_acc_mean"],
            yerr=[low, high],
            marker="o",
            capsize=3,
            color=PLACEMENT_COLOURS.get(str(placement), "grey"),
            label=f"{placement} noise",
        )
    # Symmetric log: stddev 0 (no noise) sits on the axis with the log-spaced levels.
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xlabel("noise stddev (symmetric log scale; 0 = no noise)")
    ax.set_ylabel("test accuracy (mean, CI over replicates)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Noise sweep at the reference width")
    return figure


def paired_differences(rows: Sequence[Mapping[str, Any]], margin: float) -> Figure:
    """Return a forest plot of paired test-accuracy differences with their CIs, margin shaded.

    Rows are grouped by the noiseless reference they are paired with (one experiment each:
    placements against baseline, depth, data size), each group under a bold heading.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["compare_to"]), []).append(row)
    ticks: list[tuple[float, str, bool]] = []  # (y, label, is a heading)
    points: list[tuple[float, Mapping[str, Any]]] = []
    y = 0.0
    for reference, members in groups.items():
        ticks.append((y, f"vs {reference}", True))
        for row in members:
            y += 1.0
            ticks.append((y, str(row["variant"]), False))
            points.append((y, row))
        y += 1.3
    figure, ax = plt.subplots(figsize=(6.4, 0.32 * y + 1.3))
    ax.axvspan(-margin, margin, color="grey", alpha=0.25, lw=0)
    for row_y, row in points:
        mean, low, high = (
            float(row[k]) if row[k] is not None else float("nan")
            for k in ("diff", "ci_low", "ci_high")
        )
        ax.errorbar(
            [mean],
            [row_y],
            xerr=[[mean - low], [high - mean]],
            fmt="o",
            color="#0072B2",
            capsize=4,
        )
    ax.axvline(0.0, color="k", lw=1)
    ax.set_yticks([t[0] for t in ticks], [t[1] for t in ticks])
    for label, tick, (_, _, heading) in zip(
        ax.get_yticklabels(), ax.yaxis.get_major_ticks(), ticks, strict=True
    ):
        label.set_fontweight("bold" if heading else "normal")
        tick.tick1line.set_visible(not heading)
    ax.set_ylim(y - 0.8, -0.7)  # first group on top
    ax.set_xlabel(f"test accuracy difference, paired by seed (grey: within +-{margin:g})")
    ax.grid(alpha=0.3, axis="x")
    return figure

"""The experiments: variants x replicates, grid x folds x repeats, and the noise sweep.

Each function turns validated params and the split into members for the batched engine and
the engine's output into tidy pandas frames. Seeds follow common random numbers: replicate i
of every variant (and of the grid refit and the sweep) starts from the same initial weights
and sees the same noise stream, so differences between variants are paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from noisereg.data.reference import Split
from noisereg.engine import backends
from noisereg.engine import trainer as engine
from noisereg.engine.randomness import derive_seed
from noisereg.experiments.protocol import (
    correct_count,
    correct_points,
    fixed_split_seeds,
    log_loss,
    repeated_stratified_folds,
)
from noisereg.net import MLPWeights, Net, exact_logits, placement_net
from noisereg.params import ComputeParams, GridParams, Params, SweepParams, TrainParams


@dataclass(frozen=True)
class ReplicateRun:
    """One configuration trained over all replicate seeds."""

    per_seed: pd.DataFrame  # seed_set, replicate, init_seed, (train|test)_correct, n_*, test_loss,
    # test_points
    history: pd.DataFrame | None  # epoch, <column>, <column>_std; None when not kept
    weights: list[MLPWeights]


def score_seed(weights: MLPWeights, split: Split) -> dict[str, float | int | str]:
    """Return one replicate's correct counts, set sizes, test log-loss and per-point record.

    Machine-independent: every number comes from `exact_logits`.
    """
    train_logits = exact_logits(weights, split.x_train)
    test_logits = exact_logits(weights, split.x_test)
    return {
        "train_correct": correct_count(train_logits, split.y_train),
        "n_train": len(split.y_train),
        "test_correct": correct_count(test_logits, split.y_test),
        "n_test": len(split.y_test),
        "test_loss": log_loss(test_logits, split.y_test),
        "test_points": correct_points(test_logits, split.y_test),
    }


def train_replicates(
    split: Split,
    nets: list[Net],
    train: TrainParams,
    settings: ComputeParams,
    label: str,
    seed_set: int = 0,
    keep_history: bool = True,
) -> list[ReplicateRun]:
    """Return one ReplicateRun per net, each trained over the replicate seeds.

    All nets go to the engine in one call, so nets of one architecture and noise placements
    share a graph. `seed_set` 1 uses `train.replication_seed` as the root instead of
    `train.seed`: an independent seed set on which a verdict can be checked. It is its own
    engine call, so the primary results are the same with the replication on or off.
    Without `keep_history` the curves are logged only for progress and not returned.
    """
    all_train, all_test = tuple(range(len(split.y_train))), tuple(range(len(split.y_test)))
    root = train.seed if seed_set == 0 else train.replication_seed
    if root is None:
        raise ValueError("seed set 1 needs train.replication_seed")
    seeds = [fixed_split_seeds(root, r) for r in range(train.replicates)]
    members = [
        engine.Member(net, init, noise, all_train, all_test)
        for net in nets
        for init, noise in seeds
    ]
    result = backends.train(
        members,
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        train if keep_history else engine.progress_only(train),
        settings,
        label,
    )
    runs = []
    for c in range(len(nets)):
        block = slice(c * train.replicates, (c + 1) * train.replicates)
        weights = result.weights[block]
        rows = [
            {"seed_set": seed_set, "replicate": r, "init_seed": seeds[r][0], **score_seed(w, split)}
            for r, w in enumerate(weights)
        ]
        history = _history(result, block) if keep_history else None
        runs.append(ReplicateRun(pd.DataFrame(rows), history, weights))
    return runs


def _history(result: engine.TrainResult, block: slice) -> pd.DataFrame:
    """Return the logged curves of one configuration's replicates: mean and std per epoch."""
    history = {"epoch": result.logged_epochs}
    for column in engine.HISTORY_COLUMNS:
        values = result.history[column][block].astype(np.float64)
        history[column] = values.mean(axis=0)
        n_seeds = values.shape[0]
        history[f"{column}_std"] = (
            values.std(axis=0, ddof=1) if n_seeds > 1 else np.zeros(values.shape[1])
        )
    return pd.DataFrame(history)


@dataclass(frozen=True)
class GridResult:
    """Cell table of the CV grid, the chosen cells, and their refit test runs."""

    cells: pd.DataFrame  # hidden_units, noise, cv_correct, cv_points, cv_mean, cv_std, cv_se
    scores: pd.DataFrame  # hidden_units, noise, repeat, fold, correct, n_val
    best: dict[str, float]
    one_se: dict[str, float]
    refits: dict[str, ReplicateRun]


def cell_table(scores: pd.DataFrame, n_points: int) -> pd.DataFrame:
    """Return one row per (hidden_units, noise): pooled correct counts, mean, std and SE.

    The J fold scores of a cell reuse the same points, so std / sqrt(J) understates the
    uncertainty; the corrected resampled SE (Nadeau & Bengio 2003) accounts for the overlap.
    """
    frame = scores.assign(acc=scores["correct"] / scores["n_val"])
    cells = (
        frame.groupby(["hidden_units", "noise"], sort=True)
        .agg(
            cv_correct=("correct", "sum"),
            cv_points=("n_val", "sum"),
            cv_std=("acc", "std"),
            n_scores=("acc", "count"),
        )
        .reset_index()
    )
    cells["cv_mean"] = cells["cv_correct"] / cells["cv_points"]
    cells["cv_std"] = cells["cv_std"].fillna(0.0)
    n_val = cells["cv_points"] / cells["n_scores"]
    cells["cv_se"] = cells["cv_std"] * np.sqrt(1 / cells["n_scores"] + n_val / (n_points - n_val))
    return cells


def choose_cells(cells: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Return the best cell and the one-standard-error cell.

    Cells are compared by their pooled correct counts (exact integers; every cell is scored
    on the same folds). Best: most correct, then the narrowest net, then the least noise.
    One-SE rule: among cells within one standard error of the best, take the narrowest net,
    then the most noise (the most regularized), as the simplest choice.
    """
    best_row = cells.sort_values(
        ["cv_correct", "hidden_units", "noise"], ascending=[False, True, True]
    ).iloc[0]
    slack = best_row["cv_se"] * best_row["cv_points"]  # one SE, in correct counts
    eligible = cells[cells["cv_correct"] >= best_row["cv_correct"] - slack]
    one_se_row = eligible.sort_values(["hidden_units", "noise"], ascending=[True, False]).iloc[0]
    keys = ["hidden_units", "noise", "cv_mean", "cv_std", "cv_se"]
    return (
        {k: float(best_row[k]) for k in keys},
        {k: float(one_se_row[k]) for k in keys},
    )


def run_grid(split: Split, params: Params) -> GridResult:
    """Return the CV grid: every width x noise cell scored, cells chosen, chosen ones refit."""
    grid, train = params.grid, params.train
    members, keys = grid_members(split.y_train, grid)
    result = backends.train(
        members,
        split.x_train,
        split.y_train,
        split.x_train,
        split.y_train,
        engine.progress_only(train),  # scored from the final weights alone
        params.compute,
        "grid_search",
    )
    scores = pd.DataFrame(keys, columns=["hidden_units", "noise", "repeat", "fold"])
    scores["correct"] = [
        correct_count(
            exact_logits(w, split.x_train[list(m.val_rows)]), split.y_train[list(m.val_rows)]
        )
        for w, m in zip(result.weights, members, strict=True)
    ]
    scores["n_val"] = [len(m.val_rows) for m in members]
    cells = cell_table(scores, len(split.y_train))
    best, one_se = choose_cells(cells)
    chosen = {"best": best, "one_se": one_se}
    nets = [Net.of(int(c["hidden_units"]), hidden_stddev=c["noise"]) for c in chosen.values()]
    runs = train_replicates(
        split, nets, train, params.compute, "grid_search refit", keep_history=False
    )
    return GridResult(cells, scores, best, one_se, dict(zip(chosen, runs, strict=True)))


def grid_members(
    y_train: np.ndarray, grid: GridParams, widths: Sequence[int] | None = None
) -> tuple[list[engine.Member], list[tuple[int, float, int, int]]]:
    """Return the CV models of every grid cell and their (width, stddev, repeat, fold).

    A (repeat, fold) has the same seeds in every cell, so cell differences are paired and
    one fold's models at every stddev of a width share their noise draws.
    """
    folds = repeated_stratified_folds(y_train, grid.cv_folds, grid.cv_repeats, grid.seed)
    members, keys = [], []
    for width in grid.hidden_units if widths is None else widths:
        for stddev in grid.stddevs:
            for repeat, fold, train_idx, val_idx in folds:
                init = derive_seed(grid.seed, repeat, fold, 0)
                noise = derive_seed(grid.seed, repeat, fold, 1)
                members.append(
                    engine.Member(
                        Net.of(width, hidden_stddev=stddev),
                        init,
                        noise,
                        tuple(map(int, train_idx)),
                        tuple(map(int, val_idx)),
                    )
                )
                keys.append((width, stddev, repeat, fold))
    return members, keys


def sweep_configs(sweep: SweepParams) -> list[tuple[str, float, Net]]:
    """Return (placement, stddev, net) for every sweep point at the sweep's width."""
    return [
        (placement, s, placement_net(sweep.hidden_units, placement, s))
        for placement in sweep.placements
        for s in sweep.stddevs
    ]


def run_sweep(split: Split, params: Params) -> pd.DataFrame:
    """Return one row per replicate of every (placement, stddev) sweep point."""
    points = sweep_configs(params.sweep)
    nets = [net for _, _, net in points]
    runs = train_replicates(split, nets, params.train, params.compute, "sweep", keep_history=False)
    frames = []
    for (placement, stddev, _), run in zip(points, runs, strict=True):
        frame = run.per_seed.copy()
        frame.insert(0, "stddev", stddev)
        frame.insert(0, "placement", placement)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)

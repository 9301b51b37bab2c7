"""The benefit map's experiment: noise against no noise on fresh training draws.

For one dataset and every training-set size, replicate r draws its own training set
(`draw_seed`), and every model of replicate r (no noise, each placement x stddev) trains
on that draw from the same initial weights with the same noise stream, so each benefit is
a paired difference over draws, weights and noise together. Every model is scored on one
large test set drawn per dataset, and on its own training draw, at the end of its run and
at each of `checkpoints` (weights kept during the same run), so training length is an axis
of the map at no extra training. Separately, a stratified CV on each
training draw chooses the `cv_placement` stddev that the learning curves use, so the
recommended level never sees the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from noisereg.data.synthetic import generate
from noisereg.engine import backends
from noisereg.engine import trainer as engine
from noisereg.engine.randomness import derive_seed
from noisereg.experiments.fresh_draws import (
    fresh_draw_optimization,
    fresh_draw_seeds,
    test_seed,
    training_draws,
)
from noisereg.experiments.protocol import (
    correct_count,
    test_scores,
)
from noisereg.net import Net, exact_logits, placement_net
from noisereg.params import NONE, Params

SAMPLE_POINTS = 300  # test points kept for the report's scatter of each dataset


@dataclass(frozen=True)
class DatasetMap:
    """One dataset's per-replicate results: map cells, CV fold scores, a sample of points."""

    replicates: pd.DataFrame  # n_train, placement, stddev, replicate, steps, test_correct, ...
    cv: pd.DataFrame  # n_train, replicate, stddev, fold, correct, n_val
    sample: pd.DataFrame  # x1, x2, label


def cells(params: Params) -> list[tuple[str, float, Net]]:
    """Return (placement, stddev, net) of every map cell at one size; no noise first.

    A stddev of 0 at any placement is the noiseless net itself (the same model, so its
    benefit is exactly 0).
    """
    bm = params.benefit_map
    return [(NONE, 0.0, Net.of(bm.hidden_units))] + [
        (placement, stddev, placement_net(bm.hidden_units, placement, stddev))
        for placement in bm.placements
        for stddev in bm.stddevs
    ]


def run_dataset(params: Params, name: str) -> DatasetMap:
    """Return every cell's per-replicate test scores and the CV fold scores of one dataset."""
    bm = params.benefit_map
    test_x, test_y = generate(params.datasets, name, bm.test_points, test_seed(bm.seed))
    replicate_frames, cv_frames = [], []
    for n_train in bm.sizes:
        draws = training_draws(params, name, n_train)
        pool_x = np.concatenate([x for x, _ in draws]).astype(np.float32)
        pool_y = np.concatenate([y for _, y in draws]).astype(np.float32)
        rows = [tuple(range(r * n_train, (r + 1) * n_train)) for r in range(bm.replicates)]
        label = f"benefit_map@{name} n={n_train}"
        replicate_frames.append(
            _map_cells(params, n_train, pool_x, pool_y, rows, test_x, test_y, label)
        )
        cv_frames.append(_cv_scores(params, n_train, pool_x, pool_y, rows, f"{label} CV"))
    sample = pd.DataFrame(
        {
            "x1": test_x[:SAMPLE_POINTS, 0],
            "x2": test_x[:SAMPLE_POINTS, 1],
            "label": test_y[:SAMPLE_POINTS],
        }
    )
    return DatasetMap(
        pd.concat(replicate_frames, ignore_index=True),
        pd.concat(cv_frames, ignore_index=True),
        sample,
    )


def _train(
    params: Params,
    members: list[engine.Member],
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    batch: int,
    label: str,
    checkpoints: tuple[int, ...] = (),
) -> engine.TrainResult:
    """Train members on rows of the pool (full batch of `batch` rows), validating on it too;
    keep the weights at `checkpoints` as well."""
    opt = fresh_draw_optimization(params, batch)
    return backends.train(
        members,
        pool_x,
        pool_y,
        pool_x,
        pool_y,
        opt,
        params.compute,
        label,
        checkpoints=checkpoints,
    )


def map_members(params: Params, rows: list[tuple[int, ...]]) -> list[engine.Member]:
    """Return one member per distinct net of the cells and replicate, replicate r on rows[r].

    Every net of replicate r trains on the same draw with the same initial weights and
    noise stream: the differences between cells are paired.
    """
    bm = params.benefit_map
    nets = dict.fromkeys(net for _, _, net in cells(params))
    seeds = [fresh_draw_seeds(bm.seed, r) for r in range(bm.replicates)]
    return [
        engine.Member(net, init, noise, rows[r], rows[r][:1])
        for net in nets
        for r, (init, noise) in enumerate(seeds)
    ]


def _map_cells(
    params: Params,
    n_train: int,
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    rows: list[tuple[int, ...]],
    test_x: np.ndarray,
    test_y: np.ndarray,
    label: str,
) -> pd.DataFrame:
    """Train every distinct net of the size's cells on each replicate's draw; score each on
    test and on its own draw at the end of the run and at every checkpoint."""
    bm = params.benefit_map
    configs = cells(params)
    nets = list(dict.fromkeys(net for _, _, net in configs))
    members = map_members(params, rows)
    result = _train(params, members, pool_x, pool_y, n_train, label, bm.checkpoints)
    lengths = {**{c: result.snapshots[c] for c in bm.checkpoints}, bm.epochs: result.weights}
    records = []
    for steps, weights in lengths.items():
        scores = [
            {
                **test_scores(exact_logits(w, test_x), test_y),
                "train_correct": correct_count(
                    exact_logits(w, pool_x[list(m.train_rows)]), pool_y[list(m.train_rows)]
                ),
            }
            for w, m in zip(weights, members, strict=True)
        ]
        for placement, stddev, net in configs:
            first = nets.index(net) * bm.replicates
            for r in range(bm.replicates):
                records.append(
                    {
                        "n_train": n_train,
                        "placement": placement,
                        "stddev": stddev,
                        "replicate": r,
                        "steps": steps,
                        **scores[first + r],
                    }
                )
    return pd.DataFrame(records)


def _cv_scores(
    params: Params,
    n_train: int,
    pool_x: np.ndarray,
    pool_y: np.ndarray,
    rows: list[tuple[int, ...]],
    label: str,
) -> pd.DataFrame:
    """Return the validation correct counts of every CV fold model of each replicate's draw.

    Candidates are no noise and each mapped stddev at `cv_placement`; a fold's models share
    initial weights and noise stream, so the candidates are compared paired.
    """
    bm = params.benefit_map
    stddevs = (0.0, *bm.stddevs) if 0.0 not in bm.stddevs else bm.stddevs
    members, keys = [], []
    for r in range(bm.replicates):
        init, noise = fresh_draw_seeds(bm.seed, r)
        draw = np.asarray(rows[r])
        folds = StratifiedKFold(
            n_splits=bm.cv_folds, shuffle=True, random_state=derive_seed(bm.seed, 2, n_train, r)
        ).split(np.zeros((len(draw), 1)), pool_y[draw])
        for fold, (train_idx, val_idx) in enumerate(folds):
            for stddev in stddevs:
                members.append(
                    engine.Member(
                        placement_net(bm.hidden_units, bm.cv_placement, stddev),
                        derive_seed(init, fold),
                        derive_seed(noise, fold),
                        tuple(map(int, draw[train_idx])),
                        tuple(map(int, draw[val_idx])),
                    )
                )
                keys.append((n_train, r, stddev, fold))
    fold_train = max(len(m.train_rows) for m in members)
    result = _train(params, members, pool_x, pool_y, fold_train, label)
    frame = pd.DataFrame(keys, columns=["n_train", "replicate", "stddev", "fold"])
    frame["correct"] = [
        correct_count(exact_logits(w, pool_x[list(m.val_rows)]), pool_y[list(m.val_rows)])
        for w, m in zip(result.weights, members, strict=True)
    ]
    frame["n_val"] = [len(m.val_rows) for m in members]
    return frame

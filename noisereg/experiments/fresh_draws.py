"""What the studies on fresh draws share: their seeds, training draws and test set, and
how their nets train. Only the benefit map and the regularizer comparison import this, so
editing a generator reruns only their stages.
"""

from __future__ import annotations

import numpy as np

from noisereg.data.synthetic import generate
from noisereg.engine.randomness import derive_seed
from noisereg.params import Optimization, Params


def fresh_draw_seeds(root: int, replicate: int) -> tuple[int, int]:
    """Return (init_seed, noise_seed) of replicate r on fresh draws: every cell of every size."""
    return derive_seed(root, replicate, 1), derive_seed(root, replicate, 2)


def draw_seed(root: int, n_train: int, replicate: int) -> int:
    """Return the seed of replicate r's training draw of n_train points."""
    return derive_seed(root, 0, n_train, replicate)


def test_seed(root: int) -> int:
    """Return the seed of a dataset's test draw (distinct from every training draw)."""
    return derive_seed(root, 1)


def training_draws(params: Params, name: str, n_train: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return each replicate's own training draw (x, y) of n_train points of a dataset."""
    bm = params.benefit_map
    return [
        generate(params.datasets, name, n_train, draw_seed(bm.seed, n_train, r))
        for r in range(bm.replicates)
    ]


def fresh_draw_optimization(params: Params, n_train: int) -> Optimization:
    """Return how nets train on fresh draws: full-batch Adam for benefit_map.epochs, one log."""
    train, epochs = params.train, params.benefit_map.epochs
    return Optimization(
        epochs=epochs,
        batch_size=n_train,
        learning_rate=train.learning_rate,
        beta_1=train.beta_1,
        beta_2=train.beta_2,
        epsilon=train.epsilon,
        log_every=epochs,
        shuffle=False,
    )

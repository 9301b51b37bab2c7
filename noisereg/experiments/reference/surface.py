"""Decision surfaces: mean predicted probability over replicates on a grid of inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from noisereg.data.reference import Split
from noisereg.net import MLPWeights, exact_logits, predict_logits

Logits = Callable[[MLPWeights, np.ndarray], np.ndarray]

# Resolution of the surface saved for `dvc plots show` (the report draws its own, finer one).
PLOT_RESOLUTION = 41


def axes_for(split: Split, resolution: int, margin: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Return grid coordinates (xs, ys) covering every train and test point plus a margin."""
    points = np.concatenate([split.x_train, split.x_test])
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    return (
        np.linspace(low[0], high[0], resolution),
        np.linspace(low[1], high[1], resolution),
    )


def decision_surface(
    weights: Sequence[MLPWeights],
    xs: np.ndarray,
    ys: np.ndarray,
    logits: Logits = predict_logits,
) -> np.ndarray:
    """Return mean predicted probability Z with Z[i, j] at (xs[j], ys[i]) (pcolormesh order).

    The reference filled Z[ix, iy] and drew it as Z[iy, ix], transposing the map; here the
    grid is built with meshgrid's default 'xy' indexing and predicted in one batched call
    per replicate. `logits` picks the evaluation: BLAS float32 for the report's figures,
    `exact_logits` where the numbers land in a tracked file.
    """
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(np.float32)
    total = np.zeros(len(points), np.float64)
    for w in weights:
        total += 1.0 / (1.0 + np.exp(-logits(w, points).astype(np.float64)))
    return (total / len(weights)).reshape(grid_x.shape)


def surface_frame(weights: Sequence[MLPWeights], split: Split) -> pd.DataFrame:
    """Return the surface as rows of (x1, x2, probability), the form `dvc plots` reads."""
    xs, ys = axes_for(split, PLOT_RESOLUTION)
    z = decision_surface(weights, xs, ys, exact_logits)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return pd.DataFrame(
        {
            "x1": grid_x.ravel().round(4),
            "x2": grid_y.ravel().round(4),
            "probability": z.ravel().round(4),
        }
    )

"""Synthetic 2-D binary problems for the benefit map: one generator per `datasets` entry.

Every generator is deterministic in its seed, returns classes of n // 2 and n - n // 2
points (balanced) in a shuffled order, and is named in `params.yaml` with its own settings.
They span the kinds of boundary a small ReLU net meets: curved and closed (circles), curved
and interleaved (moons), axis-aligned checkerboard (xor), strongly non-convex (spirals), and
linear with irreducible error (blobs, where a wide net should not need noise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.datasets import make_circles, make_moons

from noisereg.params import DatasetsParams

# The corners of the XOR layout, two per class.
XOR_CENTRES = {0: ((1.0, 1.0), (-1.0, -1.0)), 1: ((1.0, -1.0), (-1.0, 1.0))}


def class_sizes(n: int) -> tuple[int, int]:
    """Return the balanced class counts of an n-point draw (class 1 gets the odd point)."""
    return n // 2, n - n // 2


def generate(
    datasets: DatasetsParams, name: str, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return n points [n, 2] (float64) and 0/1 labels [n] of one named dataset."""
    if n < 2:
        raise ValueError(f"a draw needs >= 2 points (one per class), got {n}")
    n0, n1 = class_sizes(n)
    x, y = GENERATORS[name](n0, n1, getattr(datasets, name), seed)
    order = np.random.default_rng([seed, 1]).permutation(n)
    return np.asarray(x, np.float64)[order], np.asarray(y, np.int64)[order]


def _circles(n0: int, n1: int, settings: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return make_circles((n0, n1), factor=settings.factor, noise=settings.noise, random_state=seed)


def _moons(n0: int, n1: int, settings: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return make_moons((n0, n1), noise=settings.noise, random_state=seed)


def _xor(n0: int, n1: int, settings: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for label, count in ((0, n0), (1, n1)):
        first, second = XOR_CENTRES[label]
        centres = np.array([first] * (count // 2) + [second] * (count - count // 2))
        points.append(centres + settings.spread * rng.standard_normal((count, 2)))
        labels.append(np.full(count, label))
    return np.concatenate(points), np.concatenate(labels)


def _spirals(n0: int, n1: int, settings: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for label, count in ((0, n0), (1, n1)):
        # The radius grows linearly with the angle; class 1 is class 0 turned by half a turn.
        radius = rng.uniform(0.05, 1.0, count)
        angle = 2 * np.pi * settings.turns * radius + np.pi * label
        arm = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        points.append(arm + settings.noise * rng.standard_normal((count, 2)))
        labels.append(np.full(count, label))
    return np.concatenate(points), np.concatenate(labels)


def _blobs(n0: int, n1: int, settings: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for label, count in ((0, n0), (1, n1)):
        mean = np.array([(label - 0.5) * settings.separation, 0.0])
        points.append(mean + rng.standard_normal((count, 2)))
        labels.append(np.full(count, label))
    return np.concatenate(points), np.concatenate(labels)


# name -> generator(n0, n1, settings, seed): a new dataset is a settings model in
# noisereg/params/sections.py (a field of DatasetsParams) and one entry here.
GENERATORS: dict[str, Callable[[int, int, Any, int], tuple[np.ndarray, np.ndarray]]] = {
    "circles": _circles,
    "moons": _moons,
    "xor": _xor,
    "spirals": _spirals,
    "blobs": _blobs,
}

"""Per-seed frames with per-point records, for summaries that resample test points."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def record(correct: int, n_test: int) -> str:
    """Return a per-point record with the first `correct` of `n_test` points right.

    Nested records make paired differences simple to know: a seed that gets k points right
    is right on every point a seed with fewer gets right.
    """
    if not 0 <= correct <= n_test:
        raise ValueError(f"{correct} correct of {n_test} points")
    return "1" * correct + "0" * (n_test - correct)


def per_seed_frame(
    test_correct: Sequence[int],
    seed_set: int = 0,
    n_test: int = 70,
    train_correct: int | Sequence[int] = 29,
    n_train: int = 30,
    test_loss: float | Sequence[float] = 0.4,
) -> pd.DataFrame:
    """Return a train stage's per-seed rows (plots/replicates/<name>.csv) for these counts."""
    return pd.DataFrame(
        {
            "seed_set": seed_set,
            "replicate": range(len(test_correct)),
            "init_seed": range(len(test_correct)),
            "train_correct": train_correct,
            "n_train": n_train,
            "test_correct": list(test_correct),
            "n_test": n_test,
            "test_loss": test_loss,
            "test_points": [record(k, n_test) for k in test_correct],
        }
    )

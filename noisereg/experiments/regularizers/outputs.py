"""The regularizer comparison's output contract: where its stage writes what; how to read it.

Imports no TensorFlow, so the stages that only read results start quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from noisereg.io import atomic_dir, read_csv, write_csv

if TYPE_CHECKING:  # the result type only; importing run would load TensorFlow
    from noisereg.experiments.regularizers.run import Comparison

REGULARIZERS_DIR = Path("plots") / "regularizers"
REGULARIZERS_PLOT_PATH = Path("plots") / "regularizers.csv"
REGULARIZERS_METRICS_PATH = Path("metrics") / "regularizers.json"
REGULARIZERS_RANKING_PATH = Path("plots") / "regularizers_ranking.json"
REGULARIZER_COLUMNS = {
    "cv": ["method", "value", "cv_correct", "cv_loss", "dataset"],
    "chosen": [
        "method",
        "value",
        "epochs",
        "best_non_noise",
        "cv_correct",
        "cv_loss",
        "dataset",
    ],
    "per_seed": [
        "method",
        "replicate",
        "test_correct",
        "n_test",
        "test_loss",
        "test_ece",
        "dataset",
    ],
    # The fixed split's per-point records ('0'/'1' per test point): intervals resample them.
    "test_points": ["method", "replicate", "test_points", "dataset"],
}
TEXT_COLUMNS = ("test_points",)  # read as written: '0110' is not the number 110


def _check(frame: pd.DataFrame) -> None:
    """Raise ValueError when the per-point records differ in length or hold other than 0/1."""
    if "test_points" in frame.columns:
        records = frame["test_points"]
        lengths = records.str.len()
        if (lengths != lengths.iloc[0]).any() or records.str.fullmatch("[01]+").eq(False).any():
            raise ValueError("test_points records differ in length or hold other than 0/1")


REGULARIZER_TABLE_COLUMNS = [
    "dataset",
    "method",
    "value",
    "best_non_noise",
    "noise",
    "cv_correct",
    "cv_loss",
    "test_acc",
    *(f"diff_{k}{end}" for k in ("vs_none", "vs_best") for end in ("", "_low", "_high")),
    "primary",
    "borderline",  # a primary verdict the bootstrap's Monte Carlo error could flip
    "rank",  # and decision_low/high, verdict (a code) and mde: set on the primary rows only
]


def write_comparison(result: Comparison) -> None:
    """Write the comparison's CV scores, chosen settings, per-seed scores and point records."""
    with atomic_dir(REGULARIZERS_DIR) as directory:
        for name in REGULARIZER_COLUMNS:
            write_csv(directory / f"{name}.csv", getattr(result, name))


def read_comparison() -> dict[str, pd.DataFrame]:
    """Return the regularizers stage's frames by name (cv, chosen, per_seed, test_points)."""
    return {
        name: read_csv(
            REGULARIZERS_DIR / f"{name}.csv", "regularizers", columns, TEXT_COLUMNS, _check
        )
        for name, columns in REGULARIZER_COLUMNS.items()
    }

"""The benefit map's output contract: where its stages write what, and how it is read back.

Imports no TensorFlow, so the stages that only read results start quickly.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from noisereg.io import atomic_dir, read_csv, write_csv

if TYPE_CHECKING:  # the result type only; importing run would load TensorFlow
    from noisereg.experiments.benefit_map.run import DatasetMap

BENEFIT_DIR = Path("plots") / "benefit"
BENEFIT_MAP_PATH = Path("plots") / "benefit_map.csv"
BENEFIT_CURVES_PATH = Path("plots") / "benefit_curves.csv"
BENEFIT_LENGTHS_PATH = Path("plots") / "benefit_lengths.csv"
BENEFIT_METRICS_PATH = Path("metrics") / "benefit_map.json"
BENEFIT_REPLICATE_COLUMNS = [
    "n_train",
    "placement",
    "stddev",
    "replicate",
    "steps",  # training length at which the model is scored (a checkpoint or the end)
    "test_correct",
    "n_test",
    "test_loss",
    "test_ece",
    "train_correct",  # correct on its own training draw (n_train points)
]
BENEFIT_MAP_COLUMNS = [
    "dataset",
    "n_train",
    "placement",
    "stddev",
    "replicates",
    *(f"{m}_diff{end}" for m in ("acc", "loss", "ece") for end in ("", "_low", "_high")),
    # The accuracy gain's family-wise decision interval, verdict code and MDE (stats.judge).
    "acc_decision_low",
    "acc_decision_high",
    "acc_verdict",
    "acc_mde",
]
BENEFIT_CURVE_COLUMNS = [
    "dataset",
    "n_train",
    *(f"{k}_acc{end}" for k in ("none", "cv", "gain") for end in ("", "_low", "_high")),
    "cv_noisy_share",
    "cv_median_stddev",
]
BENEFIT_LENGTH_COLUMNS = [
    "dataset",
    "n_train",
    "placement",
    "stddev",
    "steps",
    "replicates",
    "acc_diff",
    "acc_diff_low",
    "acc_diff_high",
    "none_test_acc",
    "none_train_acc",
    "train_acc",
]
BENEFIT_CV_COLUMNS = ["n_train", "replicate", "stddev", "fold", "correct", "n_val"]


def write_dataset(name: str, result: DatasetMap) -> None:
    """Write one dataset's map cells, CV scores and scatter sample, replacing its directory."""
    with atomic_dir(BENEFIT_DIR / name) as directory:
        write_csv(directory / "replicates.csv", result.replicates)
        write_csv(directory / "cv.csv", result.cv)
        write_csv(directory / "sample.csv", result.sample)


def read_dataset(name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return one dataset's (replicates, cv, sample) frames as benefit_map@<name> wrote them."""
    directory, producer = BENEFIT_DIR / name, f"benefit_map@{name}"
    return (
        read_csv(directory / "replicates.csv", producer, BENEFIT_REPLICATE_COLUMNS),
        read_csv(directory / "cv.csv", producer, BENEFIT_CV_COLUMNS),
        read_csv(directory / "sample.csv", producer, ["x1", "x2", "label"]),
    )

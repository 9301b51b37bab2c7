"""The datasets: make_circles, the reference's 30/70 split, a larger draw, CSV round-trips.

`reference` is the reference study's 100 points (30 train / 70 test); `large` draws
`data.large_n_samples` points from the same generator and splits them the same way, a
setting where the net no longer overfits much.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from noisereg.io import InputError, read_csv, write_csv
from noisereg.params import DataParams

COLUMNS = ["x1", "x2", "label"]


@dataclass(frozen=True)
class Split:
    """Float32 features and 0/1 labels of the train and test sets."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def dataset_dir(dataset: str) -> Path:
    """Return the directory holding a dataset's train.csv and test.csv."""
    return Path("data") / dataset


def dataset_size(params: DataParams, dataset: str) -> int:
    """Return how many points a dataset draws in total."""
    return params.n_samples if dataset == "reference" else params.large_n_samples


def make_split(params: DataParams, dataset: str = "reference") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (train, test) frames exactly as the reference draws and splits them."""
    # Imported here: scikit-learn (with SciPy) is ~1.4 s of a process start, and the
    # stages that only load a split (sweep, train, report) never need it.
    from sklearn.datasets import make_circles
    from sklearn.model_selection import train_test_split

    x, y = make_circles(
        n_samples=dataset_size(params, dataset),
        noise=params.noise,
        random_state=params.random_state,
    )
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=params.test_size, random_state=params.split_random_state
    )
    return _frame(x_train, y_train), _frame(x_test, y_test)


def _frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": y.astype(int)})


def save_split(train: pd.DataFrame, test: pd.DataFrame, directory: Path) -> None:
    """Write train.csv and test.csv (full float precision, so reloading is exact)."""
    write_csv(directory / "train.csv", train, exact=True)
    write_csv(directory / "test.csv", test, exact=True)


def load_split(directory: Path) -> Split:
    """Return the split read from train.csv and test.csv (data stage), contents validated."""
    frames = [read_csv(directory / f"{name}.csv", "data", COLUMNS) for name in ("train", "test")]
    for name, frame in zip(("train", "test"), frames, strict=True):
        if not frame["label"].isin([0, 1]).all():
            raise InputError(
                f"{directory / name}.csv: labels must be 0 or 1; rerun the 'data' stage"
            )
    train, test = frames
    return Split(
        x_train=train[["x1", "x2"]].to_numpy(np.float32),
        y_train=train["label"].to_numpy(np.float32),
        x_test=test[["x1", "x2"]].to_numpy(np.float32),
        y_test=test["label"].to_numpy(np.float32),
    )

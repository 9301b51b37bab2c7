"""The dataset matches the reference: make_circles(100, 0.1, seed 1), split 30/70 with seed 42."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_circles
from sklearn.model_selection import train_test_split

from noisereg.data.reference import load_split, make_split, save_split
from noisereg.io import InputError
from noisereg.params import Params


def test_split_sizes_and_columns(default_params: Params) -> None:
    train, test = make_split(default_params.data)
    assert train.shape == (30, 3) and test.shape == (70, 3)
    assert list(train.columns) == ["x1", "x2", "label"]
    assert set(train["label"]) | set(test["label"]) == {0, 1}


def test_classes_balanced_overall(default_params: Params) -> None:
    train, test = make_split(default_params.data)
    labels = np.concatenate([train["label"], test["label"]])
    assert (labels == 1).sum() == 50


def test_split_matches_sklearn_indices(default_params: Params) -> None:
    x, y = make_circles(n_samples=100, noise=0.1, random_state=1)
    index_train, index_test = train_test_split(np.arange(100), test_size=0.7, random_state=42)
    train, test = make_split(default_params.data)
    np.testing.assert_array_equal(train[["x1", "x2"]].to_numpy(), x[index_train])
    np.testing.assert_array_equal(test["label"].to_numpy(), y[index_test])


def test_csv_round_trip_is_exact(default_params: Params, tmp_path: Path) -> None:
    train, test = make_split(default_params.data)
    save_split(train, test, tmp_path)
    loaded = load_split(tmp_path)
    np.testing.assert_array_equal(loaded.x_train, train[["x1", "x2"]].to_numpy(np.float32))
    assert not list(tmp_path.glob("*.partial"))


def test_missing_and_corrupt_data_files_name_the_file(
    default_params: Params, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match=r"train\.csv: missing.*'data' stage"):
        load_split(tmp_path)
    train, test = make_split(default_params.data)
    save_split(train, test, tmp_path)
    (tmp_path / "test.csv").write_text("x1,x2\n0.1,")
    with pytest.raises(InputError, match=r"test\.csv: unreadable or corrupt"):
        load_split(tmp_path)


def test_large_split_and_label_check(default_params: Params, tmp_path: Path) -> None:
    train, test = make_split(default_params.data, "large")
    assert (len(train), len(test)) == (300, 700)  # 1000 points, test_size 0.7
    small_train, _ = make_split(default_params.data, "reference")
    assert not train[["x1", "x2"]].head(30).equals(small_train[["x1", "x2"]])
    train.loc[0, "label"] = 2
    save_split(train, test, tmp_path)
    with pytest.raises(InputError, match=r"train\.csv: labels must be 0 or 1"):
        load_split(tmp_path)

"""Shared fixtures: the reference split, tiny params, and the tiny study's built pipeline."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from noisereg.data.reference import Split, make_split
from noisereg.net import MLPWeights
from noisereg.params import Params, parse_params
from tests.tiny_pipeline import ROOT, shared_build


@pytest.fixture(scope="session")
def default_raw() -> dict[str, Any]:
    """The committed params.yaml as a plain mapping."""
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture(scope="session")
def default_params(default_raw: dict[str, Any]) -> Params:
    return parse_params(default_raw)


def tiny_raw(default: dict[str, Any]) -> dict[str, Any]:
    """Params small enough for a full pipeline run in well under a minute."""
    raw = copy.deepcopy(default)
    raw["train"].update(epochs=40, replicates=3, log_every=10)
    raw["grid"].update(hidden_units=[8, 16], stddevs=[0.0, 0.5], cv_folds=3, cv_repeats=1)
    raw["sweep"].update(hidden_units=16, stddevs=[0.5])
    raw["report"].update(heatmap_resolution=30)
    raw["data"].update(large_n_samples=100)
    # One variant of each kind the pipeline must handle: noisy vs baseline, and a deeper
    # net compared with its own noiseless reference.
    keep = ("baseline", "input_noise", "hidden_noise", "deep_baseline", "deep_hidden_all")
    raw["variants"] = {name: raw["variants"][name] for name in keep}
    for name in ("baseline", "input_noise", "hidden_noise"):
        raw["variants"][name]["hidden_units"] = 16
    for name in ("deep_baseline", "deep_hidden_all"):
        raw["variants"][name]["hidden_units"] = [8, 8]
    raw["report"].update(bootstrap_resamples=1000)
    raw["benefit_map"].update(
        datasets=["circles", "xor"],
        sizes=[8],
        stddevs=[0.5],
        replicates=3,
        hidden_units=8,
        epochs=20,
        checkpoints=[10],
        test_points=200,
        cv_folds=2,
    )
    # Two candidates per method, one fresh-draw dataset of 12 points.
    raw["regularizers"].update(datasets=["xor"], n_train=12, replicates=3, cv_folds=3)
    candidates = raw["regularizers"]["candidates"]
    raw["regularizers"]["candidates"] = {
        method: values[:2] for method, values in candidates.items()
    }
    return raw


@pytest.fixture(scope="session")
def tiny_params(default_raw: dict[str, Any]) -> Params:
    """The tiny params (`tiny_raw`) validated: the one place tests shrink the study."""
    return parse_params(tiny_raw(default_raw))


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory, default_raw: dict[str, Any]) -> Path:
    """The tiny study's git + DVC repo after its first `dvc repro`, built once per run.

    Shared by every test and worker that asks (tests/tiny_pipeline.py): copy it before
    editing anything (`tiny_pipeline.copy_repo`).
    """
    return shared_build(tmp_path_factory, tiny_raw(default_raw))


@pytest.fixture(scope="session")
def split(default_params: Params) -> Split:
    """The reference's 30/70 split as float32 arrays."""
    train, test = make_split(default_params.data)
    return Split(
        train[["x1", "x2"]].to_numpy("float32"),
        train["label"].to_numpy("float32"),
        test[["x1", "x2"]].to_numpy("float32"),
        test["label"].to_numpy("float32"),
    )


def assert_same_weights(ours: Sequence[MLPWeights], theirs: Sequence[MLPWeights]) -> None:
    """Assert two lists of nets hold bit-identical kernels and biases, net by net."""
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a.as_list(), b.as_list(), strict=True):
            np.testing.assert_array_equal(x, y)


def run_stage_in(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m stages.<x> ...` in workdir against this checkout's library."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the stage's only `error ...` line on stderr (and assert there is exactly one)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return errors[0]

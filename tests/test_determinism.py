"""Tracked numbers are the same bytes under any math-library setting; files get the umask's mode."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from noisereg.data.reference import Split
from noisereg.engine.randomness import glorot_uniform_mlp
from noisereg.io import atomic_dir, write_json, write_text
from noisereg.net import exact_logits, predict_logits

# Trains nothing: scores fixed random weights of the reference and the deep net on the
# reference split and prints the metrics JSON a stage would write.
PROBE = """
import json, sys
from noisereg.data.reference import dataset_dir, make_split, Split
from noisereg.io import rounded
from noisereg.params import load_params
from noisereg.engine.randomness import glorot_uniform_mlp
from noisereg.experiments.reference.run import score_seed
params = load_params()
train, test = make_split(params.data)
split = Split(train[["x1", "x2"]].to_numpy("float32"), train["label"].to_numpy("float32"),
              test[["x1", "x2"]].to_numpy("float32"), test["label"].to_numpy("float32"))
scores = [score_seed(glorot_uniform_mlp(s, units), split)
          for s in range(3) for units in ((400,), (100, 100, 100))]
print(json.dumps(rounded(scores), sort_keys=True))
"""

SETTINGS = {
    "oneDNN on, 2 threads": {"TF_ENABLE_ONEDNN_OPTS": "1", "OMP_NUM_THREADS": "2"},
    "oneDNN off, 1 thread": {
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    },
    "AVX2 at most": {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


@pytest.mark.slow
def test_metrics_bytes_do_not_depend_on_math_library_settings() -> None:
    root = Path(__file__).resolve().parents[1]
    outputs = {}
    for name, extra in SETTINGS.items():
        result = subprocess.run(
            [sys.executable, "-c", PROBE],
            cwd=root,
            env={**os.environ, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        outputs[name] = result.stdout
    assert len(set(outputs.values())) == 1, outputs
    assert '"test_loss"' in next(iter(outputs.values()))


def test_exact_logits_match_blas_and_ignore_row_blocking(split: Split) -> None:
    weights = glorot_uniform_mlp(4, (100, 100, 100))
    exact = exact_logits(weights, split.x_test)
    np.testing.assert_allclose(exact, predict_logits(weights, split.x_test), atol=1e-5)
    # Each row's value depends on that row alone: any subset gives the same bits.
    np.testing.assert_array_equal(exact_logits(weights, split.x_test[5:9]), exact[5:9])


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_get_the_mode_the_umask_gives(tmp_path: Path, mask: int) -> None:
    previous = os.umask(mask)
    try:
        write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "b.json", {"x": 1.0})
        with atomic_dir(tmp_path / "models") as partial:
            (partial / "inside.txt").write_text("x")
    finally:
        os.umask(previous)
    for name in ("a.txt", "b.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "models").stat().st_mode) == 0o777 & ~mask


def test_metric_floats_are_rounded_in_one_place(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"loss": 4.537874632427903, "acc": 43 / 70, "n": 20})
    assert (tmp_path / "m.json").read_text() == (
        '{\n  "acc": 0.614286,\n  "loss": 4.53787,\n  "n": 20\n}\n'
    )

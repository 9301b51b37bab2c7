"""The reference study's output contract: where its stages write what, and how it is read back.

Imports neither TensorFlow nor Keras (the trained models are written by
`keras_export.write_model_dir`), so the stages that only read results start in about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from noisereg.data.reference import Split
from noisereg.experiments.reference.surface import surface_frame
from noisereg.io import (
    read_csv,
    read_object,
    read_with,
    write_csv,
    write_json,
)
from noisereg.net import MLPWeights

if TYPE_CHECKING:  # the study's result types only; importing run would load TensorFlow
    from noisereg.experiments.reference.run import GridResult, ReplicateRun

REPLICATE_COLUMNS = [
    "seed_set",
    "replicate",
    "init_seed",
    "train_correct",
    "n_train",
    "test_correct",
    "n_test",
    "test_loss",
    "test_points",  # '0'/'1' per test point, in the split's order: which points it got right
]
# Read as text: a record of digits would otherwise parse as one (huge) integer.
TEXT_COLUMNS = ("test_points",)


def check_points(frame: pd.DataFrame) -> None:
    """Raise ValueError unless each row's per-point record is n_test '0'/'1's, test_correct '1's.

    A file cut inside its last row still parses (the record is its last column): this is
    what tells it apart.
    """
    for row, (points, n_test, correct) in enumerate(
        zip(frame["test_points"], frame["n_test"], frame["test_correct"], strict=True)
    ):
        if len(points) != n_test or set(points) - {"0", "1"} or points.count("1") != correct:
            raise ValueError(f"row {row + 1}: test_points does not hold its {n_test} points")


HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]
GRID_COLUMNS = ["hidden_units", "noise", "cv_correct", "cv_points", "cv_mean", "cv_std", "cv_se"]
SWEEP_COLUMNS = [
    "placement",
    "stddev",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_ci_low",
    "test_acc_ci_high",
]

COMPARISONS_PATH = Path("metrics") / "comparisons.json"
SUMMARY_PATH = Path("metrics") / "summary.json"
GRID_PATH = Path("plots") / "grid.csv"
GRID_SCORES_PATH = Path("plots") / "grid_scores.csv"
GRID_REFITS_PATH = Path("plots") / "grid_refits.csv"
GRID_CHOICES_PATH = Path("plots") / "grid_choices.json"  # written by grid_search
# The headline numbers, in git (cache: false), written by summarize. Training stages keep
# every output cached: DVC pushes no objects of uncached outputs, so a training stage with
# one could not be restored from a teammate's run-cache (tests/test_sharing.py).
VARIANTS_METRICS_PATH = Path("metrics") / "variants.json"
GRID_METRICS_PATH = Path("metrics") / "grid.json"
SWEEP_PATH = Path("plots") / "sweep.csv"
VARIANTS_PLOT_PATH = Path("plots") / "variants.csv"
SWEEP_REPLICATES_PATH = Path("plots") / "sweep_replicates.csv"


def model_dir(name: str) -> Path:
    """Return models/<variant>/, holding seed_<i>.keras and the stacked weights.npz."""
    return Path("models") / name


def replicates_path(name: str) -> Path:
    """Return plots/replicates/<variant>.csv: one row per seed (the summarize stage reads all)."""
    return Path("plots") / "replicates" / f"{name}.csv"


def decision_path(name: str) -> Path:
    """Return plots/decision/<variant>.csv: the mean decision surface for `dvc plots show`."""
    return Path("plots") / "decision" / f"{name}.csv"


def history_path(name: str) -> Path:
    """Return plots/history/<variant>.csv: logged curves, mean and std over seeds."""
    return Path("plots") / "history" / f"{name}.csv"


def write_variant(
    name: str, run: ReplicateRun, split: Split, replication: ReplicateRun | None = None
) -> None:
    """Write a variant's per-seed results, curves and surface.

    The replication's seeds (seed_set 1) go only into the per-seed file; curves, surface,
    models and the metrics are the primary seed set's.
    Only confidence-free numbers are written here; intervals and tests at the chosen
    `report.confidence` belong to the summarize stage, so changing them retrains nothing.
    The models themselves go to `model_dir(name)` through `keras_export.write_model_dir`.
    """
    if run.history is None:
        raise ValueError(f"train@{name}: its run was trained without keeping the curves")
    write_csv(history_path(name), run.history)
    write_csv(decision_path(name), surface_frame(run.weights, split))
    frames = [run.per_seed] + ([replication.per_seed] if replication else [])
    write_csv(replicates_path(name), pd.concat(frames, ignore_index=True))


def read_replicates(name: str) -> pd.DataFrame:
    """Return plots/replicates/<name>.csv (one row per seed), written by train@<name>."""
    return read_csv(
        replicates_path(name), f"train@{name}", REPLICATE_COLUMNS, TEXT_COLUMNS, check_points
    )


def read_history(name: str) -> pd.DataFrame:
    """Return plots/history/<name>.csv (logged curves), written by train@<name>."""
    return read_csv(history_path(name), f"train@{name}", HISTORY_COLUMNS)


def read_weights(name: str) -> list[MLPWeights]:
    """Return the weights of every replicate of a variant, from models/<name>/weights.npz."""

    def reader(path: Path) -> list[MLPWeights]:
        # Opened here, not by np.load: it leaves its own handle open when the file is corrupt.
        with path.open("rb") as handle, np.load(handle) as data:
            layers = sum(1 for key in data.files if key.startswith("kernel_"))
            kernels = [data[f"kernel_{i}"] for i in range(layers)]
            biases = [data[f"bias_{i}"] for i in range(layers)]
        return MLPWeights.unstack(kernels, biases)

    return read_with(model_dir(name) / "weights.npz", f"train@{name}", reader)


def write_grid(result: GridResult) -> None:
    """Write the grid's cells, fold scores, refit seeds and the chosen cells."""
    write_csv(GRID_PATH, result.cells)
    write_csv(GRID_SCORES_PATH, result.scores)
    refits = [
        run.per_seed.assign(choice=choice)[["choice", *REPLICATE_COLUMNS]]
        for choice, run in result.refits.items()
    ]
    write_csv(GRID_REFITS_PATH, pd.concat(refits, ignore_index=True))
    chosen: dict[str, Any] = {
        key: {
            "hidden_units": int(cell["hidden_units"]),
            "noise": cell["noise"],
            "cv_mean": cell["cv_mean"],
            "cv_se": cell["cv_se"],
        }
        for key, cell in (("best", result.best), ("one_se", result.one_se))
    }
    folds = int(result.scores.groupby(["repeat", "fold"]).ngroups)
    write_json(GRID_CHOICES_PATH, {**chosen, "cv_scores_per_cell": folds})


def read_grid_choices() -> dict[str, Any]:
    """Return plots/grid_choices.json: the best and one-SE cells, written by grid_search."""
    return read_object(GRID_CHOICES_PATH, "grid_search")


def read_grid_refits() -> pd.DataFrame:
    """Return plots/grid_refits.csv: one row per seed of each chosen cell's refit."""
    columns = ["choice", *REPLICATE_COLUMNS]
    return read_csv(GRID_REFITS_PATH, "grid_search", columns, TEXT_COLUMNS, check_points)


def read_sweep_replicates() -> pd.DataFrame:
    """Return plots/sweep_replicates.csv: one row per seed of every sweep point."""
    return read_csv(
        SWEEP_REPLICATES_PATH,
        "sweep",
        ["placement", "stddev", *REPLICATE_COLUMNS],
        TEXT_COLUMNS,
        check_points,
    )


def write_sweep(per_seed: pd.DataFrame) -> None:
    """Write plots/sweep_replicates.csv (one row per seed; the summarize stage adds the CIs)."""
    write_csv(SWEEP_REPLICATES_PATH, per_seed)

"""The output contract: where each stage writes what, and how downstream stages read it back.

Imports neither TensorFlow nor Keras (the trained models are written by
`models.write_model_dir`), so the stages that only read results start in about a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from noisereg.data import Split
from noisereg.io import (
    InputError,
    read_csv,
    read_json,
    read_with,
    write_csv,
    write_json,
)
from noisereg.net import MLPWeights
from noisereg.params import VariantParams
from noisereg.stats import CI_METHOD, holm, paired_comparison, summarize
from noisereg.surface import surface_frame

if TYPE_CHECKING:  # the study's result types only; importing study would load TensorFlow
    from noisereg.study import GridResult, ReplicateRun

REPLICATE_COLUMNS = ["replicate", "init_seed", "train_acc", "test_acc", "test_loss"]
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]
GRID_COLUMNS = ["hidden_units", "noise", "cv_mean", "cv_std"]
SWEEP_COLUMNS = ["placement", "stddev", "test_acc_mean", "test_acc_ci_low", "test_acc_ci_high"]


COMPARISONS_PATH = Path("metrics") / "comparisons.json"


def model_dir(name: str) -> Path:
    """Return models/<variant>/, holding seed_<i>.keras and the stacked weights.npz."""
    return Path("models") / name


def replicates_path(name: str) -> Path:
    """Return plots/replicates/<variant>.csv: one row per seed (the compare stage reads all)."""
    return Path("plots") / "replicates" / f"{name}.csv"


def decision_path(name: str) -> Path:
    """Return plots/decision/<variant>.csv: the mean decision surface for `dvc plots show`."""
    return Path("plots") / "decision" / f"{name}.csv"


def history_path(name: str) -> Path:
    """Return plots/history/<variant>.csv: logged curves, mean and std over seeds."""
    return Path("plots") / "history" / f"{name}.csv"


def replicate_metrics(per_seed: pd.DataFrame, confidence: float) -> dict[str, Any]:
    """Return the per-variant metrics block: summaries of accuracy, loss and the gap."""
    return {
        "replicates": len(per_seed),
        "ci_method": CI_METHOD,
        "train_acc": summarize(per_seed["train_acc"], confidence),
        "test_acc": summarize(per_seed["test_acc"], confidence),
        "test_loss": summarize(per_seed["test_loss"], confidence),
        "gap": summarize(per_seed["train_acc"] - per_seed["test_acc"], confidence),
    }


def write_variant(
    name: str, variant: VariantParams, run: ReplicateRun, confidence: float, split: Split
) -> None:
    """Write metrics/<name>.json and its history, replicates and surface CSVs.

    The models themselves go to `model_dir(name)` through `models.write_model_dir`.
    """
    net = variant.net
    write_csv(history_path(name), run.history)
    write_csv(decision_path(name), surface_frame(run.weights, split))
    write_csv(replicates_path(name), run.per_seed)
    metrics = replicate_metrics(run.per_seed, confidence)
    metrics.update(
        hidden_units=list(net.hidden_units),
        noise=net.describe(),
        dataset=variant.dataset,
        compare_to=variant.compare_to,
    )
    write_json(Path("metrics") / f"{name}.json", metrics)


def read_replicates(name: str) -> pd.DataFrame:
    """Return plots/replicates/<name>.csv (one row per seed), written by train@<name>."""
    return read_csv(replicates_path(name), f"train@{name}", REPLICATE_COLUMNS)


def read_history(name: str) -> pd.DataFrame:
    """Return plots/history/<name>.csv (logged curves), written by train@<name>."""
    return read_csv(history_path(name), f"train@{name}", HISTORY_COLUMNS)


def read_weights(name: str) -> list[MLPWeights]:
    """Return the weights of every replicate of a variant, from models/<name>/weights.npz."""

    def reader(path: Path) -> list[MLPWeights]:
        with np.load(path) as data:
            layers = sum(1 for key in data.files if key.startswith("kernel_"))
            kernels = [data[f"kernel_{i}"] for i in range(layers)]
            biases = [data[f"bias_{i}"] for i in range(layers)]
        return MLPWeights.unstack(kernels, biases)

    return read_with(model_dir(name) / "weights.npz", f"train@{name}", reader)


def read_metrics(name: str, producer: str) -> dict[str, Any]:
    """Return metrics/<name>.json (a JSON object) written by stage `producer`."""
    payload = read_json(Path("metrics") / f"{name}.json", producer)
    if not isinstance(payload, dict):
        raise InputError(f"metrics/{name}.json: must hold a JSON object; rerun '{producer}'")
    return payload


def comparisons(
    per_seed: dict[str, pd.DataFrame], variants: dict[str, VariantParams], confidence: float
) -> dict[str, Any]:
    """Return paired test-accuracy comparisons of each variant against its `compare_to`.

    Holm's correction runs over all comparisons together.
    """
    result: dict[str, Any] = {}
    for name, variant in variants.items():
        if variant.compare_to is None:
            continue
        reference = per_seed[variant.compare_to]["test_acc"].to_numpy()
        frame = per_seed[name]
        if len(frame) != len(reference):
            raise ValueError(
                f"variant '{name}' has {len(frame)} replicates, "
                f"'{variant.compare_to}' has {len(reference)}"
            )
        result[name] = {
            "compare_to": variant.compare_to,
            **paired_comparison(frame["test_acc"].to_numpy(), reference, confidence),
        }
    adjusted = holm({name: c["p_value"] for name, c in result.items()})
    for name, comparison in result.items():
        comparison["p_holm"] = adjusted[name]
    return result


def write_grid(result: GridResult, confidence: float) -> None:
    """Write plots/grid.csv, plots/grid_scores.csv and metrics/grid.json."""
    write_csv(Path("plots") / "grid.csv", result.cells)
    write_csv(Path("plots") / "grid_scores.csv", result.scores)
    chosen = {}
    for key, cell in (("best", result.best), ("one_se", result.one_se)):
        refit = result.refits[key].per_seed
        chosen[key] = {
            **cell,
            "hidden_units": int(cell["hidden_units"]),
            "test_acc": summarize(refit["test_acc"], confidence),
            "train_acc": summarize(refit["train_acc"], confidence),
        }
    folds = int(result.scores.groupby(["repeat", "fold"]).ngroups)
    write_json(Path("metrics") / "grid.json", {**chosen, "cv_scores_per_cell": folds})


def sweep_summary(per_seed: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Return one row per (placement, stddev): test accuracy mean and CI, train accuracy mean."""
    rows = []
    for (placement, stddev), frame in per_seed.groupby(["placement", "stddev"], sort=False):
        test = summarize(frame["test_acc"], confidence)
        rows.append(
            {
                "placement": placement,
                "stddev": stddev,
                "test_acc_mean": test["mean"],
                "test_acc_ci_low": test["ci_low"],
                "test_acc_ci_high": test["ci_high"],
                "train_acc_mean": float(frame["train_acc"].mean()),
                "replicates": len(frame),
            }
        )
    return pd.DataFrame(rows)


def write_sweep(per_seed: pd.DataFrame, confidence: float) -> None:
    """Write plots/sweep.csv (summary) and plots/sweep_replicates.csv (one row per seed)."""
    write_csv(Path("plots") / "sweep_replicates.csv", per_seed)
    write_csv(Path("plots") / "sweep.csv", sweep_summary(per_seed, confidence))

"""The output contract: where each stage writes what, and how downstream stages read it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from noisereg.engine import MLPWeights
from noisereg.io import (
    InputError,
    atomic_dir,
    read_csv,
    read_json,
    read_with,
    write_csv,
    write_json,
)
from noisereg.models import save_keras, to_keras
from noisereg.params import VariantParams
from noisereg.stats import CI_METHOD, holm, paired_comparison, summarize
from noisereg.study import GridResult, ReplicateRun

REPLICATE_COLUMNS = ["replicate", "init_seed", "train_acc", "test_acc", "test_loss"]
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "train_acc", "val_acc"]
GRID_COLUMNS = ["hidden_units", "noise", "cv_mean", "cv_std"]
SWEEP_COLUMNS = ["placement", "stddev", "test_acc_mean", "test_acc_ci_low", "test_acc_ci_high"]


def model_dir(name: str) -> Path:
    """Return models/<variant>/, holding seed_<i>.keras and the stacked weights.npz."""
    return Path("models") / name


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


def write_variant(name: str, variant: VariantParams, run: ReplicateRun, confidence: float) -> None:
    """Write models/<name>/, metrics/<name>.json and plots/<name>/{history,replicates}.csv."""
    with atomic_dir(model_dir(name)) as directory:
        for i, weights in enumerate(run.weights):
            model = to_keras(weights, variant.input_stddev, variant.hidden_stddev)
            save_keras(model, directory / f"seed_{i}.keras")
        stacked: dict[str, Any] = {
            f"{key}": np.stack([getattr(w, key) for w in run.weights])
            for key in ("w1", "b1", "w2", "b2")
        }
        np.savez(directory / "weights.npz", **stacked)
    write_csv(Path("plots") / name / "history.csv", run.history)
    write_csv(Path("plots") / name / "replicates.csv", run.per_seed)
    metrics = replicate_metrics(run.per_seed, confidence)
    metrics.update(input_stddev=variant.input_stddev, hidden_stddev=variant.hidden_stddev)
    write_json(Path("metrics") / f"{name}.json", metrics)


def read_replicates(name: str) -> pd.DataFrame:
    """Read plots/<name>/replicates.csv, written by train@<name>."""
    return read_csv(Path("plots") / name / "replicates.csv", f"train@{name}", REPLICATE_COLUMNS)


def read_history(name: str) -> pd.DataFrame:
    """Read plots/<name>/history.csv, written by train@<name>."""
    return read_csv(Path("plots") / name / "history.csv", f"train@{name}", HISTORY_COLUMNS)


def read_weights(name: str) -> list[MLPWeights]:
    """Read the stacked weights of every replicate of a variant."""

    def reader(path: Path) -> list[MLPWeights]:
        with np.load(path) as data:
            arrays = [data[key] for key in ("w1", "b1", "w2", "b2")]
        return [MLPWeights(*(a[i] for a in arrays)) for i in range(len(arrays[0]))]

    return read_with(model_dir(name) / "weights.npz", f"train@{name}", reader)


def read_metrics(name: str, producer: str) -> dict[str, Any]:
    """Read metrics/<name>.json written by stage `producer`."""
    payload = read_json(Path("metrics") / f"{name}.json", producer)
    if not isinstance(payload, dict):
        raise InputError(f"metrics/{name}.json: must hold a JSON object; rerun '{producer}'")
    return payload


def comparisons(per_seed: dict[str, pd.DataFrame], confidence: float) -> dict[str, Any]:
    """Return paired test-accuracy comparisons of every variant against baseline, Holm-adjusted."""
    baseline = per_seed["baseline"]["test_acc"].to_numpy()
    result: dict[str, Any] = {}
    for name, frame in per_seed.items():
        if name == "baseline":
            continue
        if len(frame) != len(baseline):
            raise ValueError(
                f"variant '{name}' has {len(frame)} replicates, baseline {len(baseline)}"
            )
        result[name] = paired_comparison(frame["test_acc"].to_numpy(), baseline, confidence)
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

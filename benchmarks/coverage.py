"""Interval coverage on the study's own data: extract it from a built workspace, or print it.

    python benchmarks/coverage.py --extract WORKSPACE   # write tests/data/study_draws.json
    python benchmarks/coverage.py [--studies N]         # print coverage per method and level

WORKSPACE is a tree after `dvc repro` (or `dvc pull`) of the default params. The extract
keeps what the simulations resample (noisereg/coverage.py): each fixed-split comparison's
per-point records of both arms, and each fresh-draw cell's per-draw paired differences.
The printout compares the methods in use (pigeonhole bootstrap, Student t) with the ones
they replaced (seeds-only intervals, BCa over draws) at the draw counts and levels the
report uses, and at 10 draws (the count before the study raised it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats as scipy_stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from noisereg.coverage import (  # noqa: E402
    Method,
    fixed_split_coverage,
    fixed_split_populations,
    fresh_draws_coverage,
    fresh_populations,
    levels,
    pigeonhole,
    students_t,
)
from noisereg.params import NONE, parse_params  # noqa: E402
from noisereg.stats import t_interval  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "study_draws.json"


def extract(workspace: Path) -> dict[str, Any]:
    """Return the fixture: fixed-split records per comparison, fresh-draw differences per cell."""
    params = parse_params(yaml.safe_load((workspace / "params.yaml").read_text()))
    records = {}
    for name, variant in params.variants.items():
        if variant.compare_to is None:
            continue
        frames = [
            pd.read_csv(workspace / "plots" / "replicates" / f"{n}.csv", dtype={"test_points": str})
            for n in (name, variant.compare_to)
        ]
        arms = [f[f["seed_set"] == 0].sort_values("replicate")["test_points"] for f in frames]
        records[f"{name} - {variant.compare_to}"] = [list(arm) for arm in arms]
    cells = {}
    for dataset in params.benefit_map.datasets:
        table = pd.read_csv(workspace / "plots" / "benefit" / dataset / "replicates.csv")
        for (n, placement, stddev), cell in table.groupby(["n_train", "placement", "stddev"]):
            if placement == NONE:
                continue
            reference = table[(table["n_train"] == n) & (table["placement"] == NONE)]
            difference = cell.sort_values("replicate")["test_correct"].to_numpy() - (
                reference.sort_values("replicate")["test_correct"].to_numpy()
            )
            cells[f"{dataset}/{n}/{placement}/{stddev:g}"] = difference.tolist()
    refits = pd.read_csv(workspace / "plots" / "regularizers" / "per_seed.csv")
    chosen = pd.read_csv(workspace / "plots" / "regularizers" / "chosen.csv")
    regularizer_cells = {}
    for dataset in params.regularizers.datasets:
        runs = refits[refits["dataset"] == dataset]
        best = chosen[(chosen["dataset"] == dataset) & chosen["best_non_noise"]]["method"].iloc[0]
        base = runs[runs["method"] == best].sort_values("replicate")["test_correct"].to_numpy()
        for method, run in runs.groupby("method"):
            if method != best:
                difference = run.sort_values("replicate")["test_correct"].to_numpy() - base
                regularizer_cells[f"{dataset}/{method} - {best}"] = difference.tolist()
    comparisons = sum(v.compare_to is not None for v in params.variants.values())
    primary = len(pd.read_csv(workspace / "plots" / "regularizers.csv").query("primary"))
    bm = params.benefit_map
    return {
        "source": f"dvc repro of the default params in {workspace}",
        "confidence": params.report.confidence,
        "fixed_split": {"family_size": comparisons, "records": records},
        "benefit_map": {
            "family_size": len(bm.datasets) * len(bm.sizes) * len(bm.placements) * len(bm.stddevs),
            "draws": bm.replicates,
            "cells": cells,
        },
        "regularizers": {
            "family_size": primary,
            "draws": params.regularizers.replicates,
            "cells": regularizer_cells,
        },
    }


def load(path: Path = FIXTURE) -> dict[str, Any]:
    """Return the fixture written by --extract."""
    return dict(json.loads(path.read_text()))


def seeds_only(sample: np.ndarray, levels: Sequence[float]) -> list[dict[str, Any]]:
    """The replaced fixed-split method: an interval over the seeds' accuracies only."""
    return [t_interval(sample.sum(axis=1), level, scale=sample.shape[1]) for level in levels]


def bca(sample: np.ndarray, levels: Sequence[float]) -> list[dict[str, Any]]:
    """The replaced fresh-draw method: BCa bootstrap over the draws."""
    if np.ptp(sample) == 0:
        return [{"ci_low": float(sample[0]), "ci_high": float(sample[0])} for _ in levels]
    summaries = []
    for level in levels:
        result = scipy_stats.bootstrap(
            (sample,), np.mean, confidence_level=level, n_resamples=1999, method="BCa",
            rng=np.random.default_rng(0),
        )  # fmt: skip
        low, high = result.confidence_interval
        summaries.append({"ci_low": low, "ci_high": high})
    return summaries


def report(fixture: dict[str, Any], studies: int) -> None:
    """Print coverage per study, method, draw count and level."""
    confidence = fixture["confidence"]
    fixed = fixed_split_populations(fixture)
    rows: list[tuple[str, str, int, dict[float, float], float]] = []
    shown = levels(confidence, fixture["fixed_split"]["family_size"])
    methods: dict[str, Method] = {"pigeonhole": pigeonhole(1999), "seeds only (old)": seeds_only}
    for name, method in methods.items():
        started = time.perf_counter()
        result = fixed_split_coverage(fixed, shown, studies, 2026, method)
        rows.append(("fixed split", name, fixed[0].shape[0], result, time.perf_counter() - started))
    for study in ("benefit_map", "regularizers"):
        cells = fresh_populations(fixture, study)
        shown = levels(confidence, fixture[study]["family_size"])
        used = fixture[study]["draws"]
        for name, method, draws in (
            ("Student t", students_t, used),
            ("Student t", students_t, 10),
            ("BCa (old)", bca, 10),
            ("BCa", bca, used),
        ):
            started = time.perf_counter()
            result = fresh_draws_coverage(cells, draws, shown, studies, 2026, method)
            rows.append((study, name, draws, result, time.perf_counter() - started))
    print(f"{studies} simulated studies per row (numpy seed 2026); nominal levels in the header")
    for study, name, draws, result, seconds in rows:
        figures = "  ".join(f"{level:.5f}: {share:.3f}" for level, share in result.items())
        print(f"{study:13s} {name:17s} draws {draws:3d}  {figures}  ({seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, help="built workspace to extract the fixture from")
    parser.add_argument("--studies", type=int, default=2000, help="simulated studies per row")
    args = parser.parse_args()
    if args.extract:
        FIXTURE.parent.mkdir(exist_ok=True)
        FIXTURE.write_text(json.dumps(extract(args.extract), indent=1) + "\n")
        print(f"wrote {FIXTURE.relative_to(ROOT)}")
        return
    report(load(), args.studies)


if __name__ == "__main__":
    main()

"""Study-level guarantees: the paired design is real, CV and cell choice behave."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from noisereg.data import Split
from noisereg.net import Net
from noisereg.outputs import comparisons
from noisereg.params import GridParams, Params
from noisereg.study import choose_cells, cv_splits, train_replicates


def small_train(params: Params) -> Params:
    train = dataclasses.replace(params.train, epochs=30, replicates=4, log_every=10)
    return dataclasses.replace(params, train=train)


def test_noise_zero_variant_pairs_exactly_with_baseline(
    default_params: Params, split: Split
) -> None:
    params = small_train(default_params)
    baseline, zero_noise, noisy = train_replicates(
        split,
        [Net.of(32), Net.of(32), Net.of(32, input_stddev=0.3, hidden_stddev=0.3)],
        params.train,
        params.compute,
        "test",
    )
    paired = dataclasses.replace(params.variants["baseline"], compare_to="baseline")
    variants = {"baseline": params.variants["baseline"], "zero": paired, "noisy": paired}
    result = comparisons(
        {"baseline": baseline.per_seed, "zero": zero_noise.per_seed, "noisy": noisy.per_seed},
        variants,
        0.95,
    )
    assert result["zero"]["diff"]["mean"] == 0.0 and result["zero"]["diff"]["std"] == 0.0
    assert result["zero"]["p_value"] == 1.0
    pd.testing.assert_frame_equal(baseline.per_seed, zero_noise.per_seed)
    assert not baseline.per_seed["test_loss"].equals(noisy.per_seed["test_loss"])


def test_replicates_share_initial_weights_across_variants(
    default_params: Params, split: Split
) -> None:
    params = small_train(default_params)
    a, b = train_replicates(
        split, [Net.of(16), Net.of(16, input_stddev=0.5)], params.train, params.compute, "test"
    )
    assert list(a.per_seed["init_seed"]) == list(b.per_seed["init_seed"])
    assert a.per_seed["init_seed"].nunique() == 4


def test_cv_splits_are_stratified_and_reshuffled(split: Split) -> None:
    grid = GridParams((8,), (0.1,), cv_folds=5, cv_repeats=3, seed=7)
    folds = cv_splits(split.y_train, grid)
    assert len(folds) == 15
    for repeat in range(3):
        val = np.concatenate([f[3] for f in folds if f[0] == repeat])
        assert sorted(val) == list(range(30))  # each repeat partitions the training set
    first, second = folds[0][3], folds[5][3]
    assert not np.array_equal(np.sort(first), np.sort(second))
    labels = split.y_train[folds[0][3]]
    assert abs(labels.mean() - split.y_train.mean()) < 0.2


def test_one_standard_error_rule_prefers_narrow_and_noisy() -> None:
    cells = pd.DataFrame(
        {
            "hidden_units": [50, 50, 300, 300],
            "noise": [0.1, 1.0, 0.1, 1.0],
            "cv_mean": [0.78, 0.74, 0.80, 0.70],
            "cv_std": [0.1, 0.1, 0.1, 0.1],
            "cv_se": [0.05, 0.05, 0.05, 0.05],
        }
    )
    best, one_se = choose_cells(cells)
    assert (best["hidden_units"], best["noise"]) == (300, 0.1)
    # within 0.80 - 0.05 = 0.75: (50, 0.1) and (300, 0.1); narrowest wins
    assert (one_se["hidden_units"], one_se["noise"]) == (50, 0.1)


def test_comparisons_pair_each_variant_with_its_reference(
    default_params: Params, split: Split
) -> None:
    params = small_train(default_params)
    names = ["deep_baseline", "deep_hidden_all", "baseline", "hidden_noise"]
    runs = train_replicates(
        split, [params.variants[n].net for n in names], params.train, params.compute, "test"
    )
    per_seed = {name: run.per_seed for name, run in zip(names, runs, strict=True)}
    variants = {name: params.variants[name] for name in names}
    result = comparisons(per_seed, variants, 0.95)
    assert set(result) == {"deep_hidden_all", "hidden_noise"}
    assert result["deep_hidden_all"]["compare_to"] == "deep_baseline"
    deep_diff = per_seed["deep_hidden_all"]["test_acc"] - per_seed["deep_baseline"]["test_acc"]
    assert np.isclose(result["deep_hidden_all"]["diff"]["mean"], deep_diff.mean())
    # Holm over both comparisons: adjusted p is never below the raw p.
    for comparison in result.values():
        assert comparison["p_holm"] >= comparison["p_value"]

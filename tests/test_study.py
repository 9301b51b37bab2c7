"""Study-level guarantees: the paired design is real, CV and cell choice behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from noisereg.data.reference import Split
from noisereg.experiments.protocol import repeated_stratified_folds
from noisereg.experiments.reference.run import (
    cell_table,
    choose_cells,
    grid_members,
    train_replicates,
)
from noisereg.experiments.reference.summary import comparisons, sweep_points, sweep_summary
from noisereg.net import Net, placement_net
from noisereg.params import GridParams, Params
from tests.per_point import per_seed_frame


def test_noise_zero_variant_pairs_exactly_with_baseline(tiny_params: Params, split: Split) -> None:
    params = tiny_params
    baseline, zero_noise, noisy = train_replicates(
        split,
        [Net.of(32), Net.of(32), Net.of(32, input_stddev=0.3, hidden_stddev=0.3)],
        params.train,
        params.compute,
        "test",
    )
    paired = params.variants["baseline"].model_copy(update=dict(compare_to="baseline"))
    variants = {"baseline": params.variants["baseline"], "zero": paired, "noisy": paired}
    result = comparisons(
        {"baseline": baseline.per_seed, "zero": zero_noise.per_seed, "noisy": noisy.per_seed},
        params.model_copy(update=dict(variants=variants)),
    )
    zero = result["zero"]["diff"]
    assert zero["mean"] == zero["std"] == zero["ci_low"] == zero["ci_high"] == 0.0
    assert result["zero"]["verdict"] == "no practical difference"
    pd.testing.assert_frame_equal(baseline.per_seed, zero_noise.per_seed)
    assert not baseline.per_seed["test_loss"].equals(noisy.per_seed["test_loss"])


def test_replicates_share_initial_weights_across_variants(
    tiny_params: Params, split: Split
) -> None:
    # Input noise of 1e-30 vanishes in float32 next to inputs of order 1, so the two nets
    # train the same way exactly when replicate i of each starts from the same weights.
    params = tiny_params
    a, b = train_replicates(
        split, [Net.of(16), Net.of(16, input_stddev=1e-30)], params.train, params.compute, "test"
    )
    for ours, theirs in zip(a.weights, b.weights, strict=True):
        for x, y in zip(ours.as_list(), theirs.as_list(), strict=True):
            np.testing.assert_allclose(x, y, atol=1e-6)
    first, second = a.weights[0].kernels[0], a.weights[1].kernels[0]
    assert np.abs(first - second).max() > 0.1  # replicates do start apart


def test_grid_members_train_on_the_fold_and_score_on_the_rest(split: Split) -> None:
    grid = GridParams(hidden_units=(8, 16), stddevs=(0.1, 0.5), cv_folds=5, cv_repeats=2, seed=7)
    members, keys = grid_members(split.y_train, grid)
    assert len(members) == 2 * 2 * 10 and len(keys) == len(members)
    by_fold: dict[tuple[int, int], set[tuple]] = {}
    for member, (width, stddev, repeat, fold) in zip(members, keys, strict=True):
        assert member.net == Net.of(width, hidden_stddev=stddev)
        train_rows, val_rows = set(member.train_rows), set(member.val_rows)
        assert not train_rows & val_rows and train_rows | val_rows == set(range(30))
        assert len(val_rows) == 6  # 30 points in 5 folds
        # One (repeat, fold) has the same rows and seeds in every cell: cells are paired.
        by_fold.setdefault((repeat, fold), set()).add(
            (member.train_rows, member.val_rows, member.init_seed, member.noise_seed)
        )
    assert len(by_fold) == 10 and all(len(cells) == 1 for cells in by_fold.values())
    seeds = {next(iter(cells))[2:] for cells in by_fold.values()}
    assert len(seeds) == 10  # and folds differ from each other


def test_cv_splits_are_stratified_and_reshuffled(split: Split) -> None:
    grid = GridParams(hidden_units=(8,), stddevs=(0.1,), cv_folds=5, cv_repeats=3, seed=7)
    folds = repeated_stratified_folds(split.y_train, grid.cv_folds, grid.cv_repeats, grid.seed)
    assert len(folds) == 15
    for repeat in range(3):
        val = np.concatenate([f[3] for f in folds if f[0] == repeat])
        assert sorted(val) == list(range(30))  # each repeat partitions the training set
    first, second = folds[0][3], folds[5][3]
    assert not np.array_equal(np.sort(first), np.sort(second))
    # Stratified: every validation fold holds each class's share to within one point
    # (18 and 12 points over 5 folds: 3 or 4, and 2 or 3); a plain KFold misses this.
    for _, _, _, val in folds:
        for label in (0.0, 1.0):
            expected = np.count_nonzero(split.y_train == label) / grid.cv_folds
            assert abs(np.count_nonzero(split.y_train[val] == label) - expected) < 1


def cells_from(rows: list[tuple[int, float, list[int]]], n_val: int = 6) -> pd.DataFrame:
    """Return cell_table over fold scores given as (width, noise, correct count per fold)."""
    scores = pd.DataFrame(
        [
            (width, noise, 0, fold, correct, n_val)
            for width, noise, folds in rows
            for fold, correct in enumerate(folds)
        ],
        columns=["hidden_units", "noise", "repeat", "fold", "correct", "n_val"],
    )
    return cell_table(scores, n_points=n_val * 5)


def test_corrected_standard_error_accounts_for_overlapping_training_sets() -> None:
    cells = cells_from([(8, 0.1, [4, 5, 6, 3, 5])])
    accuracies = np.array([4, 5, 6, 3, 5]) / 6
    naive = accuracies.std(ddof=1) / np.sqrt(5)
    corrected = accuracies.std(ddof=1) * np.sqrt(1 / 5 + 6 / 24)
    assert cells["cv_se"].iloc[0] == pytest.approx(corrected)
    assert cells["cv_se"].iloc[0] > 1.5 * naive
    assert cells["cv_correct"].iloc[0] == 23 and cells["cv_points"].iloc[0] == 30


def test_three_way_tie_picks_the_narrowest_by_exact_counts() -> None:
    # Three widths tie at 23/30 pooled, with their fold scores in different orders (float
    # means of k/6 in another order can differ in the last bit).
    cells = cells_from(
        [
            (500, 0.1, [6, 3, 5, 4, 5]),
            (100, 0.1, [5, 4, 6, 3, 5]),
            (300, 0.1, [3, 5, 5, 4, 6]),
            (100, 0.7, [4, 4, 4, 4, 4]),
        ]
    )
    best, _ = choose_cells(cells)
    assert (best["hidden_units"], best["noise"]) == (100, 0.1)


def test_one_standard_error_rule_prefers_narrow_then_most_noise() -> None:
    cells = cells_from(
        [
            (50, 0.1, [5, 5, 4, 5, 5]),
            (50, 1.0, [5, 4, 5, 5, 5]),
            (50, 0.01, [6, 6, 6, 5, 2]),
            (300, 0.1, [6, 6, 6, 6, 2]),
        ]
    )
    best, one_se = choose_cells(cells)
    assert (best["hidden_units"], best["noise"]) == (300, 0.1)
    # Every width-50 cell is within one SE of the best; the most noise is the simplest.
    assert (one_se["hidden_units"], one_se["noise"]) == (50, 1.0)


def test_comparisons_pair_each_variant_with_its_reference(
    tiny_params: Params, split: Split
) -> None:
    params = tiny_params
    names = ["deep_baseline", "deep_hidden_all", "baseline", "hidden_noise"]
    runs = train_replicates(
        split, [params.variants[n].net for n in names], params.train, params.compute, "test"
    )
    per_seed = {name: run.per_seed for name, run in zip(names, runs, strict=True)}
    variants = {name: params.variants[name] for name in names}
    result = comparisons(per_seed, params.model_copy(update=dict(variants=variants)))
    assert set(result) == {"deep_hidden_all", "hidden_noise"}
    assert result["deep_hidden_all"]["compare_to"] == "deep_baseline"
    deep = per_seed["deep_hidden_all"]["test_correct"] - per_seed["deep_baseline"]["test_correct"]
    assert result["deep_hidden_all"]["diff"]["mean"] == deep.sum() / (70 * len(deep))
    # Two comparisons in the family: each verdict's interval is at 1 - 0.05 / 2, wider than
    # the shown 95% one.
    for c in result.values():
        assert c["decision_low"] <= c["diff"]["ci_low"] <= c["diff"]["ci_high"]
        assert c["diff"]["ci_high"] <= c["decision_high"]


def counts_frame(test_correct: list[int], seed_set: int, n_test: int = 700) -> pd.DataFrame:
    return per_seed_frame(test_correct, seed_set, n_test, train_correct=290, n_train=300)


def test_replication_checks_each_verdict_on_a_second_seed_set(default_params: Params) -> None:
    rng = np.random.default_rng(1)
    base0, base1 = rng.integers(570, 590, 20), rng.integers(570, 590, 20)
    # The large-data case: -0.002 on the first seed set, about 0 on the second.
    per_seed = {
        "large_baseline": pd.concat([counts_frame(list(base0), 0), counts_frame(list(base1), 1)]),
        "large_hidden_noise": pd.concat(
            [
                counts_frame(list(base0 - rng.integers(0, 3, 20)), 0),
                counts_frame(list(base1 + rng.integers(-1, 2, 20)), 1),
            ]
        ),
    }
    names = ["large_baseline", "large_hidden_noise"]
    params = default_params.model_copy(
        update=dict(variants={n: default_params.variants[n] for n in names})
    )
    result = comparisons(per_seed, params)["large_hidden_noise"]
    assert result["verdict"] == "no practical difference"
    assert result["replication"]["verdict"] == "no practical difference"
    assert result["diff"]["mean"] == (
        per_seed["large_hidden_noise"]["test_correct"][:20].sum() - base0.sum()
    ) / (20 * 700)
    # Without a second seed set there is no replication to report.
    primary = {name: frame[frame["seed_set"] == 0] for name, frame in per_seed.items()}
    assert comparisons(primary, params)["large_hidden_noise"]["replication"] is None


def test_sweep_placements_set_exactly_their_noise() -> None:
    assert placement_net(40, "input", 0.3) == Net.of(40, input_stddev=0.3)
    assert placement_net(40, "hidden", 0.3) == Net.of(40, hidden_stddev=0.3)
    assert placement_net(40, "both", 0.3) == Net.of(40, input_stddev=0.3, hidden_stddev=0.3)


def test_sweep_takes_its_zero_and_variant_points_from_the_variants(
    default_params: Params,
) -> None:
    params = default_params.model_copy(
        update=dict(sweep=default_params.sweep.model_copy(update=dict(stddevs=(0.3,))))
    )
    frame = counts_frame([40, 41, 42], 0, n_test=70)
    sweep = pd.concat(
        [frame.assign(placement=p, stddev=0.3) for p in params.sweep.placements],
        ignore_index=True,
    )
    per_seed = {
        name: counts_frame([30 + i, 31, 32], 0, n_test=70) for i, name in enumerate(params.variants)
    }
    points = sweep_points(sweep, per_seed, params)
    found = {(p, s) for p, s in zip(points["placement"], points["stddev"], strict=True)}
    # baseline is stddev 0 of every placement; input/hidden/both_noise are the 0.1 points;
    # the deep and large variants, and other placements, are not sweep points.
    assert found == {(p, s) for p in ("input", "hidden", "both") for s in (0.0, 0.1, 0.3)}
    zero = points[(points["placement"] == "hidden") & (points["stddev"] == 0.0)]
    assert list(zero["test_correct"]) == list(per_seed["baseline"]["test_correct"])
    table = sweep_summary(points, params.report)
    assert len(table) == 9 and set(table["replicates"]) == {3}

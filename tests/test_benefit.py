"""The benefit map: generators, paired resampled draws, ECE, n_star, CV choice, stage errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from noisereg.data.synthetic import GENERATORS, class_sizes, generate
from noisereg.experiments.benefit_map import run as benefit
from noisereg.experiments.benefit_map import section as benefit_report
from noisereg.experiments.benefit_map.summary import (
    NEVER_HELPED,
    NOT_REACHED,
    cv_choice,
    full_length,
    length_cells,
    map_cells,
    n_star,
)
from noisereg.experiments.fresh_draws import training_draws
from noisereg.experiments.protocol import expected_calibration_error
from noisereg.net import Net
from noisereg.params import NONE, DatasetsParams, Params, parse_params
from noisereg.stats import VERDICT_CODES, verdict
from tests.conftest import ROOT, one_error_line, run_stage_in, tiny_raw


@pytest.fixture(scope="module")
def datasets(default_params: Params) -> DatasetsParams:
    return default_params.datasets


def test_every_declared_dataset_has_a_generator() -> None:
    assert list(GENERATORS) == list(DatasetsParams.model_fields)


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("n", [7, 30])
def test_generators_are_deterministic_balanced_and_differ_per_seed(
    datasets: DatasetsParams, name: str, n: int
) -> None:
    x, y = generate(datasets, name, n, seed=5)
    again_x, again_y = generate(datasets, name, n, seed=5)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    assert x.shape == (n, 2) and np.isfinite(x).all()
    assert (np.count_nonzero(y == 0), np.count_nonzero(y == 1)) == class_sizes(n)
    other_x, _ = generate(datasets, name, n, seed=6)
    assert not np.array_equal(x, other_x)


def test_a_generator_setting_changes_the_draw(datasets: DatasetsParams) -> None:
    wider = datasets.model_copy(update={"xor": datasets.xor.model_copy(update={"spread": 0.9})})
    narrow, _ = generate(datasets, "xor", 50, seed=1)
    wide, _ = generate(wider, "xor", 50, seed=1)
    assert np.abs(wide).std() > np.abs(narrow).std()


def test_a_draw_without_both_classes_is_refused(datasets: DatasetsParams) -> None:
    with pytest.raises(ValueError, match="one per class"):
        generate(datasets, "moons", 1, seed=0)


@pytest.fixture(scope="module")
def small(default_raw: dict[str, Any]) -> Params:
    """Tiny map params with a stddev of exactly 0 among the mapped levels."""
    raw = tiny_raw(default_raw)
    raw["benefit_map"].update(stddevs=[0.0, 0.5], sizes=[6, 10])
    return parse_params(raw)


def test_one_replicate_shares_its_draw_and_seeds_replicates_differ(small: Params) -> None:
    bm = small.benefit_map
    draws = training_draws(small, "circles", 10)
    assert len(draws) == bm.replicates
    for a in range(len(draws)):
        for b in range(a + 1, len(draws)):
            assert not np.array_equal(draws[a][0], draws[b][0])
    rows = [tuple(range(r * 10, (r + 1) * 10)) for r in range(bm.replicates)]
    members = benefit.map_members(small, rows)
    by_replicate: dict[tuple[int, int], set[Any]] = {}
    for member in members:
        by_replicate.setdefault(member.train_rows[:1], set()).add(
            (member.train_rows, member.init_seed, member.noise_seed)
        )
    # Every net of a replicate (no noise and each placement x stddev) trains on the same
    # rows of the pool from the same initial weights with the same noise stream.
    assert len(by_replicate) == bm.replicates
    assert all(len(shared) == 1 for shared in by_replicate.values())
    assert len({m.net for m in members}) == 1 + len(bm.placements)  # stddev 0 is no noise


@pytest.fixture(scope="module")
def mapped(small: Params) -> benefit.DatasetMap:
    return benefit.run_dataset(small, "xor")


def test_a_stddev_of_zero_has_a_benefit_of_exactly_zero(
    small: Params, mapped: benefit.DatasetMap
) -> None:
    cells = map_cells("xor", mapped.replicates, small)
    zero = cells[cells["stddev"] == 0.0]
    assert len(zero) == len(small.benefit_map.sizes) * len(small.benefit_map.placements)
    for measure in ("acc", "loss", "ece"):
        assert (zero[f"{measure}_diff"] == 0.0).all()
    noisy = cells[cells["stddev"] == 0.5]
    assert (noisy["loss_diff"] != 0.0).all()
    assert len(mapped.replicates) == len(mapped.replicates.drop_duplicates())
    assert (mapped.replicates["n_test"] == small.benefit_map.test_points).all()


def test_checkpoint_rows_equal_a_map_trained_to_that_length(
    small: Params, mapped: benefit.DatasetMap
) -> None:
    bm = small.benefit_map
    (checkpoint,) = bm.checkpoints  # the tiny map: 20 steps, scored at 10 too
    assert sorted(set(mapped.replicates["steps"])) == [checkpoint, bm.epochs]
    shorter = small.model_copy(
        update=dict(benefit_map=bm.model_copy(update=dict(epochs=checkpoint, checkpoints=())))
    )
    alone = benefit.run_dataset(shorter, "xor").replicates
    at_checkpoint = mapped.replicates[mapped.replicates["steps"] == checkpoint]
    pd.testing.assert_frame_equal(
        at_checkpoint.reset_index(drop=True), alone.reset_index(drop=True)
    )
    # Training accuracy is on the model's own draw: a count out of n_train.
    assert mapped.replicates["train_correct"].between(0, mapped.replicates["n_train"]).all()


def test_length_cells_pair_each_length_and_the_map_keeps_the_full_length(
    small: Params,
) -> None:
    rows = []
    for steps, gain in ((5, -2), (10, 4)):
        for placement, stddev in ((NONE, 0.0), ("hidden", 0.3)):
            for r in range(4):
                correct = 60 + r + (gain if placement != NONE else 0)
                rows.append(
                    {"n_train": 10, "placement": placement, "stddev": stddev, "replicate": r,
                     "steps": steps, "test_correct": correct, "n_test": 100,
                     "test_loss": 0.5, "test_ece": 0.1,
                     "train_correct": 10 if steps == 10 else 8}
                )  # fmt: skip
    replicates = pd.DataFrame(rows)
    lengths = length_cells("xor", replicates, small)
    assert list(lengths["steps"]) == [5, 10]
    # Every draw gains exactly -2 and +4 correct of 100: intervals of width 0 at the mean.
    for column in ("acc_diff", "acc_diff_low", "acc_diff_high"):
        np.testing.assert_allclose(lengths[column], [-0.02, 0.04])
    np.testing.assert_allclose(lengths["none_test_acc"], [0.615, 0.615])
    np.testing.assert_allclose(lengths["none_train_acc"], [0.8, 1.0])
    np.testing.assert_allclose(lengths["train_acc"], [0.8, 1.0])
    final = full_length(replicates)
    assert "steps" not in final and len(final) == 8
    cells = map_cells("xor", replicates, small)
    np.testing.assert_allclose(cells["acc_diff"], [0.04])


def test_cv_scores_every_candidate_on_every_fold_of_every_draw(
    small: Params, mapped: benefit.DatasetMap
) -> None:
    bm = small.benefit_map
    per_draw = mapped.cv.groupby(["n_train", "replicate", "stddev"])["n_val"].sum()
    # The folds of one draw cover all its points once, for each candidate stddev.
    assert (per_draw.reset_index()["n_val"] == per_draw.reset_index()["n_train"]).all()
    assert len(per_draw) == len(bm.sizes) * bm.replicates * 2  # candidates: 0 and 0.5


def test_cv_choice_takes_the_most_correct_then_the_least_noise() -> None:
    cv = pd.DataFrame(
        {
            "n_train": [10] * 6,
            "replicate": [0, 0, 0, 1, 1, 1],
            "stddev": [0.0, 0.1, 0.3, 0.0, 0.1, 0.3],
            "fold": [0] * 6,
            "correct": [5, 7, 6, 6, 6, 4],
            "n_val": [10] * 6,
        }
    )
    chosen = cv_choice(cv)
    assert list(chosen["stddev"]) == [0.1, 0.0]


@pytest.mark.parametrize(
    ("probabilities", "labels", "expected"),
    [
        ([0.8] * 10, [1] * 8 + [0] * 2, 0.0),  # 80% confident, 80% right: calibrated
        ([0.9] * 4, [1, 0, 1, 0], 0.4),  # 90% confident, 50% right
        # Two bins: 0.95 (all right, gap 0.05) and 0.65 (one of two right, gap 0.15).
        ([0.95, 0.95, 0.35, 0.65], [1, 1, 0, 0], (2 * 0.05 + 2 * 0.15) / 4),
    ],
)
def test_expected_calibration_error_known_answers(
    probabilities: list[float], labels: list[int], expected: float
) -> None:
    p = np.asarray(probabilities)
    logits = np.log(p / (1 - p))
    assert expected_calibration_error(logits, np.asarray(labels)) == pytest.approx(expected)


MARGIN = 0.01


def decided(mean: float, low: float, high: float) -> dict[str, float]:
    """Return a cell's accuracy columns, its verdict as summarize decides it (stats.verdict)."""
    return {
        "acc_diff": mean,
        "acc_decision_low": low,
        "acc_decision_high": high,
        "acc_verdict": VERDICT_CODES[verdict(low, high, MARGIN)],
    }


def cells_with_bounds(bounds: dict[int, list[tuple[float, float]]]) -> pd.DataFrame:
    """Return one placement's cells from n -> the (low, high) decision bounds of two stddevs."""
    return pd.DataFrame(
        [
            {"n_train": n, "stddev": s, **decided((low + high) / 2, low, high)}
            for n, pairs in bounds.items()
            for s, (low, high) in zip((0.1, 0.3), pairs, strict=True)
        ]
    )


HELPS, OPEN, SMALL = (0.02, 0.06), (-0.02, 0.03), (-0.03, 0.005)  # helped, ?, < margin


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        # Helped at 10; at 30 a gain beyond the margin is still possible; from 90 on every
        # stddev's upper bound is below the margin.
        ({10: [HELPS, OPEN], 30: [OPEN, SMALL], 90: [SMALL, SMALL], 270: [SMALL, SMALL]}, 90),
        # Below the margin at 30, open again at 90: the threshold is where it stays below.
        ({10: [HELPS, SMALL], 30: [SMALL, SMALL], 90: [OPEN, SMALL], 270: [SMALL, SMALL]}, 270),
        # Still open at the largest size: not reached, not a size.
        ({10: [HELPS, OPEN], 30: [SMALL, SMALL], 90: [SMALL, SMALL], 270: [SMALL, OPEN]}, -1),
        # Never helped anywhere: 'never', not the smallest size (the old n* said 10 here).
        ({10: [SMALL, OPEN], 30: [SMALL, SMALL], 90: [SMALL, SMALL], 270: [SMALL, SMALL]}, 0),
    ],
)
def test_n_star_is_where_no_stddev_can_help_any_more(
    bounds: dict[int, list[tuple[float, float]]], expected: int
) -> None:
    assert n_star(cells_with_bounds(bounds), MARGIN) == expected
    assert (NOT_REACHED, NEVER_HELPED) == (-1, 0)


def test_unknown_map_dataset_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    result = run_stage_in(tmp_path, "stages.benefit_map", "--dataset", "checkers")
    assert result.returncode == 2
    assert "unknown dataset 'checkers' in benefit_map.datasets; allowed: circles" in (
        one_error_line(result)
    )
    assert not (tmp_path / "plots").exists()


def test_noiseless_cell_is_first_and_every_placement_is_mapped(small: Params) -> None:
    configs = benefit.cells(small)
    assert configs[0] == (NONE, 0.0, Net.of(small.benefit_map.hidden_units))
    assert {p for p, _, _ in configs[1:]} == set(small.benefit_map.placements)


def map_frame(acc: dict[tuple[int, float], tuple[float, float, float]]) -> pd.DataFrame:
    """Return map cells of one dataset and placement from (n, stddev) -> (mean, low, high).

    (low, high) is the family-wise decision interval; the shown one is a little narrower.
    """
    return pd.DataFrame(
        [
            {
                "dataset": "moons",
                "n_train": n,
                "placement": "input",
                "stddev": s,
                **decided(mean, low, high),
                "acc_diff_low": low + 0.005,
                "acc_diff_high": high - 0.005,
                "acc_mde": 0.05,
                **{f"{m}_diff{e}": 0.0 for m in ("loss", "ece") for e in ("", "_low", "_high")},
            }
            for (n, s), (mean, low, high) in acc.items()
        ]
    )


def test_the_sentences_say_where_noise_helps_stops_and_hurts() -> None:
    cells = map_frame(
        {
            (10, 0.1): (0.08, 0.05, 0.11),
            (10, 1.0): (0.02, -0.01, 0.05),
            (30, 0.1): (0.03, 0.015, 0.05),
            (30, 1.0): (-0.01, -0.03, 0.01),
            (90, 0.1): (0.00, -0.008, 0.008),
            (90, 1.0): (-0.06, -0.09, -0.03),
        }
    )
    text = benefit_report.placement_sentence("moons", "input", cells, MARGIN)
    assert text == (
        "moons, input noise: helped at n = 10, 30, most at n = 10 with stddev 0.1 "
        "(+0.080 [+0.055, +0.105]); from n = 90 on every stddev's gain is shown to stay below "
        "the margin (n* = 90). It hurt in 1 of 6 cells, most at n = 90 with stddev 1 "
        "(-0.060 [-0.085, -0.035])."
    )
    # A gain whose interval excludes 0 but not the margin is not 'helped'.
    never = map_frame({(10, 0.1): (0.012, 0.004, 0.02), (30, 0.1): (0.01, -0.01, 0.03)})
    assert "no cell was called helped at any size (n* = never)" in (
        benefit_report.placement_sentence("moons", "input", never, MARGIN)
    )
    (overview,) = benefit_report.overview(cells)
    assert overview == (
        "Input noise helped in 2 of 6 cells (dataset x size x stddev) (moons at n = 10, 30), "
        "hurt in 1 (moons at n = 90); no practical difference 1, inconclusive 2."
    )


def test_length_sentences_give_the_mean_gain_per_length_and_the_fit() -> None:
    rows = [
        {"dataset": d, "n_train": n, "placement": p, "stddev": 0.1, "steps": steps,
         "acc_diff": gain, "none_train_acc": fit}
        for d, fit_scale in (("circles", 1.0), ("xor", 0.9))
        for n in (10, 90)
        for p, gain_scale in (("hidden", 1.0), ("input", 5.0))
        for steps, gain, fit in (
            (250, -0.02 * gain_scale, 0.7 * fit_scale),
            (1000, 0.04 * gain_scale, fit_scale if n == 10 else 0.8 * fit_scale),
        )
    ]  # fmt: skip
    trend, fit = benefit_report.length_sentences(pd.DataFrame(rows), "hidden")
    assert "scored at 250, 1000 steps" in trend
    assert "-0.020 at 250, +0.040 at 1000 steps" in trend  # hidden only, not input's x5
    assert "0.90-1.00 at n = 10; 0.72-0.80 at n = 90" in fit
    assert benefit_report.length_sentences(pd.DataFrame(rows[1::2]), "hidden") == []

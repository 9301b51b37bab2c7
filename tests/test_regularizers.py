"""The regularizer comparison: tuning never sees the test set, early stopping, ranks, verdicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from noisereg.data.reference import Split
from noisereg.experiments.regularizers import run as regularizers
from noisereg.experiments.regularizers.section import context, dataset_verdict
from noisereg.experiments.regularizers.summary import friedman, table
from noisereg.net import Net
from noisereg.params import COMBINED, EARLY_STOPPING, NONE, Params, parse_params
from tests.conftest import tiny_raw


def test_early_stopping_picks_the_epoch_of_the_lowest_mean_validation_loss() -> None:
    logged = np.arange(10, 110, 10)
    # Two folds of 5 points: pooled correct peaks at epoch 40 (9 of 10), though fold 1 alone
    # peaks at 50; epochs 40 and 50 tie at 9, and epoch 40 has the lower mean loss.
    correct = np.array(
        [
            [3, 3, 4, 5, 4, 4, 3, 3, 3, 3],
            [3, 3, 4, 4, 5, 4, 3, 3, 3, 3],
        ],
        float,
    )
    loss = np.array(
        [
            [0.9, 0.7, 0.5, 0.30, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9],
            [0.9, 0.7, 0.5, 0.30, 0.28, 0.5, 0.6, 0.7, 0.8, 0.9],
        ]
    )
    epoch, scores = regularizers.early_stopping_epoch(logged, correct, loss, [10, 40, 50, 100])
    assert epoch == 40
    assert [c for c, _ in scores] == [6, 9, 9, 6]
    assert [m for _, m in scores] == pytest.approx([0.9, 0.30, 0.315, 0.9])
    flat = np.full((2, 10), 0.5)
    assert regularizers.early_stopping_epoch(logged, flat * 8, flat, [20, 40])[0] == 20  # tie


def test_candidate_epochs_are_fractions_of_the_protocol() -> None:
    assert regularizers.early_stopping_epochs([0.02, 0.5, 1.0], 5000) == [100, 2500, 5000]
    assert regularizers.early_stopping_epochs([0.001], 100) == [1]


def test_a_method_sets_the_net_field_it_names() -> None:
    base = regularizers.Setting(NONE, 0.0, Net.of((8, 8)), 100)
    dropout = regularizers.with_method(base, "bernoulli_dropout_rate", 0.3)
    assert dropout.net.bernoulli_dropout_rate == (0.3, 0.3) and dropout.epochs == 100
    assert regularizers.with_method(base, "l2", 1e-3).net.l2 == 1e-3
    stopped = regularizers.with_method(base, EARLY_STOPPING, 40)
    assert stopped.epochs == 40 and stopped.net == base.net


@pytest.fixture(scope="module")
def small(default_raw: dict[str, Any]) -> Params:
    return parse_params(tiny_raw(default_raw))


def test_chosen_strengths_do_not_depend_on_the_test_labels(small: Params, split: Split) -> None:
    protocol = regularizers.Protocol(8, small.train.model_copy(update={"epochs": 20}))
    seeds = [(1, 2), (3, 4)]
    train = (split.x_train, split.y_train)

    def run(test_y: np.ndarray) -> regularizers.Comparison:
        return regularizers.compare(
            train,
            [train] * len(seeds),
            seeds,
            (split.x_test, test_y),
            small.regularizers,
            protocol,
            small.compute,
            "test",
        )

    honest, flipped = run(split.y_test), run(1.0 - split.y_test)
    pd.testing.assert_frame_equal(honest.chosen, flipped.chosen)
    pd.testing.assert_frame_equal(honest.cv, flipped.cv)
    # The labels did reach the scoring: every model's correct count is mirrored.
    n_test = len(split.y_test)
    np.testing.assert_array_equal(
        honest.per_seed["test_correct"], n_test - flipped.per_seed["test_correct"]
    )
    methods = set(honest.chosen["method"])
    assert methods == {NONE, COMBINED, *small.regularizers.candidates}
    assert honest.chosen["best_non_noise"].sum() == 1


def method_rows(name: str, accuracy: dict[str, list[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (per_seed, chosen) frames of one dataset from per-method correct counts of 100."""
    per_seed = pd.DataFrame(
        [
            {
                "dataset": name,
                "method": method,
                "replicate": r,
                "test_correct": correct,
                "n_test": 100,
                "test_loss": 0.5,
                "test_ece": 0.05,
            }
            for method, counts in accuracy.items()
            for r, correct in enumerate(counts)
        ]
    )
    chosen = pd.DataFrame(
        [
            {
                "dataset": name,
                "method": m,
                "value": 0.1,
                "epochs": 100,
                "best_non_noise": m == "l2",
                "cv_correct": 20 if m != "hidden_stddev" else 22,
                "cv_loss": 0.5,
            }
            for m in accuracy
        ]
    )
    return per_seed, chosen


def test_verdict_and_ranks_come_from_the_numbers(small: Params) -> None:
    frames = [
        method_rows(
            name,
            {
                NONE: [70, 71, 69, 70, 72, 70],
                "l2": [75, 76, 74, 75, 77, 75],
                "hidden_stddev": [80 + shift, 81, 79, 80, 82, 80],
                COMBINED: [75, 76, 74, 75, 77, 75],
            },
        )
        for name, shift in (("a", 0), ("b", 1), ("c", -1))
    ]
    per_seed = pd.concat([f[0] for f in frames], ignore_index=True)
    chosen = pd.concat([f[1] for f in frames], ignore_index=True)
    no_points = pd.DataFrame(columns=["method", "replicate", "test_points", "dataset"])
    rows = table(per_seed, chosen, no_points, small.report)
    # Primary: CV's noise pick and the combination on each of 3 datasets; only they decide.
    assert rows["primary"].sum() == 6
    assert rows.loc[~rows["primary"], "verdict"].isna().all()
    a = rows[rows["dataset"] == "a"]
    text, against, adds = dataset_verdict(a)
    assert (against, adds) == ("helped", "no practical difference")
    assert text.startswith("a: CV picked l2 0.1 as the best non-noise method (test accuracy 0.753)")
    assert "noise beats it: +0.050 (decision interval [+0.050, +0.050])" in text
    # Accuracies are written without signs; differences with.
    row = context(rows, friedman(rows, confidence=0.95), margin=0.01)["rows"][0]
    assert not row["test"].startswith("+") and row["vs_none"].startswith(("+", "-"))
    assert "(hidden_stddev 0.1 + l2) adds nothing practical to it" in text
    ranking = friedman(rows, confidence=0.95)
    overview = context(rows, ranking, margin=0.01)["overview"]
    assert (
        "the best noise method won on 3, tied on 0, lost on 0, was inconclusive on 0 "
        in (overview[0])
    )
    assert overview[1].startswith("Across 3 datasets the Friedman test on the ranks of 4 methods")
    assert "best mean rank: hidden_stddev (1.00)" in overview[1]
    # the ranking JSON is written with sorted keys: the leader must not depend on order
    shuffled = {**ranking, "mean_ranks": dict(sorted(ranking["mean_ranks"].items()))}
    assert context(rows, shuffled, margin=0.01)["overview"][1] == overview[1]
    assert next(iter(ranking["mean_ranks"])) == "hidden_stddev"  # sorted best first
    assert ranking["mean_ranks"]["hidden_stddev"] == 1.0 and ranking["mean_ranks"][NONE] == 4.0
    accuracy = rows.pivot_table(index="dataset", columns="method", values="test_acc")
    expected = stats.friedmanchisquare(*(accuracy[m] for m in accuracy.columns))
    assert ranking["statistic"] == pytest.approx(expected.statistic)
    # Demsar (2006), table 5: q_0.05 for k = 4 methods is 2.569.
    assert ranking["critical_difference"] == pytest.approx(2.569 * np.sqrt(4 * 5 / 18), abs=1e-3)

"""One verdict rule: every section's verdict words come from `stats.verdict` and nowhere else.

`stats.verdict` is replaced by a sentinel that gives every comparison the same verdict; each
study's summary is then computed and its section's words read back. A section that decided
on its own (an interval compared with 0, or with the margin, in its own code) would disagree
with the sentinel for some verdict and fail here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from noisereg import stats
from noisereg.experiments.benefit_map import section as map_section
from noisereg.experiments.benefit_map.summary import map_cells
from noisereg.experiments.reference import section as reference_section
from noisereg.experiments.reference.section import ReferenceResults
from noisereg.experiments.reference.summary import build
from noisereg.experiments.regularizers import section as regularizer_section
from noisereg.experiments.regularizers.summary import friedman, table
from noisereg.params import COMBINED, NONE, Params, SweepParams, VariantParams
from tests.per_point import per_seed_frame

WORDS = ("helped", "hurt", "no practical difference", "inconclusive")


@pytest.fixture(params=WORDS)
def sentinel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make every verdict `request.param`, whatever the interval."""
    word = str(request.param)
    monkeypatch.setattr(stats, "verdict", lambda low, high, margin: word)
    return word


def reference_results(default_params: Params) -> ReferenceResults:
    rng = np.random.default_rng(5)

    def variant(units: int | list[int], compare_to: str | None = None, **noise: float) -> Any:
        return VariantParams(
            hidden_units=units, dataset="reference", compare_to=compare_to, **noise
        )

    variants = {
        "baseline": variant(8),
        "input_noise": variant(8, "baseline", input_stddev=0.1),
        "hidden_noise": variant(8, "baseline", hidden_stddev=0.1),
        "deep_baseline": variant([4, 4]),
        "deep_hidden_all": variant([4, 4], "deep_baseline", hidden_stddev=0.1),
    }
    params = default_params.model_copy(
        update=dict(
            variants=variants,
            sweep=SweepParams(hidden_units=8, stddevs=(0.5,), placements=("input",)),
            report=default_params.report.model_copy(update=dict(bootstrap_resamples=200)),
        )
    )
    per_seed = {name: per_seed_frame(rng.integers(35, 60, 6)) for name in variants}
    refits = per_seed_frame(rng.integers(35, 60, 6)).assign(choice="best")
    sweep = per_seed_frame(rng.integers(35, 60, 6)).assign(placement="input", stddev=0.5)
    summary, _ = build(params, per_seed, refits, sweep)
    grid = {key: {"hidden_units": 8, "noise": 0.1} for key in ("best", "one_se")}
    return ReferenceResults({}, summary, {}, {}, grid, pd.DataFrame(), None)


def test_reference_words_follow_the_rule(sentinel: str, default_params: Params) -> None:
    results = reference_results(default_params)
    rows = reference_section._comparison_rows(results)
    assert len(rows) == 3 and {r["verdict"] for r in rows} == {sentinel}
    summary = " ".join(reference_section._summary(results, rows))
    helped = 2 if sentinel == "helped" else 0
    assert f"{helped} of 2 noise variants" in summary
    assert f"({sentinel} 2;" in summary
    phrase = reference_section.VERDICT_PHRASES[sentinel]
    assert f"deep_hidden_all {phrase}" in summary


def map_replicates(rng: np.random.Generator) -> pd.DataFrame:
    """Return one dataset's per-replicate map rows: no noise and one noisy cell per size."""
    rows = []
    for n in (10, 30):
        for placement, stddev in ((NONE, 0.0), ("hidden", 0.3)):
            for r in range(5):
                rows.append(
                    {"n_train": n, "placement": placement, "stddev": stddev, "replicate": r,
                     "steps": 1000, "test_correct": int(rng.integers(7000, 9000)),
                     "n_test": 10_000, "test_loss": rng.uniform(0.2, 0.4),
                     "test_ece": rng.uniform(0.0, 0.1), "train_correct": n}
                )  # fmt: skip
    return pd.DataFrame(rows)


def test_benefit_map_words_follow_the_rule(sentinel: str, default_params: Params) -> None:
    mapped = dict(datasets=("xor",), sizes=(10, 30), placements=("hidden",), stddevs=(0.3,))
    params = default_params.model_copy(
        update=dict(benefit_map=default_params.benefit_map.model_copy(update=mapped))
    )
    cells = map_cells("xor", map_replicates(np.random.default_rng(2)), params)
    assert set(cells["acc_verdict"]) == {stats.VERDICT_CODES[sentinel]}
    (overview,) = map_section.overview(cells)
    count = 2 if sentinel == "helped" else 0
    assert overview.startswith(f"Hidden noise helped in {count} of 2 cells")
    sentence = map_section.placement_sentence("xor", "hidden", cells, margin=0.01)
    assert ("helped at n = 10, 30" in sentence) == (sentinel == "helped")
    assert ("It hurt in 2 of 2 cells" in sentence) == (sentinel == "hurt")


def regularizer_rows(default_params: Params) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    methods = (NONE, "l2", "hidden_stddev", COMBINED)
    per_seed, chosen = [], []
    for name in ("a", "b"):
        for method in methods:
            for r in range(5):
                per_seed.append(
                    {"dataset": name, "method": method, "replicate": r,
                     "test_correct": int(rng.integers(60, 90)), "n_test": 100,
                     "test_loss": 0.5, "test_ece": 0.05}
                )  # fmt: skip
            chosen.append(
                {"dataset": name, "method": method, "value": 0.1, "epochs": 100,
                 "best_non_noise": method == "l2", "cv_correct": 20, "cv_loss": 0.5}
            )  # fmt: skip
    no_points = pd.DataFrame(columns=["method", "replicate", "test_points", "dataset"])
    return table(pd.DataFrame(per_seed), pd.DataFrame(chosen), no_points, default_params.report)


def test_regularizer_words_follow_the_rule(sentinel: str, default_params: Params) -> None:
    rows = regularizer_rows(default_params)
    context: dict[str, Any] = regularizer_section.context(
        rows, friedman(rows, confidence=0.95), margin=0.01
    )
    for sentence in context["sentences"]:
        assert f"noise {regularizer_section.AGAINST[sentinel]} it" in sentence
        assert regularizer_section.ADDS[sentinel] in sentence
    tally = {"helped": "won", "no practical difference": "tied", "hurt": "lost"}
    word = tally.get(sentinel, "was inconclusive")
    assert f"{word} on 2" in context["overview"][0]
    assert {r["verdict"] for r in context["rows"]} == {sentinel, "-"}

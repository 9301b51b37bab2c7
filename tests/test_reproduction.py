"""The reproduction check (`make check`): what it lists, what it fails, and how it says so.

Its run on a built study's real files is in tests/test_pipeline.py (next to the shared
build, so no worker waits for it).
"""

from __future__ import annotations

import pandas as pd
import pytest

from noisereg.reproduction import (
    Estimate,
    Findings,
    Judged,
    compare_choice,
    compare_means,
    compare_verdicts,
    most_correct_shortfall,
    one_se_shortfall,
)


def verdicts(old: Judged, new: Judged) -> Findings:
    findings = Findings()
    compare_verdicts({"c": old}, {"c": new}, findings, "reference")
    return findings


def test_a_flip_between_clear_verdicts_contradicts() -> None:
    findings = verdicts(
        Judged("helped", 0.02, 0.05), Judged("no practical difference", -0.005, 0.008)
    )
    assert len(findings.contradictions) == 1
    assert "helped [+0.0200, +0.0500] -> no practical difference" in findings.contradictions[0]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Judged("helped", 0.02, 0.05), Judged("inconclusive", 0.005, 0.05)),
        (Judged("inconclusive", -0.02, 0.05), Judged("hurt", -0.05, -0.02)),
        # The bootstrap's own Monte Carlo error could have flipped it: listed, not failed.
        (Judged("helped", 0.0101, 0.05, borderline=True), Judged("inconclusive", 0.0099, 0.05)),
        (Judged("hurt", -0.05, -0.02), Judged("helped", 0.02, 0.05, borderline=True)),
    ],
)
def test_a_flip_at_the_boundary_is_listed_not_failed(old: Judged, new: Judged) -> None:
    findings = verdicts(old, new)
    assert findings.contradictions == []
    assert findings.listed["verdicts"][0].endswith("(at the boundary)")


def test_the_same_verdict_is_neither_listed_nor_failed() -> None:
    findings = verdicts(Judged("helped", 0.02, 0.05), Judged("helped", 0.03, 0.06))
    assert findings.compared == {"verdicts": 1} and findings.listed == {}


def test_a_mean_fails_only_beyond_both_half_widths_in_quadrature() -> None:
    findings = Findings()
    old = {"a": Estimate(0.70, 0.67, 0.73), "b": Estimate(0.70, 0.67, 0.73)}
    # Half-widths 0.03 and 0.04: the tolerance is 0.05.
    new = {"a": Estimate(0.749, 0.709, 0.789), "b": Estimate(0.751, 0.711, 0.791)}
    compare_means(old, new, findings, "reference")
    assert [line.split(":")[0] for line in findings.listed["means"]] == [
        "reference a",
        "CONTRADICTION reference b",
    ]
    assert "(tolerance 0.0500)" in findings.contradictions[0]


def test_a_choice_fails_only_outside_the_tied_candidates() -> None:
    findings = Findings()
    scores = {"a": 50, "b": 49, "c": 47}
    for old in ("b", "c", "d"):  # one point below (a tie), three below, no longer a candidate
        compare_choice("pick", old, "a", most_correct_shortfall(old, "a", scores), findings)
    assert findings.compared == {"choices": 3} and len(findings.contradictions) == 2
    assert findings.listed["choices"][0] == "pick: b -> a (tied within 1 point)"
    assert "3 points short" in findings.contradictions[0]
    assert "not a candidate" in findings.contradictions[1]


def grid(counts: dict[tuple[int, float], int], se_points: float) -> pd.DataFrame:
    """Grid cells with pooled counts; every cell's SE is `se_points` pooled points."""
    return pd.DataFrame(
        [
            {
                "hidden_units": w,
                "noise": n,
                "cv_correct": c,
                "cv_points": 100,
                "cv_se": se_points / 100,
            }
            for (w, n), c in counts.items()
        ]
    )


def test_the_one_se_choice_is_judged_by_its_own_rule() -> None:
    # Best: (100, 0.1) at 68; one SE = 9.5 points, so cells with >= 58.5 are eligible and
    # the narrowest, then noisiest, of them is the one-SE choice: (50, 0.7) at 59.
    counts = {(50, 0.2): 65, (50, 0.7): 59, (100, 0.1): 68, (100, 0.7): 60}
    cells = grid(counts, 9.5)
    assert one_se_shortfall(cells, (50, 0.7)) == 0  # the rule's own choice
    # One point down for (50, 0.7) makes (50, 0.2) the choice; the committed (50, 0.7) is
    # then 0.5 points short of eligibility: a tie, not the 7 points of a most-correct rule.
    moved = grid({**counts, (50, 0.7): 58}, 9.5)
    assert one_se_shortfall(moved, (50, 0.7)) == pytest.approx(0.5)
    # A clearly eligible preferred cell (narrower, 10 points above the bar) would have to lose
    # 11 points for a wider committed choice to be picked.
    assert one_se_shortfall(grid({**counts, (20, 0.1): 68}, 9.5), (50, 0.7)) == pytest.approx(10.5)
    assert one_se_shortfall(cells, (30, 0.1)) is None


def test_a_changed_cv_pick_excuses_what_rests_on_it() -> None:
    findings = Findings()
    old = {"xor noise pick": Judged("helped", 0.02, 0.05)}
    new = {"xor noise pick": Judged("no practical difference", -0.005, 0.005)}
    compare_verdicts(old, new, findings, "regularizers", frozenset({"xor noise pick"}))
    compare_means(
        {"xor l2 vs none": Estimate(0.9, 0.89, 0.91)},
        {"xor l2 vs none": Estimate(0.8, 0.79, 0.81)},
        findings,
        "regularizers",
        frozenset({"xor l2 vs none"}),
    )
    assert findings.contradictions == []
    assert all("changed within its tie" in lines[0] for lines in findings.listed.values())

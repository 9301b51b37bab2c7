"""Statistics on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from noisereg.stats import holm, paired_comparison, summarize, verdict, wilcoxon_p


def test_summary_matches_hand_computed_t_interval() -> None:
    # mean 2, sample std 1, n = 4: half-width = t(0.975, 3) * 1 / 2 = 3.182446 / 2
    result = summarize([1.0, 2.0, 2.0, 3.0 + 0.0], 0.95)
    values = np.array([1.0, 2.0, 2.0, 3.0])
    assert result["mean"] == pytest.approx(2.0)
    assert result["std"] == pytest.approx(values.std(ddof=1))
    half = 3.182446305284263 * values.std(ddof=1) / 2
    assert result["ci_low"] == pytest.approx(2.0 - half)
    assert result["ci_high"] == pytest.approx(2.0 + half)


def test_single_run_has_no_interval() -> None:
    assert summarize([0.7]) == {"mean": 0.7, "std": None, "ci_low": None, "ci_high": None}


def test_identical_samples_give_zero_difference_and_p_one() -> None:
    a = np.array([0.6, 0.7, 0.65, 0.61])
    result = paired_comparison(a, a.copy())
    assert result["diff"] == {"mean": 0.0, "std": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert result["p_value"] == 1.0


def test_constant_positive_difference_is_detected() -> None:
    baseline = np.linspace(0.5, 0.7, 12)
    result = paired_comparison(baseline + 0.05, baseline)
    assert result["diff"]["mean"] == pytest.approx(0.05)
    assert result["diff"]["std"] == pytest.approx(0.0, abs=1e-12)
    # exact two-sided signed-rank p with all 12 differences positive: 2 / 2**12
    assert result["p_value"] == pytest.approx(2 / 2**12)


def test_wilcoxon_needs_two_values() -> None:
    assert wilcoxon_p([0.1]) is None


def test_holm_step_down() -> None:
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": None})
    assert adjusted["a"] == pytest.approx(0.03)
    assert adjusted["c"] == pytest.approx(0.06)
    assert adjusted["b"] == pytest.approx(0.06)  # monotone: never below the previous step
    assert adjusted["d"] is None


def test_verdict_words() -> None:
    assert verdict({"mean": 0.05}, 0.01) == "helped"
    assert verdict({"mean": -0.05}, 0.01) == "hurt"
    assert verdict({"mean": 0.05}, 0.2) == "no detectable difference"
    assert verdict({"mean": 0.05}, None) == "no detectable difference"

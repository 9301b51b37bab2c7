"""The report's "Noise against the alternatives" section: verdicts generated from the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from noisereg.experiments.regularizers import figures as regularizer_plots
from noisereg.params import COMBINED, EARLY_STOPPING, NONE
from noisereg.report.document import FigureSpec, Section
from noisereg.stats import VERDICT_CODES, column_interval


@dataclass(frozen=True)
class RegularizerResults:
    """plots/regularizers.csv and the ranks across datasets (plots/regularizers_ranking.json)."""

    table: pd.DataFrame
    ranking: dict[str, Any]
    family: str  # the primary comparisons, in words
    decision_confidence: float  # their family-wise level


WORDS = {code: word for word, code in VERDICT_CODES.items()}

# summarize's verdict (stats.verdict) of (noise - best non-noise) -> how the sentence says it.
AGAINST = {
    "helped": "beats",
    "hurt": "loses to",
    "no practical difference": "ties with",
    "inconclusive": "is inconclusive against",
}
ADDS = {
    "helped": "adds to it",
    "hurt": "hurts it",
    "no practical difference": "adds nothing practical to it",
    "inconclusive": "is inconclusive on top of it",
}


def setting(row: Any, best: str) -> str:
    """Return a method with its chosen strength, e.g. 'l2 0.001' or 'early_stopping (1250 epochs)'.

    `best` is the dataset's best non-noise method, the one the combination builds on.
    """
    if row.method == NONE:
        return "no regularization"
    if row.method == EARLY_STOPPING:
        return f"early_stopping ({int(row.epochs)} epochs)"
    if row.method == COMBINED:
        return f"hidden_stddev {row.value:g} + {best}"
    return f"{row.method} {row.value:g}"


def decided(row: Any) -> str:
    """Return a primary row's difference with the decision interval its verdict rests on."""
    margin_note = "; on the margin" if row.borderline else ""
    return (
        f"{row.diff_vs_best:+.3f} (decision interval [{row.decision_low:+.3f}, "
        f"{row.decision_high:+.3f}]{margin_note})"
    )


def dataset_verdict(rows: pd.DataFrame) -> tuple[str, str, str]:
    """Return (sentence, noise-vs-best verdict, combination verdict) for one dataset.

    The verdicts are summarize's (the primary rows' codes); this only words them.
    """
    name = rows["dataset"].iloc[0]
    best = rows[rows["best_non_noise"]].iloc[0]
    noise = rows[rows["primary"] & (rows["method"] != COMBINED)].iloc[0]
    against = WORDS[int(noise.verdict)]
    text = (
        f"{name}: CV picked {setting(best, best.method)} as the best non-noise method (test "
        f"accuracy {best.test_acc:.3f}) and {setting(noise, best.method)} as the best noise "
        f"method; noise {AGAINST[against]} it: {decided(noise)}"
    )
    combined = rows[rows["method"] == COMBINED]
    adds = "not run"
    if not combined.empty:
        c = combined.iloc[0]
        adds = WORDS[int(c.verdict)]
        text += (
            f"; hidden noise on top of it ({setting(c, best.method)}) {ADDS[adds]}: {decided(c)}"
        )
    return text + ".", against, adds


def context(frame: pd.DataFrame, ranking: dict[str, Any], margin: float) -> dict[str, Any]:
    """Return the section's context: the overall verdict, one sentence per dataset, rows."""
    sentences, outcomes, additions = [], [], []
    for name in dict.fromkeys(frame["dataset"]):
        text, against, adds = dataset_verdict(frame[frame["dataset"] == name])
        sentences.append(text)
        outcomes.append(against)
        additions.append(adds)
    n = len(outcomes)
    tally = ", ".join(
        f"{word} on {outcomes.count(v)}"
        for v, word in (
            ("helped", "won"),
            ("no practical difference", "tied"),
            ("hurt", "lost"),
            ("inconclusive", "was inconclusive"),
        )
    )
    overview = [
        f"Against the best tuned non-noise method (weight decay, dropout or early stopping, "
        f"each tuned by the same CV with the same number of candidates; margin +-{margin:g}), "
        f"the best noise method {tally} of {n} datasets. Hidden noise on top of that method "
        f"added to it on {additions.count('helped')} of {n}."
    ]
    if ranking.get("p_value") is not None:
        ranks = ranking["mean_ranks"]  # JSON keeps no order: find the best rank
        leader = min(ranks, key=lambda method: (ranks[method], method))
        rank = ranks[leader]
        overview.append(
            f"Across {ranking['datasets']} datasets the Friedman test on the ranks of "
            f"{ranking['methods']} methods gives chi2 = {ranking['statistic']:.2f}, "
            f"p = {ranking['p_value']:.2g}; best mean rank: {leader} ({rank:.2f}); Nemenyi "
            f"critical difference {ranking['critical_difference']:.2f}."
        )
    best_of = {
        str(r.dataset): str(r.method)
        for r in cast(Any, frame[frame["best_non_noise"]]).itertuples()
    }
    rows = [
        {
            "dataset": r.dataset,
            "method": r.method,
            "chosen": setting(r, best_of[r.dataset]),
            "test": column_interval(r, "test_acc", signed=False),
            "vs_none": column_interval(r, "diff_vs_none"),
            "vs_best": column_interval(r, "diff_vs_best"),
            "decision": f"[{r.decision_low:+.3f}, {r.decision_high:+.3f}]" if r.primary else "-",
            "mde": f"{r.mde:.3f}" if r.primary else "-",
            "verdict": (WORDS[int(r.verdict)] + (" (on the margin)" if r.borderline else ""))
            if r.primary
            else "-",
        }
        for r in cast(Any, frame).itertuples()
    ]
    return {"overview": overview, "sentences": sentences, "rows": rows}


def _figures(
    regularizers: RegularizerResults, margin: float, confidence: float
) -> list[FigureSpec]:
    specs = [
        FigureSpec(
            "regularizers.png",
            regularizer_plots.forest(regularizers.table, margin),
            "Paired test-accuracy differences of every tuned method, per dataset",
            "Each method at its CV-chosen strength: paired test-accuracy difference against no "
            "regularization (circles) and against the best non-noise method (squares), with "
            f"{confidence:.0%} intervals (over seeds and test points on the reference split, "
            "Student t over the draws elsewhere); grey band: the margin of practical "
            "equivalence. Verdicts (table) use the wider family-wise intervals.",
        )
    ]
    if regularizers.ranking.get("critical_difference"):
        specs.append(
            FigureSpec(
                "regularizer_ranks.png",
                regularizer_plots.critical_difference(regularizers.ranking),
                "Critical-difference diagram of the methods' mean ranks across datasets",
                "Mean rank of each method by test accuracy across the datasets (1 = best). "
                "Methods joined by a thick line differ by less than the Nemenyi critical "
                "difference (CD) at the report's confidence level.",
            )
        )
    return specs


def section(regularizers: RegularizerResults, margin: float, confidence: float) -> Section:
    """Return the comparison's section: its partials' context and figures."""
    return Section(
        name="regularizers",
        context={
            "regularizers": {
                **context(regularizers.table, regularizers.ranking, margin),
                "confidence": f"{confidence:.0%}",
                "family": regularizers.family,
                "decision_confidence": f"{regularizers.decision_confidence:.2%}",
                "margin": f"{margin:g}",
            }
        },
        figures=_figures(regularizers, margin, confidence),
    )

"""The reproduction check: does this workspace's rerun agree with the committed results?

`make check` (`python -m noisereg.reproduction [--against REV_OR_DIR]`) compares the results
in the workspace (after `dvc repro`) with the ones committed in git (HEAD by default, or a
directory holding the same files). Training bits may differ between processor types, so
numbers may move; what must not happen is a contradiction:

- a verdict that flips while both runs' decision intervals clear the boundary (helped in one,
  no practical difference or hurt in the other); a flip to or from "inconclusive", or one the
  bootstrap's Monte Carlo error could cause (`borderline`), is listed, not failed;
- a choice (the grid's cells, the regularizers' CV picks) outside the candidates that tie
  with the new choice: its selection score, a pooled count of correct validation points, is
  more than CHOICE_SLACK_POINTS below the best;
- a mean that moved by more than both runs' interval half-widths combined in quadrature
  (the spread two independent estimates of the same number would show at that confidence).

Everything that differs is printed; the exit status is 1 only for a contradiction, with one
line on stderr naming the first. It reads only the committed summary files (metrics/*.json
and the summary tables under plots/, all in git), plus the rerun's own CV scores for ties.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from noisereg.experiments.benefit_map.outputs import BENEFIT_MAP_PATH
from noisereg.experiments.reference.outputs import GRID_METRICS_PATH, GRID_PATH, SUMMARY_PATH
from noisereg.experiments.regularizers.outputs import REGULARIZERS_DIR, REGULARIZERS_PLOT_PATH
from noisereg.stats import VERDICT_CODES

# A choice differs "within float noise" when the committed pick scores at most this many
# pooled validation points below the new one: one flipped point is the smallest change that
# a difference in the last bits of training can make to a count.
CHOICE_SLACK_POINTS = 1
CLEAR_VERDICTS = {"helped", "no practical difference", "hurt"}
VERDICT_WORDS = {code: word for word, code in VERDICT_CODES.items()}


@dataclass(frozen=True)
class Judged:
    """One verdict: its word, decision interval and whether MC error could flip it."""

    verdict: str
    low: float | None
    high: float | None
    borderline: bool = False


@dataclass(frozen=True)
class Estimate:
    """One mean and its interval at the shown confidence."""

    mean: float
    low: float | None
    high: float | None

    def half_width(self) -> float:
        """Return half the interval's width (0 without an interval)."""
        if self.low is None or self.high is None:
            return 0.0
        return (self.high - self.low) / 2


@dataclass
class Findings:
    """What the comparison found, by kind: the lines to list and the contradictions."""

    compared: dict[str, int] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)
    contradictions: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        """Count one comparison of `kind`."""
        self.compared[kind] = self.compared.get(kind, 0) + 1

    def list(self, kind: str, line: str) -> None:
        """List a difference that chance allows."""
        self.listed.setdefault(kind, []).append(line)

    def contradict(self, kind: str, line: str) -> None:
        """List a contradiction; it fails the check."""
        self.list(kind, "CONTRADICTION " + line)
        self.contradictions.append(line)


def compare_verdicts(
    old: dict[str, Judged], new: dict[str, Judged], findings: Findings, what: str
) -> None:
    """Compare verdicts by key; a flip between two clear verdicts is a contradiction."""
    for key in sorted(old.keys() | new.keys()):
        findings.count("verdicts")
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            findings.list(
                "verdicts", f"{what} {key}: only in the {'rerun' if a is None else 'commit'}"
            )
            continue
        if a.verdict == b.verdict:
            continue
        line = f"{what} {key}: {a.verdict} {_bounds(a)} -> {b.verdict} {_bounds(b)}"
        clear = a.verdict in CLEAR_VERDICTS and b.verdict in CLEAR_VERDICTS
        if clear and not (a.borderline or b.borderline):
            findings.contradict("verdicts", line + " (both intervals clear the boundary)")
        else:
            findings.list("verdicts", line + " (at the boundary)")


def compare_means(
    old: dict[str, Estimate], new: dict[str, Estimate], findings: Findings, what: str
) -> None:
    """Compare means by key; a move beyond both half-widths in quadrature contradicts."""
    for key in sorted(old.keys() & new.keys()):
        findings.count("means")
        a, b = old[key], new[key]
        if a.mean == b.mean:
            continue
        tolerance = math.hypot(a.half_width(), b.half_width())
        line = f"{what} {key}: {a.mean:.4f} -> {b.mean:.4f} (tolerance {tolerance:.4f})"
        if abs(b.mean - a.mean) > tolerance:
            findings.contradict("means", line)
        else:
            findings.list("means", line)


def compare_choice(
    what: str,
    old: Any,
    new: Any,
    scores: dict[Any, int],
    findings: Findings,
) -> None:
    """Compare one choice; `scores` are the rerun's selection scores (pooled correct counts)."""
    findings.count("choices")
    if old == new:
        return
    line = f"{what}: {old} -> {new}"
    if old not in scores:
        findings.contradict("choices", line + " (the committed choice is not a candidate now)")
    elif scores[new] - scores[old] > CHOICE_SLACK_POINTS:
        findings.contradict(
            "choices", line + f" (committed choice scores {scores[new] - scores[old]} points below)"
        )
    else:
        findings.list("choices", line + f" (tied within {CHOICE_SLACK_POINTS} point)")


def _bounds(judged: Judged) -> str:
    if judged.low is None or judged.high is None:
        return "[no interval]"
    return f"[{judged.low:+.4f}, {judged.high:+.4f}]"


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


# Readers: each takes a function that returns a file's text (committed or rerun) by path.
Reader = Callable[[Path], str]


def reference_results(read: Reader) -> tuple[dict[str, Judged], dict[str, Estimate]]:
    """Return the reference study's verdicts and means (variants' test accuracy, differences)."""
    summary = json.loads(read(SUMMARY_PATH))
    verdicts, means = {}, {}
    for name, c in summary["comparisons"].items():
        verdicts[name] = Judged(
            c["verdict"], c["decision_low"], c["decision_high"], bool(c.get("borderline"))
        )
        means[f"{name} difference"] = _estimate(c["diff"])
    for name, variant in summary["variants"].items():
        means[f"{name} test accuracy"] = _estimate(variant["test_acc"])
    return verdicts, means


def _estimate(summary: dict[str, Any]) -> Estimate:
    return Estimate(
        float(summary["mean"]), _number(summary.get("ci_low")), _number(summary.get("ci_high"))
    )


def map_results(read: Reader) -> tuple[dict[str, Judged], dict[str, Estimate]]:
    """Return the benefit map's verdicts and accuracy gains, per cell."""
    cells = pd.read_csv(io.StringIO(read(BENEFIT_MAP_PATH)))
    verdicts, means = {}, {}
    for row in cast(Any, cells).itertuples():
        key = f"{row.dataset} n={row.n_train} {row.placement} {row.stddev:g}"
        verdicts[key] = Judged(
            VERDICT_WORDS[int(row.acc_verdict)],
            _number(row.acc_decision_low),
            _number(row.acc_decision_high),
        )
        means[key] = Estimate(
            float(row.acc_diff), _number(row.acc_diff_low), _number(row.acc_diff_high)
        )
    return verdicts, means


def regularizer_results(
    read: Reader,
) -> tuple[dict[str, Judged], dict[str, Estimate], dict[str, str]]:
    """Return the regularizers' primary verdicts, differences vs none and CV picks."""
    table = pd.read_csv(io.StringIO(read(REGULARIZERS_PLOT_PATH)))
    verdicts, means, picks = {}, {}, {}
    for row in cast(Any, table).itertuples():
        key = f"{row.dataset} {row.method}"
        if row.primary:
            verdicts[key] = Judged(
                VERDICT_WORDS[int(row.verdict)],
                _number(row.decision_low),
                _number(row.decision_high),
                bool(row.borderline),
            )
        means[f"{key} vs none"] = Estimate(
            float(row.diff_vs_none), _number(row.diff_vs_none_low), _number(row.diff_vs_none_high)
        )
        picks[key] = str(row.value)
    return verdicts, means, picks


def check(committed: Reader, rerun: Reader) -> Findings:
    """Compare the committed results with the rerun's."""
    findings = Findings()
    for what, results in (
        ("reference", reference_results),
        ("benefit map", map_results),
    ):
        old_verdicts, old_means = results(committed)
        new_verdicts, new_means = results(rerun)
        compare_verdicts(old_verdicts, new_verdicts, findings, what)
        compare_means(old_means, new_means, findings, what)
    old_verdicts, old_means, old_picks = regularizer_results(committed)
    new_verdicts, new_means, new_picks = regularizer_results(rerun)
    compare_verdicts(old_verdicts, new_verdicts, findings, "regularizers")
    compare_means(old_means, new_means, findings, "regularizers")
    _check_grid(committed, rerun, findings)
    _check_picks(old_picks, new_picks, rerun, findings)
    return findings


def _check_grid(committed: Reader, rerun: Reader, findings: Findings) -> None:
    cells = pd.read_csv(io.StringIO(rerun(GRID_PATH)))
    scores = {
        (int(r.hidden_units), float(r.noise)): int(r.cv_correct)
        for r in cast(Any, cells).itertuples()
    }
    old, new = json.loads(committed(GRID_METRICS_PATH)), json.loads(rerun(GRID_METRICS_PATH))
    for key in ("best", "one_se"):
        compare_choice(
            f"grid {key} cell (units, noise)", _cell(old[key]), _cell(new[key]), scores, findings
        )


def _cell(chosen: dict[str, Any]) -> tuple[int, float]:
    return int(chosen["hidden_units"]), float(chosen["noise"])


def _check_picks(
    old: dict[str, str], new: dict[str, str], rerun: Reader, findings: Findings
) -> None:
    cv = pd.read_csv(io.StringIO(rerun(REGULARIZERS_DIR / "cv.csv")))
    for key in sorted(old.keys() & new.keys()):
        dataset, method = key.split(" ", 1)
        rows = cv[(cv["dataset"] == dataset) & (cv["method"] == method)]
        scores = {str(r.value): int(r.cv_correct) for r in cast(Any, rows).itertuples()}
        if not scores:  # a method without candidates (none): nothing was chosen
            continue
        compare_choice(f"regularizers {key} CV pick", old[key], new[key], scores, findings)


def git_reader(revision: str) -> Reader:
    """Return a reader of files as committed at `revision`."""

    def read(path: Path) -> str:
        result = subprocess.run(
            ["git", "show", f"{revision}:{path.as_posix()}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise FileNotFoundError(f"{path} is not committed at {revision}")
        return result.stdout

    return read


def directory_reader(root: Path) -> Reader:
    """Return a reader of files under `root` (the workspace, or a copy of committed results)."""

    def read(path: Path) -> str:
        target = root / path
        if not target.is_file():
            raise FileNotFoundError(f"{target} is missing")
        return target.read_text()

    return read


def render(findings: Findings, against: str) -> Iterable[str]:
    """Yield the report's lines: a count per kind, then every listed difference."""
    yield f"Reproduction check: this workspace's results against {against}"
    for kind in ("verdicts", "choices", "means"):
        listed = findings.listed.get(kind, [])
        failed = sum(line.startswith("CONTRADICTION") for line in listed)
        yield (
            f"{kind:<9} {findings.compared.get(kind, 0)} compared: "
            f"{len(listed) - failed} differ within what chance allows, {failed} contradict"
        )
        yield from (f"  {line}" for line in listed)
    if findings.contradictions:
        yield f"NOT REPRODUCED: {len(findings.contradictions)} contradiction(s)"
    else:
        yield "Reproduced: no contradiction."


def main(argv: list[str] | None = None) -> int:
    """Run the check; return 0 reproduced, 1 contradicted, 2 nothing to compare."""
    parser = argparse.ArgumentParser(
        prog="python -m noisereg.reproduction", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--against",
        default="HEAD",
        help="a git revision (default HEAD) or a directory holding the committed results",
    )
    args = parser.parse_args(argv)
    against = Path(args.against)
    committed = directory_reader(against) if against.is_dir() else git_reader(args.against)
    try:
        findings = check(committed, directory_reader(Path(".")))
    except (FileNotFoundError, KeyError, ValueError) as error:
        print(f"reproduction check: cannot compare: {error}", file=sys.stderr)
        return 2
    for line in render(findings, args.against):
        print(line)
    if findings.contradictions:
        print(f"reproduction check failed: {findings.contradictions[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

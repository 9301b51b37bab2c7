"""The reproduction check: does this workspace's rerun agree with the committed results?

`make check` (`python -m noisereg.reproduction [--against REV_OR_DIR]`) compares the results
in the workspace (after `dvc repro`) with the ones committed in git (HEAD by default, or a
directory holding the same files). Training bits may differ between processor types, so
numbers may move; what must not happen is a contradiction:

- a verdict that flips while both runs' decision intervals clear the boundary (helped in one,
  no practical difference or hurt in the other); a flip to or from "inconclusive", or one the
  bootstrap's Monte Carlo error could cause (`borderline`), is listed, not failed;
- a choice (the grid's best and one-SE cells; per dataset each regularizer's strength, the
  noise pick and the best non-noise method) that the rerun's own selection rule would make
  only if its scores, pooled counts of correct validation points, moved by more than
  CHOICE_SLACK_POINTS; a choice within that tie is listed, and so are the verdicts and
  means of a regularizer dataset whose picks changed (they now describe another setting);
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
from typing import Any, TypeVar, cast

import pandas as pd

from noisereg.experiments.benefit_map.outputs import BENEFIT_MAP_PATH
from noisereg.experiments.reference.outputs import GRID_METRICS_PATH, GRID_PATH, SUMMARY_PATH
from noisereg.experiments.regularizers.outputs import REGULARIZERS_DIR, REGULARIZERS_PLOT_PATH
from noisereg.stats import VERDICT_CODES

# A changed choice is a tie "within float noise" when the rerun's scores would have to move
# by at most this many pooled validation points for its own rule to pick the committed one:
# one flipped point is the smallest change the last bits of training can make to a count.
CHOICE_SLACK_POINTS = 1
T = TypeVar("T")
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


EXCUSED = " (a CV pick it rests on changed within its tie)"


def compare_verdicts(
    old: dict[str, Judged],
    new: dict[str, Judged],
    findings: Findings,
    what: str,
    excused: frozenset[str] = frozenset(),
) -> None:
    """Compare verdicts by key; a flip between two clear verdicts is a contradiction.

    `excused` keys depend on a CV pick that changed within its tie: they are listed only.
    """

    def differ(a: Judged, b: Judged) -> tuple[str, bool] | None:
        if a.verdict == b.verdict:
            return None
        line = f"{a.verdict} {_bounds(a)} -> {b.verdict} {_bounds(b)}"
        clear = a.verdict in CLEAR_VERDICTS and b.verdict in CLEAR_VERDICTS
        if clear and not (a.borderline or b.borderline):
            return line + " (both intervals clear the boundary)", True
        return line + " (at the boundary)", False

    _compare("verdicts", old, new, findings, what, excused, differ)


def compare_means(
    old: dict[str, Estimate],
    new: dict[str, Estimate],
    findings: Findings,
    what: str,
    excused: frozenset[str] = frozenset(),
) -> None:
    """Compare means by key; a move beyond both half-widths in quadrature contradicts."""

    def differ(a: Estimate, b: Estimate) -> tuple[str, bool] | None:
        if a.mean == b.mean:
            return None
        tolerance = math.hypot(a.half_width(), b.half_width())
        line = f"{a.mean:.4f} -> {b.mean:.4f} (tolerance {tolerance:.4f})"
        return line, abs(b.mean - a.mean) > tolerance

    _compare("means", old, new, findings, what, excused, differ)


def _compare(
    kind: str,
    old: dict[str, T],
    new: dict[str, T],
    findings: Findings,
    what: str,
    excused: frozenset[str],
    differ: Callable[[T, T], tuple[str, bool] | None],
) -> None:
    """Compare two runs' results by key: `differ` returns None when a pair agrees, else
    its line and whether it contradicts; a key on one side only is listed."""
    for key in sorted(old.keys() | new.keys()):
        findings.count(kind)
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            findings.list(kind, f"{what} {key}: only in the {'rerun' if a is None else 'commit'}")
            continue
        outcome = differ(a, b)
        if outcome is None:
            continue
        line, contradicts = f"{what} {key}: {outcome[0]}", outcome[1]
        if key in excused:
            findings.list(kind, line + EXCUSED)
        elif contradicts:
            findings.contradict(kind, line)
        else:
            findings.list(kind, line)


def compare_choice(
    what: str, old: Any, new: Any, shortfall: float | None, findings: Findings
) -> bool:
    """Compare one choice; return whether it changed.

    `shortfall`: by how many pooled validation points the rerun's scores would have to
    move for its selection rule to pick the committed choice (None: no longer a candidate).
    """
    findings.count("choices")
    if old == new:
        return False
    line = f"{what}: {old} -> {new}"
    if shortfall is None:
        findings.contradict("choices", line + " (the committed choice is not a candidate now)")
    elif shortfall > CHOICE_SLACK_POINTS:
        findings.contradict("choices", line + f" (committed choice {shortfall:g} points short)")
    else:
        findings.list("choices", line + f" (tied within {CHOICE_SLACK_POINTS} point)")
    return True


def most_correct_shortfall(old: Any, new: Any, scores: dict[Any, int]) -> float | None:
    """Return the shortfall of `old` under a most-correct-count rule (`compare_choice`)."""
    return None if old not in scores else scores[new] - scores[old]


def one_se_shortfall(cells: pd.DataFrame, old: tuple[int, float]) -> float | None:
    """Return the shortfall of `old` under the grid's one-SE rule (reference.run.choose_cells).

    The rule takes the narrowest, then noisiest, cell whose count is within one SE of the
    best's: `old` is picked once it is eligible and every cell the rule prefers is not.
    """
    score = grid_scores(cells)
    if old not in score:
        return None
    best = cells.sort_values(
        ["cv_correct", "hidden_units", "noise"], ascending=[False, True, True]
    ).iloc[0]
    threshold = best["cv_correct"] - best["cv_se"] * best["cv_points"]
    preferred = [c for c in score if c[0] < old[0] or (c[0] == old[0] and c[1] > old[1])]
    moves = [threshold - score[old]] + [score[c] - threshold + 1 for c in preferred]
    return max(0.0, *moves)


def grid_scores(cells: pd.DataFrame) -> dict[tuple[int, float], int]:
    """Return each grid cell's (width, noise) -> pooled count of correct validation points."""
    return {
        (int(r.hidden_units), float(r.noise)): int(r.cv_correct)
        for r in cast(Any, cells).itertuples()
    }


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


@dataclass(frozen=True)
class RegularizerResults:
    """The regularizer comparison's committed or rerun results, by dataset."""

    verdicts: dict[str, Judged]  # '<dataset> noise pick' / '<dataset> <combination>'
    means: dict[str, Estimate]  # '<dataset> <method> vs none'
    table: pd.DataFrame  # plots/regularizers.csv


def regularizer_results(read: Reader) -> RegularizerResults:
    """Return the regularizers' primary verdicts (keyed by role) and differences vs none."""
    table = pd.read_csv(io.StringIO(read(REGULARIZERS_PLOT_PATH)))
    verdicts, means = {}, {}
    for row in cast(Any, table).itertuples():
        if row.primary:
            role = row.method if "+" in str(row.method) else "noise pick"
            verdicts[f"{row.dataset} {role}"] = Judged(
                VERDICT_WORDS[int(row.verdict)],
                _number(row.decision_low),
                _number(row.decision_high),
                _number(row.borderline) == 1.0,
            )
        means[f"{row.dataset} {row.method} vs none"] = Estimate(
            float(row.diff_vs_none), _number(row.diff_vs_none_low), _number(row.diff_vs_none_high)
        )
    return RegularizerResults(verdicts, means, table)


def check(committed: Reader, rerun: Reader) -> Findings:
    """Compare the committed results with the rerun's."""
    findings = Findings()
    for what, results in (("reference", reference_results), ("benefit map", map_results)):
        old_verdicts, old_means = results(committed)
        new_verdicts, new_means = results(rerun)
        compare_verdicts(old_verdicts, new_verdicts, findings, what)
        compare_means(old_means, new_means, findings, what)
    _check_grid(committed, rerun, findings)
    old, new = regularizer_results(committed), regularizer_results(rerun)
    moved = _check_picks(old.table, new.table, rerun, findings)
    excused = frozenset(
        key for key in old.verdicts.keys() | old.means.keys() if key.split(" ", 1)[0] in moved
    )
    compare_verdicts(old.verdicts, new.verdicts, findings, "regularizers", excused)
    compare_means(old.means, new.means, findings, "regularizers", excused)
    return findings


def _check_grid(committed: Reader, rerun: Reader, findings: Findings) -> None:
    cells = pd.read_csv(io.StringIO(rerun(GRID_PATH)))
    old, new = json.loads(committed(GRID_METRICS_PATH)), json.loads(rerun(GRID_METRICS_PATH))
    best_old, best_new = _cell(old["best"]), _cell(new["best"])
    shortfall = most_correct_shortfall(best_old, best_new, grid_scores(cells))
    compare_choice("grid best cell (units, noise)", best_old, best_new, shortfall, findings)
    se_old, se_new = _cell(old["one_se"]), _cell(new["one_se"])
    shortfall = one_se_shortfall(cells, se_old)
    compare_choice("grid one-SE cell (units, noise)", se_old, se_new, shortfall, findings)


def _cell(chosen: dict[str, Any]) -> tuple[int, float]:
    return int(chosen["hidden_units"]), float(chosen["noise"])


def _check_picks(
    old: pd.DataFrame, new: pd.DataFrame, rerun: Reader, findings: Findings
) -> set[str]:
    """Compare the regularizers' CV picks; return the datasets where any pick changed.

    Per dataset: each method's strength (most pooled correct over its candidates, in the
    rerun's plots/regularizers/cv.csv), the noise pick and the best non-noise method (most
    pooled correct among their methods' chosen strengths).
    """
    cv = pd.read_csv(io.StringIO(rerun(REGULARIZERS_DIR / "cv.csv")))
    moved = set()
    for dataset in sorted(set(old["dataset"]) & set(new["dataset"])):
        a, b = (t[t["dataset"] == dataset].set_index("method") for t in (old, new))
        for method in sorted(set(a.index) & set(b.index)):
            rows = cv[(cv["dataset"] == dataset) & (cv["method"] == method)]
            if rows.empty:  # the combination: its strength is its noise method's pick
                continue
            scores = dict(zip(rows["value"].map("{:g}".format), rows["cv_correct"], strict=True))
            picks = f"{a.loc[method, 'value']:g}", f"{b.loc[method, 'value']:g}"
            if compare_choice(
                f"regularizers {dataset} {method} strength",
                *picks,
                most_correct_shortfall(*picks, scores),
                findings,
            ):
                moved.add(dataset)
        for noise, role in ((True, "noise pick"), (False, "best non-noise method")):
            picks = _family_pick(a, noise), _family_pick(b, noise)
            family = b[b["noise"] == noise]["cv_correct"].astype(int).to_dict()
            if compare_choice(
                f"regularizers {dataset} {role}",
                *picks,
                most_correct_shortfall(*picks, family),
                findings,
            ):
                moved.add(dataset)
    return moved


def _family_pick(table: pd.DataFrame, noise: bool) -> str:
    """Return a dataset's noise pick (its primary noise row) or its best non-noise method."""
    if noise:
        chosen = table[table["primary"] & ~table.index.str.contains("+", regex=False)]
    else:
        chosen = table[table["best_non_noise"]]
    return str(chosen.index[0])


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

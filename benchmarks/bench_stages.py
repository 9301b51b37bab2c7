"""Time training stages of an earlier commit and of this working tree side by side.

Each side gets its own temporary copy (the earlier commit via `git archive`: its library,
stage scripts and params.yaml), runs `stages.data` once, then each named stage ROUNDS
times, alternating sides so that a slow spell of the machine hits both. Prints every run,
the best per side and stage, the ratio earlier / now, and whether both sides wrote
byte-identical outputs (a speed change must not change results). Each run's CPU seconds
(user + system of the finished child, from the kernel) are printed beside the wall clock,
a second view of the same runs when the machine's pace drifts; they include the time
TensorFlow's idle worker threads spin before they sleep, so they overstate the work.

The default baseline is the commit before shared noise draws (issue #16's "today").
Run: .venv/bin/python benchmarks/bench_stages.py [--baseline REV] [--rounds N] [STAGE ...]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
BEFORE_SHARED_DRAWS = "1ca9460"
# What each timed stage writes (outputs compared between the two sides).
OUTPUTS = {
    # The chosen cells follow from the scores (their file moved: metrics/ -> plots/).
    "grid_search": ("plots/grid_scores.csv", "plots/grid_refits.csv"),
    "sweep": ("plots/sweep_replicates.csv",),
}
COPIED = ("noisereg", "stages", "params.yaml")


def checkout(rev: str | None, target: Path) -> None:
    """Copy the library, stages and params of `rev` (None: the working tree) into target."""
    target.mkdir()
    if rev is None:
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(source, target / name)
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, *COPIED], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


class Timing(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the stage's process


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_stage(repo: Path, stage: str) -> Timing:
    """Run `python -m stages.<stage>` in repo and return its wall-clock and CPU seconds."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cpu_before = children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{stage}"], cwd=repo, env=env, capture_output=True, text=True
    )
    timing = Timing(time.perf_counter() - started, children_cpu() - cpu_before)
    if result.returncode != 0:
        sys.exit(f"{repo.name}: stages.{stage} failed:\n{result.stderr[-2000:]}")
    return timing


def digest(repo: Path, stage: str) -> dict[str, str]:
    return {path: hashlib.md5((repo / path).read_bytes()).hexdigest() for path in OUTPUTS[stage]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stages", nargs="*", help=f"any of {', '.join(OUTPUTS)} (default: all)")
    parser.add_argument("--baseline", default=BEFORE_SHARED_DRAWS, help="earlier git revision")
    parser.add_argument("--rounds", type=int, default=2, help="runs per side and stage")
    args = parser.parse_args()
    args.stages = args.stages or list(OUTPUTS)
    unknown = set(args.stages) - set(OUTPUTS)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; allowed: {', '.join(OUTPUTS)}")
    revision = subprocess.run(
        ["git", "rev-parse", "--short", args.baseline],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    sides = {f"baseline {revision}": args.baseline, "working tree": None}
    with tempfile.TemporaryDirectory() as temp:
        repos = {}
        for number, (side, rev) in enumerate(sides.items()):
            repos[side] = Path(temp) / f"side{number}"
            checkout(rev, repos[side])
            run_stage(repos[side], "data")
        best: dict[tuple[str, str], Timing] = {}
        outputs: dict[tuple[str, str], dict[str, str]] = {}
        for stage in args.stages:
            for round_number in range(1, args.rounds + 1):
                for side, repo in repos.items():
                    timing = run_stage(repo, stage)
                    print(
                        f"{stage} round {round_number}, {side}: {timing.wall:.1f} s "
                        f"(CPU {timing.cpu:.1f} s)",
                        flush=True,
                    )
                    earlier = best.get((side, stage), timing)
                    best[side, stage] = Timing(
                        min(earlier.wall, timing.wall), min(earlier.cpu, timing.cpu)
                    )
                    outputs[side, stage] = digest(repo, stage)
    before, now = sides
    for stage in args.stages:
        identical = outputs[before, stage] == outputs[now, stage]
        old, new = best[before, stage], best[now, stage]
        print(
            f"{stage}: {before} {old.wall:.1f} s, {now} {new.wall:.1f} s "
            f"(best of {args.rounds}): {old.wall / new.wall:.2f}x; "
            f"CPU {old.cpu:.1f} -> {new.cpu:.1f} s: {old.cpu / new.cpu:.2f}x; "
            f"outputs byte-identical: {identical}"
        )


if __name__ == "__main__":
    main()

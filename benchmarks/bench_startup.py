"""Time a stage process's start (imports) and exit as stages ran before and as they run now.

Now: `stages/__init__.py` calls `noisereg.process_setup.start_stage_imports`, which switches
Python's cyclic garbage collector off while a stage imports its modules and loads TensorFlow
without TensorFlow's eager import of all of Keras; `noisereg.cli.run_stage` freezes the
imported objects (gc.freeze) before the stage body and again before the exit; scikit-learn is
imported by the functions that use it (data.reference.make_split,
experiments.protocol.repeated_stratified_folds), not when those modules load. Before: the
collector on throughout, and Keras (what TensorFlow's `__init__` imported) and scikit-learn's
model_selection and datasets imported with the stage's modules. Side by side, alternating,
best of ROUNDS. Start is from process launch to "imports done"; exit is from then to the
process's end.

Run: .venv/bin/python benchmarks/bench_startup.py [--stage grid_search] [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Both print a line once the stage's modules are imported (and, for the stage way, after
# run_stage has returned), then exit.
AS_BEFORE = (
    "import gc, stages; gc.enable(); "
    "import keras.src.optimizers, sklearn.datasets, sklearn.model_selection; "
    "import stages.{stage}; print('ready', flush=True)"
)
STAGE_WAY = (
    "import stages.{stage}; from noisereg.cli import run_stage; "
    "run_stage('startup', lambda: None); print('ready', flush=True)"
)


def start_and_exit(code: str) -> tuple[float, float]:
    """Return (seconds to the 'ready' line, seconds from it to the process's end)."""
    launched = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    ready = time.perf_counter()
    process.wait(timeout=120)
    if line.strip() != b"ready" or process.returncode != 0:
        sys.exit(f"probe failed (exit {process.returncode}): {code}")
    return ready - launched, time.perf_counter() - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="grid_search", help="stage module under stages/")
    parser.add_argument("--rounds", type=int, default=5, help="runs per side")
    args = parser.parse_args()
    sides = {"as before": AS_BEFORE, "stage way": STAGE_WAY}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for side, code in sides.items():
            start, stop = start_and_exit(code.format(stage=args.stage))
            previous = best.get(side, (start, stop))
            best[side] = (min(previous[0], start), min(previous[1], stop))
    for side, (start, stop) in best.items():
        print(
            f"{args.stage} {side}: start {start:.2f} s, exit {stop:.2f} s, "
            f"total {start + stop:.2f} s"
        )
    (start_before, stop_before), (start_way, stop_way) = best["as before"], best["stage way"]
    saved = start_before + stop_before - start_way - stop_way
    print(
        f"best of {args.rounds}: start {start_before / start_way:.2f}x, "
        f"exit {stop_before / stop_way:.2f}x, saved {saved:.2f} s per stage process"
    )


if __name__ == "__main__":
    main()

"""Time a from-scratch `dvc repro` of the committed params in a temporary copy.

Prints seconds per stage (from DVC's own log, wall clock between stage starts), the sum for
the core study (the reference's four variants, grid search, sweep and the shared stages),
the benefit map's stages together,
how many output hashes equal the committed dvc.lock's (a code change that must not change
results is proven by "all equal"), and a last line `total: N s`.
Run: .venv/bin/python benchmarks/bench_pipeline.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CORE_VARIANTS = ("baseline", "input_noise", "hidden_noise", "both_noise")
SHARED_STAGES = ("data", "summarize", "grid_search", "sweep", "report")


def main() -> None:
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as temp:
        repo = Path(temp)
        # Stages run as `python -m stages.x`, so they import the copy's own library.
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        for name in ("noisereg", "stages"):
            shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("dvc.yaml", "params.yaml"):
            shutil.copy(ROOT / name, repo / name)
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run([str(bin_dir / "dvc"), "init", "-q"], cwd=repo, check=True, env=env)
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(bin_dir / "dvc"), "repro"],
            cwd=repo,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert process.stdout is not None
        timings: dict[str, float] = {}
        current, current_start = None, started
        for line in process.stdout:
            if line.startswith("Running stage '"):
                now = time.perf_counter()
                if current:
                    timings[current] = now - current_start
                current, current_start = line.split("'")[1], now
        end = time.perf_counter()
        if current:
            timings[current] = end - current_start
        if process.wait() != 0:
            sys.exit(f"dvc repro failed with exit code {process.returncode}")
        built, committed = output_hashes(repo / "dvc.lock"), output_hashes(ROOT / "dvc.lock")
    for stage, seconds in timings.items():
        print(f"{stage}: {seconds:.1f} s")
    core = [*SHARED_STAGES, *(f"train@{v}" for v in CORE_VARIANTS)]
    core_seconds = sum(timings.get(stage, 0.0) for stage in core)
    print(f"core study ({', '.join(core)}): {core_seconds:.0f} s")
    mapped = [stage for stage in timings if stage.startswith("benefit_map@")]
    print(f"benefit map ({len(mapped)} stages): {sum(timings[s] for s in mapped):.0f} s")
    differing = sorted(path for path in committed if built.get(path) != committed[path])
    same = len(committed) - len(differing)
    print(
        f"outputs equal to the committed dvc.lock: {same} of {len(committed)}"
        + (f" (differing: {', '.join(differing)})" if differing else "")
    )
    print(f"total: {end - started:.0f} s")


def output_hashes(lock_path: Path) -> dict[str, str]:
    """Return output path -> md5 for every stage in a dvc.lock."""
    stages = yaml.safe_load(lock_path.read_text())["stages"]
    return {out["path"]: out["md5"] for stage in stages.values() for out in stage.get("outs", [])}


if __name__ == "__main__":
    main()

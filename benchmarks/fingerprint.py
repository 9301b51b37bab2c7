"""Which bits does this machine train? A fingerprint to compare processors (issue 42).

Runs the study's own `data` and `train@baseline` stages (20 seeds of the reference net,
about 5 s of training) in a scratch copy of this checkout, once per math-library setting,
and prints per setting the md5 of the trained weights and of the per-seed results, whether
the latter equals the committed `dvc.lock`, and the seconds it took. Run it on two machines
and compare the lines: equal md5s mean the two train the same bits with that setting.

    .venv/bin/python benchmarks/fingerprint.py
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGE = "train@baseline"
RESULTS = Path("plots/replicates/baseline.csv")
WEIGHTS = Path("models/baseline/weights.npz")
# TensorFlow turns oneDNN on by default only on CPUs with VNNI, BF16 or AMX; "default" is
# whatever this machine gets, the others force it.
SETTINGS = {
    "default": {},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "oneDNN on": {"TF_ENABLE_ONEDNN_OPTS": "1"},
}
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def cpu() -> str:
    """Return the processor's name and the instruction-set flags that pick TF's kernels."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown processor"
    name = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        "unknown processor",
    )
    flags = next(
        (line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")),
        [],
    )
    return f"{name}, {os.cpu_count()} CPUs, flags: {' '.join(f for f in FLAGS if f in flags)}"


def committed_md5() -> str | None:
    """Return the per-seed results' md5 that the committed dvc.lock records."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())
    outs = lock["stages"][STAGE]["outs"]
    return next((o["md5"] for o in outs if o["path"] == RESULTS.as_posix()), None)


def run(workdir: Path, env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr[-2000:]}")


def main() -> None:
    tensorflow = metadata.version("tensorflow-cpu")  # the stages import it, not this process
    print(f"machine: {cpu()}; TensorFlow {tensorflow}; Python {platform.python_version()}")
    expected = committed_md5()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        for name in ("noisereg", "stages"):
            shutil.copytree(
                ROOT / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        shutil.copy(ROOT / "params.yaml", workdir / "params.yaml")
        run(workdir, dict(os.environ), "stages.data")
        for setting, extra in SETTINGS.items():
            env = {**os.environ, **extra}
            started = time.perf_counter()
            run(workdir, env, "stages.train", "--variant", "baseline")
            seconds = time.perf_counter() - started
            results = md5(workdir / RESULTS)
            same = "yes" if results == expected else "no"
            print(
                f"{setting:<11} weights {md5(workdir / WEIGHTS)}  per-seed results {results}"
                f"  = dvc.lock: {same}  ({seconds:.1f} s with process start-up)"
            )


if __name__ == "__main__":
    main()

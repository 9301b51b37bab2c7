"""Where a report's numbers came from: commit, input hashes, package versions, machine."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

PACKAGES = (
    "tensorflow",
    "keras",
    "dvc",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "matplotlib",
    "jinja2",
)


# Files the pipeline itself rewrites while it runs; edits there do not make the code dirty.
_PIPELINE_WRITTEN = ("dvc.lock", "data/", "models/", "metrics/", "plots/", "reports/")


def git_commit() -> str:
    """Return the checked-out commit ('+dirty' for edited code or params), or why there is none.

    The report is rendered before `dvc.lock` and the metrics are committed, so changes to
    what the pipeline writes are not counted as edits.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    edited = [line[3:] for line in status if not line[3:].startswith(_PIPELINE_WRITTEN)]
    return commit + ("+dirty" if edited else "")


def input_hashes(lock_path: Path = Path("dvc.lock")) -> dict[str, str]:
    """Return the md5 DVC recorded for each data-stage output, or nothing before the first run."""
    try:
        lock = yaml.safe_load(lock_path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    outs = lock.get("stages", {}).get("data", {}).get("outs", [])
    return {o["path"]: o.get("md5", "?") for o in outs if isinstance(o, dict) and "path" in o}


def package_versions() -> str:
    """Return 'name version' of the packages whose behaviour the numbers depend on."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(versions)


def wall_times(timings: dict[str, float]) -> str:
    """Return 'stage s, ...' by stage name, or a note when no stage has recorded one."""
    if not timings:
        return "not recorded (no stage has run on this checkout)"
    return ", ".join(
        f"{stage} {seconds:.1f} s" if seconds >= 1 else f"{stage} {seconds:.2f} s"
        for stage, seconds in timings.items()
    )


def collect(seeds: str, timings: dict[str, float]) -> dict[str, Any]:
    """Return the provenance table of the report."""
    table: dict[str, Any] = {
        "git commit": git_commit(),
        "seeds": seeds,
        "python": platform.python_version(),
        "packages": package_versions(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "wall time per stage (last run here)": wall_times(timings),
    }
    for path, md5 in input_hashes().items():
        table[f"md5 of {path} (dvc.lock)"] = md5
    return table

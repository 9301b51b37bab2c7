"""Where a report's numbers came from: seeds, input hashes, package versions, params."""

from __future__ import annotations

import hashlib
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

PACKAGES = (
    "tensorflow-cpu",
    "keras",
    "dvc",
    "scikit-learn",
    "scipy",
    "numpy",
    "pandas",
    "matplotlib",
    "jinja2",
)


def data_hashes(directories: list[Path]) -> dict[str, str]:
    """Return the md5 of each data CSV the report read (the same digest DVC records)."""
    return {
        str(path): hashlib.md5(path.read_bytes()).hexdigest()
        for directory in directories
        for path in sorted(directory.glob("*.csv"))
    }


def package_versions() -> str:
    """Return 'name version' of the packages whose behaviour the numbers depend on."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return ", ".join(versions)


def params_text(raw: Mapping[str, Any], sections: Mapping[str, tuple[str, ...] | None]) -> str:
    """Return the params the report depends on as YAML: whole sections or the listed keys."""
    shown = {
        name: dict(raw[name]) if keys is None else {k: raw[name][k] for k in keys}
        for name, keys in sections.items()
        if name in raw
    }
    return yaml.safe_dump(shown, sort_keys=False)


def collect(seeds: str, data_directories: list[Path]) -> dict[str, Any]:
    """Return the provenance table of the report: only what its tracked inputs determine.

    The commit, machine and wall times are deliberately absent: they are not DVC
    dependencies, so a report restored from the run-cache would show another run's values,
    and the same study would give different bytes on each machine. The commit that produced
    a report is the one whose dvc.lock records its hash; each stage prints its wall time.
    """
    table: dict[str, Any] = {
        "code": "the commit whose dvc.lock records this report's md5 (git log -- dvc.lock)",
        "seeds": seeds,
        "python": ".".join(platform.python_version_tuple()[:2]),
        "packages (pinned in requirements.txt)": package_versions(),
    }
    for path, md5 in data_hashes(data_directories).items():
        table[f"md5 of {path}"] = md5
    return table

"""Provenance: the commit is marked dirty for edited code or params, not for pipeline outputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from noisereg.provenance import git_commit, wall_times


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_dirty_only_for_code_or_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "test@example.invalid")
    git(tmp_path, "config", "user.name", "test")
    for name in ("dvc.lock", "params.yaml", "metrics/a.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("0\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "start")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dvc.lock").write_text("1\n")
    (tmp_path / "metrics" / "a.json").write_text("1\n")
    assert not git_commit().endswith("+dirty")
    (tmp_path / "params.yaml").write_text("1\n")
    assert git_commit().endswith("+dirty")


def test_wall_times_keep_short_stages_visible() -> None:
    assert wall_times({"data": 0.031, "grid_search": 61.25}) == "data 0.03 s, grid_search 61.2 s"
    assert wall_times({}).startswith("not recorded")

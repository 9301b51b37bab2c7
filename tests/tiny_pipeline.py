"""The tiny study as a git + DVC repository, built once per pytest run and shared.

Its first `dvc repro` runs 13 stage processes (~75 s on 2 CPUs), which the pipeline and
sharing tests need alike: the first worker that asks builds it, under a file lock in the
run's temporary root (shared by pytest-xdist's workers), and every later request, from any
worker, finds it built. Tests never edit the shared build: they copy it (`copy_repo`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# DVC_NO_ANALYTICS: otherwise every dvc command starts a background DVC process (~0.5 s of
# CPU) to send a usage report; the tests run over a hundred of them.
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
RUN_LOG = "run.log"  # the first `dvc repro`'s output, next to the repository


def sh(repo: Path, *command: str, check: bool = True) -> str:
    """Run a command in repo; return its stdout and stderr, failing with their tail."""
    # No PYTHONPATH: stages run as `python -m stages.x`, so they import the copy of the
    # library in the tree they run in (the repo, or a queued/--temp experiment's copy),
    # never the editable install of this checkout.
    result = subprocess.run(command, cwd=repo, env=ENV, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{output[-3000:]}")
    return output


def dvc(repo: Path, *args: str) -> str:
    return sh(repo, str(BIN / "dvc"), *args)


def write_params(repo: Path, raw: dict[str, Any]) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def build(path: Path, raw: dict[str, Any]) -> None:
    """Make path a committed git + DVC repo of this checkout's code after one `dvc repro`."""
    path.mkdir(parents=True)
    for name in ("noisereg", "stages"):
        shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", path / "dvc.yaml")
    write_params(path, raw)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "config", "user.email", "test@example.invalid")
    sh(path, "git", "config", "user.name", "test")
    dvc(path, "init", "-q")
    (path.parent / RUN_LOG).write_text(dvc(path, "repro"))
    sh(path, "git", "add", "-A")
    sh(path, "git", "commit", "-qm", "tiny study")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path (created if missing) across processes."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_build(factory: pytest.TempPathFactory, raw: dict[str, Any]) -> Path:
    """Return the run's one repo of the raw params (`build`), building it if no worker has yet.

    Under pytest-xdist each worker's temporary root is a folder of the run's, which is
    the run's own (pytest numbers it afresh), so a build never outlives its run. A build
    that fails leaves nothing behind: it is built aside and renamed into place when done.
    """
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    home = root / "tiny-pipeline"
    repo = home / "repo"
    with locked(root / "tiny-pipeline.lock"):
        if not repo.exists():
            partial = root / f"tiny-pipeline.partial-{os.getpid()}"
            shutil.rmtree(partial, ignore_errors=True)
            build(partial / "repo", raw)
            partial.rename(home)
    return repo


def copy_repo(built: Path, target: Path) -> Path:
    """Copy a built repo to target (DVC's temporary state left behind) and return target."""
    shutil.copytree(built, target, symlinks=True, ignore=shutil.ignore_patterns("tmp"))
    return target

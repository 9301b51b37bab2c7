"""Atomic writes: a failed or killed write leaves the old file, and leftovers are cleaned."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from noisereg.io import atomic_dir, atomic_path, write_text

# Writes half a file inside atomic_path, says so, then waits to be killed.
KILLED_WRITER = """
import sys, time
from pathlib import Path
from noisereg.io import atomic_path
with atomic_path(Path(sys.argv[1])) as temp:
    temp.write_text("half of the new cont")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_raising_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text("partial")
        raise RuntimeError("stage failed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_raising_block_keeps_the_old_directory(tmp_path: Path) -> None:
    target = tmp_path / "models"
    with atomic_dir(target) as partial:
        (partial / "a.keras").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as partial:
        (partial / "a.keras").write_text("new")
        raise RuntimeError("export failed")
    assert (target / "a.keras").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_a_killed_writer_leaves_the_old_file_and_the_next_write_cleans_up(
    tmp_path: Path,
) -> None:
    target = tmp_path / "metrics.json"
    write_text(target, "old")
    root = Path(__file__).resolve().parents[1]
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target)],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        deadline = time.monotonic() + 60
        while writer.stdout.readline().strip() != "writing":
            assert time.monotonic() < deadline and writer.poll() is None
        writer.send_signal(signal.SIGKILL)  # no cleanup runs
        writer.wait(timeout=30)
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert len(leftovers) == 1 and leftovers[0].read_text() == "half of the new cont"
    assert target.read_text() == "old"
    write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

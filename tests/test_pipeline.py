"""The DVC pipeline end to end in a temporary git + DVC repository with tiny params.

One module-scoped repository runs the scenarios in order, as a user would: first run,
no-op rerun, a one-variant edit, its revert (run-cache), code and report-only edits, an
experiment, and a killed stage. Each `dvc repro` here costs ~5 s per stage (TF import).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, tiny_raw

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
VARIANTS = ("baseline", "input_noise", "hidden_noise", "deep_baseline", "deep_hidden_all")


def sh(repo: Path, *command: str, check: bool = True) -> str:
    # The repo's own copy of the library, not the checkout's: code edits there must count.
    env = {**ENV, "PYTHONPATH": str(repo)}
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{output[-3000:]}")
    return output


def dvc(repo: Path, *args: str) -> str:
    return sh(repo, str(BIN / "dvc"), *args)


def ran_stages(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def write_params(repo: Path, raw: dict[str, Any]) -> None:
    (repo / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def metric_bytes(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / "metrics").glob("*.json"))}


def weight_bytes(repo: Path) -> dict[str, bytes]:
    return {v: (repo / "models" / v / "weights.npz").read_bytes() for v in VARIANTS}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, default_raw: dict[str, Any]) -> Path:
    path = tmp_path_factory.mktemp("pipeline")
    for name in ("noisereg", "stages"):
        shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", path / "dvc.yaml")
    write_params(path, tiny_raw(default_raw))
    sh(path, "git", "init", "-q")
    sh(path, "git", "config", "user.email", "test@example.invalid")
    sh(path, "git", "config", "user.name", "test")
    dvc(path, "init", "-q")
    return path


@pytest.fixture(scope="module")
def first_run(repo: Path) -> str:
    return dvc(repo, "repro")


def test_first_run_builds_every_output(repo: Path, first_run: str) -> None:
    assert ran_stages(first_run) == {"data", "compare", "grid_search", "sweep", "report"} | {
        f"train@{v}" for v in VARIANTS
    }
    for variant in VARIANTS:
        assert (repo / "models" / variant / "seed_2.keras").exists()
        metrics = json.loads((repo / "metrics" / f"{variant}.json").read_text())
        assert metrics["replicates"] == 3 and metrics["test_acc"]["ci_low"] is not None
        assert (repo / "plots" / "history" / f"{variant}.csv").read_text().startswith("epoch,")
    comparisons = json.loads((repo / "metrics" / "comparisons.json").read_text())
    assert comparisons["deep_hidden_all"]["compare_to"] == "deep_baseline"
    assert set(comparisons) == {"input_noise", "hidden_noise", "deep_hidden_all"}
    report = (repo / "reports" / "report.md").read_text()
    assert re.search(r"wall time per stage.*train@baseline \d+\.\d s", report)
    for path in (
        "data/train.csv",
        "data/large/train.csv",
        "metrics/grid.json",
        "plots/grid.csv",
        "plots/sweep.csv",
        "reports/report.html",
        "reports/report.md",
        "reports/figures/grid.png",
    ):
        assert (repo / path).stat().st_size > 0, path
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def test_second_run_runs_nothing(repo: Path, first_run: str) -> None:
    assert ran_stages(dvc(repo, "repro")) == set()


def test_one_variant_edit_reruns_that_variant_then_revert_uses_run_cache(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    before = metric_bytes(repo)
    edited = tiny_raw(default_raw)
    edited["variants"]["input_noise"]["input_stddev"] = 0.3
    write_params(repo, edited)
    status = dvc(repo, "status")
    assert "train@input_noise" in status and "train@hidden_noise" not in status
    assert ran_stages(dvc(repo, "repro")) == {"train@input_noise", "compare", "report"}
    assert metric_bytes(repo)["input_noise.json"] != before["input_noise.json"]

    write_params(repo, tiny_raw(default_raw))
    log = dvc(repo, "repro")
    assert "train@input_noise" not in ran_stages(log)
    assert re.search(r"Stage 'train@input_noise' is cached - skipping run", log)
    assert metric_bytes(repo) == before  # restored outputs are the original bytes


def test_code_edit_reruns_only_the_stages_that_read_it(repo: Path, first_run: str) -> None:
    with (repo / "stages" / "sweep.py").open("a") as handle:
        handle.write("# touched by test\n")
    # sweep reruns; its outputs come out byte-identical, so DVC skips the report after it.
    assert ran_stages(dvc(repo, "repro")) == {"sweep"}
    with (repo / "noisereg" / "plots.py").open("a") as handle:
        handle.write("# touched by test\n")
    assert ran_stages(dvc(repo, "repro")) == {"report"}


def test_report_params_rerun_only_the_report(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    edited = tiny_raw(default_raw)
    edited["report"]["title"] = "Edited title"
    write_params(repo, edited)
    assert ran_stages(dvc(repo, "repro")) == {"report"}
    assert "Edited title" in (repo / "reports" / "report.md").read_text()
    write_params(repo, tiny_raw(default_raw))
    dvc(repo, "repro")


def test_experiment_row_carries_new_metrics(repo: Path, first_run: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "tiny study")
    dvc(repo, "exp", "run", "-S", "variants.hidden_noise.hidden_stddev=0.9", "-n", "loud")
    rows = json.loads(dvc(repo, "exp", "show", "--json"))
    text = json.dumps(rows)
    assert '"loud"' in text and "0.9" in text
    experiment = json.loads((repo / "metrics" / "hidden_noise.json").read_text())
    assert experiment["noise"] == "pre-activation 0.9"  # the experiment's results are here
    sh(repo, "git", "checkout", "--", ".")
    dvc(repo, "checkout", "--force")


def start_training(repo: Path, variant: str, default_raw: dict[str, Any]) -> subprocess.Popen[str]:
    """Start train@<variant> directly on a very long run; return once its epochs are logged.

    The long run guarantees the signal lands mid-training; the tiny params are back in
    place (the stage has read its params by then) before the caller runs DVC again.
    """
    long_run = tiny_raw(default_raw)
    # ~10 progress lines per run, so each in-graph call is short enough to interrupt.
    long_run["train"].update(epochs=100_000, log_every=10)
    write_params(repo, long_run)
    process = subprocess.Popen(
        [str(BIN / "python"), "stages/train.py", "--variant", variant],
        cwd=repo,
        env={**ENV, "PYTHONPATH": str(repo)},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell running the suite in the background hands its children SIGINT ignored,
        # and Python then never raises KeyboardInterrupt; a terminal's Ctrl-C is default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "epoch" in line or time.monotonic() > deadline:
            break
    write_params(repo, tiny_raw(default_raw))
    return process


def test_killed_stage_leaves_nothing_valid_and_rerun_matches(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    reference = metric_bytes(repo)
    shutil.rmtree(repo / "models" / "baseline")
    (repo / "metrics" / "baseline.json").unlink()
    process = start_training(repo, "baseline", default_raw)
    os.killpg(process.pid, signal.SIGKILL)  # kill hard, mid-training
    process.wait()
    assert not (repo / "models" / "baseline").exists()
    assert not (repo / "metrics" / "baseline.json").exists()
    assert "train@baseline" in dvc(repo, "status")
    dvc(repo, "repro")
    assert metric_bytes(repo) == reference
    assert not list((repo / "models").glob(".*partial*"))  # the rerun cleared the killed run's


def test_interrupted_stage_exits_130_and_replaces_nothing(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    before = metric_bytes(repo)["input_noise.json"]
    models_before = weight_bytes(repo)["input_noise"]
    process = start_training(repo, "input_noise", default_raw)
    assert process.stderr is not None
    process.send_signal(signal.SIGINT)  # Ctrl-C
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 130
    assert "interrupted; no output was replaced" in rest
    assert metric_bytes(repo)["input_noise.json"] == before
    assert weight_bytes(repo)["input_noise"] == models_before
    assert not list((repo / "models").glob(".*partial*"))
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def test_from_scratch_rerun_is_byte_identical_and_seed_matters(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    metrics, weights = metric_bytes(repo), weight_bytes(repo)
    # --force reruns every stage from its inputs, as on a fresh clone (no cache reuse).
    assert ran_stages(dvc(repo, "repro", "--force")) == ran_stages(first_run)
    assert metric_bytes(repo) == metrics
    assert weight_bytes(repo) == weights
    reseeded = tiny_raw(default_raw)
    reseeded["train"]["seed"] += 1
    write_params(repo, reseeded)
    dvc(repo, "repro", "--single-item", "train@baseline")
    assert metric_bytes(repo)["baseline.json"] != metrics["baseline.json"]
    assert weight_bytes(repo)["baseline"] != weights["baseline"]
    write_params(repo, tiny_raw(default_raw))
    dvc(repo, "repro")
    assert weight_bytes(repo) == weights

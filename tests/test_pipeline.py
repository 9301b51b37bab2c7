"""The DVC pipeline end to end in a temporary git + DVC repository with tiny params.

The repository is built and run once per pytest run (conftest's `tiny_pipeline`, shared
with the sharing tests); every test gets its own copy (`repo`), so no test sees another's
edits, experiments or killed stages, and the tests pass in any order. Each `dvc repro`
here costs ~5 s per stage (TF import).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import tiny_raw
from tests.tiny_pipeline import BIN, ENV, RUN_LOG, copy_repo, dvc, sh, write_params

pytestmark = pytest.mark.slow
VARIANTS = ("baseline", "input_noise", "hidden_noise", "deep_baseline", "deep_hidden_all")
MAPPED = ("circles", "xor")  # the tiny params' benefit_map.datasets
# What `make check` reads of the committed results (all in git: cache: false in dvc.yaml).
COMMITTED_RESULTS = (
    "metrics/summary.json",
    "metrics/grid.json",
    "plots/benefit_map.csv",
    "plots/regularizers.csv",
)


def ran_stages(log: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", log))


def stale_stages(repo: Path) -> set[str]:
    """Return the stages `dvc status` reports as changed."""
    return set(re.findall(r"^(\S+):\s*$", dvc(repo, "status"), re.MULTILINE))


@contextmanager
def restored(repo: Path, *paths: str) -> Iterator[None]:
    """Restore the files (params, code) a test edits and the pipeline's state, even if it fails.

    The restored inputs make every stage a run-cache hit, so `dvc repro` puts the outputs
    back in seconds and the test's later checks see the first run's state again.
    """
    saved = {path: (repo / path).read_bytes() for path in paths}
    try:
        yield
    finally:
        for path, content in saved.items():
            (repo / path).write_bytes(content)
        dvc(repo, "repro")


def metric_bytes(repo: Path) -> dict[str, bytes]:
    """Return name -> bytes of each variant's per-seed results and of summarize's metrics."""
    files = sorted((repo / "plots" / "replicates").glob("*.csv"))
    return {p.name: p.read_bytes() for p in files + sorted((repo / "metrics").glob("*.json"))}


def benefit_bytes(repo: Path) -> dict[str, bytes]:
    """Return the benefit map's per-replicate files of every mapped dataset, as bytes."""
    return {
        str(path.relative_to(repo)): path.read_bytes()
        for path in sorted((repo / "plots" / "benefit").rglob("*.csv"))
    }


def weight_bytes(repo: Path) -> dict[str, bytes]:
    """Return every variant's weights.npz and .keras files, as bytes."""
    return {
        f"{v}/{path.name}": path.read_bytes()
        for v in VARIANTS
        for path in sorted((repo / "models" / v).iterdir())
    }


@pytest.fixture(scope="module")
def first_run(tiny_pipeline: Path) -> str:
    """The output of the shared build's first `dvc repro`."""
    return (tiny_pipeline.parent / RUN_LOG).read_text()


@pytest.fixture
def repo(tiny_pipeline: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built repo."""
    return copy_repo(tiny_pipeline, tmp_path / "repo")


def test_first_run_builds_every_output(repo: Path, first_run: str) -> None:
    assert ran_stages(first_run) == {"data", "summarize", "grid_search", "sweep", "report"} | {
        f"train@{v}" for v in VARIANTS
    } | {f"benefit_map@{d}" for d in MAPPED} | {"regularizers"}
    summary = json.loads((repo / "metrics" / "summary.json").read_text())
    # Two headline numbers per variant (`dvc metrics show`), the grid's two choices.
    variants = json.loads((repo / "metrics" / "variants.json").read_text())
    grid = json.loads((repo / "metrics" / "grid.json").read_text())
    assert set(grid) == {"best", "one_se"} and set(grid["best"]) == {"hidden_units", "noise"}
    for variant in VARIANTS:
        assert (repo / "models" / variant / "seed_2.keras").exists()
        metrics = variants[variant]
        assert set(metrics) == {"train_acc", "test_acc"}
        assert all(isinstance(value, float) and 0 <= value <= 1 for value in metrics.values())
        assert metrics["test_acc"] == summary["variants"][variant]["test_acc"]["mean"]
        test_acc = summary["variants"][variant]["test_acc"]
        assert 0 <= test_acc["ci_low"] <= test_acc["mean"] <= test_acc["ci_high"] <= 1
        assert (repo / "plots" / "history" / f"{variant}.csv").read_text().startswith("epoch,")
    # `dvc metrics show` reads numbers only: no NaN, no strings, no nulls.
    for metrics_file in (repo / "metrics").glob("*.json"):
        if metrics_file.name != "summary.json":  # an out, not a metric: intervals may be null
            leaves = pd.json_normalize(json.loads(metrics_file.read_text())).iloc[0]
            assert all(isinstance(v, int | float) and math.isfinite(v) for v in leaves), (
                metrics_file
            )
    assert summary["comparisons"]["deep_hidden_all"]["compare_to"] == "deep_baseline"
    comparisons = json.loads((repo / "metrics" / "comparisons.json").read_text())
    assert set(comparisons) == {"input_noise", "hidden_noise", "deep_hidden_all"}
    for comparison in comparisons.values():  # the mean paired difference and a verdict code
        assert isinstance(comparison["diff"], int | float)
        assert comparison["verdict"] in {1, 0, -1, 2}
    report = (repo / "reports" / "report.md").read_text()
    verdict = summary["comparisons"]["input_noise"]["verdict"]
    assert re.search(rf"\| input_noise \| baseline \|.*\| {verdict} \|", report)
    for path in (
        "data/reference/train.csv",
        "data/large/train.csv",
        "metrics/grid.json",
        "plots/grid.csv",
        "plots/sweep.csv",
        "reports/report.html",
        "reports/report.md",
        "reports/figures/grid.png",
        "reports/figures/benefit_map.png",
        "plots/benefit_map.csv",
        "plots/benefit/xor/replicates.csv",
    ):
        assert (repo / path).stat().st_size > 0, path
    benefit = json.loads((repo / "metrics" / "benefit_map.json").read_text())
    assert set(benefit) == {"helped_cells", "hurt_cells", "n_star"}
    assert set(benefit["n_star"]) == set(MAPPED)
    assert "## When does noise help?" in report
    verdicts = json.loads((repo / "metrics" / "regularizers.json").read_text())
    assert set(verdicts) == {"reference", "xor"}
    ranked = json.loads((repo / "plots" / "regularizers_ranking.json").read_text())
    assert ranked["datasets"] == 2
    assert "## Noise against the alternatives" in report
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
    assert ran_stages(dvc(repo, "repro")) == {"train@input_noise", "summarize", "report"}
    assert metric_bytes(repo)["input_noise.csv"] != before["input_noise.csv"]
    write_params(repo, tiny_raw(default_raw))
    log = dvc(repo, "repro")
    assert "train@input_noise" not in ran_stages(log)
    assert re.search(r"Stage 'train@input_noise' is cached - skipping run", log)
    assert metric_bytes(repo) == before  # restored outputs are the original bytes


def test_code_edit_reruns_only_the_stages_that_read_it(repo: Path, first_run: str) -> None:
    # The repo is this test's own copy: the edits need no undoing.
    with (repo / "stages" / "summarize.py").open("a") as handle:
        handle.write("# touched by test\n")
    # summarize reruns; its outputs come out byte-identical, so DVC skips what follows it.
    assert ran_stages(dvc(repo, "repro")) == {"summarize"}
    # A module only the report imports: `dvc status` names what a repro would rerun (the
    # report's rerun itself is test_report_params_rerun_only_the_report's).
    with (repo / "noisereg" / "experiments" / "reference" / "figures.py").open("a") as handle:
        handle.write("# touched by test\n")
    assert stale_stages(repo) == {"report"}


def test_report_params_rerun_only_the_report(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    edited = tiny_raw(default_raw)
    edited["report"]["title"] = "Edited title"
    write_params(repo, edited)
    assert ran_stages(dvc(repo, "repro")) == {"report"}
    assert "Edited title" in (repo / "reports" / "report.md").read_text()


@pytest.mark.parametrize(
    ("key", "value"),
    [("confidence", 0.9), ("equivalence_margin", 0.02), ("bootstrap_seed", 5)],
)
def test_summary_params_make_only_summarize_and_report_stale(
    repo: Path, first_run: str, default_raw: dict[str, Any], key: str, value: float
) -> None:
    edited = tiny_raw(default_raw)
    edited["report"][key] = value
    write_params(repo, edited)
    assert stale_stages(repo) == {"summarize", "report"}


@pytest.mark.parametrize(
    ("section", "key", "value", "stale"),
    [
        # regularizers compares on xor too (and reads every generator's settings); summarize
        # only reads the map's outputs, which `dvc status` does not yet see changed.
        ("datasets", "xor", {"spread": 0.3}, {"benefit_map@xor", "regularizers", "report"}),
        (
            "benefit_map",
            "datasets",
            ["circles", "xor", "moons"],
            {"benefit_map@moons", "summarize", "report"},
        ),
    ],
)
def test_a_dataset_edit_makes_only_what_reads_it_stale(
    repo: Path,
    first_run: str,
    default_raw: dict[str, Any],
    section: str,
    key: str,
    value: Any,
    stale: set[str],
) -> None:
    edited = tiny_raw(default_raw)
    edited[section][key] = value
    write_params(repo, edited)
    assert stale_stages(repo) == stale


def test_each_stage_depends_on_exactly_the_data_it_reads(repo: Path, first_run: str) -> None:
    # No tiny variant trains on the large dataset: touching it makes no training stage stale.
    large = repo / "data" / "large" / "train.csv"
    original = large.read_bytes()
    large.write_bytes(original + b"0.0,0.0,0\n")
    assert stale_stages(repo) == {"data", "report"}
    large.write_bytes(original)  # DVC compares contents: the same bytes are up to date again
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def with_marker(path: Path, original: str, marker: str) -> None:
    """Write the module's original code plus a line that prints marker when it is imported."""
    path.write_text(f"{original}\nprint({marker!r})\n")


def wait_for_queue(repo: Path) -> str:
    """Return `dvc queue status` once nothing is queued or running (at most 5 minutes)."""
    deadline = time.monotonic() + 300
    status = dvc(repo, "queue", "status")
    while re.search(r"\b(Queued|Running)\b", status) and time.monotonic() < deadline:
        time.sleep(3)
        status = dvc(repo, "queue", "status")
    return status


def test_queued_and_temp_experiments_run_their_own_code_two_at_a_time(
    repo: Path, first_run: str
) -> None:
    """A --temp and a queued experiment import the library of their own tree, not the workspace's.

    Each edit of noisereg/stats.py (which summarize imports) prints its own marker, so the
    queued run cannot be a run-cache hit of the temp run's, and a marker in an experiment's
    log proves its stage process ran that edit, though the workspace's code (and this
    checkout's editable install) no longer has it. A second queued experiment, a summary
    param, runs beside it (-j 2) with the workspace's code: both must succeed.
    """
    stats = repo / "noisereg" / "stats.py"
    original = stats.read_text()
    try:
        with_marker(stats, original, "MARKER temp-code")
        temp_log = dvc(repo, "exp", "run", "--temp", "-n", "temp-code", "summarize")
        with_marker(stats, original, "MARKER queued-code")
        dvc(repo, "exp", "run", "--queue", "-n", "queued-code", "summarize")
    finally:
        stats.write_text(original)  # the workspace's code is the original again
    margin = ("-n", "margin", "-S", "report.equivalence_margin=0.03", "summarize")
    dvc(repo, "exp", "run", "--queue", *margin)
    dvc(repo, "queue", "start", "-j", "2")
    status = wait_for_queue(repo)
    assert status.count("Success") == 2, status
    assert "MARKER temp-code" in temp_log
    queued_log = dvc(repo, "queue", "logs", "queued-code")
    assert "Running stage 'summarize'" in queued_log and "MARKER queued-code" in queued_log
    margin_log = dvc(repo, "queue", "logs", "margin")
    assert ran_stages(margin_log) == {"summarize"} and "MARKER" not in margin_log
    assert re.search(r'"equivalence_margin": 0\.03\b', dvc(repo, "exp", "show", "--json"))
    sh(repo, str(BIN / "dvc"), "queue", "stop", check=False)  # workers exit when idle anyway


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
        [str(BIN / "python"), "-m", "stages.train", "--variant", variant],
        cwd=repo,
        env=ENV,
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
    (repo / "plots" / "replicates" / "baseline.csv").unlink()
    with start_training(repo, "baseline", default_raw) as process:
        os.killpg(process.pid, signal.SIGKILL)  # kill hard, mid-training
        process.wait()
    assert not (repo / "models" / "baseline").exists()
    assert not (repo / "plots" / "replicates" / "baseline.csv").exists()
    assert "train@baseline" in dvc(repo, "status")
    dvc(repo, "repro")
    assert metric_bytes(repo) == reference
    assert not list((repo / "models").glob(".*partial*"))  # the rerun cleared the killed run's


def test_interrupted_stage_exits_130_and_replaces_nothing(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    before = metric_bytes(repo)["input_noise.csv"]
    models_before = weight_bytes(repo)["input_noise/weights.npz"]
    with start_training(repo, "input_noise", default_raw) as process:
        assert process.stderr is not None
        process.send_signal(signal.SIGINT)  # Ctrl-C
        rest = process.stderr.read()
        assert process.wait(timeout=120) == 130
    assert "interrupted; no output was replaced" in rest
    assert metric_bytes(repo)["input_noise.csv"] == before
    assert weight_bytes(repo)["input_noise/weights.npz"] == models_before
    assert not list((repo / "models").glob(".*partial*"))
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def test_from_scratch_rerun_is_byte_identical_and_seed_matters(
    repo: Path, first_run: str, default_raw: dict[str, Any]
) -> None:
    metrics, weights = metric_bytes(repo), weight_bytes(repo)
    # --force reruns stages from their inputs, as on a fresh clone (no cache reuse): one
    # stage of each kind (one- and two-layer training, CV grid, sweep); the whole pipeline
    # is rerun from scratch by benchmarks/bench_pipeline.py, which compares every output
    # hash with the committed dvc.lock. One benefit-map stage: fresh draws and the large
    # test set are drawn again and must give the same bytes. (summarize's rerun gives the
    # same bytes in test_code_edit_reruns_only_the_stages_that_read_it.)
    mapped = benefit_bytes(repo)
    rerun = ["train@baseline", "train@deep_hidden_all", "grid_search", "sweep", "benefit_map@xor"]
    assert ran_stages(dvc(repo, "repro", "--force", "--single-item", *rerun)) == set(rerun)
    assert metric_bytes(repo) == metrics
    assert weight_bytes(repo) == weights
    assert benefit_bytes(repo) == mapped
    assert "Data and pipelines are up to date" in dvc(repo, "status")
    reseeded = tiny_raw(default_raw)
    reseeded["train"]["seed"] += 1
    with restored(repo, "params.yaml"):
        write_params(repo, reseeded)
        dvc(repo, "repro", "--single-item", "train@baseline")
        assert metric_bytes(repo)["baseline.csv"] != metrics["baseline.csv"]
        assert weight_bytes(repo)["baseline/weights.npz"] != weights["baseline/weights.npz"]
    assert weight_bytes(repo) == weights


def test_make_check_passes_an_identical_rerun_and_fails_a_flipped_verdict_in_one_line(
    repo: Path, tmp_path: Path
) -> None:
    """The reproduction check (tests/test_reproduction.py) on the built study's real files."""

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(BIN / "python"), "-m", "noisereg.reproduction", *args]
        return subprocess.run(
            command, cwd=repo, env=ENV, capture_output=True, text=True, timeout=120
        )

    # Against HEAD: the committed results are the workspace's own.
    same = check()
    assert same.returncode == 0, same.stderr
    assert "Reproduced: no contradiction." in same.stdout and "0 contradict" in same.stdout
    # A copy of the committed results in which one comparison clearly helped ...
    committed = tmp_path / "committed"
    for name in COMMITTED_RESULTS:
        (committed / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / name, committed / name)
    summary_path = committed / "metrics/summary.json"
    summary = json.loads(summary_path.read_text())
    name = sorted(summary["comparisons"])[0]
    summary["comparisons"][name].update(
        verdict="helped", decision_low=0.2, decision_high=0.3, borderline=False
    )
    summary_path.write_text(json.dumps(summary))
    # ... and the rerun's says it clearly made no practical difference.
    rerun = json.loads((repo / "metrics/summary.json").read_text())
    rerun["comparisons"][name].update(
        verdict="no practical difference", decision_low=-0.001, decision_high=0.001
    )
    (repo / "metrics/summary.json").write_text(json.dumps(rerun))
    flipped = check("--against", str(committed))
    assert flipped.returncode == 1
    assert "NOT REPRODUCED: 1 contradiction(s)" in flipped.stdout
    assert f"CONTRADICTION reference {name}: helped" in flipped.stdout
    assert flipped.stderr.count("\n") == 1
    assert flipped.stderr.startswith("reproduction check failed: reference")
    assert "both intervals clear the boundary" in flipped.stderr

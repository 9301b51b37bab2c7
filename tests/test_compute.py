"""The Dask backend gives exactly the local backend's results, also when a worker dies."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from noisereg.data.reference import Split
from noisereg.engine import backends
from noisereg.engine import trainer as engine
from noisereg.experiments.reference.run import run_grid
from noisereg.net import Net
from noisereg.params import Params
from tests.conftest import ROOT, assert_same_weights, one_error_line, run_stage_in

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    """A two-worker LocalCluster on loopback, shared by the module's tests."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # HTTP on a free loopback port
    ) as cluster:
        yield cluster.scheduler_address


def small(params: Params, **compute_changes: object) -> Params:
    """Return the tiny params with 4 models per chunk and the given compute settings."""
    settings = params.compute.model_copy(update={"chunk_models": 4, **compute_changes})
    return params.model_copy(update=dict(compute=settings))


@pytest.mark.slow  # a Dask cluster or a stage process
def test_grid_on_dask_equals_local(tiny_params: Params, split: Split, cluster_address: str) -> None:
    local = run_grid(split, small(tiny_params))
    remote = run_grid(split, small(tiny_params, backend="dask", scheduler=cluster_address))
    pd.testing.assert_frame_equal(local.scores, remote.scores, check_exact=True)
    pd.testing.assert_frame_equal(local.cells, remote.cells, check_exact=True)
    assert local.best == remote.best and local.one_se == remote.one_se
    for key in local.refits:
        pd.testing.assert_frame_equal(
            local.refits[key].per_seed, remote.refits[key].per_seed, check_exact=True
        )


def members(count: int) -> list[engine.Member]:
    nets = [Net.of(16, hidden_stddev=0.3), Net.of((8, 8), input_stddev=0.2)]
    return [
        engine.Member(nets[i % 2], i, 100 + i, tuple(range(0, 30, 1 + i % 2)), tuple(range(70)))
        for i in range(count)
    ]


@pytest.mark.slow  # a Dask cluster or a stage process
def test_killed_worker_is_retried_and_results_are_identical(
    tiny_params: Params, split: Split, cluster_address: str
) -> None:
    params = small(tiny_params, backend="dask", scheduler=cluster_address, chunk_models=2)
    opt = params.train.model_copy(update=dict(epochs=300))
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    killed: list[int] = []

    def kill_one_worker(done: int, total: int) -> None:
        if killed:
            return
        with distributed.Client(cluster_address) as client:
            pids = client.run(os.getpid)
        pid = next(iter(pids.values()))
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    team = members(12)
    remote = backends.train(team, *data, opt, params.compute, "test", kill_one_worker)
    assert killed, "no worker was killed"
    local = backends.train(
        team, *data, opt, params.compute.model_copy(update=dict(backend="local")), "test"
    )
    assert_same_weights(remote.weights, local.weights)
    for column, values in local.history.items():
        np.testing.assert_array_equal(remote.history[column], values)


def test_unreachable_scheduler_fails_fast_with_one_line(tiny_params: Params, split: Split) -> None:
    params = small(
        tiny_params, backend="dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=2.0
    )
    opt = params.train
    started = time.monotonic()
    with pytest.raises(backends.ComputeError) as error:
        backends.train(
            members(2),
            split.x_train,
            split.y_train,
            split.x_test,
            split.y_test,
            opt,
            params.compute,
            "test",
        )
    # connect_timeout_s is 2 s; the rest is Dask's client start-up (measured ~0.1 s).
    assert time.monotonic() - started < 6
    message = str(error.value)
    assert "\n" not in message
    assert "'tcp://127.0.0.1:9'" in message and "compute.scheduler" in message


def test_environment_variable_overrides_the_scheduler(
    tiny_params: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(backends.SCHEDULER_ENV, "tcp://10.0.0.5:8786")
    assert backends.scheduler_address(tiny_params.compute) == "tcp://10.0.0.5:8786"
    monkeypatch.delenv(backends.SCHEDULER_ENV)
    assert backends.scheduler_address(tiny_params.compute) == tiny_params.compute.scheduler


@pytest.mark.slow  # a Dask cluster or a stage process
def test_stage_with_unreachable_scheduler_exits_3_with_one_line(
    tmp_path: Path, default_raw: dict[str, Any]
) -> None:
    shutil.copytree(ROOT / "stages", tmp_path / "stages")
    raw = copy.deepcopy(default_raw)
    raw["compute"].update(backend="dask", scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert run_stage_in(tmp_path, "stages.data").returncode == 0
    result = run_stage_in(tmp_path, "stages.grid_search")
    assert result.returncode == 3
    assert "cannot reach the Dask scheduler 'tcp://127.0.0.1:9'" in one_error_line(result)
    assert not (tmp_path / "metrics").exists() and not (tmp_path / "plots").exists()


@pytest.mark.slow  # a Dask cluster or a stage process
def test_existing_cluster_from_the_environment(
    tiny_params: Params, split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler and a worker started with the `dask` CLI, found via NOISEREG_DASK_SCHEDULER."""
    dask = str(Path(sys.executable).parent / "dask")
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = None
    try:
        assert scheduler.stderr is not None
        address = ""
        for line in scheduler.stderr:
            if "Scheduler at:" in line:
                address = line.split("Scheduler at:")[1].strip()
                break
        worker = subprocess.Popen(
            [dask, "worker", address, "--nthreads", "1", "--no-dashboard"],
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        monkeypatch.setenv(backends.SCHEDULER_ENV, address)
        params = small(tiny_params, backend="dask", scheduler="local")  # env wins
        opt = params.train.model_copy(update=dict(epochs=60))
        data = (split.x_train, split.y_train, split.x_test, split.y_test)
        remote = backends.train(members(6), *data, opt, params.compute, "test")
        # The tasks ran on the CLI-started scheduler, not on a LocalCluster of its own.
        with distributed.Client(address, timeout=30) as client:
            transitions = client.run_on_scheduler(
                lambda dask_scheduler: dask_scheduler.transition_counter
            )
        assert transitions > 0
        local_settings = params.compute.model_copy(update=dict(backend="local"))
        local = backends.train(members(6), *data, opt, local_settings, "test")
        assert_same_weights(remote.weights, local.weights)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
        assert scheduler.stderr is not None
        scheduler.stderr.close()


@pytest.mark.slow  # a Dask cluster or a stage process
def test_local_scheduler_starts_its_own_cluster_and_matches_local(
    tiny_params: Params, split: Split
) -> None:
    # scheduler: local -> a LocalCluster (127.0.0.1, distributed's default host) per call.
    # Two models per chunk: two Dask tasks, whose results the merge puts in member order.
    params = small(tiny_params, backend="dask", scheduler="local", n_workers=1, chunk_models=2)
    opt = params.train.model_copy(update=dict(epochs=20))
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    # With checkpoints, which each task keeps and the merge puts in member order too.
    remote = backends.train(members(4), *data, opt, params.compute, "test", checkpoints=(5,))
    local_settings = params.compute.model_copy(update=dict(backend="local"))
    local = backends.train(members(4), *data, opt, local_settings, "test", checkpoints=(5,))
    assert_same_weights(remote.weights, local.weights)
    assert list(remote.snapshots) == list(local.snapshots) == [5]
    assert_same_weights(remote.snapshots[5], local.snapshots[5])

"""Grid-search stage time on the local backend vs Dask with 1 and 2 workers, in one run.

Prints, measured side by side on this machine: the grid search (CV models + refits, the
`grid_search` stage's work) on the local backend, then on a LocalCluster with 1 and with 2
workers (cluster start-up timed separately), whether the outputs are identical, and the
overhead per Dask task (round trip of no-op tasks). Run:
    .venv/bin/python benchmarks/bench_dask.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from distributed import Client, LocalCluster

from noisereg.data.reference import Split, make_split
from noisereg.experiments.reference.run import GridResult, run_grid
from noisereg.params import Params, load_params


def reference_split(params: Params) -> Split:
    train, test = make_split(params.data)
    f = "float32"
    return Split(
        train[["x1", "x2"]].to_numpy(f),
        train["label"].to_numpy(f),
        test[["x1", "x2"]].to_numpy(f),
        test["label"].to_numpy(f),
    )


def timed_grid(split: Split, params: Params) -> tuple[GridResult, float]:
    start = time.perf_counter()
    result = run_grid(split, params)
    return result, time.perf_counter() - start


def noop(value: int) -> int:
    return value


def task_overhead(client: Client, count: int = 200) -> float:
    """Seconds per task for submitting and gathering no-op tasks."""
    client.gather(client.map(noop, range(10), pure=False))  # warm-up
    start = time.perf_counter()
    client.gather(client.map(noop, range(count), pure=False))
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="500 epochs instead of the params'")
    quick = parser.parse_args().quick
    params = load_params()
    if quick:
        params = params.model_copy(
            update=dict(train=params.train.model_copy(update=dict(epochs=500)))
        )
    split = reference_split(params)
    grid = params.grid
    n_cv = len(grid.hidden_units) * len(grid.stddevs) * grid.cv_folds * grid.cv_repeats
    print(
        f"machine: {os.cpu_count()} CPUs; grid {len(grid.hidden_units)} widths x "
        f"{len(grid.stddevs)} stddevs x {grid.cv_folds * grid.cv_repeats} folds = {n_cv} CV "
        f"models + refits, {params.train.epochs} epochs, chunk_models "
        f"{params.compute.chunk_models}"
    )
    local, local_s = timed_grid(split, params)
    print(f"local backend: {local_s:.1f} s")
    for workers in (1, 2):
        start = time.perf_counter()
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            startup = time.perf_counter() - start
            remote_params = params.model_copy(
                update=dict(
                    compute=params.compute.model_copy(
                        update=dict(backend="dask", scheduler=cluster.scheduler_address)
                    )
                )
            )
            remote, remote_s = timed_grid(split, remote_params)
            overhead = task_overhead(client)
        identical = local.scores.equals(remote.scores) and all(
            local.refits[k].per_seed.equals(remote.refits[k].per_seed) for k in local.refits
        )
        print(
            f"dask, {workers} worker(s): {remote_s:.1f} s (cluster start-up {startup:.1f} s "
            f"more); outputs identical to local: {identical}; overhead per task "
            f"{overhead * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()

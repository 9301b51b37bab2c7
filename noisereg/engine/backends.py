"""Where training runs: in this process, or as chunks of models on a Dask cluster.

Both backends split the members into the same chunks (`plan.plan_chunks`, at most
`compute.chunk_models` models of one architecture and noise-placement set per batched
graph) and train each chunk with the same code, so the outputs are identical whichever
backend, scheduler or worker count ran them. A chunk is one Dask task; results are
gathered back in member order.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from noisereg.engine import trainer
from noisereg.engine.plan import Member, plan_chunks
from noisereg.errors import ComputeError
from noisereg.params import ComputeParams, Optimization

# Overrides compute.scheduler, so a cluster address need not be committed to params.yaml.
SCHEDULER_ENV = "NOISEREG_DASK_SCHEDULER"


def train(
    members: Sequence[Member],
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    opt: Optimization,
    compute: ComputeParams,
    label: str,
    on_progress: Callable[[int, int], None] | None = None,
    checkpoints: Sequence[int] = (),
) -> trainer.TrainResult:
    """Return every member's training result, trained on the configured backend, in order.

    `checkpoints`: epochs after which the weights are kept too (see `trainer.train`).

    `on_progress(done, total)` is called as Dask tasks finish (tests use it to kill a worker
    mid-run).
    """
    data = (train_x, train_y, val_x, val_y)
    if compute.backend == "local":
        return trainer.train(
            members, *data, opt, compute.chunk_models, label, checkpoints=checkpoints
        )
    plan = plan_chunks(members, compute.chunk_models)
    with dask_client(compute) as client:
        from distributed import as_completed

        futures = [
            client.submit(
                trainer.train,
                [members[i] for i in indices],
                *data,
                opt,
                compute.chunk_models,
                f"{label} task {number}/{len(plan)}",
                checkpoints=tuple(checkpoints),
                # No `retries`: those rerun a task that raised, and training raises only
                # for bad input, which a rerun repeats. A task whose worker dies is
                # rescheduled by the scheduler itself (distributed.scheduler.allowed-failures,
                # 3 by default; tests/test_compute.py kills a worker mid-run).
                pure=False,
            )
            for number, indices in enumerate(plan, start=1)
        ]
        started, models_done = time.perf_counter(), 0
        sizes = {future.key: len(indices) for future, indices in zip(futures, plan, strict=True)}
        for done, future in enumerate(as_completed(futures), start=1):
            models_done += sizes[future.key]
            print(
                f"{label}: {done}/{len(futures)} tasks done ({models_done}/{len(members)} "
                f"models, {time.perf_counter() - started:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
            if on_progress is not None:
                on_progress(done, len(futures))
        results: list[trainer.TrainResult] = client.gather(futures)
    return trainer.merge_chunks(plan, results, len(members))


def scheduler_address(compute: ComputeParams) -> str:
    """Return the scheduler to use: $NOISEREG_DASK_SCHEDULER if set, else compute.scheduler."""
    return os.environ.get(SCHEDULER_ENV) or compute.scheduler


@contextmanager
def dask_client(compute: ComputeParams) -> Iterator[Any]:
    """Yield a Dask client: a fresh LocalCluster for 'local', else the given scheduler."""
    from distributed import Client, LocalCluster

    address = scheduler_address(compute)
    if address == "local":
        # One thread per worker: each task is already a multi-threaded TensorFlow graph.
        with (
            LocalCluster(
                n_workers=compute.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # The scheduler still serves HTTP (health, metrics) without a dashboard, on
                # :8787 unless told otherwise; a free loopback port lets two clusters coexist.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=f"{compute.connect_timeout_s}s")
    except (OSError, TimeoutError) as error:
        source = f"${SCHEDULER_ENV}" if os.environ.get(SCHEDULER_ENV) else "compute.scheduler"
        raise ComputeError(
            f"compute: cannot reach the Dask scheduler {address!r} ({source}) within "
            f"{compute.connect_timeout_s:g} s; start it or set compute.backend: local"
        ) from error
    with client:
        yield client

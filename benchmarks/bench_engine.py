"""Per model-epoch cost of Keras fit, tuned Keras fit and the batched engine, side by side.

Prints each measurement, the speed-ups, the floor (noise draws + matmul FLOPs, measured by
micro-benchmarks in this run) and a scaling table (K models, hidden width). Every timing is
warm (Keras has compiled, the engine has traced) and the best of REPEATS runs.

The engine runs each TensorFlow op on one thread (`engine.use_one_thread_per_op`). Since
that setting is per process and fixed at TensorFlow's first op, the tuned fit and the
engine are also timed in a child process that keeps TensorFlow's default threading, and
the speed-up is taken against the faster of the two tuned fits. Run:
    .venv/bin/python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from noisereg.data.reference import Split, make_split
from noisereg.engine import loop as batched
from noisereg.engine import trainer as engine
from noisereg.engine.keras_export import build_model
from noisereg.engine.randomness import glorot_uniform_mlp, standard_normal
from noisereg.experiments.protocol import fixed_split_seeds
from noisereg.experiments.reference.run import grid_members
from noisereg.net import Net, placement_net
from noisereg.params import load_params

WIDTH, STDDEV = 400, 0.1
REPEATS = 3


def best_of(measure: Callable[[], float]) -> float:
    """Return the fastest of REPEATS measurements (the one least disturbed by the machine)."""
    return min(measure() for _ in range(REPEATS))


NET = Net.of(WIDTH, hidden_stddev=STDDEV)


def reference_split() -> Split:
    train, test = make_split(load_params().data)
    f = np.float32
    return Split(
        train[["x1", "x2"]].to_numpy(f),
        train["label"].to_numpy(f),
        test[["x1", "x2"]].to_numpy(f),
        test["label"].to_numpy(f),
    )


def keras_model(seed: int) -> keras.Model:
    model = build_model(NET)
    model.set_weights(glorot_uniform_mlp(seed, WIDTH).as_list())
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


def time_fit(split: Split, epochs: int) -> float:
    """(a) fit as the reference calls it: epochs=N, batch 32, test set as validation data."""
    model = keras_model(0)
    model.fit(
        split.x_train,
        split.y_train,
        epochs=2,
        batch_size=32,
        verbose=0,
        validation_data=(split.x_test, split.y_test),
    )

    def measure() -> float:
        start = time.perf_counter()
        model.fit(
            split.x_train,
            split.y_train,
            epochs=epochs,
            batch_size=32,
            verbose=0,
            validation_data=(split.x_test, split.y_test),
        )
        return (time.perf_counter() - start) / epochs

    return best_of(measure)


def time_tuned_fit(split: Split, epochs: int) -> float:
    """(b) the full batch repeated N times in tf.data, steps_per_execution=N, one fit call."""
    model = build_model(NET)
    model.set_weights(glorot_uniform_mlp(0, WIDTH).as_list())
    model.compile(
        keras.optimizers.Adam(1e-3),
        "binary_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=epochs,
    )
    data = (
        tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train)).batch(32).repeat(epochs)
    )
    model.fit(data, epochs=1, steps_per_epoch=epochs, verbose=0)  # compile + warm-up

    def measure() -> float:
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=epochs, verbose=0)
        return (time.perf_counter() - start) / epochs

    return best_of(measure)


def time_engine(
    split: Split, k: int, epochs: int, width: int = WIDTH, log_every: int = 10
) -> float:
    """(c)/(d) the engine: K models, hidden noise, trace included once then timed warm."""
    widths = [width] * k
    return time_members(split, widths, epochs, log_every) / (k * epochs)


def time_members(split: Split, widths: list[int], epochs: int, log_every: int = 10) -> float:
    """Seconds for the engine to train one hidden-noise model per width, warm, best of 3.

    The warm-up run (one logging interval) traces the compiled loop that the timed runs
    reuse: a chunk's shape, not its epoch count, decides the graph.
    """
    opt = engine.Optimization.keras_adam(epochs, log_every=log_every)
    members = [
        engine.Member(
            Net.of(w, hidden_stddev=STDDEV), i, 10_000 + i, tuple(range(30)), tuple(range(70))
        )
        for i, w in enumerate(widths)
    ]
    engine.train(
        members,
        split.x_train,
        split.y_train,
        split.x_test,
        split.y_test,
        engine.Optimization.keras_adam(log_every, log_every=log_every),
        label="warm-up",
    )

    def measure() -> float:
        start = time.perf_counter()
        engine.train(
            members, split.x_train, split.y_train, split.x_test, split.y_test, opt, label="bench"
        )
        return time.perf_counter() - start

    return best_of(measure)


def time_grid_chunk(split: Split, epochs: int) -> dict[str, float]:
    """Seconds to train one width's grid CV models, one chunk, with per-model vs shared draws.

    Both runs train the same members from the same seeds; the result also says whether their
    weights are bit-identical.
    """
    params = load_params()
    members, _ = grid_members(split.y_train, params.grid, widths=[WIDTH])
    opt = params.train.model_copy(update=dict(epochs=epochs))
    warm_up = params.train.model_copy(update=dict(epochs=opt.log_every))
    data = (split.x_train, split.y_train, split.x_train, split.y_train)
    timings: dict[str, float] = {}
    weights = {}
    for name, share in (("per_model", False), ("shared", True)):
        engine.train(members, *data, warm_up, label="warm-up", share_draws=share)

        def measure(share: bool = share, name: str = name) -> float:
            start = time.perf_counter()
            result = engine.train(members, *data, opt, label="bench", share_draws=share)
            weights[name] = result.weights
            return time.perf_counter() - start

        timings[name] = best_of(measure)
    timings["identical"] = float(
        all(
            np.array_equal(a, b)
            for ours, theirs in zip(weights["shared"], weights["per_model"], strict=True)
            for a, b in zip(ours.as_list(), theirs.as_list(), strict=True)
        )
    )
    timings["models"] = len(members)
    timings["streams"] = len({(m.noise_seed, len(m.train_rows)) for m in members})
    timings["rows"] = len(members[0].train_rows)
    return timings


class BlockTiming(NamedTuple):
    name: str
    blocks: str  # block sizes, e.g. "30+30"
    whole: float  # seconds per epoch as one block
    blocked: float  # seconds per epoch in blocks
    identical: bool  # final weights bit-identical


def sweep_members(split: Split, placement: str) -> list[engine.Member]:
    """The sweep stage's models of one placement: every swept stddev x replicate."""
    params = load_params()
    seeds = [fixed_split_seeds(params.train.seed, r) for r in range(params.train.replicates)]
    every_row = (tuple(range(len(split.y_train))), tuple(range(len(split.y_test))))
    return [
        engine.Member(
            placement_net(params.sweep.hidden_units, placement, s), init, noise, *every_row
        )
        for s in params.sweep.stddevs
        for init, noise in seeds
    ]


def run_loop(
    loop: batched.LockstepLoop, chunks: list[engine._Chunk], epochs: int
) -> list[np.ndarray]:
    """Train `chunks` from their initial states for `epochs` (one logged interval); return
    every final state tensor, fetched, with the logs fetched too (as a stage does)."""
    states, logs = loop.run_intervals(
        tuple(c.state for c in chunks),
        tuple(c.data for c in chunks),
        tf.constant(0),
        tf.constant(1),
        tf.constant(epochs),
    )
    for log in logs:
        log.numpy()
    return [tensor.numpy() for state in states for tensor in state]


def alternate(
    runs: dict[str, Callable[[int], list[np.ndarray]]], epochs: int
) -> tuple[dict[str, float], bool]:
    """Return each variant's best seconds per epoch over REPEATS alternated runs, and whether
    every variant ended with bit-identical arrays. Each is traced by a one-epoch run first."""
    for run in runs.values():
        run(1)
    seconds = dict.fromkeys(runs, float("inf"))
    final = {}
    for _ in range(REPEATS):
        for variant, run in runs.items():
            began = time.perf_counter()
            final[variant] = run(epochs)
            seconds[variant] = min(seconds[variant], time.perf_counter() - began)
    first, *others = final.values()
    identical = all(
        np.array_equal(a, b) for other in others for a, b in zip(first, other, strict=True)
    )
    return {variant: t / epochs for variant, t in seconds.items()}, identical


def time_lockstep(split: Split, epochs: int) -> tuple[float, float, bool, int]:
    """Seconds per epoch of the sweep's three placement chunks, each alone and in lockstep.

    The input-, hidden- and both-noise chunks draw the same streams (`engine.plan_bundles`
    bundles them): three loops of one chunk run one after another, against one
    `batched.LockstepLoop` of the three, from the same states, alternated REPEATS times.
    Returns (separately, in lockstep, final weights bit-identical, models).
    """
    params = load_params()
    data = (split.x_train, split.y_train, split.x_test, split.y_test)
    chunks = [
        engine._Chunk(sweep_members(split, placement), *data, params.train)
        for placement in ("input", "hidden", "both")
    ]
    alone = [batched.LockstepLoop((chunk.shape,)) for chunk in chunks]
    together = batched.LockstepLoop(tuple(chunk.shape for chunk in chunks))

    def run_alone(n: int) -> list[np.ndarray]:
        return [a for loop, c in zip(alone, chunks, strict=True) for a in run_loop(loop, [c], n)]

    seconds, identical = alternate(
        {"alone": run_alone, "together": functools.partial(run_loop, together, chunks)}, epochs
    )
    models = sum(chunk.shape.k for chunk in chunks)
    return seconds["alone"], seconds["together"], identical, models


def time_blocks(split: Split, epochs: int) -> list[BlockTiming]:
    """Seconds per epoch of two study chunks trained whole and in blocks of models.

    The sweep's input-noise chunk and the grid's widest chunk, each run through a loop of
    one block and the loop of `batched.model_blocks`' blocks (what the engine uses), from
    the same state, alternated REPEATS times; also whether the final weights are identical.
    """
    params = load_params()
    sweep_input = sweep_members(split, "input")
    widest = max(params.grid.hidden_units)
    grid_widest, _ = grid_members(split.y_train, params.grid, widths=[widest])
    cases = [
        (
            "sweep input-noise chunk",
            sweep_input,
            (split.x_train, split.y_train, split.x_test, split.y_test),
        ),
        (
            f"grid width-{widest} chunk",
            grid_widest,
            (split.x_train, split.y_train, split.x_train, split.y_train),
        ),
    ]
    rows = []
    for name, members, data in cases:
        chunk = engine._Chunk(members, *data, params.train)
        whole = batched.LockstepLoop((dataclasses.replace(chunk.shape, blocks=()),))
        blocked = batched.LockstepLoop((chunk.shape,))
        seconds, identical = alternate(
            {
                "whole": functools.partial(run_loop, whole, [chunk]),
                "blocks": functools.partial(run_loop, blocked, [chunk]),
            },
            epochs,
        )
        rows.append(
            BlockTiming(
                name,
                "+".join(map(str, chunk.shape.blocks)) or "one",
                seconds["whole"],
                seconds["blocks"],
                identical,
            )
        )
    return rows


def time_floor(k: int, steps: int = 300, rows: int = 30) -> tuple[float, float]:
    """Per model-step seconds of (noise draws alone, the step's matmuls alone), in graphs.

    One noise stream per model: with shared draws the noise part scales with the number of
    distinct streams instead (see `main`).
    """
    seeds = [tf.constant([i, 0]) for i in range(k)]

    @tf.function
    def noise_loop() -> tf.Tensor:
        total = tf.zeros([])
        for step in tf.range(steps):
            draws = standard_normal([tf.stack([s[0], step]) for s in seeds], rows, WIDTH)
            total += draws[0, 0, 0]
        return total

    x = tf.random.normal([k, rows, 2])
    w1, w2 = tf.random.normal([k, 2, WIDTH]), tf.random.normal([k, WIDTH])

    @tf.function
    def matmul_loop() -> tf.Tensor:
        total = tf.zeros([])
        for _ in tf.range(steps):
            hidden = tf.matmul(x, w1)  # forward layer 1
            logits = tf.linalg.matvec(hidden, w2)  # forward layer 2
            g_w2 = tf.einsum("kbh,kb->kh", hidden, logits)  # backward layer 2
            g_w1 = tf.matmul(x, hidden, transpose_a=True)  # backward layer 1
            total += g_w1[0, 0, 0] + g_w2[0, 0]
        return total

    timings = []
    for loop in (noise_loop, matmul_loop):
        loop()

        def measure(loop: Callable[[], tf.Tensor] = loop) -> float:
            start = time.perf_counter()
            loop()
            return (time.perf_counter() - start) / (k * steps)

        timings.append(best_of(measure))
    return timings[0], timings[1]


def default_threading_timings(quick: bool) -> dict[str, float]:
    """Return the tuned fit and engine timings of a child process on TF's default threading."""
    command = [sys.executable, __file__, "--default-threading"] + (["--quick"] if quick else [])
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and no scaling table")
    parser.add_argument(
        "--default-threading",
        action="store_true",
        help="(internal) print tuned fit and engine timings on TF's default threading as JSON",
    )
    args = parser.parse_args()
    quick = args.quick
    split = reference_split()
    study_k = load_params().train.replicates
    fit_epochs, tuned_epochs, engine_epochs = (10, 200, 500) if quick else (30, 1000, 2000)
    if args.default_threading:
        tf.zeros([])  # start TensorFlow first, so the engine cannot change its threading
        timings = {
            "tuned_fit": time_tuned_fit(split, tuned_epochs),
            "engine": time_engine(split, study_k, engine_epochs),
        }
        print(json.dumps(timings))
        return
    engine.use_one_thread_per_op()  # before any TensorFlow op, as in a stage process
    print(f"machine: {os.cpu_count()} CPUs, TF {tf.__version__}, Keras {keras.__version__}")
    print(
        f"model: Dense({WIDTH}) -> GaussianNoise({STDDEV}) -> ReLU -> Dense(1), "
        "30 train / 70 test points"
    )
    a = time_fit(split, fit_epochs)
    print(
        f"(a) model.fit(epochs={fit_epochs}) with validation data: {a * 1e3:.2f} ms per model-epoch"
    )
    b_one_thread = time_tuned_fit(split, tuned_epochs)
    default = default_threading_timings(quick)
    b = min(b_one_thread, default["tuned_fit"])
    print(
        f"(b) tuned fit (tf.data repeat, steps_per_execution={tuned_epochs}): "
        f"{b * 1e3:.3f} ms per model-epoch (the faster of TF's default threading "
        f"{default['tuned_fit'] * 1e3:.3f} and one thread per op {b_one_thread * 1e3:.3f})"
    )
    c = time_engine(split, 1, engine_epochs)
    print(f"(c) engine, K=1: {c * 1e3:.3f} ms per model-epoch")
    d = time_engine(split, study_k, engine_epochs)
    print(
        f"(d) engine, K={study_k} (train.replicates): {d * 1e3:.4f} ms per model-epoch "
        f"(on TF's default threading: {default['engine'] * 1e3:.4f}, "
        f"{default['engine'] / d:.2f}x as long)"
    )
    grid = load_params().grid
    grid_k = len(grid.stddevs) * grid.cv_folds * grid.cv_repeats
    d_grid = time_engine(split, grid_k, engine_epochs)
    print(
        f"(d) engine, K={grid_k} (grid_search: one width's CV models): "
        f"{d_grid * 1e3:.4f} ms per model-epoch"
    )
    # Mixed widths: one graph per width (what the engine does) vs padding every model to the
    # widest, costed as training all of them at the widest width (masking only adds work).
    mixed = [w for w in grid.hidden_units for _ in range(grid_k)]
    grouped = time_members(split, mixed, engine_epochs // 5)
    padded = time_members(split, [max(mixed)] * len(mixed), engine_epochs // 5)
    print(
        f"mixed widths {list(grid.hidden_units)} x {grid_k} models, {engine_epochs // 5} "
        f"epochs: grouped by width {grouped:.2f} s, padded to {max(mixed)} {padded:.2f} s "
        f"(padding / grouping = {padded / grouped:.2f}x)"
    )
    noise, matmul = time_floor(study_k)
    floor = noise + matmul
    print(
        f"floor at K={study_k}: noise draws {noise * 1e3:.4f} + matmuls {matmul * 1e3:.4f} "
        f"= {floor * 1e3:.4f} ms per model-epoch"
    )
    chunk = time_grid_chunk(split, engine_epochs // 4)
    k, streams = int(chunk["models"]), int(chunk["streams"])
    noise_k, matmul_k = time_floor(k, rows=int(chunk["rows"]))
    print(
        f"grid-like chunk (one width's CV models: K={k} at width {WIDTH}, {streams} distinct "
        f"noise streams), {engine_epochs // 4} epochs: per-model draws "
        f"{chunk['per_model']:.2f} s, shared draws {chunk['shared']:.2f} s; weights "
        f"bit-identical: {bool(chunk['identical'])}"
    )
    print(
        f"its floor counting distinct draws: noise {noise_k * 1e3:.4f} x {streams}/{k} "
        f"(draws per stream x streams / models) + matmuls {matmul_k * 1e3:.4f} = "
        f"{(noise_k * streams / k + matmul_k) * 1e3:.4f} ms per model-epoch (per-model draws: "
        f"{(noise_k + matmul_k) * 1e3:.4f}); measured with shared draws "
        f"{chunk['shared'] / (k * engine_epochs // 4) * 1e3:.4f}"
    )
    print(f"shared draws speed-up: {chunk['per_model'] / chunk['shared']:.2f}x")
    for row in time_blocks(split, engine_epochs // 4):
        print(
            f"{row.name} in blocks of models ({row.blocks}): "
            f"{row.whole * 1e3:.3f} ms per epoch whole, {row.blocked * 1e3:.3f} in "
            f"blocks; blocks speed-up: {row.whole / row.blocked:.2f}x; weights "
            f"bit-identical: {row.identical}"
        )
    alone, together, identical, models = time_lockstep(split, engine_epochs // 4)
    print(
        f"sweep's input-, hidden- and both-noise chunks ({models} models, the same streams): "
        f"{alone * 1e3:.3f} ms per epoch one after another, {together * 1e3:.3f} in one "
        f"lockstep loop; lockstep speed-up: {alone / together:.2f}x; weights bit-identical: "
        f"{identical}"
    )
    print(f"speed-up vs fit: {a / d:.0f}x")
    print(f"speed-up vs tuned fit: {b / d:.1f}x")
    print(f"ratio to floor: {d / floor:.2f}x")
    if quick:
        return
    print("\nscaling (hidden noise, 200 epochs, ms per model-epoch):")
    print("| models K | width | engine ms/model-epoch | total s |")
    print("|---:|---:|---:|---:|")
    for k, width in [
        (1, 400),
        (10, 400),
        (100, 400),
        (1000, 400),
        (100, 50),
        (100, 100),
        (100, 1000),
    ]:
        per = time_engine(split, k, 200, width=width)
        print(f"| {k} | {width} | {per * 1e3:.4f} | {per * k * 200:.2f} |")


if __name__ == "__main__":
    main()

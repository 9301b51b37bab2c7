"""Batched trainer: many independent noisy ReLU MLPs (see `noisereg.net`) in few graphs.

`model.fit` spends ~43 ms per epoch on Python and dispatch overhead for a 400-unit net on 30
points; the arithmetic is microseconds. The engine groups the members by architecture and
noise placements, cuts each group into chunks, and trains each chunk's K models together in
one compiled loop (`noisereg.engine.loop`; chunks that draw the same noise share a loop), with
glorot-uniform kernels and zero biases as Keras draws them (`randomness.glorot_uniform_mlp`)
and a noise stream per model and placement.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from noisereg.engine import loop
from noisereg.engine.plan import (
    SHUFFLE_STREAM,
    Member,
    noise_placements,
    plan_bundles,
    plan_chunks,
    stream_key,
)
from noisereg.engine.randomness import derive_seed, glorot_uniform_mlp
from noisereg.net import MLPWeights
from noisereg.params import Optimization

HISTORY_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class TrainResult:
    """Trained weights per member and the logged history, both in the members' order."""

    weights: list[MLPWeights]
    logged_epochs: np.ndarray  # [n_logs], 1-based epoch numbers
    history: dict[str, np.ndarray]  # column -> [K, n_logs]
    # Epoch -> every member's weights after that many epochs of this same run (`checkpoints`).
    snapshots: dict[int, list[MLPWeights]] = field(default_factory=dict)


def train(
    members: Sequence[Member],
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    opt: Optimization,
    max_models_per_graph: int = 256,
    label: str = "train",
    share_draws: bool = True,
    checkpoints: Sequence[int] = (),
) -> TrainResult:
    """Return every member's trained weights and history, in the members' order.

    Members are grouped by architecture and noise placements (`plan_chunks`; one graph per
    width measured faster than padding narrow nets to the widest, see
    benchmarks/bench_engine.py) and chunked so one graph never holds more than
    `max_models_per_graph` models; chunks that draw the same noise train side by side
    (`plan_bundles`). A model's seeds, data and noise do not depend on its batch-mates; its
    floats may differ in the last bits (batched kernels block differently), so the plan is
    fixed by the members and N alone. `share_draws=False` draws every member's noise
    separately, bundling nothing (same values, slower; for benchmarks/bench_engine.py).

    `checkpoints` are epochs (1..opt.epochs) after which every member's weights are kept as
    well (`TrainResult.snapshots`): one run scored at several training lengths. The weights
    at a checkpoint are those of a run of exactly that many epochs, bit for bit, and the
    logged history is the same with or without checkpoints.
    """
    if not members:
        raise ValueError("train() needs at least one member")
    outside = sorted({c for c in checkpoints if not 1 <= c <= opt.epochs})
    if outside:
        raise ValueError(f"checkpoints {outside} are outside 1..{opt.epochs} (opt.epochs)")
    use_one_thread_per_op()
    chunks = plan_chunks(members, max_models_per_graph)
    bundles = (
        plan_bundles(members, chunks, opt.batch_size, max_models_per_graph)
        if share_draws
        else [[index] for index in range(len(chunks))]
    )

    def prepare(bundle: list[int]) -> _Bundle:
        trainer = _Bundle(
            [
                _Chunk(
                    [members[i] for i in chunks[c]],
                    train_x,
                    train_y,
                    val_x,
                    val_y,
                    opt,
                    share_draws,
                )
                for c in bundle
            ]
        )
        trainer.compile()
        return trainer

    started = time.perf_counter()
    results = []
    # While a bundle trains (in TensorFlow's threads, without the GIL), a background thread
    # builds the next one and traces and optimizes its graph: ~0.5-0.9 s of Python and
    # Grappler per new shape that would otherwise sit between two bundles.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-chunk") as background:
        upcoming = background.submit(prepare, bundles[0])
        for number, bundle in enumerate(bundles, start=1):
            trainer = upcoming.result()
            if number < len(bundles):
                upcoming = background.submit(prepare, bundles[number])
            n_models = sum(len(chunks[c]) for c in bundle)
            what = f"{n_models} models" + (f" in {len(bundle)} chunks" if len(bundle) > 1 else "")
            units = "x".join(map(str, members[chunks[bundle[0]][0]].net.hidden_units))
            tag = f"{label} [{number}/{len(bundles)}: {what}, width {units}]"
            results += trainer.run(tag, started, frozenset(checkpoints))
    order = [chunks[c] for bundle in bundles for c in bundle]
    return merge_chunks(order, results, len(members))


def progress_only(opt: Optimization, lines: int = 10) -> Optimization:
    """Return `opt` logging about `lines` times: for runs whose curves nobody reads.

    Every logged epoch adds a validation pass and the loss and accuracy ops (the sweep's
    70 validation points cost more than its 30 training points), while the weights do not
    depend on logging; the engine still prints a progress line per logged block.
    """
    return opt.model_copy(update={"log_every": max(1, opt.epochs // lines)})


def use_one_thread_per_op() -> None:
    """Run each TensorFlow op on one thread; independent ops still run side by side.

    The engine's ops are small (thousands of floats per model), and splitting each one over
    the intra-op pool costs more than it saves: at K=20 a step took ~1.6x as long with
    TensorFlow's default (benchmarks/bench_engine.py prints both). Results are bit-identical
    either way. TensorFlow fixes the setting when it runs its first op, so this is a no-op
    in a process that has already run TensorFlow (a test session, a notebook).
    """
    if tf.config.threading.get_intra_op_parallelism_threads() == 1:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:
        return  # TensorFlow is already running; keep its setting (same results, slower)


def merge_chunks(
    plan: list[list[int]], results: Sequence[TrainResult], n_members: int
) -> TrainResult:
    """Return one TrainResult in member order from the per-chunk results of `plan`."""

    def in_member_order(per_chunk: Sequence[Sequence[MLPWeights]]) -> list[MLPWeights]:
        weights: list[MLPWeights | None] = [None] * n_members
        for indices, chunk_weights in zip(plan, per_chunk, strict=True):
            for position, member_index in enumerate(indices):
                weights[member_index] = chunk_weights[position]
        return [w for w in weights if w is not None]

    history: dict[str, np.ndarray] = {}
    for indices, result in zip(plan, results, strict=True):
        for column, values in result.history.items():
            history.setdefault(column, np.zeros((n_members, values.shape[1]), np.float32))
            history[column][indices] = values
    snapshots = {
        epoch: in_member_order([result.snapshots[epoch] for result in results])
        for epoch in results[0].snapshots
    }
    return TrainResult(
        in_member_order([result.weights for result in results]),
        results[0].logged_epochs,
        history,
        snapshots,
    )


def noise_streams(
    members: Sequence[Member], share_draws: bool = True
) -> dict[str, loop.NoiseStreams]:
    """Return each noisy placement's distinct streams and which member draws from which.

    Without `share_draws` every member gets a stream of its own (the same values, drawn once
    per member; benchmarks/bench_engine.py times both).
    """
    # Which stream each member draws from is the same for every placement: computed once.
    keys = [stream_key(m) if share_draws else (m.noise_seed, i) for i, m in enumerate(members)]
    distinct: dict[tuple[int, int], int] = {}
    owner = [distinct.setdefault(key, len(distinct)) for key in keys]
    first = [keys.index(key) for key in distinct]
    streams = {}
    for placement, (stream, stddevs) in noise_placements([m.net for m in members]).items():
        if any(s > 0 for s in stddevs):
            streams[placement] = loop.NoiseStreams(
                seeds=tf.constant([derive_seed(seed, stream) for seed, _ in distinct], tf.int32),
                first=tf.constant(first, tf.int32),
                owner=tf.constant(owner, tf.int32),
                stddevs=tf.constant(stddevs, tf.float32),
            )
    return streams


def stream_cycle(noise: dict[str, loop.NoiseStreams]) -> int:
    """Return U when K models share U < K streams and model k draws stream k % U, else 0."""
    if not noise:
        return 0
    owner = next(iter(noise.values())).owner.numpy()  # the same for every placement
    k, cycle = len(owner), int(owner.max()) + 1
    cyclic = cycle < k and k % cycle == 0 and np.array_equal(owner, np.arange(k) % cycle)
    return cycle if cyclic else 0


def _pack_rows(
    rows_per_member: list[tuple[int, ...]], x: np.ndarray, y: np.ndarray, padded: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gather each member's rows to the front of a [K, padded] layout; return x, y, mask."""
    k = len(rows_per_member)
    xs = np.zeros((k, padded, x.shape[1]), np.float32)
    ys = np.zeros((k, padded), np.float32)
    mask = np.zeros((k, padded), np.float32)
    for i, rows in enumerate(rows_per_member):
        idx = np.asarray(rows, np.int64)
        xs[i, : len(idx)] = x[idx]
        ys[i, : len(idx)] = y[idx]
        mask[i, : len(idx)] = 1.0
    return xs, ys, mask


class _Chunk:
    """One chunk's packed data and initial state, trained by the loop for its shape."""

    def __init__(
        self,
        members: list[Member],
        train_x: np.ndarray,
        train_y: np.ndarray,
        val_x: np.ndarray,
        val_y: np.ndarray,
        opt: Optimization,
        share_draws: bool = True,
    ) -> None:
        self.opt = opt
        n_train = max(len(m.train_rows) for m in members)
        if n_train == 0:
            raise ValueError("every member needs at least one training row")
        batch = min(opt.batch_size, n_train)
        steps = math.ceil(n_train / batch)
        xt, yt, mt = _pack_rows([m.train_rows for m in members], train_x, train_y, steps * batch)
        n_val = max(1, max(len(m.val_rows) for m in members))
        xv, yv, mv = _pack_rows([m.val_rows for m in members], val_x, val_y, n_val)
        noise = noise_streams(members, share_draws)
        self.data = loop.ChunkData(
            train_x=tf.constant(xt),
            train_y=tf.constant(yt),
            train_mask=tf.constant(mt),
            train_counts=tf.constant(mt.sum(axis=1)),
            val_x=tf.constant(xv),
            val_y=tf.constant(yv),
            val_mask=tf.constant(mv),
            shuffle_seeds=tf.constant(
                [derive_seed(m.noise_seed, SHUFFLE_STREAM) for m in members], tf.int32
            ),
            noise=noise,
            l2=tf.constant([m.net.l2 for m in members], tf.float32),
        )
        units = members[0].net.hidden_units
        self.shape = loop.LoopShape(
            k=len(members),
            hidden_units=units,
            batch=batch,
            steps=steps,
            learning_rate=opt.learning_rate,
            beta_1=opt.beta_1,
            beta_2=opt.beta_2,
            epsilon=opt.epsilon,
            shuffle=opt.shuffle,
            noisy=frozenset(noise),
            shared=frozenset(p for p, s in noise.items() if s.seeds.shape[0] < len(members)),
            regularized=any(m.net.l2 > 0 for m in members),
            cycle=stream_cycle(noise),
            blocks=loop.model_blocks(len(members), batch, units),
        )
        self.state = loop.initial_state(
            [glorot_uniform_mlp(m.init_seed, units, train_x.shape[1]) for m in members]
        )


class _Bundle:
    """Chunks trained side by side in one compiled loop (`loop.LockstepLoop`)."""

    def __init__(self, chunks: list[_Chunk]) -> None:
        self.chunks = chunks
        self.shapes = tuple(chunk.shape for chunk in chunks)
        self.opt = chunks[0].opt

    def _call(self, start: int, n_intervals: int, interval: int) -> tuple[np.ndarray, ...]:
        """Train the chunks for n_intervals x interval epochs; return each chunk's logs."""
        states, logs = loop.compiled_loop(self.shapes).run_intervals(
            tuple(chunk.state for chunk in self.chunks),
            tuple(chunk.data for chunk in self.chunks),
            tf.constant(start, tf.int32),
            tf.constant(n_intervals, tf.int32),
            tf.constant(interval, tf.int32),
        )
        for chunk, state in zip(self.chunks, states, strict=True):
            chunk.state = state
        return tuple(chunk_logs.numpy() for chunk_logs in logs)

    def compile(self) -> None:
        """Trace and optimize the loop for these shapes now (a call of zero epochs).

        Bundles of shapes already compiled reuse their graph: then this is one more call
        (a one-epoch call of a compiled 60-model sweep chunk took 5-13 ms, measured).
        """
        self._call(0, 0, 1)

    def run(
        self, tag: str, started: float, checkpoints: frozenset[int] = frozenset()
    ) -> list[TrainResult]:
        """Return each chunk's result after training every epoch (with progress lines)."""
        logs: list[tuple[np.ndarray, ...]] = []
        logged: list[int] = []
        snapshots: list[dict[int, list[MLPWeights]]] = [{} for _ in self.chunks]
        epoch = 0
        for piece in _pieces(self.opt, checkpoints):
            call_logs = self._call(epoch, piece.n_intervals, piece.interval)
            epoch += piece.n_intervals * piece.interval
            if piece.logged:
                logs.append(call_logs)
                logged += range(
                    epoch - (piece.n_intervals - 1) * piece.interval, epoch + 1, piece.interval
                )
                print(
                    f"{tag}: epoch {epoch}/{self.opt.epochs} "
                    f"({time.perf_counter() - started:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
            if epoch in checkpoints:
                for chunk_snapshots, chunk in zip(snapshots, self.chunks, strict=True):
                    chunk_snapshots[epoch] = loop.weights_of(chunk.state)
        results = []
        for position, chunk in enumerate(self.chunks):
            stacked = np.concatenate([call[position] for call in logs], axis=0)  # [n_logs, 4, K]
            history = {col: stacked[:, j, :].T.copy() for j, col in enumerate(HISTORY_COLUMNS)}
            results.append(
                TrainResult(
                    loop.weights_of(chunk.state),
                    np.asarray(logged, np.int64),
                    history,
                    snapshots[position],
                )
            )
        return results


class _Piece(NamedTuple):
    """One loop call: n_intervals x interval epochs, its logs kept or dropped."""

    n_intervals: int
    interval: int
    logged: bool  # False for the first part of an interval cut at a checkpoint


def _pieces(opt: Optimization, checkpoints: frozenset[int]) -> Iterator[_Piece]:
    """Yield the loop calls of a run: intervals of `log_every` epochs (and the remainder),
    grouped ~10 calls in all for ~10 progress lines, a call ending at every checkpoint.

    A checkpoint inside an interval cuts it into calls of which only the last logs, so the
    log still comes after the whole interval: the weights do not depend on where calls end,
    and the history is the same with or without checkpoints.
    """
    full, remainder = divmod(opt.epochs, opt.log_every)
    lengths = [opt.log_every] * full + ([remainder] if remainder else [])
    per_call = max(1, full // 10)
    pending: list[int] = []  # [n_intervals, interval] of whole intervals not yet called
    epoch = 0
    for length in lengths:
        end = epoch + length
        for cut in sorted(c for c in checkpoints if epoch < c < end):
            if pending:
                yield _Piece(pending[0], pending[1], logged=True)
                pending = []
            yield _Piece(1, cut - epoch, logged=False)
            epoch = cut
        if pending and pending[1] == end - epoch == length and pending[0] < per_call:
            pending[0] += 1
        else:
            if pending:
                yield _Piece(pending[0], pending[1], logged=True)
            pending = [1, end - epoch]
        epoch = end
        if end in checkpoints:
            yield _Piece(pending[0], pending[1], logged=True)
            pending = []
    if pending:
        yield _Piece(pending[0], pending[1], logged=True)

"""Batched trainer: many independent Dense -> (noise) -> ReLU -> Dense(sigmoid) nets in one graph.

`model.fit` spends ~43 ms per epoch on Python and dispatch overhead for a 400-unit net on 30
points; the arithmetic is microseconds. Here K models are stacked along a leading axis
(weights [K, ...], batched matmuls) and whole runs of epochs execute inside one
`tf.function`, so the per-step cost approaches the noise draws plus the FLOPs.

Semantics follow Keras 3 exactly (checked by tests/test_engine_equivalence.py): glorot-uniform
kernels and zero biases (drawn by `randomness.glorot_uniform_mlp`), Adam with Keras' bias
correction, mean binary cross-entropy on logits, `GaussianNoise` on the input and on the
hidden pre-activation during training only, minibatches in order (shuffled per epoch when
asked), and epoch metrics averaged over the epoch's batches weighted by batch size.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from noisereg.randomness import HIDDEN_STREAM, INPUT_STREAM, glorot_uniform_mlp, standard_normal

HISTORY_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc")
# Third stream of a model's noise seed: the per-epoch minibatch order.
_SHUFFLE_STREAM = 2


@dataclass(frozen=True)
class Member:
    """One model to train: its architecture, noise, seeds, and which pool rows it sees."""

    width: int
    input_stddev: float
    hidden_stddev: float
    init_seed: int
    noise_seed: int
    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]


@dataclass(frozen=True)
class Optimization:
    """Adam and loop settings shared by every member of one training call."""

    epochs: int
    batch_size: int
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    log_every: int
    shuffle: bool


@dataclass(frozen=True)
class MLPWeights:
    """Weights of one trained net in Keras layout: W1 [d, h], b1 [h], W2 [h, 1], b2 [1]."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def as_list(self) -> list[np.ndarray]:
        """Return the weights in the order `keras.Model.set_weights` expects."""
        return [self.w1, self.b1, self.w2, self.b2]


@dataclass(frozen=True)
class TrainResult:
    """Trained weights per member and the logged history, both in the members' order."""

    weights: list[MLPWeights]
    logged_epochs: np.ndarray  # [n_logs], 1-based epoch numbers
    history: dict[str, np.ndarray]  # column -> [K, n_logs]


def predict_logits(weights: MLPWeights, x: np.ndarray) -> np.ndarray:
    """Return the clean (noise-free) logits of one net for inputs x [n, d]."""
    hidden = np.maximum(x.astype(np.float32) @ weights.w1 + weights.b1, 0.0)
    return (hidden @ weights.w2 + weights.b2)[:, 0]


def train(
    members: Sequence[Member],
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    opt: Optimization,
    max_models_per_graph: int = 256,
    label: str = "train",
) -> TrainResult:
    """Train every member and return its weights and history, in the members' order.

    Members are grouped by width (one graph per width: measured faster than padding narrow
    nets to the widest, see benchmarks/bench_engine.py) and chunked so one graph never holds
    more than `max_models_per_graph` models. Results do not depend on the grouping.
    """
    if not members:
        raise ValueError("train() needs at least one member")
    order: dict[int, list[int]] = {}
    for index, member in enumerate(members):
        order.setdefault(member.width, []).append(index)
    chunks = [
        indices[start : start + max_models_per_graph]
        for indices in order.values()
        for start in range(0, len(indices), max_models_per_graph)
    ]
    weights: list[MLPWeights | None] = [None] * len(members)
    history: dict[str, np.ndarray] = {}
    logged_epochs = np.zeros(0, np.int64)
    started = time.perf_counter()
    for chunk_number, indices in enumerate(chunks, start=1):
        width = members[indices[0]].width
        tag = f"{label} [{chunk_number}/{len(chunks)}: {len(indices)} models, width {width}]"
        trainer = _ChunkTrainer([members[i] for i in indices], train_x, train_y, val_x, val_y, opt)
        chunk_weights, logged_epochs, chunk_history = trainer.run(tag, started)
        for position, member_index in enumerate(indices):
            weights[member_index] = chunk_weights[position]
        for column, values in chunk_history.items():
            history.setdefault(column, np.zeros((len(members), values.shape[1]), np.float32))
            history[column][indices] = values
    return TrainResult([w for w in weights if w is not None], logged_epochs, history)


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


class _ChunkTrainer:
    """Holds one chunk's stacked tensors and the compiled loop that trains them."""

    def __init__(
        self,
        members: list[Member],
        train_x: np.ndarray,
        train_y: np.ndarray,
        val_x: np.ndarray,
        val_y: np.ndarray,
        opt: Optimization,
    ) -> None:
        self.opt = opt
        self.k = len(members)
        self.width = members[0].width
        n_train = max(len(m.train_rows) for m in members)
        if n_train == 0:
            raise ValueError("every member needs at least one training row")
        self.batch = min(opt.batch_size, n_train)
        self.steps = math.ceil(n_train / self.batch)
        padded = self.steps * self.batch
        xt, yt, mt = _pack_rows([m.train_rows for m in members], train_x, train_y, padded)
        n_val = max(1, max(len(m.val_rows) for m in members))
        xv, yv, mv = _pack_rows([m.val_rows for m in members], val_x, val_y, n_val)
        self.xt, self.yt, self.mt = (tf.constant(a) for a in (xt, yt, mt))
        self.xv, self.yv, self.mv = (tf.constant(a) for a in (xv, yv, mv))
        self.counts = tf.constant(mt.sum(axis=1))
        self.s_in = tf.constant([m.input_stddev for m in members], tf.float32)
        self.s_h = tf.constant([m.hidden_stddev for m in members], tf.float32)
        # Decided once per chunk: a placement with no noise in any member draws nothing.
        self.draw_input = any(m.input_stddev > 0 for m in members)
        self.draw_hidden = any(m.hidden_stddev > 0 for m in members)
        self.noise_seeds = [int(m.noise_seed) for m in members]
        initial = [glorot_uniform_mlp(m.init_seed, m.width, train_x.shape[1]) for m in members]
        params = [
            np.stack([w[0] for w in initial]),
            np.stack([w[1] for w in initial]),
            np.stack([w[2][:, 0] for w in initial]),
            np.stack([w[3][0] for w in initial]),
        ]
        zeros = [np.zeros_like(p) for p in params]
        self.state = (
            *(tf.constant(p) for p in params),
            *(tf.constant(z) for z in zeros),
            *(tf.constant(z) for z in zeros),
            tf.zeros([self.k], tf.float32),
        )
        self._run_intervals = tf.function(self._intervals)

    def run(
        self, tag: str, started: float
    ) -> tuple[list[MLPWeights], np.ndarray, dict[str, np.ndarray]]:
        """Train all epochs in chunks of log intervals, printing progress between chunks."""
        every = self.opt.log_every
        full, remainder = divmod(self.opt.epochs, every)
        plan = [(every, full)] if full else []
        if remainder:
            plan.append((remainder, 1))
        # ~10 progress lines per run; each call runs many epochs inside the graph.
        per_call = max(1, full // 10)
        logs: list[np.ndarray] = []
        epoch = 0
        for interval, count in plan:
            done = 0
            while done < count:
                n = min(per_call, count - done)
                self.state, chunk_logs = self._run_intervals(
                    self.state,
                    tf.constant(epoch, tf.int32),
                    tf.constant(n, tf.int32),
                    tf.constant(interval, tf.int32),
                )
                logs.append(chunk_logs.numpy())
                epoch += n * interval
                done += n
                print(
                    f"{tag}: epoch {epoch}/{self.opt.epochs} "
                    f"({time.perf_counter() - started:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
        stacked = np.concatenate(logs, axis=0)  # [n_logs, 4, K]
        w1, b1, w2, b2 = (t.numpy() for t in self.state[:4])
        weights = [
            MLPWeights(w1[i], b1[i], w2[i][:, None].copy(), b2[i : i + 1].copy())
            for i in range(self.k)
        ]
        logged = np.cumsum([i for i, c in plan for _ in range(c)])
        history = {col: stacked[:, j, :].T.copy() for j, col in enumerate(HISTORY_COLUMNS)}
        return weights, logged, history

    def _noise(self, stream: int, steps_taken: tf.Tensor, rows: int, cols: int) -> tf.Tensor:
        # Keyed by each model's own update count, not the chunk's step index: a model that
        # shares a graph with larger CV folds (more steps per epoch) draws the same noise.
        steps = tf.cast(steps_taken, tf.int32) * 3 + stream
        seeds = [
            tf.stack([tf.constant(s, tf.int32), steps[k]]) for k, s in enumerate(self.noise_seeds)
        ]
        return standard_normal(seeds, rows, cols)

    def _forward(
        self,
        w1: tf.Tensor,
        b1: tf.Tensor,
        w2: tf.Tensor,
        b2: tf.Tensor,
        x: tf.Tensor,
        hidden_noise: tf.Tensor | None,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        pre = tf.matmul(x, w1) + b1[:, None, :]
        if hidden_noise is not None:
            pre = pre + self.s_h[:, None, None] * hidden_noise
        hidden = tf.nn.relu(pre)
        logits = tf.linalg.matvec(hidden, w2) + b2[:, None]
        return pre, hidden, logits

    @staticmethod
    def _loss_acc(logits: tf.Tensor, y: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Masked per-model sums of cross-entropy and correct predictions."""
        ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
        correct = tf.cast(tf.equal(tf.cast(tf.sigmoid(logits) > 0.5, tf.float32), y), tf.float32)
        return tf.reduce_sum(ce * mask, 1), tf.reduce_sum(correct * mask, 1)

    def _order(self, epoch: tf.Tensor) -> tf.Tensor:
        """Per-model row order for one epoch: valid rows shuffled, padding kept last."""
        n = self.xt.shape[1]
        keys = tf.stack(
            [
                tf.random.stateless_uniform(
                    [n], tf.stack([tf.constant(s, tf.int32), epoch * 3 + _SHUFFLE_STREAM])
                )
                for s in self.noise_seeds
            ]
        )
        keys = keys + 2.0 * (1.0 - self.mt)
        return tf.argsort(keys, axis=1, stable=True)

    def _epoch(
        self, state: tuple[tf.Tensor, ...], epoch: tf.Tensor
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor, tf.Tensor]:
        opt = self.opt
        xt, yt, mt = self.xt, self.yt, self.mt
        if self.steps > 1 and opt.shuffle:
            order = self._order(epoch)
            xt = tf.gather(xt, order, batch_dims=1)
            yt = tf.gather(yt, order, batch_dims=1)
        loss_sum = tf.zeros([self.k])
        correct_sum = tf.zeros([self.k])
        for j in range(self.steps):
            lo, hi = j * self.batch, (j + 1) * self.batch
            state, loss, correct = self._step(state, xt[:, lo:hi], yt[:, lo:hi], mt[:, lo:hi])
            loss_sum += loss
            correct_sum += correct
        return state, loss_sum / self.counts, correct_sum / self.counts

    def _step(
        self,
        state: tuple[tf.Tensor, ...],
        x: tf.Tensor,
        y: tf.Tensor,
        mask: tf.Tensor,
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor, tf.Tensor]:
        opt = self.opt
        w1, b1, w2, b2 = state[0:4]
        m, v, t = state[4:8], state[8:12], state[12]
        rows, cols = x.shape[1], x.shape[2]
        if self.draw_input:
            x = x + self.s_in[:, None, None] * self._noise(INPUT_STREAM, t, rows, cols)
        hidden_noise = None
        if self.draw_hidden:
            hidden_noise = self._noise(HIDDEN_STREAM, t, rows, self.width)
        pre, hidden, logits = self._forward(w1, b1, w2, b2, x, hidden_noise)
        loss_sum, correct_sum = self._loss_acc(logits, y, mask)
        count = tf.reduce_sum(mask, 1)
        # d(mean BCE)/d(logit) = (sigmoid - y) / n over the batch's valid rows.
        g_logits = mask * (tf.sigmoid(logits) - y) / tf.maximum(count, 1.0)[:, None]
        g_w2 = tf.einsum("kbh,kb->kh", hidden, g_logits)
        g_b2 = tf.reduce_sum(g_logits, 1)
        g_pre = tf.where(pre > 0, g_logits[:, :, None] * w2[:, None, :], 0.0)
        g_w1 = tf.matmul(x, g_pre, transpose_a=True)
        g_b1 = tf.reduce_sum(g_pre, 1)
        grads = (g_w1, g_b1, g_w2, g_b2)
        # A member whose rows ran out this epoch (smaller CV fold) takes no step, as in Keras.
        active = count > 0
        t_new = t + tf.cast(active, tf.float32)
        alpha = (
            opt.learning_rate
            * tf.sqrt(1.0 - tf.pow(opt.beta_2, t_new))
            / (1.0 - tf.pow(opt.beta_1, t_new))
        )
        new_params, new_m, new_v = [], [], []
        for p, g, mi, vi in zip((w1, b1, w2, b2), grads, m, v, strict=True):
            shape = [self.k] + [1] * (len(p.shape) - 1)
            mi2 = mi + (g - mi) * (1.0 - opt.beta_1)
            vi2 = vi + (tf.square(g) - vi) * (1.0 - opt.beta_2)
            p2 = p - tf.reshape(alpha, shape) * mi2 / (tf.sqrt(vi2) + opt.epsilon)
            if self.steps > 1:
                keep = tf.reshape(active, shape)
                mi2, vi2, p2 = (
                    tf.where(keep, mi2, mi),
                    tf.where(keep, vi2, vi),
                    tf.where(keep, p2, p),
                )
            new_params.append(p2)
            new_m.append(mi2)
            new_v.append(vi2)
        return (*new_params, *new_m, *new_v, t_new), loss_sum, correct_sum

    def _validate(self, state: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, tf.Tensor]:
        w1, b1, w2, b2 = state[0:4]
        _, _, logits = self._forward(w1, b1, w2, b2, self.xv, None)
        loss_sum, correct_sum = self._loss_acc(logits, self.yv, self.mv)
        n = tf.maximum(tf.reduce_sum(self.mv, 1), 1.0)
        return loss_sum / n, correct_sum / n

    def _intervals(
        self,
        state: tuple[tf.Tensor, ...],
        start: tf.Tensor,
        n_intervals: tf.Tensor,
        interval: tf.Tensor,
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor]:
        logs = tf.TensorArray(tf.float32, size=n_intervals, element_shape=[4, self.k])
        zeros = tf.zeros([self.k])
        for i in tf.range(n_intervals):
            loss, acc = zeros, zeros
            for e in tf.range(interval):
                state, loss, acc = self._epoch(state, start + i * interval + e)
            val_loss, val_acc = self._validate(state)
            logs = logs.write(i, tf.stack([loss, acc, val_loss, val_acc]))
        return state, logs.stack()

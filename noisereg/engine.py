"""Batched trainer: many independent noisy ReLU MLPs (see `noisereg.net`) in one graph.

`model.fit` spends ~43 ms per epoch on Python and dispatch overhead for a 400-unit net on 30
points; the arithmetic is microseconds. Here K models of one architecture are stacked along
a leading axis (weights [K, ...], batched matmuls) and whole runs of epochs execute inside
one `tf.function`, so the per-step cost approaches the noise draws plus the FLOPs.

Semantics follow Keras 3 exactly (checked by tests/test_engine_equivalence.py): glorot-uniform
kernels and zero biases (drawn by `randomness.glorot_uniform_mlp`), Adam with Keras' bias
correction, mean binary cross-entropy on logits, every noise placement of `Net` during
training only, minibatches in order (shuffled per epoch when asked), and epoch metrics
averaged over the epoch's batches weighted by batch size. Gradients are written out by hand:
the family is small, and the hand-written backward pass keeps the graph lean.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from noisereg.net import MLPWeights, Net, dropout_stddev
from noisereg.params import Optimization
from noisereg.randomness import derive_seed, glorot_uniform_mlp, standard_normal

HISTORY_COLUMNS = ("train_loss", "train_acc", "val_loss", "val_acc")

# Every noise placement of a model draws from its own stream, seeded by
# derive_seed(noise_seed, stream); hidden layer l uses streams _LAYER_STREAMS + 4 l + kind.
_SHUFFLE_STREAM, _INPUT_STREAM, _LOGIT_STREAM, _OUTPUT_KERNEL_STREAM = 0, 1, 2, 3
_LAYER_STREAMS = 4
_PRE, _POST, _DROPOUT, _KERNEL = 0, 1, 2, 3


def _stream(layer: int, kind: int) -> int:
    return _LAYER_STREAMS + 4 * layer + kind


@dataclass(frozen=True)
class Member:
    """One model to train: its net, seeds, and which pool rows it trains and validates on."""

    net: Net
    init_seed: int
    noise_seed: int
    train_rows: tuple[int, ...]
    val_rows: tuple[int, ...]


@dataclass(frozen=True)
class TrainResult:
    """Trained weights per member and the logged history, both in the members' order."""

    weights: list[MLPWeights]
    logged_epochs: np.ndarray  # [n_logs], 1-based epoch numbers
    history: dict[str, np.ndarray]  # column -> [K, n_logs]


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
    """Return every member's trained weights and history, in the members' order.

    Members are grouped by architecture (one graph per hidden-width tuple: measured faster
    than padding narrow nets to the widest, see benchmarks/bench_engine.py) and chunked so
    one graph never holds more than `max_models_per_graph` models. A model's seeds, data
    and noise do not depend on its batch-mates; its floats may differ in the last bits
    (batched kernels block differently), so the plan is fixed by the members and N alone.
    """
    if not members:
        raise ValueError("train() needs at least one member")
    chunks = plan_chunks(members, max_models_per_graph)
    started = time.perf_counter()
    results = []
    for chunk_number, indices in enumerate(chunks, start=1):
        units = "x".join(map(str, members[indices[0]].net.hidden_units))
        tag = f"{label} [{chunk_number}/{len(chunks)}: {len(indices)} models, width {units}]"
        trainer = _ChunkTrainer([members[i] for i in indices], train_x, train_y, val_x, val_y, opt)
        results.append(trainer.run(tag, started))
    return merge_chunks(chunks, results, len(members))


def merge_chunks(
    plan: list[list[int]], results: Sequence[TrainResult], n_members: int
) -> TrainResult:
    """Return one TrainResult in member order from the per-chunk results of `plan`."""
    weights: list[MLPWeights | None] = [None] * n_members
    history: dict[str, np.ndarray] = {}
    for indices, result in zip(plan, results, strict=True):
        for position, member_index in enumerate(indices):
            weights[member_index] = result.weights[position]
        for column, values in result.history.items():
            history.setdefault(column, np.zeros((n_members, values.shape[1]), np.float32))
            history[column][indices] = values
    return TrainResult([w for w in weights if w is not None], results[0].logged_epochs, history)


def plan_chunks(members: Sequence[Member], max_models_per_graph: int) -> list[list[int]]:
    """Return member indices per graph: grouped by architecture, at most N per graph.

    The plan depends only on the members' order and N, never on where the chunks run, so
    every backend trains the same models together and gets the same float results.
    """
    order: dict[tuple[int, ...], list[int]] = {}
    for index, member in enumerate(members):
        order.setdefault(member.net.hidden_units, []).append(index)
    return [
        indices[start : start + max_models_per_graph]
        for indices in order.values()
        for start in range(0, len(indices), max_models_per_graph)
    ]


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


class _Noise:
    """One placement's per-model stddevs and stream seeds; `draw` is False when all are 0."""

    def __init__(self, members: list[Member], stream: int, stddevs: list[float]) -> None:
        self.draw = any(s > 0 for s in stddevs)
        self.stddev = tf.constant(stddevs, tf.float32)
        self.seeds = [derive_seed(m.noise_seed, stream) for m in members]

    def sample(self, steps_taken: tf.Tensor, rows: int, cols: int) -> tf.Tensor:
        """Return stddev-scaled N(0, 1) draws [K, rows, cols] for each model's current step.

        Keyed by each model's own update count, not the chunk's step index: a model that
        shares a graph with larger CV folds (more steps per epoch) draws the same noise.
        """
        steps = tf.cast(steps_taken, tf.int32)
        seeds = [tf.stack([tf.constant(s, tf.int32), steps[k]]) for k, s in enumerate(self.seeds)]
        return self.stddev[:, None, None] * standard_normal(seeds, rows, cols)


class _ChunkTrainer:
    """Holds one chunk's stacked tensors and the compiled loop that trains them.

    State layout: the parameters [kernel_0, bias_0, ..., output kernel [K, h], output bias
    [K]], then Adam's first moments, second moments (same layout), then the per-model update
    counts t [K].
    """

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
        self.units = members[0].net.hidden_units
        self.depth = len(self.units)
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
        self.shuffle_seeds = [derive_seed(m.noise_seed, _SHUFFLE_STREAM) for m in members]
        nets = [m.net for m in members]
        self.input_noise = _Noise(members, _INPUT_STREAM, [n.input_stddev for n in nets])
        self.logit_noise = _Noise(members, _LOGIT_STREAM, [n.logit_stddev for n in nets])
        self.kernel_noise = [
            _Noise(members, _stream(layer, _KERNEL), [n.weight_stddev for n in nets])
            for layer in range(self.depth)
        ] + [_Noise(members, _OUTPUT_KERNEL_STREAM, [n.weight_stddev for n in nets])]
        self.pre_noise, self.post_noise, self.dropout_noise = (
            [
                _Noise(members, _stream(layer, kind), [of(n)[layer] for n in nets])
                for layer in range(self.depth)
            ]
            for kind, of in (
                (_PRE, lambda n: n.hidden_stddev),
                (_POST, lambda n: n.post_activation_stddev),
                (_DROPOUT, lambda n: tuple(map(dropout_stddev, n.dropout_rate))),
            )
        )
        initial = [glorot_uniform_mlp(m.init_seed, self.units, train_x.shape[1]) for m in members]
        params: list[np.ndarray] = []
        for layer in range(self.depth + 1):
            params.append(np.stack([w.kernels[layer] for w in initial]))
            params.append(np.stack([w.biases[layer] for w in initial]))
        # The output layer is stored as vectors: kernel [K, h], bias [K].
        params[-2], params[-1] = params[-2][:, :, 0], params[-1][:, 0]
        self.n_params = len(params)
        zeros = [tf.zeros_like(p) for p in params]
        self.state = (
            *(tf.constant(p) for p in params),
            *zeros,
            *zeros,
            tf.zeros([self.k], tf.float32),
        )
        self._run_intervals = tf.function(self._intervals)

    def run(self, tag: str, started: float) -> TrainResult:
        """Return the chunk's result after training every epoch (with progress lines)."""
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
        arrays = [t.numpy() for t in self.state[: self.n_params]]
        arrays[-2], arrays[-1] = arrays[-2][:, :, None], arrays[-1][:, None]
        weights = [
            MLPWeights(
                tuple(a[i].copy() for a in arrays[0::2]), tuple(a[i].copy() for a in arrays[1::2])
            )
            for i in range(self.k)
        ]
        logged = np.cumsum([i for i, c in plan for _ in range(c)])
        history = {col: stacked[:, j, :].T.copy() for j, col in enumerate(HISTORY_COLUMNS)}
        return TrainResult(weights, logged, history)

    def _forward(
        self, params: Sequence[tf.Tensor], x: tf.Tensor, t: tf.Tensor | None
    ) -> tuple[tf.Tensor, list[tuple[tf.Tensor, tf.Tensor, tf.Tensor | None, tf.Tensor]]]:
        """Return logits and, per hidden layer, (input, pre-activation, multiplier, kernel).

        With t (the per-model update counts) the training noise is drawn; without, the
        pass is clean. The per-layer tuple is what the backward pass needs.
        """
        rows = x.shape[1]
        if t is not None and self.input_noise.draw:
            x = x + self.input_noise.sample(t, rows, x.shape[2])
        layers = []
        hidden = x
        for layer in range(self.depth):
            kernel, bias = params[2 * layer], params[2 * layer + 1]
            if t is not None and self.kernel_noise[layer].draw:
                kernel = kernel + self.kernel_noise[layer].sample(t, *kernel.shape[1:])
            pre = tf.matmul(hidden, kernel) + bias[:, None, :]
            width = self.units[layer]
            if t is not None and self.pre_noise[layer].draw:
                pre = pre + self.pre_noise[layer].sample(t, rows, width)
            activation = tf.nn.relu(pre)
            if t is not None and self.post_noise[layer].draw:
                activation = activation + self.post_noise[layer].sample(t, rows, width)
            multiplier = None
            if t is not None and self.dropout_noise[layer].draw:
                multiplier = 1.0 + self.dropout_noise[layer].sample(t, rows, width)
                activation = activation * multiplier
            layers.append((hidden, pre, multiplier, kernel))
            hidden = activation
        out_kernel, out_bias = params[-2], params[-1]
        if t is not None and self.kernel_noise[-1].draw:
            out_kernel = out_kernel + self.kernel_noise[-1].sample(t, 1, out_kernel.shape[1])[:, 0]
        logits = tf.linalg.matvec(hidden, out_kernel) + out_bias[:, None]
        if t is not None and self.logit_noise.draw:
            logits = logits + self.logit_noise.sample(t, rows, 1)[:, :, 0]
        layers.append((hidden, logits, None, out_kernel))
        return logits, layers

    def _gradients(
        self,
        layers: list[tuple[tf.Tensor, tf.Tensor, tf.Tensor | None, tf.Tensor]],
        g_logits: tf.Tensor,
    ) -> list[tf.Tensor]:
        """Backpropagate d(loss)/d(logits) to every parameter, in the state's order."""
        last_hidden, _, _, out_kernel = layers[-1]
        grads = [tf.einsum("kbh,kb->kh", last_hidden, g_logits), tf.reduce_sum(g_logits, 1)]
        g_hidden = g_logits[:, :, None] * out_kernel[:, None, :]
        for layer in reversed(range(self.depth)):
            layer_input, pre, multiplier, kernel = layers[layer]
            if multiplier is not None:
                g_hidden = g_hidden * multiplier
            # Additive post-activation noise passes the gradient through unchanged.
            g_pre = tf.where(pre > 0, g_hidden, 0.0)
            grads[:0] = [
                tf.matmul(layer_input, g_pre, transpose_a=True),
                tf.reduce_sum(g_pre, 1),
            ]
            if layer > 0:
                g_hidden = tf.matmul(g_pre, kernel, transpose_b=True)
        return grads

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
                tf.random.stateless_uniform([n], tf.stack([tf.constant(s, tf.int32), epoch]))
                for s in self.shuffle_seeds
            ]
        )
        keys = keys + 2.0 * (1.0 - self.mt)
        return tf.argsort(keys, axis=1, stable=True)

    def _epoch(
        self, state: tuple[tf.Tensor, ...], epoch: tf.Tensor
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor, tf.Tensor]:
        xt, yt, mt = self.xt, self.yt, self.mt
        if self.steps > 1 and self.opt.shuffle:
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
        opt, n = self.opt, self.n_params
        params, m, v, t = state[:n], state[n : 2 * n], state[2 * n : 3 * n], state[3 * n]
        logits, layers = self._forward(params, x, t)
        loss_sum, correct_sum = self._loss_acc(logits, y, mask)
        count = tf.reduce_sum(mask, 1)
        # d(mean BCE)/d(logit) = (sigmoid - y) / n over the batch's valid rows.
        g_logits = mask * (tf.sigmoid(logits) - y) / tf.maximum(count, 1.0)[:, None]
        grads = self._gradients(layers, g_logits)
        # A member whose rows ran out this epoch (smaller CV fold) takes no step, as in Keras.
        active = count > 0
        t_new = t + tf.cast(active, tf.float32)
        alpha = (
            opt.learning_rate
            * tf.sqrt(1.0 - tf.pow(opt.beta_2, t_new))
            / (1.0 - tf.pow(opt.beta_1, t_new))
        )
        new_params, new_m, new_v = [], [], []
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
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
        logits, _ = self._forward(state[: self.n_params], self.xv, None)
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

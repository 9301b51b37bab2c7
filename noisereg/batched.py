"""The compiled training loop of K stacked MLPs of one shape: forward, backward, Adam.

K models of one architecture are stacked along a leading axis (weights [K, ...], batched
matmuls) and whole runs of epochs execute inside one `tf.function`, so a step costs about
the noise draws plus the FLOPs instead of Keras' per-step dispatch.

A chunk's data, seeds and stddevs are arguments of that function, not captured constants,
so every chunk with the same `LoopShape` reuses one trace (tracing and optimizing one costs
~0.6-0.9 s, as much as training 90 width-100 models for 1000 epochs).

Semantics follow Keras 3 exactly (checked by tests/test_engine_equivalence.py): Adam with
Keras' bias correction, mean binary cross-entropy on logits, every noise placement of `Net`
during training only, minibatches in order (shuffled per epoch when asked), and epoch
metrics averaged over the epoch's batches weighted by batch size. Gradients are written out
by hand: the family is small, and the hand-written backward pass keeps the graph lean.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import tensorflow as tf

from noisereg.net import MLPWeights, Net, dropout_stddev
from noisereg.randomness import standard_normal, stateless_uniforms

# Every noise placement of a model draws from its own stream, seeded by
# derive_seed(noise_seed, stream); hidden layer l uses streams _LAYER_STREAMS + 4 l + kind.
SHUFFLE_STREAM, _INPUT_STREAM, _LOGIT_STREAM, _OUTPUT_KERNEL_STREAM = 0, 1, 2, 3
_LAYER_STREAMS = 4
_PRE, _POST, _DROPOUT, _KERNEL = 0, 1, 2, 3
# Bernoulli dropout came later: its streams sit apart so no earlier stream number moved.
_BERNOULLI_STREAMS = 1000


def noise_placements(nets: Sequence[Net]) -> dict[str, tuple[int, list[float]]]:
    """Return placement name -> (noise stream, per-model stddev) for nets of one shape.

    Names: "input", "logit", "kernel<l>" (l = depth is the output kernel), "pre<l>",
    "post<l>", "dropout<l>", "bernoulli<l>" for hidden layer l. For "bernoulli<l>" the
    per-model value is the drop rate, not a stddev.
    """
    depth = len(nets[0].hidden_units)

    def layer(index: int, kind: int) -> int:
        return _LAYER_STREAMS + 4 * index + kind

    placements = {
        "input": (_INPUT_STREAM, [n.input_stddev for n in nets]),
        "logit": (_LOGIT_STREAM, [n.logit_stddev for n in nets]),
        f"kernel{depth}": (_OUTPUT_KERNEL_STREAM, [n.weight_stddev for n in nets]),
    }
    for index in range(depth):
        placements[f"kernel{index}"] = (layer(index, _KERNEL), [n.weight_stddev for n in nets])
        placements[f"pre{index}"] = (layer(index, _PRE), [n.hidden_stddev[index] for n in nets])
        placements[f"post{index}"] = (
            layer(index, _POST),
            [n.post_activation_stddev[index] for n in nets],
        )
        placements[f"dropout{index}"] = (
            layer(index, _DROPOUT),
            [dropout_stddev(n.dropout_rate[index]) for n in nets],
        )
        placements[f"bernoulli{index}"] = (
            _BERNOULLI_STREAMS + index,
            [n.bernoulli_dropout_rate[index] for n in nets],
        )
    return placements


def noisy_placements(net: Net) -> frozenset[str]:
    """Return the placements where `net` draws noise (stddev > 0)."""
    return frozenset(
        placement for placement, (_, (stddev,)) in noise_placements([net]).items() if stddev > 0
    )


@dataclass(frozen=True)
class LoopShape:
    """Everything the compiled graph depends on; chunks with equal shapes share one trace."""

    k: int
    hidden_units: tuple[int, ...]
    batch: int
    steps: int  # minibatches per epoch
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    shuffle: bool
    noisy: frozenset[str]  # placements where some model's stddev is > 0
    shared: frozenset[str]  # noisy placements where some models share one stream's draws
    regularized: bool = False  # some model has weight decay (l2 > 0)
    # U when model k draws stream k % U (a grid width's or a sweep placement's chunk, whose
    # members run over the streams once per stddev), else 0; see BatchedLoop._noise.
    cycle: int = 0


class NoiseStreams(NamedTuple):
    """One noisy placement's draws: U distinct streams for the chunk's K models.

    Models with the same stream seed and the same training rows per epoch take the same
    steps, so they would draw identical normals (common random numbers, e.g. one grid fold
    at every stddev): the loop draws each stream once and gives every model its stream's
    draws, scaled by the model's own stddev.
    """

    seeds: tf.Tensor  # [U] int32, the distinct stream seeds
    first: tf.Tensor  # [U] int32, a model drawing from each stream (its update count keys it)
    owner: tf.Tensor  # [K] int32, the stream each model draws from
    stddevs: tf.Tensor  # [K] float32


class ChunkData(NamedTuple):
    """A chunk's tensors; rows of each model are packed first, padding masked out."""

    train_x: tf.Tensor  # [K, steps * batch, n_inputs]
    train_y: tf.Tensor  # [K, steps * batch]
    train_mask: tf.Tensor  # [K, steps * batch], 1 on a model's own rows
    train_counts: tf.Tensor  # [K] rows per model
    val_x: tf.Tensor
    val_y: tf.Tensor
    val_mask: tf.Tensor
    shuffle_seeds: tf.Tensor  # [K] int32
    noise: dict[str, NoiseStreams]  # per noisy placement
    l2: tf.Tensor  # [K] weight decay per model (used when LoopShape.regularized)


# Per hidden layer (and last, the output layer): what the backward pass needs.
Layer = tuple[tf.Tensor, tf.Tensor, tf.Tensor | None, tf.Tensor]
State = tuple[tf.Tensor, ...]


def initial_state(weights: Sequence[MLPWeights]) -> State:
    """Return the loop state for K models starting from `weights`.

    Layout: the parameters [kernel_0, bias_0, ..., output kernel [K, h], output bias [K]],
    then Adam's first moments, second moments (same layout), then the update counts t [K].
    """
    kernels, biases = MLPWeights.stack(weights)
    params = [a for pair in zip(kernels, biases, strict=True) for a in pair]
    # The output layer is stored as vectors: kernel [K, h], bias [K].
    params[-2], params[-1] = params[-2][:, :, 0], params[-1][:, 0]
    zeros = [tf.zeros_like(p) for p in params]
    return (
        *(tf.constant(p) for p in params),
        *zeros,
        *zeros,
        tf.zeros([len(weights)], tf.float32),
    )


def weights_of(state: State) -> list[MLPWeights]:
    """Return each model's weights from a loop state, in Keras' layout."""
    n_params = (len(state) - 1) // 3
    arrays = [t.numpy() for t in state[:n_params]]
    arrays[-2], arrays[-1] = arrays[-2][:, :, None], arrays[-1][:, None]
    return MLPWeights.unstack(arrays[0::2], arrays[1::2])


class _OneTracePerShape(logging.Filter):
    """Drop TensorFlow's "frequent retracing" warning about the engine's own loops.

    Each `LoopShape` has its own `BatchedLoop` and is traced once, by design. TensorFlow's
    detector keys its count on the Python code object, which every BatchedLoop shares, so a
    stage that trains many shapes (a benefit map: sizes x placements) read as one function
    retracing, and `make repro` printed the warning 12 times. Other functions still warn.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        ours = BatchedLoop._intervals.__qualname__ in message
        return not (ours and "triggered tf.function retracing" in message)


tf.get_logger().addFilter(_OneTracePerShape())


@functools.lru_cache(maxsize=16)
def compiled_loop(shape: LoopShape) -> BatchedLoop:
    """Return the loop for `shape`, traced on first use and shared by later chunks."""
    return BatchedLoop(shape)


class BatchedLoop:
    """The training graph for one `LoopShape`; `run_intervals` is the compiled entry point."""

    def __init__(self, shape: LoopShape) -> None:
        self.shape = shape
        self.depth = len(shape.hidden_units)
        self.n_params = 2 * (self.depth + 1)
        # Loops are written as tf.while_loop, so tracing skips AutoGraph: converting this
        # code took ~2 s of each stage's first trace (a width-100 grid chunk: 2.49 -> 0.38 s).
        self.run_intervals = tf.function(self._intervals, autograph=False)

    def _noise(
        self, data: ChunkData, placement: str, steps: tf.Tensor, rows: int, cols: int
    ) -> tf.Tensor:
        """Return stddev-scaled N(0, 1) draws [K, rows, cols] for each model's current step.

        Keyed by each model's own update count (int32 [K]), not the chunk's step index: a
        model that shares a graph with larger CV folds (more steps per epoch) draws the same
        noise. Shared streams are drawn once ([U, rows, cols]) and gathered to their models,
        or, when model k draws stream k % U, scaled for them by one batched matmul.
        """
        streams = data.noise[placement]
        if placement not in self.shape.shared:
            normals = standard_normal(tf.stack([streams.seeds, steps], axis=1), rows, cols)
            return streams.stddevs[:, None, None] * normals
        keys = tf.stack([streams.seeds, tf.gather(steps, streams.first)], axis=1)
        normals = standard_normal(keys, rows, cols)  # [U, rows, cols]
        cycle = self.shape.cycle
        if cycle:
            # Models are [K / U, U] over the streams: a batched outer product of stddevs
            # [K / U, U, 1, 1] and draws [1, U, 1, rows x cols], broadcast over the first
            # axis, scales each stream for its models without gathering copies first. Its
            # inner dimension is 1, so each entry is one rounded product, as in the multiply.
            scaled = tf.matmul(
                tf.reshape(streams.stddevs, [-1, cycle, 1, 1]),
                tf.reshape(normals, [1, cycle, 1, rows * cols]),
            )
            return tf.reshape(scaled, [self.shape.k, rows, cols])
        return streams.stddevs[:, None, None] * tf.gather(normals, streams.owner)

    def _keep(
        self, data: ChunkData, placement: str, steps: tf.Tensor, rows: int, cols: int
    ) -> tf.Tensor:
        """Return inverted-dropout multipliers [K, rows, cols]: 0, or 1 / (1 - rate) if kept.

        A unit is kept when its uniform is >= the rate (probability 1 - rate); streams are
        keyed and shared as in `_noise` (`stddevs` holds the rates here).
        """
        streams = data.noise[placement]
        if placement in self.shape.shared:
            keys = tf.stack([streams.seeds, tf.gather(steps, streams.first)], axis=1)
            uniforms = tf.gather(stateless_uniforms(keys, [rows, cols]), streams.owner)
        else:
            uniforms = stateless_uniforms(tf.stack([streams.seeds, steps], axis=1), [rows, cols])
        rate = streams.stddevs[:, None, None]
        return tf.cast(uniforms >= rate, tf.float32) / (1.0 - rate)

    def _forward(
        self, data: ChunkData, params: Sequence[tf.Tensor], x: tf.Tensor, t: tf.Tensor | None
    ) -> tuple[tf.Tensor, list[Layer]]:
        """Return logits and, per layer, (input, pre-activation, multiplier, kernel).

        With t (the per-model update counts) the training noise is drawn; without, the
        pass is clean.
        """
        rows = x.shape[1]
        steps = None if t is None else tf.cast(t, tf.int32)

        def noisy(placement: str) -> bool:
            return steps is not None and placement in self.shape.noisy

        if noisy("input"):
            x = x + self._noise(data, "input", steps, rows, x.shape[2])
        layers: list[Layer] = []
        hidden = x
        for layer in range(self.depth):
            kernel, bias = params[2 * layer], params[2 * layer + 1]
            if noisy(f"kernel{layer}"):
                kernel = kernel + self._noise(data, f"kernel{layer}", steps, *kernel.shape[1:])
            pre = tf.matmul(hidden, kernel) + bias[:, None, :]
            width = self.shape.hidden_units[layer]
            if noisy(f"pre{layer}"):
                pre = pre + self._noise(data, f"pre{layer}", steps, rows, width)
            activation = tf.nn.relu(pre)
            if noisy(f"post{layer}"):
                activation = activation + self._noise(data, f"post{layer}", steps, rows, width)
            multiplier = None
            if noisy(f"dropout{layer}"):
                multiplier = 1.0 + self._noise(data, f"dropout{layer}", steps, rows, width)
                activation = activation * multiplier
            if noisy(f"bernoulli{layer}"):
                keep = self._keep(data, f"bernoulli{layer}", steps, rows, width)
                multiplier = keep if multiplier is None else multiplier * keep
                activation = activation * keep
            layers.append((hidden, pre, multiplier, kernel))
            hidden = activation
        out_kernel, out_bias = params[-2], params[-1]
        if noisy(f"kernel{self.depth}"):
            draws = self._noise(data, f"kernel{self.depth}", steps, 1, out_kernel.shape[1])
            out_kernel = out_kernel + draws[:, 0]
        logits = tf.linalg.matvec(hidden, out_kernel) + out_bias[:, None]
        if noisy("logit"):
            logits = logits + self._noise(data, "logit", steps, rows, 1)[:, :, 0]
        layers.append((hidden, logits, None, out_kernel))
        return logits, layers

    def _gradients(self, layers: list[Layer], g_logits: tf.Tensor) -> list[tf.Tensor]:
        """Backpropagate d(loss)/d(logits) to every parameter, in the state's order."""
        last_hidden, _, _, out_kernel = layers[-1]
        grads = [tf.einsum("kbh,kb->kh", last_hidden, g_logits), tf.reduce_sum(g_logits, 1)]
        # The outer product as a matmul with inner dimension 1: one rounded product per
        # entry, as the broadcast multiply computes it, without Eigen's two-sided broadcast.
        g_hidden = tf.matmul(g_logits[:, :, None], out_kernel[:, None, :])
        for layer in reversed(range(self.depth)):
            layer_input, pre, multiplier, kernel = layers[layer]
            if multiplier is not None:
                g_hidden = g_hidden * multiplier
            # Additive post-activation noise passes the gradient through unchanged. ReluGrad
            # is where(pre > 0, g, 0) in one pass instead of a compare and a select.
            g_pre = tf.raw_ops.ReluGrad(gradients=g_hidden, features=pre)
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

    def _order(self, data: ChunkData, epoch: tf.Tensor) -> tf.Tensor:
        """Per-model row order for one epoch: valid rows shuffled, padding kept last."""
        seeds = tf.stack([data.shuffle_seeds, tf.fill([self.shape.k], epoch)], axis=1)
        keys = stateless_uniforms(seeds, [data.train_x.shape[1]])
        return tf.argsort(keys + 2.0 * (1.0 - data.train_mask), axis=1, stable=True)

    def _epoch(
        self, data: ChunkData, state: State, epoch: tf.Tensor, with_metrics: bool
    ) -> tuple[State, tf.Tensor, tf.Tensor]:
        """Train one epoch; return the state and, `with_metrics`, its mean loss and accuracy.

        Without metrics the returned loss and accuracy are zeros and the graph computes
        neither: only logged epochs need them, and they are ~15 ops per step.
        """
        shape = self.shape
        xt, yt, mt = data.train_x, data.train_y, data.train_mask
        if shape.steps > 1 and shape.shuffle:
            order = self._order(data, epoch)
            xt = tf.gather(xt, order, batch_dims=1)
            yt = tf.gather(yt, order, batch_dims=1)
        loss_sum = tf.zeros([shape.k])
        correct_sum = tf.zeros([shape.k])
        for j in range(shape.steps):
            lo, hi = j * shape.batch, (j + 1) * shape.batch
            state, sums = self._step(
                data, state, xt[:, lo:hi], yt[:, lo:hi], mt[:, lo:hi], with_metrics
            )
            if sums is not None:
                loss_sum += sums[0]
                correct_sum += sums[1]
        return state, loss_sum / data.train_counts, correct_sum / data.train_counts

    def _step(
        self,
        data: ChunkData,
        state: State,
        x: tf.Tensor,
        y: tf.Tensor,
        mask: tf.Tensor,
        with_metrics: bool,
    ) -> tuple[State, tuple[tf.Tensor, tf.Tensor] | None]:
        shape, n = self.shape, self.n_params
        params, m, v, t = state[:n], state[n : 2 * n], state[2 * n : 3 * n], state[3 * n]
        logits, layers = self._forward(data, params, x, t)
        count = tf.reduce_sum(mask, 1)
        sums = self._loss_acc(logits, y, mask) if with_metrics else None
        if sums is not None and shape.regularized:
            # Keras adds the penalty to each batch's mean loss: once per row in the row sum.
            sums = (sums[0] + self._penalty(data, params) * count, sums[1])
        # d(mean BCE)/d(logit) = (sigmoid - y) / n over the batch's valid rows.
        g_logits = mask * (tf.sigmoid(logits) - y) / tf.maximum(count, 1.0)[:, None]
        grads = self._gradients(layers, g_logits)
        if shape.regularized:  # d(l2 x sum(w^2))/dw = 2 l2 w, on kernels (even indices)
            grads = [
                g + 2.0 * tf.reshape(data.l2, [shape.k] + [1] * (len(g.shape) - 1)) * p
                if index % 2 == 0
                else g
                for index, (g, p) in enumerate(zip(grads, params, strict=True))
            ]
        # A member whose rows ran out this epoch (smaller CV fold) takes no step, as in Keras.
        active = count > 0
        t_new = t + tf.cast(active, tf.float32)
        alpha = (
            shape.learning_rate
            * tf.sqrt(1.0 - tf.pow(shape.beta_2, t_new))
            / (1.0 - tf.pow(shape.beta_1, t_new))
        )
        new_params, new_m, new_v = [], [], []
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            per_model = [shape.k] + [1] * (len(p.shape) - 1)
            mi2 = mi + (g - mi) * (1.0 - shape.beta_1)
            vi2 = vi + (tf.square(g) - vi) * (1.0 - shape.beta_2)
            p2 = p - tf.reshape(alpha, per_model) * mi2 / (tf.sqrt(vi2) + shape.epsilon)
            if shape.steps > 1:
                keep = tf.reshape(active, per_model)
                mi2, vi2, p2 = (
                    tf.where(keep, mi2, mi),
                    tf.where(keep, vi2, vi),
                    tf.where(keep, p2, p),
                )
            new_params.append(p2)
            new_m.append(mi2)
            new_v.append(vi2)
        return (*new_params, *new_m, *new_v, t_new), sums

    def _validate(self, data: ChunkData, state: State) -> tuple[tf.Tensor, tf.Tensor]:
        logits, _ = self._forward(data, state[: self.n_params], data.val_x, None)
        loss_sum, correct_sum = self._loss_acc(logits, data.val_y, data.val_mask)
        n = tf.maximum(tf.reduce_sum(data.val_mask, 1), 1.0)
        loss = loss_sum / n
        if self.shape.regularized:  # Keras' evaluation loss includes the penalty too
            loss += self._penalty(data, state[: self.n_params])
        return loss, correct_sum / n

    @staticmethod
    def _penalty(data: ChunkData, params: Sequence[tf.Tensor]) -> tf.Tensor:
        """Return each model's weight-decay term: l2 x the sum of its squared kernel entries."""
        kernels = params[0::2]  # the layout alternates kernel, bias
        squares = [tf.reduce_sum(tf.square(k), axis=list(range(1, len(k.shape)))) for k in kernels]
        return data.l2 * tf.add_n(squares)

    def _intervals(
        self,
        state: State,
        data: ChunkData,
        start: tf.Tensor,
        n_intervals: tf.Tensor,
        interval: tf.Tensor,
    ) -> tuple[State, tf.Tensor]:
        """Train n_intervals x interval epochs from epoch `start`; log after each interval.

        Returns the new state and [n_intervals, 4, K] logs (train loss, train accuracy of
        the interval's last epoch, validation loss and accuracy after it).
        """
        logs = tf.TensorArray(tf.float32, size=n_intervals, element_shape=[4, self.shape.k])

        def train_interval(i: tf.Tensor, state: State, logs: tf.TensorArray) -> tuple:
            first = start + i * interval

            def unlogged_epoch(e: tf.Tensor, state: State) -> tuple:
                state, _, _ = self._epoch(data, state, first + e, with_metrics=False)
                return e + 1, state

            _, state = tf.while_loop(
                lambda e, _: e < interval - 1, unlogged_epoch, (tf.constant(0), state)
            )
            state, loss, acc = self._epoch(data, state, first + interval - 1, with_metrics=True)
            val_loss, val_acc = self._validate(data, state)
            return i + 1, state, logs.write(i, tf.stack([loss, acc, val_loss, val_acc]))

        _, state, logs = tf.while_loop(
            lambda i, *_: i < n_intervals, train_interval, (tf.constant(0), state, logs)
        )
        return state, logs.stack()
